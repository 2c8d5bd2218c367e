import type { PlatformSettings } from "../config";
import { OPERATOR_TAG, PROXY_TAG } from "../tailnet/tags";
import { ISTIO_PLATFORMS } from "./istio";

/** Every install step this program knows, in the order a fresh cluster needs them. */
export const PLATFORM_STEPS = ["gateway-api-crds", "istio-base", "istiod", "istio-cni", "ztunnel", "metallb", "tailscale-operator"] as const;
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

/** One Helm release of the plan. */
export interface ChartRelease {
    readonly step: ChartStep;
    readonly repo: string;
    readonly chart: string;
    readonly version: string;
    readonly namespace: PlatformNamespace;
    readonly values: Record<string, unknown>;
    /** Steps (of this plan) that must be ready first. */
    readonly after: readonly PlatformStep[];
}

export interface PlatformInstallPlan {
    /** The Gateway API standard-channel release manifest, when this stack installs the CRDs. */
    readonly gatewayApiCrds?: { readonly url: string; readonly version: string };
    /** Helm releases in install order; each lists the steps it waits for. */
    readonly releases: readonly ChartRelease[];
    /** Namespaces the releases install into, created before them. */
    readonly namespaces: readonly PlatformNamespace[];
    /** MetalLB address pool entries, applied once MetalLB's webhook is up. */
    readonly metallbAddresses?: readonly string[];
}

/** The pinned upstream manifest with the standard-channel Gateway API CRDs (Gateway, HTTPRoute, ...). */
export function gatewayApiManifestUrl(version: string): string {
    return `https://github.com/kubernetes-sigs/gateway-api/releases/download/${version}/standard-install.yaml`;
}

/**
 * Values of the Istio charts: ambient everywhere it is a profile, the CNI paths of the platform,
 * and the cluster's DNS domain and the mesh's trust domain wherever a chart takes them (Istio 1.27.3
 * charts): istiod as `global.proxy.clusterDomain` and `meshConfig.trustDomain`, ztunnel as its
 * `CLUSTER_DOMAIN` and `TRUST_DOMAIN` environment (ztunnel src/config.rs; the chart's `env` map).
 * The base and cni charts have no such values: neither resolves names nor issues identities.
 */
export function istioChartValues(
    settings: PlatformSettings["istio"],
    clusterDomain: string,
): Record<"istio-base" | "istiod" | "istio-cni" | "ztunnel", Record<string, unknown>> {
    const globalPlatform = ISTIO_PLATFORMS[settings.platform].globalPlatform;
    return {
        "istio-base": {},
        istiod: { profile: "ambient", global: { proxy: { clusterDomain } }, meshConfig: { trustDomain: settings.trustDomain } },
        "istio-cni": { profile: "ambient", ...(globalPlatform ? { global: { platform: globalPlatform } } : {}) },
        ztunnel: { env: { CLUSTER_DOMAIN: clusterDomain, TRUST_DOMAIN: settings.trustDomain } },
    };
}

/**
 * Values of the Tailscale operator chart. The OAuth credentials are not values: they reach the
 * operator through the `operator-oauth` Secret the chart reads when `oauth` is unset, so they never
 * sit in the Helm release's stored values.
 */
export function tailscaleOperatorValues(): Record<string, unknown> {
    return {
        operatorConfig: { defaultTags: [OPERATOR_TAG] },
        proxyConfig: { defaultTags: PROXY_TAG },
    };
}

/**
 * What to install and in which order. Gateway API CRDs come first, since Istio's control plane
 * watches them; the Istio charts follow Istio's Helm install guide (base → istiod → cni → ztunnel). When this
 * stack does not install an earlier step, the later one assumes the cluster already has it.
 */
export function platformInstallPlan(settings: PlatformSettings, clusterDomain: string): PlatformInstallPlan {
    const releases: ChartRelease[] = [];
    const release = (step: ChartStep, version: string, values: Record<string, unknown>, after: PlatformStep[]) => {
        const source = CHART_SOURCES[step];
        releases.push({ step, ...source, version, values, after });
    };
    const crds: PlatformStep[] = settings.gatewayApi.install ? ["gateway-api-crds"] : [];

    if (settings.istio.install) {
        const values = istioChartValues(settings.istio, clusterDomain);
        release("istio-base", settings.istio.version, values["istio-base"], crds);
        release("istiod", settings.istio.version, values.istiod, ["istio-base"]);
        release("istio-cni", settings.istio.version, values["istio-cni"], ["istiod"]);
        release("ztunnel", settings.istio.version, values.ztunnel, ["istio-cni"]);
    }
    if (settings.metallb.install) {
        release("metallb", settings.metallb.version, {}, []);
    }
    if (settings.tailscale.operator.install) {
        release("tailscale-operator", settings.tailscale.operator.version, tailscaleOperatorValues(), []);
    }

    const namespaces = [...new Set(releases.map((entry) => entry.namespace))];
    return {
        ...(settings.gatewayApi.install
            ? { gatewayApiCrds: { url: gatewayApiManifestUrl(settings.gatewayApi.version), version: settings.gatewayApi.version } }
            : {}),
        releases,
        namespaces,
        ...(settings.metallb.install ? { metallbAddresses: settings.metallb.addresses } : {}),
    };
}
