/**
 * `npm run verify -- [options]`: checks a live deployment of the downloads stack through the
 * user's kubectl — the public address gluetun reports vs what routed pods and a non-routed pod
 * see, where routed pods' DNS queries go, that every routed pod has its kill switch, and with
 * `--drill` that deleting the gateway pod leaks nothing and how long the clients take to come
 * back. Exit status: 0 all good, 1 a leak or failure, 2 could not check. See docs/verify.md.
 */
import { readFileSync } from "node:fs";
import { ROUTE_SIDECAR_CONTAINER, ROUTED_LABEL } from "../lib/vpn/client";
import { CONTROL_SERVER_API_KEY, gatewayNames, gatewayPodLabels } from "../lib/vpn/gateway";
import { KubeTarget, KubectlError, KubectlTransport, PodJson, pickPod } from "./kubectl";
import { runProcess } from "./process";
import {
  ProbeResult,
  deniedConnection,
  deniedUrl,
  dnsPath,
  drill,
  gluetunPublicAddress,
  httpGet,
  killSwitchCoverage,
  publicAddress,
} from "./probes";
import { renderReport } from "./report";
import { Clock, RoutedPod, SYSTEM_CLOCK } from "./transport";
import {
  Verdict,
  addressVerdicts,
  dnsVerdict,
  drillVerdict,
  enforcementVerdict,
  exitStatus,
  killSwitchVerdicts,
} from "./verdicts";

export const USAGE = `usage: npm run verify -- [--stack NAME | --outputs FILE] [--context NAME]
         [--namespace NS] [--vpn-namespace NS] [--plain-pod NS/POD[/CONTAINER]]
         [--echo-url URL] [--timeout SECONDS] [--drill] [--drill-deadline SECONDS]`;

/** An echo service that answers with the caller's address as plain text, over HTTPS (busybox wget in Alpine speaks TLS through ssl_client). */
export const DEFAULT_ECHO_URL = "https://ipinfo.io/ip";

export interface VerifyArguments {
  /** The downloads stack whose outputs name the namespaces (`pulumi stack output --json --stack NAME`). */
  readonly stack: string;
  /** A file with those outputs instead (what `pulumi stack output --json` prints, or a plan's outputs.json). */
  readonly outputsFile?: string;
  readonly context?: string;
  readonly namespace?: string;
  readonly vpnNamespace?: string;
  readonly plainPod?: { readonly namespace: string; readonly pod: string; readonly container?: string };
  readonly echoUrl: string;
  readonly timeoutMs: number;
  readonly drill: boolean;
  readonly drillDeadlineMs: number;
}

export class UsageError extends Error {}

const VALUE_FLAGS = [
  "--stack",
  "--outputs",
  "--context",
  "--namespace",
  "--vpn-namespace",
  "--plain-pod",
  "--echo-url",
  "--timeout",
  "--drill-deadline",
] as const;
type ValueFlag = (typeof VALUE_FLAGS)[number];

function seconds(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    throw new UsageError(`${flag} takes a number of seconds above 0, not "${text}"\n${USAGE}`);
  }
  return value * 1000;
}

export function parseArguments(argv: readonly string[]): VerifyArguments {
  const values: Partial<Record<ValueFlag, string>> = {};
  let drillRequested = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--drill") {
      drillRequested = true;
    } else if ((VALUE_FLAGS as readonly string[]).includes(arg)) {
      const value = argv[++i];
      if (value === undefined || value.startsWith("--")) {
        throw new UsageError(`${arg} needs a value\n${USAGE}`);
      }
      values[arg as ValueFlag] = value;
    } else {
      throw new UsageError(`unknown argument "${arg}"\n${USAGE}`);
    }
  }
  if (values["--stack"] !== undefined && values["--outputs"] !== undefined) {
    throw new UsageError(`--stack and --outputs both say where the stack outputs come from: give one\n${USAGE}`);
  }
  let plainPod: VerifyArguments["plainPod"];
  if (values["--plain-pod"] !== undefined) {
    const [namespace, pod, container, ...rest] = values["--plain-pod"].split("/");
    if (!namespace || !pod || rest.length > 0) {
      throw new UsageError(
        `--plain-pod takes NAMESPACE/POD or NAMESPACE/POD/CONTAINER, not "${values["--plain-pod"]}"\n${USAGE}`,
      );
    }
    plainPod = { namespace, pod, ...(container ? { container } : {}) };
  }
  const echoUrl = values["--echo-url"] ?? DEFAULT_ECHO_URL;
  if (!/^https?:\/\/[^/\s]+/.test(echoUrl)) {
    throw new UsageError(`--echo-url takes an http:// or https:// URL, not "${echoUrl}"\n${USAGE}`);
  }
  return {
    stack: values["--stack"] ?? "downloads",
    ...(values["--outputs"] !== undefined ? { outputsFile: values["--outputs"] } : {}),
    ...(values["--context"] !== undefined ? { context: values["--context"] } : {}),
    ...(values["--namespace"] !== undefined ? { namespace: values["--namespace"] } : {}),
    ...(values["--vpn-namespace"] !== undefined ? { vpnNamespace: values["--vpn-namespace"] } : {}),
    ...(plainPod ? { plainPod } : {}),
    echoUrl,
    timeoutMs: values["--timeout"] !== undefined ? seconds("--timeout", values["--timeout"]) : 10_000,
    drill: drillRequested,
    drillDeadlineMs:
      values["--drill-deadline"] !== undefined ? seconds("--drill-deadline", values["--drill-deadline"]) : 180_000,
  };
}

