import type { ClusterFacts } from "../cluster/settings";

/** The overlay device pod-gateway creates on both sides (`bin/gateway_init.sh`, `bin/client_init.sh`). */
export const OVERLAY_DEVICE = "vxlan0";
/** UDP port of the VXLAN overlay on both sides; never the image default 0 (the kernel's 8472, which flannel and Cilium use). */
export const VXLAN_PORT = 4789;

/** Cluster ranges that never go through the tunnel: pods, Services and, when known, the LAN. */
export function clusterLocalCidrs(cluster: ClusterFacts): string[] {
  return [cluster.podCidr, cluster.serviceCidr, ...(cluster.lanCidr ? [cluster.lanCidr] : [])];
}

/** The gateway's address on the overlay, where its dnsmasq answers DHCP and DNS (`<VXLAN_IP_NETWORK>.1`). */
export function overlayGatewayAddress(vxlanNetwork: string): string {
  return `${vxlanNetwork}.1`;
}
