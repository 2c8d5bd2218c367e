/**
 * `npm run lab -- [--config FILE] [--core-config FILE] [--only NAME]`
 *
 * Builds the planned `downloads` data path in network namespaces on this machine (see
 * docs/lab.md), runs every scenario, prints the table and exits non-zero on any leak or a broken
 * baseline. Needs root.
 */
import { accessSync, constants, existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ORGANIZATION, PROJECT, evaluateStack } from "../plan/evaluate";
import { readStackFile } from "../plan/stackFile";
import { labAddresses } from "./addresses";
import { Lab } from "./lab";
import { extractLabPlan, LabPlan } from "./plan";
import { passed, renderTable, ScenarioResult } from "./report";
import { SCENARIOS } from "./scenarios";
import { LabError, Registry, run } from "./sys";
import { World } from "./world";

const USAGE = "usage: npm run lab -- [--config FILE] [--core-config FILE] [--only SCENARIO]";

export interface LabArguments {
  readonly config: string;
  readonly coreConfig: string;
  readonly only?: string;
}

export class UsageError extends Error {}

export function parseLabArguments(argv: readonly string[]): LabArguments {
  let config = "Pulumi.downloads.yaml";
  let coreConfig = "Pulumi.core.yaml";
  let only: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = argv[i + 1];
    if (!["--config", "--core-config", "--only"].includes(arg)) {
      throw new UsageError(`unknown argument "${arg}"\n${USAGE}`);
    }
    if (value === undefined || value.startsWith("--")) {
      throw new UsageError(`${arg} needs a value\n${USAGE}`);
    }
    i++;
    if (arg === "--config") {
      config = value;
    } else if (arg === "--core-config") {
      coreConfig = value;
    } else {
      only = value;
    }
  }
  return { config, coreConfig, only };
}

/** Tools the lab runs, and the Debian package that has each. */
export const REQUIRED_TOOLS: Readonly<Record<string, string>> = {
  ip: "iproute2",
  iptables: "iptables",
  ip6tables: "iptables",
  nft: "nftables",
  wg: "wireguard-tools",
  "wireguard-go": "wireguard-go",
  dnsmasq: "dnsmasq-base",
  busybox: "busybox",
  dig: "bind9-dnsutils",
  curl: "curl",
  inotifywait: "inotify-tools",
  bash: "bash",
  unshare: "util-linux",
  nsenter: "util-linux",
  setpriv: "util-linux",
  chroot: "coreutils",
};

/** Every missing prerequisite, each with what to do about it. */
export function missingPrerequisites(probe: {
  uid: number;
  hasTool: (name: string) => boolean;
  canCreateNetns: () => string | undefined;
  tunDevice: () => string | undefined;
}): string[] {
  const problems: string[] = [];
  if (probe.uid !== 0) {
    problems.push("the lab must run as root (it creates network namespaces, veth pairs and mounts): run it with sudo");
    return problems;
  }
  const missing = Object.entries(REQUIRED_TOOLS).filter(([tool]) => !probe.hasTool(tool));
  if (missing.length > 0) {
    const packages = [...new Set(missing.map(([, pkg]) => pkg))];
    problems.push(`missing tools: ${missing.map(([tool]) => tool).join(", ")} (apt-get install ${packages.join(" ")})`);
  }
  const tun = probe.tunDevice();
  if (tun) {
    problems.push(tun);
  }
  const netns = probe.canCreateNetns();
  if (netns) {
    problems.push(netns);
  }
  return problems;
}

function hasTool(name: string): boolean {
  return run(["sh", "-c", `command -v ${name}`]).code === 0;
}

function tunDevice(): string | undefined {
  try {
    accessSync("/dev/net/tun", constants.R_OK | constants.W_OK);
    return undefined;
  } catch {
    return "/dev/net/tun is missing or not usable: wireguard-go needs it (load the tun module, or give the container the device)";
  }
}

function canCreateNetns(): string | undefined {
  const name = `chlabcheck${process.pid}`;
  const result = run(["ip", "netns", "add", name]);
  if (result.code !== 0) {
    return `cannot create a network namespace (${result.stderr.trim()}): the lab needs CAP_SYS_ADMIN and an unrestricted kernel (not an unprivileged container)`;
  }
  run(["ip", "netns", "del", name]);
  return undefined;
}

