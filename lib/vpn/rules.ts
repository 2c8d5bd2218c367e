/**
 * The VPN settings' rules that need more than `charmarr:vpn` itself: the downloads stack's own
 * namespace, the gateway pod's IPv4-only network, and the cluster's ranges read from the core stack.
 */
import { isIP } from "node:net";
import type { ClusterFacts } from "../cluster/settings";
import { PRIVATE_RANGES, cidrContains, cidrsOverlap, isPrivateCidr, parseCidr, parseIpv4, vxlanCidr } from "../net";
import { ConfigProblem, SettingsIssue, configKey, configSetCommand } from "../settings";
import { wireguardAddresses } from "./providers";
import { TUNNEL_OVERHEAD, TUNNEL_TITLES, VPN_MTU_MIN, VXLAN_OVERHEAD, minimumPodMtu, mtuLimit } from "./mtu";
import { VPN_DEFAULT_NAMESPACE, VPN_MTU_MAX, VpnSettings } from "./settings";

/** The VPN gateway stays out of the mesh, so it cannot share the (enrolled) download clients' namespace. */
export function vpnNamespaceIssues(vpn: VpnSettings, clientNamespace: string): SettingsIssue[] {
  if (vpn.namespace !== clientNamespace) {
    return [];
  }
  // The VPN gateway on its default namespace is right; then the clients' namespace is the one to move.
  return vpn.namespace === VPN_DEFAULT_NAMESPACE
    ? [
        {
          path: ["namespace"],
          message: `"${clientNamespace}" is the VPN gateway's namespace (charmarr:vpn.namespace); the download clients need a namespace of their own, in the mesh, apart from the gateway's`,
          params: { suggest: "charmarr-downloads" },
        },
      ]
    : [
        {
          path: ["vpn", "namespace"],
          message: `"${vpn.namespace}" is also the download clients' namespace; the VPN gateway needs a namespace of its own that stays out of the mesh`,
          params: { suggest: VPN_DEFAULT_NAMESPACE },
        },
      ];
}

const VXLAN_KEY = configKey(["vpn", "vxlanNetwork"]);

/** Every VPN rule against the cluster's ranges (from the core stack). */
export function vpnClusterProblems(vpn: VpnSettings, cluster: ClusterFacts): ConfigProblem[] {
  return [
    ...addressFamilyProblems(vpn),
    ...vxlanOverlapProblems(vpn, cluster),
    ...vxlanNetworkProblems(vpn, cluster),
    ...vpnProblemsAgainstCluster(vpn, cluster),
    ...mtuProblems(vpn, cluster),
    ...resolverProblems(vpn, cluster),
  ];
}

const ADDRESSES_KEY = configKey(["vpn", "addresses"]);

/**
 * The gateway pod has IPv6 turned off (./guard.ts), and gluetun v3.41.1 then refuses to start with
 * an IPv6 WireGuard address (`cmd/gluetun/main.go` asks `netLinker.IsIPv6Supported()`;
 * `internal/configuration/settings/wireguard.go` returns `ErrWireguardInterfaceAddressIPv6`): the
 * pod would crash-loop. Providers such as Mullvad hand out an IPv4 and an IPv6 address together.
 */
function addressFamilyProblems(vpn: VpnSettings): ConfigProblem[] {
  if (vpn.type !== "wireguard") {
    return [];
  }
  const ipv6 = vpn.addresses.filter((address) => isIP(address.split("/")[0] ?? "") === 6);
  if (ipv6.length === 0) {
    return [];
  }
  const ipv4 = vpn.addresses.find((address) => isIP(address.split("/")[0] ?? "") === 4);
  const first = `${ADDRESSES_KEY}[0]`;
  return [
    {
      key: ADDRESSES_KEY,
      problem:
        `${ipv6.join(", ")} ${ipv6.length === 1 ? "is an IPv6 address" : "are IPv6 addresses"}; the VPN gateway is IPv4-only ` +
        `(IPv6 is off in its pod so nothing leaves over it), and gluetun refuses to start with an IPv6 WireGuard address when the pod has no IPv6`,
      fix: ipv4
        ? `keep only the IPv4 entry: pulumi config rm --path ${ADDRESSES_KEY}; pulumi config set --path '${first}' ${ipv4}`
        : `use the IPv4 address your provider assigned to your key: pulumi config rm --path ${ADDRESSES_KEY}; pulumi config set --path '${first}' <IPv4 address>/32`,
    },
  ];
}

const MTU_KEY = configKey(["vpn", "mtu"]);
const DNS_KEY = configKey(["vpn", "dnsAddress"]);

const POD_MTU_KEY = configKey(["cluster", "podMtu"]);

