/**
 * Pure verdicts: probe results in, pass/fail/unknown with a message a person reads out. No I/O.
 * `fail` is a leak or a broken data path; `unknown` means the check could not be made.
 */
import type { DnsObservation, DrillResult, EnforcementObservation, KillSwitchCoverage, ProbeResult } from "./probes";
import { UNCHECKABLE, answered } from "./probes";

export type Status = "pass" | "fail" | "unknown";

export interface Verdict {
  /** Which check, e.g. `public address`. */
  readonly check: string;
  /** What was checked, e.g. `charmarr-downloads/qbittorrent-0`. */
  readonly subject: string;
  readonly status: Status;
  /** One sentence: what was seen and what it means. */
  readonly message: string;
}

/** 0 when every check passed, 1 on any leak or failure, 2 when some check could not be made. */
export function exitStatus(verdicts: readonly Verdict[]): 0 | 1 | 2 {
  if (verdicts.some((verdict) => verdict.status === "fail")) {
    return 1;
  }
  return verdicts.some((verdict) => verdict.status === "unknown") || verdicts.length === 0 ? 2 : 0;
}

export interface AddressObservations {
  /** gluetun's own view of its public address (control server). */
  readonly gluetun: ProbeResult<string>;
  /** What a non-routed pod sees: the home address. */
  readonly home: ProbeResult<string>;
  /** What each routed pod sees, by name. */
  readonly routed: readonly { readonly subject: string; readonly result: ProbeResult<string> }[];
}

/**
 * The VPN is in use (gluetun's address is not home), and every routed pod is seen with gluetun's
 * address, never with the home address.
 */
export function addressVerdicts(observed: AddressObservations): Verdict[] {
  const vpn = observed.gluetun.ok ? observed.gluetun.value : undefined;
  const home = observed.home.ok ? observed.home.value : undefined;
  const verdicts: Verdict[] = [];
  if (!observed.gluetun.ok) {
    verdicts.push({
      check: "VPN address",
      subject: "gluetun",
      status: "unknown",
      message: `could not read gluetun's public IP: ${observed.gluetun.message}`,
    });
  } else if (vpn === home) {
    verdicts.push({
      check: "VPN address",
      subject: "gluetun",
      status: "fail",
      message: `gluetun reports ${vpn}, which is the home address: its traffic does not go through the VPN`,
    });
  } else {
    verdicts.push({
      check: "VPN address",
      subject: "gluetun",
      status: "pass",
      message: `gluetun's public IP is ${vpn}`,
    });
  }
  if (!observed.home.ok) {
    verdicts.push({
      check: "home address",
      subject: "non-routed pod",
      status: "unknown",
      message: `could not see the home address from a non-routed pod: ${observed.home.message}`,
    });
  } else {
    verdicts.push({
      check: "home address",
      subject: "non-routed pod",
      status: "pass",
      message: `a non-routed pod is seen as ${home}`,
    });
  }
  for (const { subject, result } of observed.routed) {
    verdicts.push({ check: "public address", subject, ...routedAddress(result, vpn, home) });
  }
  return verdicts;
}

function routedAddress(
  result: ProbeResult<string>,
  vpn: string | undefined,
  home: string | undefined,
): Pick<Verdict, "status" | "message"> {
  if (!result.ok) {
    return UNCHECKABLE.has(result.kind)
      ? { status: "unknown", message: `could not probe: ${result.message}` }
      : { status: "fail", message: `no internet through the VPN (${result.kind}): ${result.message}` };
  }
  const seen = result.value;
  if (home !== undefined && seen === home) {
    return { status: "fail", message: `LEAK: seen as ${seen}, the home address` };
  }
  if (vpn !== undefined) {
    return seen === vpn
      ? { status: "pass", message: `seen as ${seen}, the VPN's address` }
      : {
          status: "fail",
          message: `seen as ${seen}, which is neither gluetun's ${vpn} nor home${home ? ` (${home})` : ""}`,
        };
  }
  return home !== undefined
    ? { status: "pass", message: `seen as ${seen}, not the home address ${home} (gluetun's own view unavailable)` }
    : {
        status: "unknown",
        message: `seen as ${seen}; neither gluetun's address nor the home address is known to compare with`,
      };
}

export interface DnsExpectation {
  /** The gateway's overlay address, `<vxlanNetwork>.1`: dnsmasq there sends internet names through the tunnel. */
  readonly gatewayDns: string;
  /** The kube-dns Service IP: CoreDNS resolves internet names from the home address. */
  readonly kubeDns: string;
}

/**
 * A routed pod's queries all go to the gateway's overlay address, and through it an internet name
 * and a cluster name resolve. A nameserver other than the gateway (kube-dns above all) is a leak.
 */
