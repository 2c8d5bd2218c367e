/**
 * The routed pod's own guard: iptables rules in the pod's network namespace, installed by the route
 * init container (the only container of the pod that holds NET_ADMIN, so the app cannot remove
 * them), that hold whatever the cluster's NetworkPolicy does — on CNIs that do not enforce it, and
 * against an app that binds its socket to `eth0` (SO_BINDTODEVICE ignores the routing table, so
 * `client_init.sh`'s deleted default route does not stop it where the node answers ARP for every
 * address, as Calico's proxy ARP does).
 *
 * The pod-gateway v1.13.0 image installs Alpine's `ip6tables` package (its Dockerfile's
 * `apk add … ip6tables`, which pulls in `iptables`); Alpine's `iptables` commands point to
 * `xtables-nft-multi` since 1.8.9-r4 (alpinelinux/aports main/iptables/iptables.post-upgrade), so
 * the rules live in nf_tables. Plain `iptables`/`ip6tables` commands, run by `/bin/sh`.
 *
 * Rules are data ({@link routeGuardRules}); the script only renders them.
 */
import type { ClusterFacts } from "../cluster/settings";
import type { VpnSettings } from "./settings";
import { AMBIENT_PROBE_SOURCE } from "./gateway";
import { OVERLAY_DEVICE, VXLAN_PORT } from "./overlay";

/** The pod's own interface on the pod network. */
export const POD_INTERFACE = "eth0";

/**
 * The primary group of the route containers (`securityContext.runAsGroup`). The guard lets DNS out
 * of `eth0` only from sockets of this group: `client_init.sh` asks kube-dns for the gateway's
 * address (`dig @<kube-dns>`), nothing else in the pod needs kube-dns. No app may run as it.
 */
export const ROUTE_GROUP_ID = 7042;

/** Filter-table chains of the guard: names pod-gateway, Istio and the CNIs never use. */
export const ROUTE_GUARD_CHAINS = { output: "CHARMARR-ROUTE-OUT", vxlanIn: "CHARMARR-VXLAN-IN" } as const;

/** What one rule matches; every field given must match. */
export interface RouteGuardMatch {
  /** Output interface (`-o`). */
  readonly outInterface?: string;
  /** Destination range (`-d`), a CIDR. */
  readonly destination?: string;
  readonly protocol?: "udp" | "tcp";
  /** Destination port (`--dport`); needs `protocol`. */
  readonly destinationPort?: number;
  /** The sending socket's group is NOT this one (`-m owner ! --gid-owner`). */
  readonly notGroupOwner?: number;
}

/** One rule of a guard chain: its match, its verdict and why it is there. */
export interface RouteGuardRule {
  readonly family: "ipv4" | "ipv6";
  readonly chain: string;
  readonly match: RouteGuardMatch;
  /** RETURN: this chain lets the packet on (the rest of the table still applies); DROP: stopped. */
  readonly target: "RETURN" | "DROP";
  readonly why: string;
}

/** Where the routed pod may send outside the tunnel: the cluster's pods and Services, the ambient probe address, the LAN on request. */
export function routedEgressCidrs(vpn: VpnSettings, cluster: ClusterFacts): string[] {
  return [
    cluster.podCidr,
    cluster.serviceCidr,
    AMBIENT_PROBE_SOURCE,
    ...(vpn.killSwitch.allowLan && cluster.lanCidr ? [cluster.lanCidr] : []),
  ];
}

/**
 * The routed pod's OUTPUT guard, in order. DNS is matched by port, not by kube-dns's Service
 * address: some CNIs (Cilium's socket load balancing) rewrite the destination to a kube-dns pod
 * before OUTPUT, and a resolver on the LAN would answer internet names from the home address.
 */
