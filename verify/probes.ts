/**
 * The probes: commands run in targets through a {@link Transport}, and the parsers that turn
 * their real output (busybox `wget`, `curl`, `dig`, `/etc/resolv.conf`, gluetun's control server)
 * into observations. Probes decide nothing; verify/verdicts.ts judges what they saw.
 */
import { isIP } from "node:net";
import type {
  Clock,
  ExecResult,
  GatewayControl,
  Inventory,
  LabelSelector,
  NetworkPolicySummary,
  RoutedPod,
  Target,
  Transport,
} from "./transport";

/** Why a probe saw nothing. */
export type ProbeFailureKind =
  /** No answer within the time limit (what a kill switch that drops packets looks like). */
  | "timeout"
  /** Refused, no route, network unreachable: the packet was rejected on its way. */
  | "blocked"
  /** The name did not resolve. */
  | "dns"
  /** The server answered with an HTTP error (e.g. 401 from gluetun's control server). */
  | "http"
  /** The server answered, but not with what the probe asked for. */
  | "unparsable"
  /** The target has none of the tools the probe can use. */
  | "missing-command"
  /** The transport could not reach the target (no such pod, API server down, container not running). */
  | "unreachable";

export interface ProbeFailure {
  readonly ok: false;
  readonly kind: ProbeFailureKind;
  /** One line, from the tool's own message where there is one. */
  readonly message: string;
}

export type ProbeResult<T> = { readonly ok: true; readonly value: T } | ProbeFailure;

/** Failure kinds that mean "the target could not be checked", as opposed to "it has no internet". */
export const UNCHECKABLE: ReadonlySet<ProbeFailureKind> = new Set(["missing-command", "unreachable"]);

function fail(kind: ProbeFailureKind, message: string): ProbeFailure {
  return { ok: false, kind, message };
}

function firstLine(text: string): string {
  return (
    text
      .split("\n")
      .map((line) => line.trim())
      .find((line) => line.length > 0) ?? ""
  );
}

/** The part of a command's run that every probe checks first: did it run, and in time? */
function notRun(result: ExecResult, what: string): ProbeFailure | undefined {
  if (result.failure) {
    return fail(result.failure.kind, result.failure.message);
  }
  if (result.timedOut) {
    return fail("timeout", `${what}: no answer before the time limit`);
  }
  return undefined;
}

/**
 * GNU wget's exit statuses (its manual, "Exit Status"), for when `-q` has hidden its message:
 * busybox's wget always exits 1 and says why.
 */
const GNU_WGET_EXITS: Readonly<Record<number, readonly [ProbeFailureKind, string]>> = {
  4: ["blocked", "network failure"],
  5: ["blocked", "TLS verification failure"],
  8: ["http", "the server answered with an error"],
};

/**
 * Classifies a failed busybox `wget` (Alpine's, in pod-gateway, gluetun and most app images;
 * messages from busybox networking/wget.c) or `curl` run by its stderr.
 */
export function classifyHttpFailure(stderr: string, exitCode: number | null): ProbeFailure {
  const silent = exitCode !== null ? GNU_WGET_EXITS[exitCode] : undefined;
  if (!firstLine(stderr) && silent) {
    return fail(silent[0], `wget exit status ${exitCode}: ${silent[1]}`);
  }
  const message = firstLine(stderr) || `failed with exit status ${exitCode}, without a message`;
  const rules: readonly [RegExp, ProbeFailureKind][] = [
    [/timed out|Connection timed out|Operation timed out/i, "timeout"],
    [/bad address|Could not resolve host|Name or service not known|Temporary failure in name resolution/i, "dns"],
    [/server returned error|HTTP\/\d(\.\d)? \d{3}|The requested URL returned error/i, "http"],
    [/refused|unreachable|No route to host|Failed to connect|can't connect/i, "blocked"],
  ];
  const kind = rules.find(([pattern]) => pattern.test(message))?.[1] ?? "blocked";
  return fail(kind, message);
}

/**
 * The address an echo service answered with: its body is the caller's address (`ipinfo.io/ip`,
 * `ifconfig.me/ip`, `icanhazip.com`), optionally as JSON with an `ip` field.
 */
export function parseEchoBody(body: string): string | undefined {
  const text = body.trim();
  if (text.startsWith("{")) {
    try {
      const parsed: unknown = JSON.parse(text);
      const ip = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>).ip : undefined;
      return typeof ip === "string" && isIP(ip) !== 0 ? ip : undefined;
    } catch {
      return undefined;
    }
  }
  return isIP(text) !== 0 ? text : undefined;
}

