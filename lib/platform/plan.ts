import type { PlatformSettings } from "./settings";
import { OPERATOR_TAG, PROXY_TAG } from "../tailnet/tags";
import { CHART_SOURCES, ChartStep, PlatformNamespace, PlatformStep } from "./charts";
import { ISTIO_PLATFORMS } from "./istio";

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
 * and the cluster's DNS domain and the mesh's trust domain wherever a chart takes them (Istio 1.27
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
    istiod: {
      profile: "ambient",
      global: { proxy: { clusterDomain } },
      meshConfig: { trustDomain: settings.trustDomain },
    },
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
      ? {
          gatewayApiCrds: {
            url: gatewayApiManifestUrl(settings.gatewayApi.version),
            version: settings.gatewayApi.version,
          },
        }
      : {}),
    releases,
    namespaces,
    ...(settings.metallb.install ? { metallbAddresses: settings.metallb.addresses } : {}),
  };
}