/**
 * The pinned upstream artifacts: `shared/upstream` in the directory that holds the repository
 * (CI lays them beside its clone).
 */
export function upstreamDir(repoRoot: string): string {
  return join(repoRoot, "..", "shared", "upstream");
}

/** What is missing from the upstream directory, or undefined when it has everything the lab runs. */
export function missingUpstream(dir: string, exists: (path: string) => boolean = existsSync): string | undefined {
  const needed = [
    join("pod-gateway-v1.13.0", "bin", "client_init.sh"),
    join("pod-gateway-v1.13.0", "config", "settings.sh"),
    "alpine-udhcpc-default.script",
  ];
  const missing = needed.filter((file) => !exists(join(dir, file)));
  return missing.length > 0
    ? `npm run lab needs the pinned upstream artifacts in ${dir} (shared/upstream beside the repository); missing: ${missing.join(", ")}`
    : undefined;
}

async function planFor(args: LabArguments): Promise<LabPlan> {
  const core = await evaluateStack({ stack: "core", config: readStackFile(args.coreConfig) });
  const config = readStackFile(args.config);
  // As a backend would hand core's outputs to the downloads program: secret ones with their values.
  const reference = { outputs: { ...core.outputs, ...core.secretOutputs }, secretOutputNames: core.secretOutputNames };
  const coreStack = config.values[`${PROJECT}:coreStack`] ?? `${ORGANIZATION}/${PROJECT}/core`;
  const downloads = await evaluateStack({ stack: "downloads", config, referencedStacks: { [coreStack]: reference } });
  return extractLabPlan(downloads.manifests, core.outputs);
}

export async function runLab(argv: readonly string[], log: (line: string) => void = console.log): Promise<number> {
  let args: LabArguments;
  try {
    args = parseLabArguments(argv);
  } catch (error) {
    log((error as Error).message);
    return 2;
  }
  const problems = missingPrerequisites({ uid: process.getuid?.() ?? -1, hasTool, canCreateNetns, tunDevice });
  if (problems.length > 0) {
    log(`npm run lab cannot run here:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    return 2;
  }
  const upstream = upstreamDir(resolve(__dirname, ".."));
  const notThere = missingUpstream(upstream);
  if (notThere) {
    log(notThere);
    return 2;
  }
  const started = Date.now();
  log(`Planning ${args.config} (core: ${args.coreConfig})`);
  const plan = await planFor(args);
  const scenarios = SCENARIOS.filter((s) => !args.only || s.name.includes(args.only));
  const registry = new Registry();
  const dir = registry.dir(mkdtempSync(join(tmpdir(), "charmarr-lab-")));
  const onSignal = (signal: NodeJS.Signals) => {
    log(`\n${signal}: removing the lab's namespaces and processes`);
    registry.cleanup();
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  process.once("exit", () => registry.cleanup());
  const results: ScenarioResult[] = [];
  try {
    const world = new World({ plan, addresses: labAddresses(plan.cluster), upstream, dir, registry, log });
    log(`Building the namespaces (work directory ${dir})`);
    world.build();
    await world.waitForServices();
    const lab = new Lab(world);
    world.layer1 = true;
    await lab.startGateway(world.addresses.gateway);
    await lab.startClient();
    log(`Data path up after ${((Date.now() - started) / 1000).toFixed(1)} s; running ${scenarios.length} scenario(s)`);
    for (const scenario of scenarios) {
      results.push(await lab.runScenario(scenario));
    }
    if (process.env.LAB_HOLD) {
      log(`LAB_HOLD: keeping the lab up for ${process.env.LAB_HOLD} s`);
      await new Promise((done) => setTimeout(done, Number(process.env.LAB_HOLD) * 1000));
    }
  } catch (error) {
    log(`lab failed: ${error instanceof LabError ? error.message : ((error as Error).stack ?? String(error))}`);
    if (process.env.LAB_KEEP) {
      log(`LAB_KEEP set: leaving ${dir}; namespaces are removed`);
    }
    log(renderTable(results));
    registry.cleanup();
    return 1;
  }
  registry.cleanup();
  log("");
  log(renderTable(results));
  log(`lab took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const baselineOk = results.find((r) => r.scenario === "baseline");
  return results.every(passed) && (!baselineOk || passed(baselineOk)) ? 0 : 1;
}

if (require.main === module) {
  runLab(process.argv.slice(2)).then((status) => {
    process.exitCode = status;
  });
}
