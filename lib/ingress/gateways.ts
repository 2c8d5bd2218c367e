import type { IGateway } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway";
import type { AppName } from "../apps/catalog";
import type { GatewayDomain, GatewaySettings } from "../config/schema";

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

/** A listener for an app that must own `/` of its port (Plex, Overseerr, Jellyfin). */
export interface DedicatedListener {
    readonly app: AppName;
    readonly port: number;
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
 * Annotations Istio copies onto the gateway's generated Service (FACTS §5): the MetalLB address and
 * Tailscale exposure. The LAN IP goes only in the annotation — `spec.addresses` would also set
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
    /** Root-only apps of this domain, each on its own port. */
    readonly dedicated: readonly DedicatedListener[];
    readonly labels?: Record<string, string>;
}

/** A `Gateway` with the shared port-80 listener plus one listener per root-only app. */
export function buildGateway(input: GatewaySpecInput): IGateway {
    const allowedRoutes: NonNullable<IGateway["spec"]["listeners"][number]["allowedRoutes"]> = {
        kinds: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute" }],
        namespaces: { from: "Selector", selector: { matchLabels: routeAccessLabels([input.domain]) } },
    };
    return {
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "Gateway",
        metadata: { name: input.domain, namespace: input.namespace, labels: input.labels },
        spec: {
            gatewayClassName: "istio",
            infrastructure: { annotations: gatewayServiceAnnotations(input.settings) },
            listeners: [
                { name: SHARED_LISTENER.name, port: SHARED_LISTENER.port, protocol: "HTTP", allowedRoutes },
                ...input.dedicated.map((listener) => ({ name: listener.app, port: listener.port, protocol: "HTTP" as const, allowedRoutes })),
            ],
        },
    };
}
