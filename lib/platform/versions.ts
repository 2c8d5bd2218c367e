/**
 * Pinned upstream versions installed when `charmarr:platform` does not name one. Chosen to work
 * together: Istio 1.27 supports Gateway API v1.3 and ambient mode with `profile=ambient`; MetalLB
 * ≥ 0.14.9 honours the `metallb.io/loadBalancerIPs` annotation the gateways use (docs/upstream.md#metallb).
 */
export const DEFAULT_VERSIONS = {
    gatewayApi: "v1.3.0",
    istio: "1.27.9",
    metallb: "0.15.3",
    tailscaleOperator: "1.86.5",
} as const;