export function routeGuardRules(vpn: VpnSettings, cluster: ClusterFacts): RouteGuardRule[] {
  const output = ROUTE_GUARD_CHAINS.output;
  const ipv4 = (match: RouteGuardMatch, target: RouteGuardRule["target"], why: string): RouteGuardRule => ({
    family: "ipv4",
    chain: output,
    match,
    target,
    why,
  });
  return [
    ipv4({ outInterface: "lo" }, "RETURN", "loopback: ztunnel's in-pod listeners, port-forward"),
    ipv4({ outInterface: OVERLAY_DEVICE }, "RETURN", "the tunnel to the gateway: traffic and DNS"),
    ...(["udp", "tcp"] as const).map((protocol) =>
      ipv4(
        { outInterface: POD_INTERFACE, protocol, destinationPort: 53, notGroupOwner: ROUTE_GROUP_ID },
        "DROP",
        "DNS outside the tunnel only from the route containers (client_init.sh's dig @kube-dns)",
      ),
    ),
    ...routedEgressCidrs(vpn, cluster).map((destination) =>
      ipv4(
        { outInterface: POD_INTERFACE, destination },
        "RETURN",
        "pods and Services (VXLAN to the gateway, HBONE out and replies), ambient's probe address, the LAN when allowed",
      ),
    ),
    ipv4({}, "DROP", "anything else: a socket bound to eth0 would otherwise reach the internet from the node"),
    {
      family: "ipv6",
      chain: output,
      match: { outInterface: POD_INTERFACE },
      target: "DROP",
      why: "no IPv6 outside the tunnel (the gateway forwards none)",
    },
  ];
}

/** iptables arguments of a rule after `-A <chain>`. */
export function routeGuardArgs(rule: RouteGuardRule): string {
  const m = rule.match;
  return [
    ...(m.outInterface ? ["-o", m.outInterface] : []),
    ...(m.destination ? ["-d", m.destination] : []),
    ...(m.protocol ? ["-p", m.protocol] : []),
    ...(m.destinationPort !== undefined ? ["--dport", String(m.destinationPort)] : []),
    ...(m.notGroupOwner !== undefined ? ["-m", "owner", "!", "--gid-owner", String(m.notGroupOwner)] : []),
    "-j",
    rule.target,
  ].join(" ");
}

const COMMANDS = { ipv4: "iptables", ipv6: "ip6tables" } as const;

/**
 * `route-guard.sh`, run by the route init container before anything in the pod reaches the network.
 * Safe to run again. VXLAN is accepted on eth0 only from the gateway `allow_vxlan_from` names
 * (route-common.sh); until then from nobody.
 */
export function routeGuardScript(vpn: VpnSettings, cluster: ClusterFacts): string {
  const rules = routeGuardRules(vpn, cluster);
  const chain = (family: RouteGuardRule["family"]) => {
    const cmd = COMMANDS[family];
    const own = rules.filter((rule) => rule.family === family);
    return [
      `${cmd} -w -N ${ROUTE_GUARD_CHAINS.output} 2>/dev/null || ${cmd} -w -F ${ROUTE_GUARD_CHAINS.output}`,
      ...own.map((rule) => `${cmd} -w -A ${rule.chain} ${routeGuardArgs(rule)}  # ${rule.why}`),
      `${cmd} -w -C OUTPUT -j ${ROUTE_GUARD_CHAINS.output} 2>/dev/null || ${cmd} -w -I OUTPUT 1 -j ${ROUTE_GUARD_CHAINS.output}`,
    ];
  };
  const vxlanHook = `-i ${POD_INTERFACE} -p udp --dport ${VXLAN_PORT} -j ${ROUTE_GUARD_CHAINS.vxlanIn}`;
  return [
    "#!/bin/sh",
    "# Generated by Charmarr: the routed pod's guard, in iptables' filter table (nf_tables).",
    "set -eu",
    "# OUTPUT",
    ...chain("ipv4"),
    "# IPv6 out of eth0: only where the kernel has IPv6 at all.",
    "if [ -d /proc/sys/net/ipv6 ]; then",
    ...chain("ipv6").map((line) => `  ${line}`),
    "fi",
    "# VXLAN in on eth0: only from the current gateway (allow_vxlan_from inserts it), never from another pod.",
    `iptables -w -N ${ROUTE_GUARD_CHAINS.vxlanIn} 2>/dev/null || iptables -w -F ${ROUTE_GUARD_CHAINS.vxlanIn}`,
    `iptables -w -A ${ROUTE_GUARD_CHAINS.vxlanIn} -j DROP  # VXLAN from any other pod, which could otherwise inject packets into vxlan0`,
    `iptables -w -C INPUT ${vxlanHook} 2>/dev/null || iptables -w -I INPUT 1 ${vxlanHook}`,
    "",
  ].join("\n");
}

/** Seconds between two pings of the gateway's overlay address, and before a failed reconnect is tried again. */
export const MONITOR_INTERVAL_SECONDS = 1;
/**
 * Consecutive unanswered pings (each waits a second) before the monitor rebuilds the tunnel: three,
 * so a loaded node that delays an answer or two does not cost a rebuild, an outage of its own.
 */
