/** Every install step this program knows, in the order a fresh cluster needs them. */
export const PLATFORM_STEPS = ["gateway-api-crds", "istio-base", "istiod", "istio-cni", "ztunnel", "metallb", "tailscale-operator"] as const;
export type PlatformStep = (typeof PLATFORM_STEPS)[number];

/**
 * What the resources built on the platform must wait for, when this stack installs it, so one
 * `pulumi up` on an empty cluster succeeds without making anything wait longer than it needs.
 * MetalLB and the Tailscale operator are in no list: they act on the gateways' Services whenever
 * they come up, and nothing is refused while they are missing.
 */
export const PLATFORM_PREREQUISITES = {
    /** HTTPRoutes: their kind comes with the Gateway API CRDs. */
    routes: ["gateway-api-crds"],
    /** Gateways: their kind, and istiod, the controller that deploys each Gateway's proxy. */
    gateways: ["gateway-api-crds", "istiod"],
    /**
     * AuthorizationPolicies and PeerAuthentication: the Istio install, from the CRDs (istio-base,
     * itself after the Gateway API CRDs) and istiod's validation to the ambient data plane that
     * enforces them (istio-cni, ztunnel).
     */
    meshPolicies: ["gateway-api-crds", "istio-base", "istiod", "istio-cni", "ztunnel"],
} as const satisfies Record<string, readonly PlatformStep[]>;

export type PlatformDependent = keyof typeof PLATFORM_PREREQUISITES;

const ISTIO_CHARTS = "https://istio-release.storage.googleapis.com/charts";

/** Where each chart comes from and where it goes: the upstream install guides' names and namespaces. */
export const CHART_SOURCES = {
    "istio-base": { repo: ISTIO_CHARTS, chart: "base", namespace: "istio-system" },
    istiod: { repo: ISTIO_CHARTS, chart: "istiod", namespace: "istio-system" },
    "istio-cni": { repo: ISTIO_CHARTS, chart: "cni", namespace: "istio-system" },
    ztunnel: { repo: ISTIO_CHARTS, chart: "ztunnel", namespace: "istio-system" },
    metallb: { repo: "https://metallb.github.io/metallb", chart: "metallb", namespace: "metallb-system" },
    "tailscale-operator": { repo: "https://pkgs.tailscale.com/helmcharts", chart: "tailscale-operator", namespace: "tailscale" },
} as const satisfies Record<Exclude<PlatformStep, "gateway-api-crds">, { repo: string; chart: string; namespace: string }>;

export type ChartStep = keyof typeof CHART_SOURCES;

/** The namespaces the charts install into, with the Pod Security level their pods need. */
export const PLATFORM_NAMESPACES = {
    // istio-cni and ztunnel are privileged node agents.
    "istio-system": "privileged",
    // The MetalLB speaker runs on the host network with NET_RAW to answer ARP.
    "metallb-system": "privileged",
    // Tailscale proxies start with a privileged init container that enables IP forwarding.
    tailscale: "privileged",
} as const satisfies Record<(typeof CHART_SOURCES)[ChartStep]["namespace"], "privileged" | "baseline" | "restricted">;

export type PlatformNamespace = keyof typeof PLATFORM_NAMESPACES;
