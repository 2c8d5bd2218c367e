import type { GatewaySettings } from "../ingress/settings";

/**
 * Whether a gateway is a machine on the tailnet: only an enabled gateway with `tailscale.expose`
 * gets a tailnet proxy, so only those appear in the policy's owners, grants and tests.
 */
export function onTailnet(gateway: GatewaySettings): boolean {
  return gateway.enabled && gateway.tailscale.expose;
}