/** The downloads stack's outputs the verifier reads (stacks/downloads.ts DownloadsStackExports). */
export interface StackOutputs {
  readonly namespace?: string;
  readonly coreNamespace?: string;
  readonly vpnGateway?: string;
  readonly cluster?: { readonly domain?: string; readonly dnsServiceIp?: string };
}

/** The outputs, or why there are none (the verifier then falls back to flags and the example config's names). */
export async function readStackOutputs(
  args: VerifyArguments,
  pulumi = "pulumi",
): Promise<{ outputs?: StackOutputs; source: string }> {
  if (args.outputsFile) {
    try {
      return { outputs: JSON.parse(readFileSync(args.outputsFile, "utf8")) as StackOutputs, source: args.outputsFile };
    } catch (error) {
      throw new UsageError(`--outputs ${args.outputsFile}: ${(error as Error).message}`);
    }
  }
  if (args.namespace && args.vpnNamespace) {
    return { source: "flags" };
  }
  const result = await runProcess([pulumi, "stack", "output", "--json", "--stack", args.stack], { timeoutMs: 60_000 });
  if (result.spawnError || result.exitCode !== 0) {
    const why = result.spawnError
      ? "pulumi CLI not found"
      : result.stderr.trim().split("\n")[0] || `pulumi exited with ${result.exitCode}`;
    return { source: `defaults (stack outputs of ${args.stack} unavailable: ${why})` };
  }
  try {
    return { outputs: JSON.parse(result.stdout) as StackOutputs, source: `pulumi stack output --stack ${args.stack}` };
  } catch {
    return { source: `defaults (pulumi stack output --stack ${args.stack} printed no JSON)` };
  }
}

/** Where everything is, from flags first, then the stack outputs, then the example config's names. */
export interface Deployment {
  readonly namespace: string;
  readonly vpnNamespace: string;
  readonly gateway: string;
  readonly coreNamespace: string;
  readonly clusterDomain: string;
  readonly source: string;
}

export function deploymentOf(args: VerifyArguments, outputs: StackOutputs | undefined, source: string): Deployment {
  const [gateway, vpnNamespace] = outputs?.vpnGateway?.split(".") ?? [];
  return {
    namespace: args.namespace ?? outputs?.namespace ?? "charmarr-downloads",
    vpnNamespace: args.vpnNamespace ?? vpnNamespace ?? "charmarr-vpn",
    gateway: gateway ?? "vpn-gateway",
    coreNamespace: outputs?.coreNamespace ?? "charmarr-core",
    clusterDomain: outputs?.cluster?.domain ?? "cluster.local",
    source,
  };
}

/** Reads `NAME="value"` lines of a pod-gateway settings.sh (as lib/vpn/settingsFile.ts renders them). */
export function parseShellSettings(text: string): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^([A-Z_][A-Z0-9_]*)="([^"]*)"$/.exec(line.trim());
    if (match) {
      settings[match[1]] = match[2];
    }
  }
  return settings;
}

/** The DNS addresses routed pods are set up with: the gateway's overlay address and kube-dns, from the client ConfigMap they mount. */
export async function dnsExpectation(
  kubectl: KubectlTransport,
  deployment: Deployment,
): Promise<{ gatewayDns: string; kubeDns: string }> {
  const settings = parseShellSettings(
    await kubectl.configMapValue(deployment.namespace, `${deployment.gateway}-client`, "settings.sh"),
  );
  const network = settings.VXLAN_IP_NETWORK;
  const kubeDns = settings.K8S_DNS_IPS?.split(/\s+/)[0];
  if (!network || !kubeDns) {
    throw new KubectlError(
      `configmap ${deployment.namespace}/${deployment.gateway}-client lacks VXLAN_IP_NETWORK or K8S_DNS_IPS`,
    );
  }
  return { gatewayDns: `${network}.1`, kubeDns };
}

