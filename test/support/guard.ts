/**
 * Reads the gateway's forward guard (`forward-guard.sh`) the way iptables would apply it: the rules
 * of its mangle chains, in order, and the verdict for one packet. Only the matches the program
 * writes are understood (-i, -o, -d, -p, --dport, -j RETURN/DROP); anything else fails the test.
 */
import { packetMatches, parseListing } from "./iptables";

export interface GuardPacket {
  /** Input interface (forwarded packets only). */
  in?: string;
  /** Output interface. */
  out: string;
  /** Destination address. */
  dst: string;
  protocol: "udp" | "tcp" | "icmp";
  /** Destination port. */
  port?: number;
  /** The sending socket's group (OUTPUT of a local socket). */
  gid?: number;
}

interface GuardRule {
  readonly matches: Readonly<Record<string, string>>;
  readonly target: "RETURN" | "DROP";
}

/** The rules appended to `chain` in the mangle table, and whether the chain is hooked into `hook`. */
export function guardChain(script: string, chain: string, hook: string): { rules: GuardRule[]; hooked: boolean } {
  const lines = script.split("\n").map((raw) => raw.replace(/\s+#.*$/, "").trim());
  const appended = lines.filter((line) => line.startsWith(`iptables -t mangle -A ${chain} `));
  const rules = (parseListing(appended.map((line) => line.slice("iptables -t mangle ".length)).join("\n")).chains[
    chain
  ] ?? []) as GuardRule[];
  for (const rule of rules) {
    if (rule.target !== "RETURN" && rule.target !== "DROP") {
      throw new Error(`unexpected target ${rule.target} in ${chain}`);
    }
  }
  const hooked = lines.includes(
    `iptables -t mangle -C ${hook} -j ${chain} 2>/dev/null || iptables -t mangle -I ${hook} -j ${chain}`,
  );
  return { rules, hooked };
}

/** Whether every match of a rule holds for the packet (`!gid`: `-m owner ! --gid-owner`, which a packet without a socket does not match in nf_tables). */
export function ruleMatches(
  rule: { readonly matches: Readonly<Record<string, string>> },
  packet: GuardPacket,
): boolean {
  return packetMatches(rule.matches, { ...packet, dport: packet.port });
}

/** What the guard does with `packet` in `chain`: the first matching rule's target, RETURN if none. */
export function guardVerdict(script: string, chain: string, hook: string, packet: GuardPacket): "RETURN" | "DROP" {
  const { rules, hooked } = guardChain(script, chain, hook);
  if (!hooked) {
    throw new Error(`${chain} is not hooked into ${hook}`);
  }
  return rules.find((rule) => ruleMatches(rule, packet))?.target ?? "RETURN";
}
