/**
 * The tunnel's MTU against the pod network's: what each encapsulation costs, and the value the
 * gateway and the clients use.
 */
import type { ClusterFacts } from "../cluster/settings";
import { VPN_MTU_MAX, VpnSettings, VpnType } from "./settings";

/** What VXLAN adds to a client's packet on the pod network: outer IPv4 20, UDP 8, VXLAN 8, inner Ethernet 14. */
export const VXLAN_OVERHEAD = 50;

/**
 * What the tunnel adds to a packet leaving the gateway. WireGuard: outer IPv6 40 (IPv4 20), UDP 8,
 * WireGuard 32. OpenVPN over UDP: IPv4 20 and UDP 8, plus a data-channel header of up to 69 bytes
 * with the CBC/HMAC-SHA256 ciphers some providers still use (24 with AES-GCM), rounded up.
 */
export const TUNNEL_OVERHEAD: Readonly<Record<VpnType, number>> = { wireguard: 80, openvpn: 100 };

export const TUNNEL_TITLES: Readonly<Record<VpnType, string>> = { wireguard: "WireGuard", openvpn: "OpenVPN" };

/**
 * The smallest tunnel MTU: IPv6 needs 1280 on every link (RFC 8200), and `vpn.mtu` accepts no less.
 */
export const VPN_MTU_MIN = 1280;

/**
 * The largest MTU that fits the pod network. The two encapsulations a client's packet gets are on
 * different hops: client → gateway it crosses the pod network inside VXLAN (M + 50), gateway → VPN
 * server inside the tunnel (M + the tunnel's overhead), each hop on a pod network link. So the
 * larger of the two overheads bounds it, not their sum.
 */
export function mtuLimit(type: VpnType, podMtu: number): number {
  return podMtu - Math.max(VXLAN_OVERHEAD, TUNNEL_OVERHEAD[type]);
}

/** The pod network's smallest MTU that still carries a `VPN_MTU_MIN` tunnel of this type. */
export function minimumPodMtu(type: VpnType): number {
  return VPN_MTU_MIN + Math.max(VXLAN_OVERHEAD, TUNNEL_OVERHEAD[type]);
}

/**
 * The MTU of the tunnel and of `vxlan0` on both sides: `vpn.mtu`, or the largest safe value for
 * the pod network. pod-gateway v1.13.0 (`bin/gateway_init.sh`, `bin/client_init.sh`) sets
 * `vxlan0` to `VPN_INTERFACE_MTU` as given — its clamp `[ ${VPN_INTERFACE_MTU} >= ... ]` is a
 * shell redirection, not a comparison — so this value must already be safe.
 */
export function tunnelMtu(vpn: VpnSettings, cluster: ClusterFacts): number {
  const mtu = vpn.mtu ?? Math.min(VPN_MTU_MAX, mtuLimit(vpn.type, cluster.podMtu));
  if (mtu < VPN_MTU_MIN) {
    throw new Error(
      `a tunnel MTU of ${mtu} is below ${VPN_MTU_MIN} (cluster.podMtu ${cluster.podMtu}); config validation should have refused it`,
    );
  }
  return mtu;
}
