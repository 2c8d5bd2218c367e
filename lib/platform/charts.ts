/** Every install step this program knows, in the order a fresh cluster needs them. */
export const PLATFORM_STEPS = [
  "gateway-api-crds",
  "istio-base",
  "istiod",
  "istio-cni",
  "ztunnel",
  "metallb",
  "tailscale-operator",
] as const;
export type PlatformStep = (typeof PLATFORM_STEPS)[number];

/**
 * What the resources built on the platform must wait for, when this stack installs it, so one
 * `pulumi up` on an empty cluster succeeds without making anything wait longer than it needs.
 * MetalLB is in no list: it acts on the gateways' Services whenever it comes up. The Tailscale
 * operator is in the tailnet lists for `pulumi destroy`, not for creation: Pulumi deletes in reverse
 * dependency order, and the operator puts a finalizer on every Service it exposes that only it
 * removes, so whatever holds such a Service must be deleted while the operator still runs.
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
  /** Gateways on the tailnet: as Gateways, and the Tailscale operator (their Service carries its finalizer). */
  tailnetGateways: ["gateway-api-crds", "istiod", "tailscale-operator"],
  /**
   * The core namespace: the Tailscale operator. Pulumi awaits a namespace's deletion until
   * everything in it is gone, finalized Services included, so with the operator deleted only
   * after it no exposed Service can outlive the operator that must release it.
   */
  exposedNamespace: ["tailscale-operator"],
} as const satisfies Record<string, readonly PlatformStep[]>;

export type PlatformDependent = keyof typeof PLATFORM_PREREQUISITES;

/**
 * Istio's release charts: its OCI registry (istio/istio manifests/charts/README.md lists
 * `oci://registry.istio.io/release/charts/` for releases), which replaces the
 * istio-release.storage.googleapis.com bucket. An OCI chart is named by its full reference, with no
 * repository: pulumi-kubernetes' helm.v3.Release passes an `oci://` chart straight to Helm's
 * registry client and would look for an index.yaml under a `repositoryOpts.repo`
 * (pulumi/pulumi-kubernetes provider/pkg/provider/helm_release.go, resolveChartName and locateChart).
 */
const ISTIO_REGISTRY = "oci://registry.istio.io/release/charts";

/**
 * Where each chart comes from and where it goes: the upstream install guides' names and
 * namespaces. `chart` is a full `oci://` reference, or a name in the Helm repository `repo`.
 */
export const CHART_SOURCES = {
  "istio-base": { chart: `${ISTIO_REGISTRY}/base`, namespace: "istio-system" },
  istiod: { chart: `${ISTIO_REGISTRY}/istiod`, namespace: "istio-system" },
  "istio-cni": { chart: `${ISTIO_REGISTRY}/cni`, namespace: "istio-system" },
  ztunnel: { chart: `${ISTIO_REGISTRY}/ztunnel`, namespace: "istio-system" },
  metallb: { repo: "https://metallb.github.io/metallb", chart: "metallb", namespace: "metallb-system" },
  "tailscale-operator": {
    repo: "https://pkgs.tailscale.com/helmcharts",
    chart: "tailscale-operator",
    namespace: "tailscale",
  },
} as const satisfies Record<
  Exclude<PlatformStep, "gateway-api-crds">,
  { repo?: string; chart: string; namespace: string }
>;

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
