export {
  ADDON_RELEASES,
  DEFAULT_ISTIO_MINOR,
  DEFAULT_VERSIONS,
  ISTIO_MINORS,
  ISTIO_RELEASES,
  istioRelease,
  minorOf,
} from "./versions";
export type { AddonRelease, IstioMinor, IstioRelease } from "./versions";
export { ISTIO_PLATFORMS, ISTIO_PLATFORM_NAMES } from "./istio";
export type { IstioPlatform } from "./istio";
export { METALLB_POOL_NAME, metallbPoolSpecs } from "./metallb";
export type { IIPAddressPool, IL2Advertisement, MetallbPoolSpecs } from "./metallb";
export { freePoolAddress, parsePoolAddress, poolContains } from "./addresses";
export { CHART_SOURCES, PLATFORM_NAMESPACES, PLATFORM_PREREQUISITES, PLATFORM_STEPS } from "./charts";
export type { ChartStep, PlatformDependent, PlatformNamespace, PlatformStep } from "./charts";
export {
  gatewayApiManifestUrl,
  istioChartValues,
  metallbValues,
  platformInstallPlan,
  tailscaleOperatorValues,
} from "./plan";
export type { ChartRelease, PlatformInstallPlan } from "./plan";
export { charmarrNamespace, platformSchema } from "./settings";
export type { PlatformSettings } from "./settings";
export { INSTALLED_BY_ANNOTATION, PREFLIGHT_CRDS, stackIdentity } from "./preflight";
