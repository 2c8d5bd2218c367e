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

/**
 * Which Gateway API CRD bundles (`gateway.networking.k8s.io/bundle-version`) this program can use,
 * checked by the preflight against CRDs the cluster already has.
 */
export const GATEWAY_API_SUPPORT = {
  /**
   * The oldest bundle whose standard CRDs hold every field the program's Gateways and HTTPRoutes
   * set: the Gateway's `spec.infrastructure` (its `parametersRef` and annotations) entered the
   * standard channel in v1.2.0 (kubernetes-sigs/gateway-api CHANGELOG/1.2-CHANGELOG.md, GEP-1867).
   */
  programMinimum: "v1.2.0",
  /**
   * The Gateway API minor each Istio minor is built and tested against: Istio 1.27's go.mod
   * requires sigs.k8s.io/gateway-api v1.3.0. A minor missing here is not compared.
   */
  istio: { "1.27": "v1.3" } as Readonly<Record<string, string>>,
} as const;
