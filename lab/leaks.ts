/**
 * What counts as a leak where it arrives: the internet router classifies every packet that comes
 * from the home address. One ordered rule list gives both the nftables counters the lab loads
 * (first match wins, as in an nftables chain of `accept` rules) and {@link classifyPacket}, the
 * same decision for one packet, so the rules can be tested without a kernel. Pure.
 */

/** The counter a packet from the home address lands in, or why it is not counted. */
export type LeakClass =
  /** The tunnel's own packets to the VPN server's port: expected, not a leak. */
  | "tunnel"
  /** ICMP errors the home side sends about late answers: not traffic of its own. */
  | "icmp-error"
  /** Port 53 (UDP or TCP) anywhere: a DNS query from the home address. */
  | "dns"
  /** Anything else from the home address. */
  | "other"
  /** Not from the home address (e.g. the VPN exit): not a leak. */
  | "not-home";

/** Where the lab's internet is: the addresses and port the classification needs. */
export interface LeakEndpoints {
  /** The home router's public address. */
  readonly home: string;
  readonly vpnServer: string;
  /** The VPN server's UDP port (pod-gateway's VPN_TRAFFIC_PORT). */
  readonly vpnPort: number;
}

/** One IPv4 packet as the internet router sees it. */
export interface Packet {
  readonly source: string;
  readonly destination: string;
  readonly protocol: "udp" | "tcp" | "icmp" | "other";
  /** Destination port (UDP, TCP). */
  readonly port?: number;
  /** ICMP type name as nftables spells it (`echo-request`, `destination-unreachable`, …). */
  readonly icmpType?: string;
}

/** Named nftables counters, one per counted class. */
export const LEAK_COUNTERS = { tunnel: "tunnel", dns: "home_dns", other: "home_other" } as const;

const ICMP_ERRORS = ["destination-unreachable", "time-exceeded"];

interface LeakRule {
  readonly verdict: Exclude<LeakClass, "not-home">;
  readonly matches: (packet: Packet) => boolean;
  /** The same match as an nftables rule (without the leading `ip saddr <home>`). */
  readonly nft: string;
}

function leakRules(e: LeakEndpoints): LeakRule[] {
  return [
    {
      verdict: "tunnel",
      matches: (p) => p.destination === e.vpnServer && p.protocol === "udp" && p.port === e.vpnPort,
      nft: `ip daddr ${e.vpnServer} udp dport ${e.vpnPort} counter name "${LEAK_COUNTERS.tunnel}" accept`,
    },
    {
      verdict: "icmp-error",
      matches: (p) => p.protocol === "icmp" && ICMP_ERRORS.includes(p.icmpType ?? ""),
      nft: `icmp type { ${ICMP_ERRORS.join(", ")} } accept`,
    },
    {
      verdict: "dns",
      matches: (p) => (p.protocol === "udp" || p.protocol === "tcp") && p.port === 53,
      nft: `meta l4proto { tcp, udp } th dport 53 counter name "${LEAK_COUNTERS.dns}" accept`,
    },
    { verdict: "other", matches: () => true, nft: `counter name "${LEAK_COUNTERS.other}" accept` },
  ];
}

/** How the internet router counts one packet. */
export function classifyPacket(packet: Packet, endpoints: LeakEndpoints): LeakClass {
  if (packet.source !== endpoints.home) {
    return "not-home";
  }
  return leakRules(endpoints).find((rule) => rule.matches(packet))!.verdict;
}

/** Whether a class is a leak: traffic from the home address that is neither the tunnel nor an ICMP error. */
export function isLeak(verdict: LeakClass): boolean {
  return verdict === "dns" || verdict === "other";
}

/** The nftables table the internet router loads: the counters and the rules in classification order. */
export function leakCounterRuleset(table: string, endpoints: LeakEndpoints): string {
  return [
    `table inet ${table} {`,
    ...Object.values(LEAK_COUNTERS).map((name) => `\tcounter ${name} {}`),
    "\tchain count {",
    "\t\ttype filter hook prerouting priority -300; policy accept;",
    ...leakRules(endpoints).map((rule) => `\t\tip saddr ${endpoints.home} ${rule.nft}`),
    "\t}",
    "}",
    "",
  ].join("\n");
}
