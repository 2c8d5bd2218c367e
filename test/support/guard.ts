/**
 * Reads the gateway's forward guard (`forward-guard.sh`) the way iptables would apply it: the rules
 * of its mangle chains, in order, and the verdict for one packet. Only the matches the program
 * writes are understood (-i, -o, -d, -p, --dport, -j RETURN/DROP); anything else fails the test.
 */
import { cidrContains, parseCidr, parseIpv4 } from "../../lib/net";

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
  const rules: GuardRule[] = [];
  let hooked = false;
  for (const raw of script.split("\n")) {
    const line = raw.replace(/\s+#.*$/, "").trim();
    if (line.startsWith(`iptables -t mangle -A ${chain} `)) {
      const fields = line.slice(`iptables -t mangle -A ${chain} `.length).split(/\s+/);
      const matches: Record<string, string> = {};
      let target: GuardRule["target"] | undefined;
      for (let i = 0; i < fields.length; i += 2) {
        const [flag, value] = [fields[i], fields[i + 1]];
        if (flag === "-j") {
          if (value !== "RETURN" && value !== "DROP") {
            throw new Error(`unexpected target in ${line}`);
          }
          target = value;
        } else if (["-i", "-o", "-d", "-p", "--dport"].includes(flag)) {
          matches[flag] = value;
        } else {
          throw new Error(`unexpected match ${flag} in ${line}`);
        }
      }
      if (!target) {
        throw new Error(`no target in ${line}`);
      }
      rules.push({ matches, target });
    }
    if (line === `iptables -t mangle -C ${hook} -j ${chain} 2>/dev/null || iptables -t mangle -I ${hook} -j ${chain}`) {
      hooked = true;
    }
  }
  return { rules, hooked };
}

/** Whether an iptables `-d`/`-s` value (an address or a CIDR) holds `address`. */
function inRange(value: string, address: string): boolean {
  const block = parseCidr(value.includes("/") ? value : `${value}/32`);
  const ip = parseIpv4(address);
  return block !== undefined && ip !== undefined && cidrContains(block, ip);
}

/** Whether every match of a rule holds for the packet (`!gid`: `-m owner ! --gid-owner`, which a packet without a socket does not match in nf_tables). */
export function ruleMatches(
  rule: { readonly matches: Readonly<Record<string, string>> },
  packet: GuardPacket,
): boolean {
  return Object.entries(rule.matches).every(([flag, value]) => {
    switch (flag) {
      case "-i":
        return packet.in === value;
      case "-o":
        return packet.out === value;
      case "-p":
        return packet.protocol === value;
      case "--dport":
        return packet.port === Number(value);
      case "-d":
        return inRange(value, packet.dst);
      case "!gid":
        return packet.gid !== undefined && packet.gid !== Number(value);
      default:
        return false;
    }
  });
}

/** What the guard does with `packet` in `chain`: the first matching rule's target, RETURN if none. */
export function guardVerdict(script: string, chain: string, hook: string, packet: GuardPacket): "RETURN" | "DROP" {
  const { rules, hooked } = guardChain(script, chain, hook);
  if (!hooked) {
    throw new Error(`${chain} is not hooked into ${hook}`);
  }
  return rules.find((rule) => ruleMatches(rule, packet))?.target ?? "RETURN";
}