/** Seconds for a tool's own time limit. */
function toolSeconds(timeoutMs: number): string {
  return String(Math.max(1, Math.ceil(timeoutMs / 1000)));
}

/** Extra time a transport gets beyond the tool's own time limit (kubectl's round trip to the API server). */
export const TRANSPORT_MARGIN_MS = 5000;

/**
 * Exit statuses of `timeout` when it killed the command: 124 (coreutils, in pod-gateway's image)
 * and 143 = 128 + SIGTERM (busybox's applet, in Alpine-based images).
 */
const TIMEOUT_EXITS = new Set([124, 143]);

/**
 * busybox `wget` gets its limit from `timeout`, not `-T`: `-T` exists only when busybox is built
 * with FEATURE_WGET_TIMEOUT (Debian's 1.35 is not, and crashes on it). curl has its own.
 */
function httpCommands(url: string, seconds: string): readonly (readonly string[])[] {
  return [
    ["timeout", seconds, "wget", "-qO-", url],
    ["curl", "-fsS", "--max-time", seconds, url],
  ];
}

/**
 * HTTP GET from inside a target with busybox `wget`, or `curl` where there is no wget; returns the
 * body. `viaShell` runs one `sh -c` script instead, with `$1` the time limit in seconds and `$2`
 * the URL, and `stdin` fed to it.
 */
export async function httpGet<T extends Target>(
  transport: Transport<T>,
  target: T,
  url: string,
  timeoutMs: number,
  viaShell?: { script: string; stdin: string },
): Promise<ProbeResult<string>> {
  const seconds = toolSeconds(timeoutMs);
  const attempts = viaShell ? [["sh", "-c", viaShell.script, "probe", seconds, url]] : httpCommands(url, seconds);
  let last: ProbeFailure = fail("missing-command", `${target.name}: neither wget nor curl`);
  for (const argv of attempts) {
    const result = await transport.exec(target, argv, {
      timeoutMs: timeoutMs + TRANSPORT_MARGIN_MS,
      stdin: viaShell?.stdin,
    });
    const failure = notRun(result, argv[0]);
    if (failure?.kind === "missing-command") {
      last = failure;
      continue;
    }
    if (failure) {
      return failure;
    }
    if (result.exitCode === 127) {
      // The shell's or `timeout`'s word for a missing tool.
      last = fail("missing-command", firstLine(result.stderr) || `${argv.join(" ")}: not found`);
      continue;
    }
    if (result.exitCode !== null && TIMEOUT_EXITS.has(result.exitCode) && argv.includes("wget")) {
      return fail("timeout", `wget ${url}: no answer within ${seconds} s`);
    }
    return result.exitCode === 0
      ? { ok: true, value: result.stdout }
      : classifyHttpFailure(result.stderr, result.exitCode);
  }
  return last;
}

/** The public address `target` is seen with, as reported by the echo service at `echoUrl`. */
export async function publicAddress<T extends Target>(
  transport: Transport<T>,
  target: T,
  echoUrl: string,
  timeoutMs: number,
): Promise<ProbeResult<string>> {
  const body = await httpGet(transport, target, echoUrl, timeoutMs);
  if (!body.ok) {
    return body;
  }
  const address = parseEchoBody(body.value);
  return address
    ? { ok: true, value: address }
    : fail("unparsable", `${echoUrl} answered "${firstLine(body.value).slice(0, 80)}", not an address`);
}

/** gluetun's control server (gluetun v3.41.1 internal/server/publicip.go), on the pod's loopback. */
export const GLUETUN_PUBLIC_IP_URL = "http://127.0.0.1:8000/v1/publicip/ip";

/**
 * Reads the key from stdin so it appears in no argv (neither kubectl's on the user's machine nor
 * the container's process list). `$1` is wget's timeout, `$2` the URL.
 */
const GLUETUN_SCRIPT = 'read -r key; exec timeout "$1" wget -qO- --header "X-API-Key: $key" "$2"';

/**
 * The body of gluetun's `GET /v1/publicip/ip` (gluetun v3.41.1 internal/models/publicip.go): JSON
 * with `public_ip`, empty until gluetun has looked its address up through the tunnel.
 */