export function dnsVerdict(subject: string, observed: DnsObservation, expected: DnsExpectation): Verdict {
  const check = "DNS path";
  if (!observed.resolvConf.ok) {
    return {
      check,
      subject,
      status: "unknown",
      message: `could not read /etc/resolv.conf: ${observed.resolvConf.message}`,
    };
  }
  const { nameservers } = observed.resolvConf.value;
  const others = nameservers.filter((server) => server !== expected.gatewayDns);
  if (others.length > 0) {
    const named = others.map((server) => (server === expected.kubeDns ? `${server} (kube-dns)` : server)).join(", ");
    return {
      check,
      subject,
      status: "fail",
      message: `LEAK: nameserver ${named}, not the gateway ${expected.gatewayDns}: internet names are resolved outside the tunnel${others.includes(expected.kubeDns) ? ", by CoreDNS from the home address" : ""}`,
    };
  }
  if (nameservers.length === 0) {
    return { check, subject, status: "fail", message: "no nameserver in /etc/resolv.conf" };
  }
  for (const [what, answer] of [
    ["an internet name", observed.internet],
    ["a cluster name", observed.cluster],
  ] as const) {
    if (!answer.ok) {
      return UNCHECKABLE.has(answer.kind)
        ? { check, subject, status: "unknown", message: `could not look up ${what}: ${answer.message}` }
        : {
            check,
            subject,
            status: "fail",
            message: `resolves through the gateway ${expected.gatewayDns}, but ${what} does not resolve: ${answer.message}`,
          };
    }
    if (answer.value.server !== expected.gatewayDns) {
      return {
        check,
        subject,
        status: "fail",
        message: `LEAK: ${what} was answered by ${answer.value.server}, not the gateway ${expected.gatewayDns}`,
      };
    }
  }
  return {
    check,
    subject,
    status: "pass",
    message: `resolves through the gateway ${expected.gatewayDns} (internet and cluster names answer)`,
  };
}

/** Every routed pod is selected by a kill-switch NetworkPolicy, and by no policy that opens the internet. */
export function killSwitchVerdicts(namespace: string, coverage: readonly KillSwitchCoverage[]): Verdict[] {
  const check = "kill switch";
  if (coverage.length === 0) {
    return [
      {
        check,
        subject: namespace,
        status: "unknown",
        message: `no routed pods (label charmarr.io/vpn-routed=true) in namespace ${namespace}`,
      },
    ];
  }
  return coverage.map(({ pod, killSwitches, openers }): Verdict => {
    if (killSwitches.length === 0) {
      return {
        check,
        subject: pod.name,
        status: "fail",
        message:
          "no egress NetworkPolicy fences this routed pod: if its tunnel fails it reaches the internet with the home address",
      };
    }
    if (openers.length > 0) {
      return {
        check,
        subject: pod.name,
        status: "fail",
        message: `fenced by ${killSwitches.join(", ")}, but ${openers.join(", ")} opens egress to everywhere and NetworkPolicies add up`,
      };
    }
    return { check, subject: pod.name, status: "pass", message: `fenced by ${killSwitches.join(", ")}` };
  });
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** During the drill nothing saw the home address, and the client's traffic came back through the VPN in time. */
export function drillVerdict(subject: string, result: DrillResult, vpnAfter: ProbeResult<string> | undefined): Verdict {
  const check = "gateway drill";
  if (result.leaks.length > 0) {
    const at = result.leaks.map((sample) => seconds(sample.atMs)).join(", ");
    return {
      check,
      subject,
      status: "fail",
      message: `LEAK: the home address was seen ${result.leaks.length} time(s), at ${at} after the gateway pod was deleted`,
    };
  }
  if (result.recoveredAtMs === undefined) {
    const uncheckable =
      result.samples.length > 0 &&
      result.samples.every((sample) => !sample.result.ok && UNCHECKABLE.has(sample.result.kind));
    const last = result.samples[result.samples.length - 1];
    const why = last && !last.result.ok ? `; last probe: ${last.result.message}` : "";
    return uncheckable
      ? { check, subject, status: "unknown", message: `could not probe the client during the drill${why}` }
      : {
          check,
          subject,
          status: "fail",
          message: `not back through the VPN within ${seconds(result.deadlineMs)}${result.gatewayReadyAtMs === undefined ? " (no new gateway pod became ready)" : ` (new gateway ready after ${seconds(result.gatewayReadyAtMs)})`}${why}`,
        };
  }
  const ready =
    result.gatewayReadyAtMs !== undefined ? `, new gateway ready after ${seconds(result.gatewayReadyAtMs)}` : "";
  if (vpnAfter?.ok && vpnAfter.value !== result.recoveredAddress) {
    return {
      check,
      subject,
      status: "fail",
      message: `back after ${seconds(result.recoveredAtMs)} as ${result.recoveredAddress}, but the new gluetun reports ${vpnAfter.value}`,
    };
  }
  const blocked = result.samples.filter((sample) => !sample.result.ok).length;
  return {
    check,
    subject,
    status: "pass",
    message: `no leak in ${result.samples.length} probes (${blocked} blocked); back through the VPN as ${result.recoveredAddress} after ${seconds(result.recoveredAtMs)}${ready}`,
  };
}

/**
 * NetworkPolicy enforced: the connection the kill switch denies answered a pod outside the route and
 * did not answer the routed pod (no answer, or refused on the way). Answering the routed pod means the
 * cluster enforces no NetworkPolicy: the kill switch's first layer does nothing there.
 */
export function enforcementVerdict(subject: string, observed: EnforcementObservation): Verdict {
  const check = "NetworkPolicy";
  const { url, outside, routed } = observed;
  if (!answered(outside)) {
    return {
      check,
      subject,
      status: "unknown",
      message: `${url} did not answer a pod outside the route either (${outside.ok ? "" : `${outside.kind}: ${outside.message}`}), so its silence in the routed pod proves nothing`,
    };
  }
  if (answered(routed)) {
    return {
      check,
      subject,
      status: "fail",
      message: `NOT ENFORCED: ${url} answered, which the kill switch denies (kube-dns is open on port 53 only): this cluster does not enforce NetworkPolicy, so the kill switch's first layer does nothing`,
    };
  }
  if (routed.ok || UNCHECKABLE.has(routed.kind)) {
    return { check, subject, status: "unknown", message: `could not probe ${url}: ${routed.ok ? "" : routed.message}` };
  }
  return {
    check,
    subject,
    status: "pass",
    message: `denied ${url} (${routed.kind === "timeout" ? "no answer" : routed.message}), which answers a pod outside the route`,
  };
}
