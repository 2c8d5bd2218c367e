import type { LabelSelector, ObjectMetadata } from "./gatewayApi";

/**
 * Istio security objects the program builds, typed after the CRDs of the release it installs
 * (istio/istio 1.27.9, manifests/charts/base/files/crd-all.gen.yaml). Only the fields a builder may
 * set; the test suite validates every planned object against the published CRDs themselves.
 */

export interface WorkloadSelector {
  matchLabels?: Record<string, string>;
}

export interface PolicyTargetReference {
  group?: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface AuthorizationRule {
  from?: {
    source: {
      principals?: string[];
      notPrincipals?: string[];
      namespaces?: string[];
      notNamespaces?: string[];
      ipBlocks?: string[];
      notIpBlocks?: string[];
      remoteIpBlocks?: string[];
      notRemoteIpBlocks?: string[];
      serviceAccounts?: string[];
      notServiceAccounts?: string[];
    };
  }[];
  to?: {
    operation: {
      ports?: string[];
      notPorts?: string[];
      hosts?: string[];
      notHosts?: string[];
      methods?: string[];
      notMethods?: string[];
      paths?: string[];
      notPaths?: string[];
    };
  }[];
  when?: { key: string; values?: string[]; notValues?: string[] }[];
}

export interface IAuthorizationPolicy {
  apiVersion: "security.istio.io/v1";
  kind: "AuthorizationPolicy";
  metadata: ObjectMetadata;
  spec?: {
    selector?: WorkloadSelector;
    targetRef?: PolicyTargetReference;
    targetRefs?: PolicyTargetReference[];
    action?: "ALLOW" | "DENY" | "AUDIT" | "CUSTOM";
    rules?: AuthorizationRule[];
  };
}

export type MutualTlsMode = "UNSET" | "DISABLE" | "PERMISSIVE" | "STRICT";

export interface IPeerAuthentication {
  apiVersion: "security.istio.io/v1beta1" | "security.istio.io/v1";
  kind: "PeerAuthentication";
  metadata: ObjectMetadata;
  spec?: {
    selector?: WorkloadSelector;
    mtls?: { mode?: MutualTlsMode };
    portLevelMtls?: Record<string, { mode?: MutualTlsMode }>;
  };
}

export type { LabelSelector };