export const MONITOR_MISSES = 3;

/**
 * `route-common.sh`, sourced by the init and monitor scripts after pod-gateway's settings:
 * `allow_vxlan_from` moves the guard's VXLAN exception to the gateway's current address (insert the
 * new one first, then delete the old: at no moment is VXLAN accepted from anyone else), and
 * `reconnect` resolves the gateway as `client_init.sh` does (pod-gateway v1.13.0 bin/client_init.sh,
 * `dig +short "$GATEWAY_NAME" "@${K8S_DNS_IP}"`), forgets the link-layer address this pod has
 * cached for that address, waits at most a second for it to answer a ping (`client_init.sh`'s own
 * `ping -c 1` waits busybox's default 10 s when a resolvable gateway does not answer, ten seconds in
 * which a gateway that comes back is not noticed), opens VXLAN to that address and runs
 * `client_init.sh`, which rebuilds vxlan0 and takes a lease.
 *
 * The new gateway pod may have an address an earlier pod had (pod IPs are reused). Where pods of a
 * node share a link (bridge CNIs such as flannel's cni0, or after the node's ICMP redirect), this
 * pod's neighbour entry for that address still holds the earlier pod's MAC, and Linux keeps it
 * REACHABLE for a random 15–45 s after its last confirmation (net/core/neighbour.c,
 * `neigh_rand_reach_time`: ½ to 1½ × `base_reachable_time_ms`, 30 s), then spends
 * `delay_first_probe_time` (5 s) and three unicast probes before it asks anew: up to ~53 s in which
 * every packet to the new gateway goes to a MAC nobody has. Measured in the lab: 46.6 s. Flushing
 * the entry makes the ping ask by ARP at once. The node's own entry for the address can be as old,
 * and `client_init.sh` routes the first gateway's address through the node (a host route via
 * `K8S_GW_IP`, added on its first run), so a gateway pod that gets that address again is reached
 * through the node's stale entry (until the node's ICMP redirect arrives, and `client_init.sh`'s
 * own ping of it waits 10 s). `reconnect` deletes that host route: the pod's own routes reach every
 * gateway address without it (its subnet's on-link route on a bridge CNI, otherwise the pod range's
 * route through the node, `NOT_ROUTED_TO_GATEWAY_CIDRS`, {@link routedEgressCidrs}).
 */
export function routeCommonScript(): string {
  const chain = ROUTE_GUARD_CHAINS.vxlanIn;
  return [
    "# Generated by Charmarr; sourced by route-init.sh and route-monitor.sh after pod-gateway's settings.",
    "gateway_address() {",
    '  dig +short +time=1 +tries=2 "$GATEWAY_NAME" "@${K8S_DNS_IPS%% *}" | grep -E \'^[0-9]+(\\.[0-9]+){3}$\' | head -n 1',
    "}",
    "allow_vxlan_from() {",
    `  iptables -w -I ${chain} 1 -s "$1/32" -j RETURN || return 1`,
    `  while [ "$(iptables -w -S ${chain} | grep -c -- '-j RETURN')" -gt 1 ]; do`,
    `    iptables -w -D ${chain} 2 || return 1`,
    "  done",
    "}",
    "reconnect() {",
    "  address=$(gateway_address)",
    '  if [ -z "$address" ]; then',
    '    echo "$GATEWAY_NAME does not resolve (yet)"',
    "    return 1",
    "  fi",
    "  # client_init.sh's host route to the first gateway's address goes through the node, whose",
    "  # neighbour entry may hold an earlier pod's MAC; the pod's own routes reach it without it.",
    '  ip route del "$address" 2>/dev/null',
    "  # An earlier pod's MAC for this address would blackhole the new gateway for up to ~53 s.",
    '  ip neigh flush to "$address" 2>/dev/null',
    "  # client_init.sh's own ping of the gateway waits 10 s (busybox's default) for an answer.",
    '  if ! ping -c 1 -W 1 "$address" >/dev/null 2>&1; then',
    '    echo "the gateway $address does not answer (yet)"',
    "    return 1",
    "  fi",
    '  allow_vxlan_from "$address" || return 1',
    "  /bin/client_init.sh",
    "}",
    "",
  ].join("\n");
}
