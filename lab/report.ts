/**
 * Leak accounting and the result table. Pure: counter dumps and resolver logs in, figures and
 * text out.
 */
import { LEAK_COUNTERS } from "./leaks";

/** Packet counts read from the internet router's named nftables counters. */
export interface InternetCounters {
  /** Home address → the VPN server's port: the tunnel itself, expected. */
  readonly tunnel: number;
  /** Home address → port 53 anywhere: DNS outside the tunnel. */
  readonly homeDns: number;
  /** Home address → anything else. */
  readonly homeOther: number;
}

/** The packets of one named counter in `nft -j list counters table <family> <t>` output. */
export function namedCounter(json: string, name: string): number {
  const parsed = JSON.parse(json) as { nftables?: { counter?: { name: string; packets: number } }[] };
  const found = (parsed.nftables ?? []).find((entry) => entry.counter?.name === name)?.counter;
  if (!found) {
    throw new Error(`counter ${name} missing from the ruleset`);
  }
  return found.packets;
}

/** Reads the internet router's `nft -j list counters table inet <t>` output. */
export function parseCounters(json: string): InternetCounters {
  return {
    tunnel: namedCounter(json, LEAK_COUNTERS.tunnel),
    homeDns: namedCounter(json, LEAK_COUNTERS.dns),
    homeOther: namedCounter(json, LEAK_COUNTERS.other),
  };
}

/** The MTU in `ip -o link show dev X` output. */
export function parseLinkMtu(text: string): number | undefined {
  const match = / mtu (\d+) /.exec(text);
  return match ? Number(match[1]) : undefined;
}

/** Packets that reached the internet from the home address, outside the tunnel. */
export function leakedPackets(counters: InternetCounters): number {
  return counters.homeDns + counters.homeOther;
}

/**
 * DNS queries the internet resolver logged from `source`, from dnsmasq's `log-queries=extra`
 * lines (`... query[A] name from 203.0.113.10`), counting only lines after the first `skip`.
 */
export function queriesFrom(log: string, source: string, skip = 0): { count: number; names: string[] } {
  const names: string[] = [];
  const lines = log.split("\n").slice(skip);
  for (const line of lines) {
    const match = /query\[[A-Z0-9]+\] (\S+) from (\S+)$/.exec(line.trim());
    if (match && match[2] === source) {
      names.push(match[1]);
    }
  }
  return { count: names.length, names };
}

export interface ScenarioResult {
  readonly scenario: string;
  /** Assertions that held or failed, one line each. */
  readonly checks: readonly { readonly ok: boolean; readonly text: string }[];
  /** Leaks with layer 1 (NetworkPolicy) on. */
  readonly withLayer1: { readonly packets: number; readonly dns: number };
  /** Leaks with layer 2 only (NetworkPolicy off). */
  readonly layer2Only: { readonly packets: number; readonly dns: number };
  /** Whether layer 2 alone must hold in this scenario (a leak with layer 1 off then fails it). */
  readonly layer2MustHold: boolean;
  readonly seconds: number;
  /** Seconds until the client's traffic flowed again, where the scenario measures it. */
  readonly recoverySeconds?: number;
}

/**
 * The verdict on one measured recovery: traffic through the new gateway within `targetSeconds` of
 * the old gateway's deletion (the lab waited `limitSeconds` in all).
 */
export function recoveryCheck(
  setting: string,
  seconds: number | undefined,
  limitSeconds: number,
  targetSeconds: number,
): { readonly ok: boolean; readonly text: string } {
  if (seconds === undefined) {
    return { ok: false, text: `${setting}: no traffic through the new gateway within ${limitSeconds} s` };
  }
  const ok = seconds <= targetSeconds;
  return {
    ok,
    text: `${setting}: traffic flowed again after ${seconds.toFixed(1)} s (${ok ? "within" : "more than"} ${targetSeconds} s)`,
  };
}

export function passed(result: ScenarioResult): boolean {
  const l1 = result.withLayer1.packets + result.withLayer1.dns === 0;
  const l2 = !result.layer2MustHold || result.layer2Only.packets + result.layer2Only.dns === 0;
  return l1 && l2 && result.checks.every((check) => check.ok);
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}

/** The table a person reads, failed checks listed under it, and the counts line last. */
export function renderTable(results: readonly ScenarioResult[]): string {
  const header = [
    "scenario",
    "verdict",
    "leaked pkts L1+L2",
    "leaked DNS L1+L2",
    "L2 only pkts",
    "L2 only DNS",
    "recovery",
    "time",
  ];
  const rows = results.map((r) => [
    r.scenario,
    passed(r) ? "PASS" : "FAIL",
    String(r.withLayer1.packets),
    String(r.withLayer1.dns),
    String(r.layer2Only.packets) + (r.layer2MustHold ? "" : " (L1 only)"),
    String(r.layer2Only.dns),
    r.recoverySeconds === undefined ? "-" : `${r.recoverySeconds.toFixed(1)} s`,
    `${r.seconds.toFixed(1)} s`,
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => pad(cell, widths[i]))
      .join("  ")
      .trimEnd();
  const out = [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
  const failures = results.flatMap((r) => {
    const lines = r.checks.filter((c) => !c.ok).map((c) => `  ${r.scenario}: ${c.text}`);
    if (r.withLayer1.packets + r.withLayer1.dns > 0) {
      lines.push(
        `  ${r.scenario}: ${r.withLayer1.packets} packet(s) and ${r.withLayer1.dns} DNS query(ies) reached the internet from the home address with both layers on`,
      );
    }
    if (r.layer2MustHold && r.layer2Only.packets + r.layer2Only.dns > 0) {
      lines.push(
        `  ${r.scenario}: layer 2 alone let ${r.layer2Only.packets} packet(s) and ${r.layer2Only.dns} DNS query(ies) out from the home address`,
      );
    }
    return lines;
  });
  const passedCount = results.filter(passed).length;
  return [
    ...out,
    ...(failures.length > 0 ? ["", "Failures:", ...failures] : []),
    "",
    `${passedCount} passed, ${results.length - passedCount} failed`,
  ].join("\n");
}
