/**
 * Runs generated firewall scripts for real, as root, in a throwaway network namespace, and reads
 * back what the kernel holds (`iptables -S`): the rule set, not the script's text, decides the
 * verdicts. The namespace has no interface but its own loopback and is never connected to the host's
 * network; one per test file, deleted in `after()`.
 */
import { strict as assert } from "node:assert";
import { SpawnSyncReturns, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cidrContains, parseCidr, parseIpv4 } from "../../lib/net";

export class Netns {
  /** Unique per process and call: several worktrees run the suite at once. */
  readonly name = `charmarr-test-${process.pid}-${randomBytes(4).toString("hex")}`;

  constructor() {
    const added = spawnSync("ip", ["netns", "add", this.name], { encoding: "utf8" });
    assert.equal(
      added.status,
      0,
      `ip netns add failed (${added.error?.message ?? added.stderr.trim()}): these tests run the guard scripts for ` +
        "real and need root and iproute2, iptables, nftables, busybox and dash (.ci/run installs them)",
    );
  }

  /** Runs a command in the namespace (`ip netns exec`), with the environment given, if any. */
  exec(command: readonly string[], env?: NodeJS.ProcessEnv): SpawnSyncReturns<string> {
    return spawnSync("ip", ["netns", "exec", this.name, ...command], { encoding: "utf8", env: env ?? process.env });
  }

  /** Runs a command that must succeed; returns its output. */
  run(command: readonly string[]): string {
    const result = this.exec(command);
    assert.equal(result.status, 0, `${command.join(" ")}: ${result.error?.message ?? result.stderr}`);
    return result.stdout;
  }

  /** Empties every table (iptables-nft keeps its rules in nf_tables): the next script starts from a fresh pod. */
  reset(): void {
    this.run(["nft", "flush", "ruleset"]);
  }

  /** The table as the kernel holds it. */
  table(command: "iptables" | "ip6tables", table: "filter" | "mangle" | "nat"): IptablesTable {
    return parseListing(this.run([command, "-w", "-t", table, "-S"]));
  }

  remove(): void {
    spawnSync("ip", ["netns", "del", this.name]);
  }
}

export interface IptablesRule {
  readonly matches: Readonly<Record<string, string>>;
  /** Undefined for a rule without `-j`: it only counts packets. */
  readonly target?: string;
  /** A DNAT target's new destination (`--to-destination`, address:port). */
  readonly toDestination?: string;
}

export interface IptablesTable {
  /** Built-in chains' policies. */
  readonly policies: Readonly<Record<string, string>>;
  readonly chains: Readonly<Record<string, readonly IptablesRule[]>>;
}

/**
 * `iptables -S` output as data. Only the matches the program writes are understood (`-m udp`/`tcp`,
 * which iptables adds for `--dport`, are implied by `-p`); anything else fails the test.
 */
export function parseListing(listing: string): IptablesTable {
  const policies: Record<string, string> = {};
  const chains: Record<string, IptablesRule[]> = {};
  for (const line of listing.split("\n").filter((l) => l.trim() !== "")) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] === "-P") {
      policies[fields[1]] = fields[2];
      chains[fields[1]] ??= [];
    } else if (fields[0] === "-N") {
      chains[fields[1]] ??= [];
    } else if (fields[0] === "-A") {
      const matches: Record<string, string> = {};
      let target: string | undefined;
      let toDestination: string | undefined;
      for (let i = 2; i < fields.length; i++) {
        const flag = fields[i];
        if (flag === "-j") {
          target = fields[++i];
        } else if (flag === "--to-destination") {
          toDestination = fields[++i];
        } else if (flag === "--reject-with") {
          i++;
        } else if (flag === "-m" && ["udp", "tcp", "icmp"].includes(fields[i + 1])) {
          i++;
        } else if (
          flag === "-m" &&
          fields[i + 1] === "owner" &&
          fields[i + 2] === "!" &&
          fields[i + 3] === "--gid-owner"
        ) {
          matches["!gid"] = fields[i + 4];
          i += 4;
        } else if (flag === "-m" && fields[i + 1] === "conntrack" && fields[i + 2] === "--ctstate") {
          matches.ctstate = fields[i + 3];
          i += 3;
        } else if (["-i", "-o", "-s", "-d", "-p", "--dport", "--sport"].includes(flag)) {
          matches[flag] = fields[++i];
        } else {
          assert.fail(`unexpected ${flag} in ${line}`);
        }
      }
      (chains[fields[1]] ??= []).push({ matches, target, ...(toDestination === undefined ? {} : { toDestination }) });
    } else {
      assert.fail(`unexpected line ${line}`);
    }
  }
  return { policies, chains };
}

export interface Packet {
  readonly in?: string;
  readonly out?: string;
  readonly src?: string;
  readonly dst?: string;
  readonly protocol: "udp" | "tcp" | "icmp";
  readonly sport?: number;
  readonly dport?: number;
  /** The sending socket's group; undefined for a forwarded packet. */
  readonly gid?: number;
  /** conntrack state; NEW unless given. */
  readonly state?: "NEW" | "ESTABLISHED" | "RELATED" | "DNAT";
}

function inRange(value: string, address: string | undefined): boolean {
  const block = parseCidr(value.includes("/") ? value : `${value}/32`);
  const ip = address === undefined ? undefined : parseIpv4(address);
  return block !== undefined && ip !== undefined && cidrContains(block, ip);
}

/** Whether every match of a rule holds for the packet. */
export function packetMatches(ruleMatches: Readonly<Record<string, string>>, packet: Packet): boolean {
  return Object.entries(ruleMatches).every(([flag, value]) => {
    switch (flag) {
      case "-i":
        return packet.in === value;
      case "-o":
        return packet.out === value;
      case "-s":
        return inRange(value, packet.src);
      case "-d":
        return inRange(value, packet.dst);
      case "-p":
        return packet.protocol === value;
      case "--dport":
        return packet.dport === Number(value);
      case "--sport":
        return packet.sport === Number(value);
      // nf_tables' owner match: a packet without a socket (forwarded) matches neither way.
      case "!gid":
        return packet.gid !== undefined && packet.gid !== Number(value);
      case "ctstate":
        return value.split(",").includes(packet.state ?? "NEW");
      default:
        return assert.fail(`no model for ${flag}`);
    }
  });
}

/**
 * What the table does with the packet in a built-in chain: the first matching rule with a target
 * decides, a jump walks the user chain (whose end or RETURN continues after the jump), and a
 * packet no rule decides gets the chain's policy.
 */
export function verdict(table: IptablesTable, chain: string, packet: Packet): string {
  return decidingRule(table, chain, packet)?.target ?? table.policies[chain];
}

/** The rule that decides the packet's fate in a built-in chain ({@link verdict}); undefined: the chain's policy does. */
export function decidingRule(table: IptablesTable, chain: string, packet: Packet): IptablesRule | undefined {
  const walk = (name: string, depth: number): IptablesRule | undefined => {
    assert.ok(depth < 8, `jump loop at ${name}`);
    for (const rule of table.chains[name] ?? assert.fail(`no chain ${name}`)) {
      if (rule.target === undefined || !packetMatches(rule.matches, packet)) {
        continue;
      }
      if (rule.target === "RETURN") {
        return undefined;
      }
      if (table.chains[rule.target]) {
        const decided = walk(rule.target, depth + 1);
        if (decided !== undefined) {
          return decided;
        }
        continue;
      }
      return rule;
    }
    return undefined;
  };
  return walk(chain, 0);
}