/** `vpn.mtu` must fit the pod network on both hops, and the pod network must carry any tunnel at all (./mtu.ts). */
function mtuProblems(vpn: VpnSettings, cluster: ClusterFacts): ConfigProblem[] {
  const limit = mtuLimit(vpn.type, cluster.podMtu);
  const hops =
    `a client's packet crosses the pod network inside VXLAN (${VXLAN_OVERHEAD} bytes) to the gateway, and the gateway sends it on inside ` +
    `${TUNNEL_TITLES[vpn.type]} (${TUNNEL_OVERHEAD[vpn.type]} bytes), each on a pod network link, so the larger overhead bounds the tunnel MTU`;
  const podMtuFix = `if ${cluster.podMtu} is not your pod network's MTU (ip link show eth0 in any pod), set it on the core stack: pulumi config set --path --stack core ${POD_MTU_KEY} <mtu>`;
  if (limit < VPN_MTU_MIN) {
    return [
      {
        key: POD_MTU_KEY,
        problem:
          `the pod network's MTU ${cluster.podMtu} (from the core stack) is too small for a ${TUNNEL_TITLES[vpn.type]} tunnel: ${hops}, ` +
          `which leaves ${limit} bytes, below the ${VPN_MTU_MIN} a tunnel needs; the pod network needs an MTU of at least ${minimumPodMtu(vpn.type)}`,
        fix: podMtuFix,
      },
    ];
  }
  if (vpn.mtu === undefined || vpn.mtu <= limit) {
    return [];
  }
  return [
    {
      key: MTU_KEY,
      problem:
        `${vpn.mtu} does not fit the pod network's MTU ${cluster.podMtu} (cluster.podMtu, from the core stack): ${hops}, so at most ${limit} bytes fit; ` +
        `pod-gateway sets vxlan0 to this value without lowering it, and larger packets fragment or hang TLS while ping and DNS still work`,
      fix: `pulumi config rm --path ${MTU_KEY}  (the program then uses ${Math.min(limit, VPN_MTU_MAX)}), or ${podMtuFix}`,
    },
  ];
}

/** Ranges a resolver must not be in: the gateway reaches them on eth0 (or not at all), outside the tunnel. */
function nonTunnelRanges(vpn: VpnSettings, cluster: ClusterFacts): [string, string][] {
  return [
    ["the cluster's podCidr", cluster.podCidr],
    ["the cluster's serviceCidr", cluster.serviceCidr],
    ...(cluster.lanCidr ? [["the cluster's lanCidr", cluster.lanCidr] as [string, string]] : []),
    ["the VXLAN overlay (vpn.vxlanNetwork)", vxlanCidr(vpn.vxlanNetwork)],
    ["loopback", "127.0.0.0/8"],
    ["link-local", "169.254.0.0/16"],
    ['"this network"', "0.0.0.0/8"],
    ["multicast or reserved space", "224.0.0.0/3"],
  ];
}

/** `vpn.dnsAddress` must be reachable through the tunnel and nothing else. */
function resolverProblems(vpn: VpnSettings, cluster: ClusterFacts): ConfigProblem[] {
  const resolver = parseIpv4(vpn.dnsAddress);
  if (resolver === undefined) {
    return [];
  }
  const fix = configSetCommand(DNS_KEY, vpn.dnsAddress === "1.1.1.1" ? "9.9.9.9" : "1.1.1.1");
  const problems: ConfigProblem[] = nonTunnelRanges(vpn, cluster).flatMap(([name, range]) => {
    const block = parseCidr(range);
    return block && cidrContains(block, resolver)
      ? [
          {
            key: DNS_KEY,
            problem: `${vpn.dnsAddress} lies in ${name} ${range}; the gateway must reach its resolver only through the tunnel, or internet lookups leave from your home address`,
            fix,
          },
        ]
      : [];
  });
  if (vpn.endpointIp === vpn.dnsAddress) {
    problems.push({
      key: DNS_KEY,
      problem: `${vpn.dnsAddress} is also the VPN server's address (vpn.endpointIp); the gateway drops everything to its resolver outside the tunnel, which would drop the tunnel itself`,
      fix: `use the resolver's address inside the tunnel your provider gives, or a public one: ${fix}`,
    });
  }
  return problems;
}

function clusterRanges(cluster: ClusterFacts) {
  return [
    ["podCidr", cluster.podCidr],
    ["serviceCidr", cluster.serviceCidr],
    ["lanCidr", cluster.lanCidr],
  ] as const;
}

/** The tunnel's own addresses, which the overlay must stay clear of too (gluetun routes them through wg0). */
function tunnelAddressesOf(vpn: VpnSettings): string[] {
  return vpn.type === "wireguard" ? wireguardAddresses(vpn) : [];
}

