/**
 * The three security domains, one Istio ingress gateway each. Apps belong to a
 * domain, gateways serve one, the mesh and the tailnet grant by them.
 */
export const GATEWAY_DOMAINS = ["arr", "media", "admin"] as const;
export type GatewayDomain = (typeof GATEWAY_DOMAINS)[number];
