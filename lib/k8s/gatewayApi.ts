/**
 * Gateway API objects the program builds, typed after the standard-channel CRDs of the release it
 * installs (kubernetes-sigs/gateway-api v1.3.0, config/crd/standard). Only the fields a builder may
 * set; the test suite validates every planned object against the published CRDs themselves.
 */

export interface ObjectMetadata {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] }[];
}

export interface GatewayListener {
  name: string;
  hostname?: string;
  port: number;
  protocol: "HTTP" | "HTTPS" | "TLS" | "TCP" | "UDP";
  tls?: {
    mode?: "Terminate" | "Passthrough";
    certificateRefs?: { group?: string; kind?: string; name: string; namespace?: string }[];
    options?: Record<string, string>;
  };
  allowedRoutes?: {
    kinds?: { group?: string; kind: string }[];
    namespaces?: { from?: "All" | "Same" | "Selector"; selector?: LabelSelector };
  };
}

export interface IGateway {
  apiVersion: "gateway.networking.k8s.io/v1";
  kind: "Gateway";
  metadata: ObjectMetadata;
  spec: {
    gatewayClassName: string;
    addresses?: { type?: "IPAddress" | "Hostname"; value: string }[];
    infrastructure?: {
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
      parametersRef?: { group: string; kind: string; name: string };
    };
    listeners: GatewayListener[];
  };
}

export interface HTTPPathModifier {
  type: "ReplaceFullPath" | "ReplacePrefixMatch";
  replaceFullPath?: string;
  replacePrefixMatch?: string;
}

export interface HTTPHeaderModifier {
  set?: { name: string; value: string }[];
  add?: { name: string; value: string }[];
  remove?: string[];
}

export interface HTTPRouteFilter {
  type: "RequestHeaderModifier" | "ResponseHeaderModifier" | "RequestRedirect" | "URLRewrite";
  requestHeaderModifier?: HTTPHeaderModifier;
  responseHeaderModifier?: HTTPHeaderModifier;
  requestRedirect?: {
    scheme?: "http" | "https";
    hostname?: string;
    path?: HTTPPathModifier;
    port?: number;
    statusCode?: 301 | 302;
  };
  urlRewrite?: { hostname?: string; path?: HTTPPathModifier };
}

export interface HTTPBackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
}

export interface HTTPRouteRule {
  name?: string;
  matches?: {
    path?: { type?: "Exact" | "PathPrefix" | "RegularExpression"; value?: string };
    headers?: { type?: "Exact" | "RegularExpression"; name: string; value: string }[];
    method?: string;
  }[];
  filters?: HTTPRouteFilter[];
  backendRefs?: HTTPBackendRef[];
  timeouts?: { request?: string; backendRequest?: string };
}

export interface IHTTPRoute {
  apiVersion: "gateway.networking.k8s.io/v1";
  kind: "HTTPRoute";
  metadata: ObjectMetadata;
  spec: {
    parentRefs?: {
      group?: string;
      kind?: string;
      name: string;
      namespace?: string;
      sectionName?: string;
      port?: number;
    }[];
    hostnames?: string[];
    rules?: HTTPRouteRule[];
  };
}
