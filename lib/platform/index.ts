export { DEFAULT_VERSIONS } from "./versions";
export { ISTIO_PLATFORMS, ISTIO_PLATFORM_NAMES } from "./istio";
export type { IstioPlatform } from "./istio";
export { METALLB_POOL_NAME, metallbPoolSpecs } from "./metallb";
export type { IIPAddressPool, IL2Advertisement, MetallbPoolSpecs } from "./metallb";
export { firstPoolAddress, parsePoolAddress, poolContains } from "./addresses";
export {
    CHART_SOURCES,
    PLATFORM_NAMESPACES,
    PLATFORM_PREREQUISITES,
    PLATFORM_STEPS,
    gatewayApiManifestUrl,
    istioChartValues,
    platformInstallPlan,
    tailscaleOperatorValues,
} from "./plan";
export type { ChartRelease, ChartStep, PlatformDependent, PlatformInstallPlan, PlatformNamespace, PlatformStep } from "./plan";
