/**
 * VPN rules that need the cluster's facts (read from the core stack): the tunnel MTU against the
 * pod network's MTU, and the resolver the gateway sends internet lookups to.
 */
import { ConfigProblem, configSetCommand } from "../config/errors";
import type { ClusterFacts, VpnSettings } from "../config/schema";
import { cidrContains, parseCidr, parseIpv4, vxlanCidr } from "../net";
import type { VpnType } from "./providers";

/**
 * The largest tunnel MTU: WireGuard over a 1500-byte link carries at most 1420 bytes (80 bytes of
 * IPv6, UDP and WireGuard headers). Too large an MTU hangs TLS while ping and DNS still work.
 */
export const VPN_MTU_MAX = 1420;

/** What VXLAN adds to a client's packet on the pod network: outer IPv4 20, UDP 8, VXLAN 8, inner Ethernet 14. */
export const VXLAN_OVERHEAD = 50;

/**
 * What the tunnel adds to a packet leaving the gateway. WireGuard: outer IPv6 40 (IPv4 20), UDP 8,
 * WireGuard 32. OpenVPN over UDP: IPv4 20 and UDP 8, plus a data-channel header of up to 69 bytes
 * with the CBC/HMAC-SHA256 ciphers some providers still use (24 with AES-GCM), rounded up.
 */
export const TUNNEL_OVERHEAD: Readonly<Record<VpnType, number>> = { wireguard: 80, openvpn: 100 };

const TUNNEL_TITLES: Readonly<Record<VpnType, string>> = { wireguard: "WireGuard", openvpn: "OpenVPN" };

/**
 * The largest MTU that fits the pod network with room for both encapsulations a client's packet
 * gets: VXLAN from the client to the gateway, then the tunnel from the gateway out.
 */
export function mtuLimit(type: VpnType, podMtu: number): number {
    return podMtu - VXLAN_OVERHEAD - TUNNEL_OVERHEAD[type];
}

/**
 * The MTU of the tunnel and of `vxlan0` on both sides: `vpn.mtu`, or the largest safe value for
 * the pod network. pod-gateway v1.13.0 (`bin/gateway_init.sh`, `bin/client_init.sh`) sets
 * `vxlan0` to `VPN_INTERFACE_MTU` as given — its clamp `[ ${VPN_INTERFACE_MTU} >= ... ]` is a
 * shell redirection, not a comparison — so this value must already be safe.
 */
export function tunnelMtu(vpn: VpnSettings, cluster: ClusterFacts): number {
    return vpn.mtu ?? Math.min(VPN_MTU_MAX, mtuLimit(vpn.type, cluster.podMtu));
}

const MTU_KEY = "charmarr:vpn.mtu";
const DNS_KEY = "charmarr:vpn.dnsAddress";

/** Ranges a resolver must not be in: the gateway reaches them on eth0, outside the tunnel. */
function localRanges(vpn: VpnSettings, cluster: ClusterFacts): [string, string][] {
    return [
        ["the cluster's podCidr", cluster.podCidr],
        ["the cluster's serviceCidr", cluster.serviceCidr],
        ...(cluster.lanCidr ? [["the cluster's lanCidr", cluster.lanCidr] as [string, string]] : []),
        ["the VXLAN overlay (vpn.vxlanNetwork)", vxlanCidr(vpn.vxlanNetwork)],
        ["loopback", "127.0.0.0/8"],
        ["link-local", "169.254.0.0/16"],
        ["\"this network\"", "0.0.0.0/8"],
        ["multicast or reserved space", "224.0.0.0/3"],
    ];
}

/**
 * Every way the VPN settings conflict with the cluster's facts (the MTU and the resolver). Run by
 * the downloads program as soon as it has read the core stack, before anything is created.
 */
export function vpnClusterProblems(vpn: VpnSettings, cluster: ClusterFacts): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const limit = mtuLimit(vpn.type, cluster.podMtu);
    if (vpn.mtu !== undefined && vpn.mtu > limit) {
        problems.push({
            key: MTU_KEY,
            problem:
                `${vpn.mtu} does not fit the pod network's MTU ${cluster.podMtu} (cluster.podMtu, from the core stack): a client's packet crosses the pod network ` +
                `inside VXLAN (${VXLAN_OVERHEAD} bytes) and leaves the gateway inside ${TUNNEL_TITLES[vpn.type]} (${TUNNEL_OVERHEAD[vpn.type]} bytes), so at most ${limit} bytes fit; ` +
                `pod-gateway sets vxlan0 to this value without lowering it, and larger packets fragment or hang TLS while ping and DNS still work`,
            fix:
                `pulumi config rm --path ${MTU_KEY}  (the program then uses ${Math.min(limit, VPN_MTU_MAX)}), ` +
                `or if ${cluster.podMtu} is not your pod network's MTU (ip link show eth0 in any pod), set it on the core stack: pulumi config set --path --stack core charmarr:cluster.podMtu <mtu>`,
        });
    }
    const resolver = parseIpv4(vpn.dnsAddress);
    if (resolver !== undefined) {
        for (const [name, range] of localRanges(vpn, cluster)) {
            const block = parseCidr(range);
            if (block && cidrContains(block, resolver)) {
                problems.push({
                    key: DNS_KEY,
                    problem: `${vpn.dnsAddress} lies in ${name} ${range}; the gateway must reach its resolver only through the tunnel, or internet lookups leave from your home address`,
                    fix: configSetCommand(DNS_KEY, vpn.dnsAddress === "1.1.1.1" ? "9.9.9.9" : "1.1.1.1"),
                });
            }
        }
        if (vpn.endpointIp === vpn.dnsAddress) {
            problems.push({
                key: DNS_KEY,
                problem: `${vpn.dnsAddress} is also the VPN server's address (vpn.endpointIp); the gateway drops everything to its resolver outside the tunnel, which would drop the tunnel itself`,
                fix: `use the resolver's address inside the tunnel your provider gives, or a public one: ${configSetCommand(DNS_KEY, vpn.dnsAddress === "1.1.1.1" ? "9.9.9.9" : "1.1.1.1")}`,
            });
        }
    }
    return problems;
}