function selectorOf(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
}

/** How many pods of the core namespace to try for the home address before giving up. */
const PLAIN_POD_ATTEMPTS = 3;

/** The home address: what a pod outside the route sees (the one given, or the first core pod that has wget or curl). */
async function homeAddress(
  kubectl: KubectlTransport,
  args: VerifyArguments,
  deployment: Deployment,
): Promise<{ result: ProbeResult<string>; target?: KubeTarget }> {
  const target = (pod: PodJson, containers: readonly string[]): KubeTarget => ({
    role: "plain",
    name: `${pod.metadata.namespace}/${pod.metadata.name}`,
    namespace: pod.metadata.namespace,
    pod: { name: pod.metadata.name },
    containers,
  });
  const containersOf = (pod: PodJson) => (pod.spec?.containers ?? []).map((container) => container.name);
  let candidates: KubeTarget[];
  if (args.plainPod) {
    const { namespace, pod, container } = args.plainPod;
    const found = (await kubectl.pods(namespace, `!${ROUTED_LABEL}`)).find(
      (candidate) => candidate.metadata.name === pod,
    );
    candidates = found ? [target(found, container ? [container] : containersOf(found))] : [];
  } else {
    const pods = (await kubectl.pods(deployment.coreNamespace, `!${ROUTED_LABEL}`)).filter(
      (pod) => pickPod([pod]) !== undefined,
    );
    candidates = pods
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))
      .slice(0, PLAIN_POD_ATTEMPTS)
      .map((pod) => target(pod, containersOf(pod)));
  }
  let result: ProbeResult<string> = {
    ok: false,
    kind: "unreachable",
    message: args.plainPod
      ? `no running pod ${args.plainPod.namespace}/${args.plainPod.pod} outside the route`
      : `no running pod in ${deployment.coreNamespace} to see the home address from (give one with --plain-pod)`,
  };
  for (const candidate of candidates) {
    result = await publicAddress(kubectl, candidate, args.echoUrl, args.timeoutMs);
    if (result.ok || result.kind !== "missing-command") {
      return { result, target: candidate };
    }
  }
  return { result };
}

function failed(kind: "unreachable", error: unknown): ProbeResult<never> {
  return { ok: false, kind, message: (error as Error).message };
}

export interface VerifyRun {
  readonly verdicts: Verdict[];
  readonly header: string[];
}