/** The VXLAN overlay needs addresses no pod, Service or LAN host uses. */
function vxlanOverlapProblems(vpn: VpnSettings, cluster: ClusterFacts): ConfigProblem[] {
  const vxlan = parseCidr(vxlanCidr(vpn.vxlanNetwork));
  // The suggestion must clear the tunnel's addresses as well, or applying it trades this refusal for the next.
  const fix = configSetCommand(VXLAN_KEY, suggestVxlanNetwork(cluster, tunnelAddressesOf(vpn)));
  return clusterRanges(cluster).flatMap(([name, range]) => {
    const block = range === undefined ? undefined : parseCidr(range);
    return vxlan && block && cidrsOverlap(vxlan, block)
      ? [
          {
            key: VXLAN_KEY,
            problem: `${vxlanCidr(vpn.vxlanNetwork)} overlaps the cluster's ${name} ${range} (from the core stack); the VXLAN overlay needs addresses no pod, Service or LAN host uses`,
            fix,
          },
        ]
      : [];
  });
}

/**
 * The overlay must be private address space (clients route it on vxlan0, never to the internet)
 * and clear of the tunnel's own addresses, which gluetun routes through wg0.
 */
function vxlanNetworkProblems(vpn: VpnSettings, cluster: ClusterFacts): ConfigProblem[] {
  const overlay = parseCidr(vxlanCidr(vpn.vxlanNetwork));
  if (!overlay) {
    return [];
  }
  const tunnelAddresses = tunnelAddressesOf(vpn);
  const fix = configSetCommand(VXLAN_KEY, suggestVxlanNetwork(cluster, tunnelAddresses));
  const problems: ConfigProblem[] = [];
  if (!isPrivateCidr(overlay)) {
    problems.push({
      key: VXLAN_KEY,
      problem: `${vxlanCidr(vpn.vxlanNetwork)} is not private address space (${PRIVATE_RANGES.join(", ")}); the overlay between clients and the gateway must not shadow internet or link-local addresses`,
      fix,
    });
  }
  for (const address of tunnelAddresses) {
    const tunnel = parseCidr(address);
    if (tunnel && cidrsOverlap(tunnel, overlay)) {
      problems.push({
        key: VXLAN_KEY,
        problem: `${vxlanCidr(vpn.vxlanNetwork)} contains the VPN interface address ${address}; the overlay and the tunnel need separate addresses`,
        fix,
      });
    }
  }
  return problems;
}

/** VPN settings that only the cluster's ranges can rule out. */
function vpnProblemsAgainstCluster(vpn: VpnSettings, cluster: ClusterFacts): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const allowLanKey = configKey(["vpn", "killSwitch", "allowLan"]);
  if (vpn.killSwitch.allowLan && cluster.lanCidr === undefined) {
    problems.push({
      key: allowLanKey,
      problem: "is true, but the core stack has no cluster.lanCidr, so there is no LAN range to allow",
      fix: `set it on the core stack: pulumi config set --path --stack core charmarr:cluster.lanCidr 192.168.1.0/24 (then pulumi up --stack core), or ${configSetCommand(allowLanKey, "false")}`,
    });
  }
  // gluetun refuses FIREWALL_OUTBOUND_SUBNETS that overlap the tunnel's own addresses
  // (docs/upstream.md#gluetun).
  for (const address of tunnelAddressesOf(vpn)) {
    const tunnel = parseCidr(address);
    for (const [name, range] of clusterRanges(cluster)) {
      const block = range === undefined ? undefined : parseCidr(range);
      if (tunnel && block && cidrsOverlap(tunnel, block)) {
        problems.push({
          key: configKey(["vpn", "addresses"]),
          problem: `the VPN interface address ${address} lies inside the cluster's ${name} ${range} (from the core stack); gluetun cannot route the cluster and the tunnel through the same addresses`,
          fix: "use the address your VPN provider assigned to your key: pulumi config set --path 'charmarr:vpn.addresses[0]' <address>/32",
        });
      }
    }
  }
  return problems;
}

/** The first 172.16–31.x /24 clear of every cluster range, to suggest in a fix. */
function suggestVxlanNetwork(cluster: ClusterFacts, tunnelAddresses: readonly string[]): string {
  const taken = [cluster.podCidr, cluster.serviceCidr, cluster.lanCidr, ...tunnelAddresses].flatMap((range) => {
    const block = range === undefined ? undefined : parseCidr(range);
    return block ? [block] : [];
  });
  for (let second = 16; second < 32; second++) {
    for (let third = 0; third < 256; third++) {
      const candidate = `172.${second}.${third}`;
      const block = parseCidr(vxlanCidr(candidate));
      if (block && !taken.some((range) => cidrsOverlap(range, block))) {
        return candidate;
      }
    }
  }
  return "<a.b.c>";
}