export function parseGluetunPublicIp(body: string): ProbeResult<string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return fail("unparsable", `gluetun's control server answered "${firstLine(body).slice(0, 80)}", not JSON`);
  }
  const ip = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>).public_ip : undefined;
  if (typeof ip === "string" && isIP(ip) !== 0) {
    return { ok: true, value: ip };
  }
  return fail("unparsable", "gluetun has no public IP yet (it looks it up once the tunnel is up)");
}

/** The VPN's public address as gluetun itself reports it, authenticated with the control server's API key. */
export async function gluetunPublicAddress<T extends Target>(
  transport: Transport<T>,
  gluetun: T,
  apiKey: string,
  timeoutMs: number,
): Promise<ProbeResult<string>> {
  const body = await httpGet(transport, gluetun, GLUETUN_PUBLIC_IP_URL, timeoutMs, {
    script: GLUETUN_SCRIPT,
    stdin: `${apiKey}\n`,
  });
  return body.ok ? parseGluetunPublicIp(body.value) : body;
}

export interface ResolvConf {
  readonly nameservers: readonly string[];
  readonly search: readonly string[];
  /** `options ndots:n`, when set. */
  readonly ndots?: number;
}

/** Parses resolv.conf(5): the last `search` wins, `nameserver` lines accumulate. */
export function parseResolvConf(text: string): ResolvConf {
  const nameservers: string[] = [];
  let search: string[] = [];
  let ndots: number | undefined;
  for (const raw of text.split("\n")) {
    const [keyword, ...values] = raw
      .replace(/[#;].*$/, "")
      .trim()
      .split(/\s+/);
    if (keyword === "nameserver" && values[0]) {
      nameservers.push(values[0]);
    } else if (keyword === "search" || keyword === "domain") {
      search = values;
    } else if (keyword === "options") {
      const option = values.find((value) => value.startsWith("ndots:"));
      ndots = option ? Number(option.slice("ndots:".length)) : ndots;
    }
  }
  return { nameservers, search, ...(ndots !== undefined ? { ndots } : {}) };
}

export interface DigAnswer {
  /** The response code, e.g. `NOERROR`, `NXDOMAIN`, `SERVFAIL`. */
  readonly status: string;
  /** The server that answered (`;; SERVER: a.b.c.d#53(...)`). */
  readonly server: string;
  /** A/AAAA addresses in the answer section. */
  readonly addresses: readonly string[];
}

/** Parses `dig`'s default output (BIND 9 dig, as in pod-gateway's image and Debian's bind9-dnsutils). */
export function parseDig(output: string): DigAnswer | undefined {
  const status = /status: ([A-Z]+)/.exec(output)?.[1];
  const server = /^;; SERVER: ([^#\s]+)#/m.exec(output)?.[1];
  if (!status || !server) {
    return undefined;
  }
  const answer = /;; ANSWER SECTION:\n([\s\S]*?)(\n\n|$)/.exec(output)?.[1] ?? "";
  const addresses = answer
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[3] === "A" || fields[3] === "AAAA")
    .map((fields) => fields[4]);
  return { status, server, addresses };
}

/** Looks `name` up from inside `target` with its own resolv.conf, as the app would. */
export async function lookup<T extends Target>(
  transport: Transport<T>,
  target: T,
  name: string,
  timeoutMs: number,
): Promise<ProbeResult<DigAnswer>> {
  const result = await transport.exec(target, ["dig", `+time=${toolSeconds(timeoutMs)}`, "+tries=1", name], {
    timeoutMs: timeoutMs + TRANSPORT_MARGIN_MS,
  });
  const failure = notRun(result, "dig");
  if (failure) {
    return failure;
  }
  if (result.exitCode === 127) {
    return fail("missing-command", firstLine(result.stderr) || "dig: not found");
  }
  // dig exits 9 when no server answered ("communications error ... timed out").
  if (result.exitCode === 9 || /timed out|no servers could be reached/i.test(result.stdout)) {
    return fail(
      "timeout",
      firstLine(
        result.stdout
          .split("\n")
          .filter((line) => /timed out|no servers/i.test(line))
          .join("\n"),
      ) || `dig ${name}: no server answered`,
    );
  }
  const answer = parseDig(result.stdout);
  if (!answer) {
    return fail("unparsable", firstLine(result.stderr) || firstLine(result.stdout) || `dig ${name}: no answer`);
  }
  return answer.status === "NOERROR" && answer.addresses.length > 0
    ? { ok: true, value: answer }
    : fail("dns", `${name}: ${answer.status} from ${answer.server}`);
}

export interface DnsObservation {
  /** The target's `/etc/resolv.conf`. */
  readonly resolvConf: ProbeResult<ResolvConf>;
  /** An internet name, looked up the way the app does. */
  readonly internet: ProbeResult<DigAnswer>;
  /** A cluster name, looked up the way the app does. */
  readonly cluster: ProbeResult<DigAnswer>;
}

/** Where `target`'s DNS queries go: its nameservers, and who answers an internet and a cluster name. */
export async function dnsPath<T extends Target>(
  transport: Transport<T>,
  target: T,
  names: { internet: string; cluster: string },
  timeoutMs: number,
): Promise<DnsObservation> {
  const read = await transport.exec(target, ["cat", "/etc/resolv.conf"], {
    timeoutMs: timeoutMs + TRANSPORT_MARGIN_MS,
  });
  const failure = notRun(read, "cat /etc/resolv.conf");
  const resolvConf: ProbeResult<ResolvConf> = failure
    ? failure
    : read.exitCode === 0
      ? { ok: true, value: parseResolvConf(read.stdout) }
      : fail("unparsable", firstLine(read.stderr) || "cannot read /etc/resolv.conf");
  return {
    resolvConf,
    internet: await lookup(transport, target, names.internet, timeoutMs),
    cluster: await lookup(transport, target, names.cluster, timeoutMs),
  };
}

/**
 * A connection every kill switch denies that answers wherever NetworkPolicy does not hold: CoreDNS's
 * metrics port (`prometheus :9153` in the Corefile of kubeadm, k3s and Talos, a port of the kube-dns
 * Service) behind the kube-dns Service IP. The kill switch opens kube-dns on port 53 only, and CoreDNS
 * runs in the pod network, never in the LAN, so `allowLan` does not open it either.
 */
export function deniedUrl(kubeDns: string): string {
  return `http://${kubeDns}:9153/metrics`;
}

/** Whether a probe's result means the server answered (whatever it said): the connection was made. */
export function answered(result: ProbeResult<string>): boolean {
  return result.ok || result.kind === "http" || result.kind === "unparsable";
}

export interface EnforcementObservation {
  readonly url: string;
  /** The URL from a pod outside the route, which no NetworkPolicy fences: it must answer, or nothing is proven. */
  readonly outside: ProbeResult<string>;
  /** The same URL from the routed pod, whose kill switch denies it. */
  readonly routed: ProbeResult<string>;
}

/**
 * Whether the cluster enforces the routed pod's kill switch: the same connection from a pod outside
 * the route (it must answer) and from the routed pod (it must not). `outside` is probed once per run
 * and passed in.
 */
export async function deniedConnection<T extends Target>(
  transport: Transport<T>,
  routed: T,
  url: string,
  outside: ProbeResult<string>,
  timeoutMs: number,
): Promise<EnforcementObservation> {
  return { url, outside, routed: await httpGet(transport, routed, url, timeoutMs) };
}

/** Whether `selector` selects `labels` (matchLabels and matchExpressions, as the API server reads them). */
export function selects(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  const byLabel = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
  const byExpression = (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    switch (operator) {
      case "In":
        return key in labels && values.includes(labels[key]);
      case "NotIn":
        return !(key in labels) || !values.includes(labels[key]);
      case "Exists":
        return key in labels;
      case "DoesNotExist":
        return !(key in labels);
      default:
        return false;
    }
  });
  return byLabel && byExpression;
}

const EVERYWHERE = new Set(["0.0.0.0/0", "::/0"]);

/** An egress rule that lets a pod reach the whole internet: no `to`, or an ipBlock of everything without exceptions. */
function opensEverything(rule: NetworkPolicySummary["egress"][number]): boolean {
  return (
    rule.to === undefined ||
    rule.to.length === 0 ||
    rule.to.some(
      (peer) =>
        peer.ipBlock !== undefined && EVERYWHERE.has(peer.ipBlock.cidr) && (peer.ipBlock.except ?? []).length === 0,
    )
  );
}

/** Whether `policy` fences a pod's egress: it restricts egress and no rule opens the whole internet. */
export function isKillSwitch(policy: NetworkPolicySummary): boolean {
  return policy.policyTypes.includes("Egress") && !policy.egress.some(opensEverything);
}

export interface KillSwitchCoverage {
  readonly pod: RoutedPod;
  /** Kill-switch policies selecting the pod. */
  readonly killSwitches: readonly string[];
  /** Policies selecting the pod that open the whole internet (any one of them defeats the kill switch). */
  readonly openers: readonly string[];
}

/** For every routed pod in `namespace`: which NetworkPolicies fence it, and which open it up. */
export async function killSwitchCoverage(inventory: Inventory, namespace: string): Promise<KillSwitchCoverage[]> {
  const [pods, policies] = await Promise.all([inventory.routedPods(namespace), inventory.networkPolicies(namespace)]);
  return pods.map((pod) => {
    const selecting = policies.filter(
      (policy) =>
        policy.namespace === pod.namespace &&
        selects(policy.podSelector, pod.labels) &&
        policy.policyTypes.includes("Egress"),
    );
    return {
      pod,
      killSwitches: selecting.filter(isKillSwitch).map((policy) => policy.name),
      openers: selecting.filter((policy) => !isKillSwitch(policy)).map((policy) => policy.name),
    };
  });
}

export interface DrillSample {
  /** Milliseconds since the gateway pod was deleted. */
  readonly atMs: number;
  readonly result: ProbeResult<string>;
}

export interface DrillOptions {
  readonly echoUrl: string;
  /** The home address (what a non-routed pod sees); a sample equal to it is a leak. */
  readonly homeAddress?: string;
  /** Time limit of one probe. */
  readonly probeTimeoutMs: number;
  /** Pause between probes. */
  readonly intervalMs: number;
  /** Give up this long after the deletion. */
  readonly deadlineMs: number;
  readonly clock: Clock;
  /** Called with every sample as it is taken (progress for a person watching). */
  readonly onSample?: (sample: DrillSample) => void;
}

export interface DrillResult {
  /** The deleted gateway's id. */
  readonly deleted: string;
  readonly samples: readonly DrillSample[];
  /** Samples that saw the home address. */
  readonly leaks: readonly DrillSample[];
  /** When a new gateway first reported ready. */
  readonly gatewayReadyAtMs?: number;
  /** The first sample after the new gateway was up whose traffic left through a non-home address. */
  readonly recoveredAtMs?: number;
  /** What the client saw then. */
  readonly recoveredAddress?: string;
  readonly deadlineMs: number;
}

/**
 * Deletes the gateway pod and probes `client`'s public address until a new gateway is ready and
 * the client's traffic flows again through an address other than home — or until the deadline.
 * Every sample is kept; any that saw the home address is a leak.
 */
export async function drill<T extends Target>(
  transport: Transport<T>,
  control: GatewayControl,
  client: T,
  options: DrillOptions,
): Promise<DrillResult> {
  const { clock } = options;
  const deleted = await control.deleteGateway();
  const start = clock.now();
  const samples: DrillSample[] = [];
  let gatewayReadyAtMs: number | undefined;
  let recovered: DrillSample | undefined;
  while (clock.now() - start < options.deadlineMs) {
    if (gatewayReadyAtMs === undefined) {
      const state = await control.gatewayState();
      if (state && state.id !== deleted && state.ready) {
        gatewayReadyAtMs = clock.now() - start;
      }
    }
    const result = await publicAddress(transport, client, options.echoUrl, options.probeTimeoutMs);
    const sample = { atMs: clock.now() - start, result };
    samples.push(sample);
    options.onSample?.(sample);
    // Before the new gateway is up, an answer may still come through the old one while it
    // terminates: that is not recovery.
    if (gatewayReadyAtMs !== undefined && result.ok && result.value !== options.homeAddress) {
      recovered = sample;
      break;
    }
    await clock.sleep(options.intervalMs);
  }
  return {
    deleted,
    samples,
    leaks: samples.filter((sample) => sample.result.ok && sample.result.value === options.homeAddress),
    ...(gatewayReadyAtMs !== undefined ? { gatewayReadyAtMs } : {}),
    ...(recovered?.result.ok ? { recoveredAtMs: recovered.atMs, recoveredAddress: recovered.result.value } : {}),
    deadlineMs: options.deadlineMs,
  };
}