/** Runs every check (and the drill when asked) against the deployment; writes progress through `log`. */
export async function verifyDeployment(
  args: VerifyArguments,
  kubectl: KubectlTransport,
  deployment: Deployment,
  log: (line: string) => void,
  clock: Clock = SYSTEM_CLOCK,
): Promise<VerifyRun> {
  const names = gatewayNames(deployment.vpnNamespace, deployment.gateway);
  const verdicts: Verdict[] = [];
  const header = [
    `stack outputs: ${deployment.source}`,
    `clients: namespace ${deployment.namespace}; gateway: ${deployment.vpnNamespace}/${deployment.gateway}; echo: ${args.echoUrl}`,
  ];

  let routedPods: RoutedPod[] = [];
  try {
    const coverage = await killSwitchCoverage(kubectl, deployment.namespace);
    routedPods = coverage.map(({ pod }) => pod);
    verdicts.push(...killSwitchVerdicts(deployment.namespace, coverage));
  } catch (error) {
    verdicts.push({
      check: "kill switch",
      subject: deployment.namespace,
      status: "unknown",
      message: `could not list pods and NetworkPolicies: ${(error as Error).message}`,
    });
  }
  const routed: KubeTarget[] = routedPods.map((pod) => ({
    role: "routed",
    name: pod.name,
    namespace: pod.namespace,
    pod: { name: pod.name.slice(pod.namespace.length + 1) },
    // The route sidecar has busybox wget and dig (pod-gateway's image); the app's containers
    // are the fallback while it restarts.
    containers: [ROUTE_SIDECAR_CONTAINER, ...(pod.containers ?? []).filter((name) => name !== ROUTE_SIDECAR_CONTAINER)],
  }));

  const gluetun: KubeTarget = {
    role: "gluetun",
    name: `${names.namespace}/${names.gateway}`,
    namespace: names.namespace,
    pod: { selector: selectorOf(gatewayPodLabels(names)) },
    containers: ["gluetun"],
  };
  const vpnAddress = async (): Promise<ProbeResult<string>> => {
    try {
      const apiKey = await kubectl.secretValue(names.namespace, names.controlServerSecret, CONTROL_SERVER_API_KEY);
      return await gluetunPublicAddress(kubectl, gluetun, apiKey, args.timeoutMs);
    } catch (error) {
      return failed("unreachable", error);
    }
  };
  log("probing public addresses…");
  const vpn = await vpnAddress();
  let home: ProbeResult<string>;
  let plain: KubeTarget | undefined;
  try {
    ({ result: home, target: plain } = await homeAddress(kubectl, args, deployment));
  } catch (error) {
    home = failed("unreachable", error);
  }
  const seen = [];
  for (const target of routed) {
    seen.push({ subject: target.name, result: await publicAddress(kubectl, target, args.echoUrl, args.timeoutMs) });
  }
  const addresses = addressVerdicts({ gluetun: vpn, home, routed: seen });
  verdicts.push(...addresses);

  log("probing DNS…");
  try {
    const expected = await dnsExpectation(kubectl, deployment);
    header.push(
      `routed pods must resolve through the gateway at ${expected.gatewayDns} (kube-dns: ${expected.kubeDns})`,
    );
    const internet = new URL(args.echoUrl).hostname;
    for (const target of routed) {
      const observed = await dnsPath(
        kubectl,
        target,
        { internet, cluster: `kubernetes.default.svc.${deployment.clusterDomain}` },
        args.timeoutMs,
      );
      verdicts.push(dnsVerdict(target.name, observed, expected));
    }
    log("probing NetworkPolicy enforcement…");
    const url = deniedUrl(expected.kubeDns);
    const outside: ProbeResult<string> = plain
      ? await httpGet(kubectl, plain, url, args.timeoutMs)
      : {
          ok: false,
          kind: "unreachable",
          message: "no pod outside the route to compare with (give one with --plain-pod)",
        };
    for (const target of routed) {
      verdicts.push(
        enforcementVerdict(target.name, await deniedConnection(kubectl, target, url, outside, args.timeoutMs)),
      );
    }
  } catch (error) {
    verdicts.push({
      check: "DNS path",
      subject: deployment.namespace,
      status: "unknown",
      message: `could not read the routed pods' DNS settings: ${(error as Error).message}`,
    });
  }

  if (args.drill) {
    const client = routed[0];
    if (!client || exitStatus(addresses) !== 0) {
      verdicts.push({
        check: "gateway drill",
        subject: client?.name ?? deployment.namespace,
        status: "unknown",
        message: "not run: the address checks must pass first (a routed pod, gluetun's and the home address)",
      });
    } else {
      log(
        `drill: deleting the gateway pod and probing ${client.name} every 2 s for up to ${args.drillDeadlineMs / 1000} s…`,
      );
      try {
        const result = await drill(kubectl, kubectl, client, {
          echoUrl: args.echoUrl,
          homeAddress: home.ok ? home.value : undefined,
          probeTimeoutMs: Math.min(args.timeoutMs, 5_000),
          intervalMs: 2_000,
          deadlineMs: args.drillDeadlineMs,
          clock,
          onSample: (sample) =>
            log(
              `  +${(sample.atMs / 1000).toFixed(1)} s  ${sample.result.ok ? sample.result.value : `${sample.result.kind}: ${sample.result.message}`}`,
            ),
        });
        verdicts.push(
          drillVerdict(client.name, result, result.recoveredAtMs !== undefined ? await vpnAddress() : undefined),
        );
      } catch (error) {
        verdicts.push({
          check: "gateway drill",
          subject: client.name,
          status: "unknown",
          message: `could not run: ${(error as Error).message}`,
        });
      }
    }
  }
  return { verdicts, header };
}

/** The CLI; `tools` replaces the kubectl and pulumi executables (tests). */
export async function main(
  argv: readonly string[],
  tools: { kubectl?: string; pulumi?: string } = {},
): Promise<number> {
  let args: VerifyArguments;
  try {
    args = parseArguments(argv);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  let stack: Awaited<ReturnType<typeof readStackOutputs>>;
  try {
    stack = await readStackOutputs(args, tools.pulumi);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  const deployment = deploymentOf(args, stack.outputs, stack.source);
  const names = gatewayNames(deployment.vpnNamespace, deployment.gateway);
  const kubectl = new KubectlTransport({
    ...(tools.kubectl ? { kubectl: tools.kubectl } : {}),
    ...(args.context ? { context: args.context } : {}),
    gateway: { namespace: names.namespace, selector: selectorOf(gatewayPodLabels(names)) },
  });
  try {
    await kubectl.checkAccess(deployment.namespace);
  } catch (error) {
    console.error(`cannot check: ${(error as Error).message}`);
    return 2;
  }
  const run = await verifyDeployment(args, kubectl, deployment, (line) => console.error(line));
  console.log([...run.header, "", renderReport(run.verdicts)].join("\n"));
  return exitStatus(run.verdicts);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 2;
    },
  );
}
