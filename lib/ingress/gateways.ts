import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import { stringify } from "yaml";
import type { IGateway } from "../k8s/gatewayApi";
import type { ResolvedApp } from "../apps/resolve";
import type { GatewayDomain, GatewaySettings } from "./settings";

/** The listener every gateway has: port 80, apps side by side by path prefix. */
export const SHARED_LISTENER = { name: "http", port: 80 } as const;

/** Istio names the Deployment, ServiceAccount and Service it creates for a Gateway `<gateway>-istio`. */
export function gatewayServiceAccount(domain: GatewayDomain): string {
  return `${domain}-istio`;
}

/**
 * Namespace label that lets a namespace's HTTPRoutes attach to a gateway's listeners. Applied to the
 * core namespace for every domain and to the downloads namespace for admin only.
 */
export function routeAccessLabel(domain: GatewayDomain): string {
  return `charmarr.io/routes-to-${domain}`;
}

/** The labels a namespace needs for its routes to attach to each of `domains`. */
export function routeAccessLabels(domains: readonly GatewayDomain[]): Record<string, string> {
  return Object.fromEntries(domains.map((domain) => [routeAccessLabel(domain), "true"]));
}

/** Where an app's route attaches: the gateway, its namespace and the listener (section) name. */
export interface ListenerRef {
  readonly gateway: GatewayDomain;
  readonly namespace: string;
  readonly sectionName: string;
  readonly port: number;
}

export const TAILSCALE_ANNOTATIONS = {
  expose: "tailscale.com/expose",
  hostname: "tailscale.com/hostname",
  tags: "tailscale.com/tags",
} as const;
export const METALLB_IPS_ANNOTATION = "metallb.io/loadBalancerIPs";

/**
 * Annotations Istio copies onto the gateway's generated Service
 * (docs/upstream.md#gateway-api-and-istios-gateways): the MetalLB address and Tailscale exposure. The LAN IP
 * goes only in the annotation — `spec.addresses` would also set
 * `spec.loadBalancerIP`, and MetalLB rejects a Service with both.
 */
export function gatewayServiceAnnotations(settings: GatewaySettings): Record<string, string> {
  const annotations: Record<string, string> = {};
  if (settings.lanIp !== undefined) {
    annotations[METALLB_IPS_ANNOTATION] = settings.lanIp;
  }
  if (settings.tailscale.expose) {
    annotations[TAILSCALE_ANNOTATIONS.expose] = "true";
    annotations[TAILSCALE_ANNOTATIONS.hostname] = settings.tailscale.hostname;
    annotations[TAILSCALE_ANNOTATIONS.tags] = settings.tailscale.tags.join(",");
  }
  return annotations;
}

export interface GatewaySpecInput {
  readonly domain: GatewayDomain;
  readonly namespace: string;
  readonly settings: GatewaySettings;
  /** The gateway's listeners, from {@link gatewayListeners}. */
  readonly listeners: readonly Listener[];
  readonly labels?: Record<string, string>;
}

/** A listener of a gateway: its section name and port. */
export interface Listener {
  readonly name: string;
  readonly port: number;
}

/** The listener an app is served on: a port of its own when it must own `/`, the shared port 80 otherwise. */
export function appListener(app: ResolvedApp): Listener {
  return app.path === undefined ? { name: app.name, port: app.port } : SHARED_LISTENER;
}

/**
 * A gateway's listeners: the shared port 80 first, then one per app of its domain that must own
 * `/`. Apps with a Service of their own (Plex) are not behind a gateway at all.
 */
export function gatewayListeners(domain: GatewayDomain, apps: readonly ResolvedApp[]): Listener[] {
  const own = apps
    .filter((app) => app.domain === domain && app.ownLoadBalancer === undefined)
    .map(appListener)
    .filter((listener) => listener !== SHARED_LISTENER);
  return [SHARED_LISTENER, ...own];
}

/**
 * The annotation pulumi-kubernetes (4.18+) awaits a custom resource on, with `kubectl wait` syntax:
 * `pulumi up` finishes a Gateway only once Istio reports it Programmed (its proxy deployed and its
 * Service given an address), so a gateway that never comes up fails the update instead of passing.
 */
export const GATEWAY_WAIT_FOR = { "pulumi.com/waitFor": "condition=Programmed" } as const;

/** The ConfigMap a gateway's `infrastructure.parametersRef` names (in the gateway's namespace). */
export function gatewayParametersName(domain: GatewayDomain): string {
  return `${domain}-gateway-parameters`;
}

/**
 * Istio's per-Gateway customization (Istio 1.27 pilot/pkg/config/kube/gateway/deploymentcontroller.go:
 * a ConfigMap in the Gateway's namespace whose `service` key is a strategic-merge overlay on the
 * Service it generates). Istio's template (istio-discovery files/kube-gateway.yaml) renders the
 * Service `ipFamilyPolicy: PreferDualStack`; on a dual-stack cluster MetalLB then refuses it, since
 * this program's pool and pinned `lanIp`s are IPv4. The overlay makes every gateway Service
 * single-stack IPv4.
 */
export function buildGatewayParameters(
  domain: GatewayDomain,
  namespace: string,
  labels?: Record<string, string>,
): IConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: gatewayParametersName(domain), namespace, labels },
    data: { service: stringify({ spec: { ipFamilyPolicy: "SingleStack", ipFamilies: ["IPv4"] } }) },
  };
}

/** A `Gateway` with the given listeners, each admitting routes only from namespaces labelled for its domain. */
export function buildGateway(input: GatewaySpecInput): IGateway {
  const allowedRoutes: NonNullable<IGateway["spec"]["listeners"][number]["allowedRoutes"]> = {
    kinds: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute" }],
    namespaces: { from: "Selector", selector: { matchLabels: routeAccessLabels([input.domain]) } },
  };
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "Gateway",
    metadata: {
      name: input.domain,
      namespace: input.namespace,
      labels: input.labels,
      annotations: { ...GATEWAY_WAIT_FOR },
    },
    spec: {
      gatewayClassName: "istio",
      infrastructure: {
        annotations: gatewayServiceAnnotations(input.settings),
        parametersRef: { group: "", kind: "ConfigMap", name: gatewayParametersName(input.domain) },
      },
      listeners: input.listeners.map((listener) => ({
        name: listener.name,
        port: listener.port,
        protocol: "HTTP" as const,
        allowedRoutes,
      })),
    },
  };
}
