import type { PlatformSettings } from "./settings";
import { OPERATOR_TAG, PROXY_TAG } from "../tailnet/tags";
import { CHART_SOURCES, ChartStep, PlatformNamespace, PlatformStep } from "./charts";
import { ISTIO_PLATFORMS } from "./istio";

/** One Helm release of the plan. */
export interface ChartRelease {
  readonly step: ChartStep;
  /** The Helm repository holding `chart`; absent when `chart` is a full `oci://` reference. */
  readonly repo?: string;
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
 * Values of the Istio charts (1.30 and 1.31 charts, their values.yaml): ambient wherever it is a
 * profile, the CNI paths of the platform, and the cluster's DNS domain and the mesh's trust domain
 * wherever a chart takes them — istiod as `global.proxy.clusterDomain` (which its values.yaml says
 * every Istio chart must be given alike) and `meshConfig.trustDomain`; ztunnel as its
 * `CLUSTER_DOMAIN` and `TRUST_DOMAIN` environment (ztunnel src/config.rs; the chart's `env` map).
 * The base and cni charts declare no cluster or trust domain and no template of theirs reads one:
 * neither resolves names nor issues identities.
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
 * Values of the MetalLB chart: L2 only. 0.16 turns on its frr-k8s BGP backend by default
 * (metallb/metallb v0.16.1 charts/metallb/values.yaml `frrk8s.enabled: true`, a subchart with a
 * privileged DaemonSet, a webhook and CRDs); announcing a pool by ARP needs none of it, and with
 * both `frrk8s` and the deprecated `speaker.frr` off the speaker runs its native implementation.
 */
export function metallbValues(): Record<string, unknown> {
  return { frrk8s: { enabled: false } };
}

/**
 * Values of the Tailscale operator chart. The OAuth credentials are not values: the chart's
 * `oauth` map (`clientId`, `clientSecret`, `audience`; tailscale/tailscale v1.102.3
 * cmd/k8s-operator/deploy/chart/values.yaml) keeps its empty defaults, so templates/oauth-secret.yaml
 * renders no Secret and templates/deployment.yaml mounts the `operator-oauth` Secret this program
 * creates. The client secret never sits in the Helm release's stored values, and no chart-made
 * Secret of the same name collides with it.
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
    release("metallb", settings.metallb.version, metallbValues(), []);
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
