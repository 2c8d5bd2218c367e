/**
 * `npm run lab -- [--config FILE] [--core-config FILE] [--only PATTERN] [--record DIR]`
 *
 * Builds the planned `downloads` data path in network namespaces on this machine (see
 * docs/lab.md), runs every scenario, prints the table and exits non-zero on any leak or a broken
 * baseline. Needs root.
 */
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { ORGANIZATION, PROJECT, evaluateStack } from "../plan/evaluate";
import { readStackFile } from "../plan/stackFile";
import { labAddresses } from "./addresses";
import { Lab } from "./lab";
import { extractLabPlan, LabPlan } from "./plan";
import { passed, renderTable, ScenarioResult } from "./report";
import { SCENARIOS } from "./scenarios";
import { LabError, ranPrograms, Registry, run } from "./sys";
import { packagesFor, REQUIRED_TOOLS } from "./tools";
import { World } from "./world";

const USAGE = "usage: npm run lab -- [--config FILE] [--core-config FILE] [--only PATTERN] [--record DIR]";

export interface LabArguments {
  readonly config: string;
  readonly coreConfig: string;
  readonly only?: string;
  /** Directory to write the run's whole log into, named by its start and commit (docs/lab-runs). */
  readonly record?: string;
}

export class UsageError extends Error {}

export function parseLabArguments(argv: readonly string[]): LabArguments {
  let config = "Pulumi.downloads.yaml";
  let coreConfig = "Pulumi.core.yaml";
  let only: string | undefined;
  let record: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = argv[i + 1];
    if (!["--config", "--core-config", "--only", "--record"].includes(arg)) {
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
    } else if (arg === "--only") {
      try {
        new RegExp(value);
      } catch (error) {
        throw new UsageError(`--only ${value}: not a regular expression (${(error as Error).message})\n${USAGE}`);
      }
      only = value;
    } else {
      record = value;
    }
  }
  return { config, coreConfig, only, ...(record === undefined ? {} : { record }) };
}

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
    const packages = packagesFor(missing.map(([tool]) => tool));
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

/** Programs the lab ran that {@link REQUIRED_TOOLS} does not list, so a fresh machine may lack them. */
export function unlistedPrograms(ran: Iterable<string>): string[] {
  return [...ran].filter((program) => !Object.hasOwn(REQUIRED_TOOLS, program)).sort();
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

/** The commit a recorded run names: its hash and subject. */
export interface RecordSource {
  readonly commit: string;
  readonly subject: string;
}

/**
 * `docs/lab-runs/2026-12-07T0530Z-0123456789.txt`: when the run started (UTC, to the minute) and
 * the commit it ran, so that several runs of one commit keep a log each.
 */
export function recordFileName(when: Date, commit: string): string {
  const iso = when.toISOString();
  return `${iso.slice(0, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}Z-${commit.slice(0, 10)}.txt`;
}

/** The recorded log: what ran (command, commit, machine), then every line the run printed. */
export function recordText(record: {
  readonly argv: readonly string[];
  readonly source: RecordSource;
  readonly when: Date;
  readonly machine: string;
  readonly lines: readonly string[];
  readonly status: number;
}): string {
  return [
    `# npm run lab${record.argv.length > 0 ? ` -- ${record.argv.join(" ")}` : ""}`,
    `# commit ${record.source.commit} (${record.source.subject})`,
    `# started ${record.when.toISOString()} on ${record.machine}`,
    `# exit status ${record.status}`,
    "",
    ...record.lines,
    "",
  ].join("\n");
}

/**
 * The commit of the work tree, or why a run there cannot be recorded: the log names the commit it
 * ran, so every tracked file must be the commit's (the record directory itself excepted).
 */
function recordSource(repoRoot: string, recordDir: string): RecordSource | string {
  const git = (...args: string[]) => run(["git", "-C", repoRoot, ...args]);
  const head = git("rev-parse", "HEAD");
  if (head.code !== 0) {
    return `--record needs a git work tree (the log names the commit it ran): ${head.stderr.trim()}`;
  }
  const changed = git("status", "--porcelain", "--", ".", `:(exclude)${relative(repoRoot, resolve(recordDir))}`)
    .stdout.split("\n")
    .filter(Boolean);
  if (changed.length > 0) {
    return `--record needs a clean work tree (the log names the commit it ran); these differ from it:\n${changed.map((line) => `  ${line}`).join("\n")}`;
  }
  return { commit: head.stdout.trim(), subject: git("log", "-1", "--format=%s").stdout.trim() };
}

export async function runLab(argv: readonly string[], log: (line: string) => void = console.log): Promise<number> {
  let args: LabArguments;
  try {
    args = parseLabArguments(argv);
  } catch (error) {
    log((error as Error).message);
    return 2;
  }
  if (args.record === undefined) {
    return runScenarios(args, log);
  }
  const source = recordSource(resolve(__dirname, ".."), args.record);
  if (typeof source === "string") {
    log(source);
    return 2;
  }
  const when = new Date();
  const machine = `${cpus().length} cores, Linux ${release()}, load average ${loadavg()
    .map((load) => load.toFixed(2))
    .join(" ")}`;
  const lines: string[] = [];
  const status = await runScenarios(args, (line) => {
    lines.push(line);
    log(line);
  });
  mkdirSync(args.record, { recursive: true });
  const file = join(args.record, recordFileName(when, source.commit));
  writeFileSync(file, recordText({ argv, source, when, machine, lines, status }));
  log(`this run's log: ${file}`);
  return status;
}

async function runScenarios(args: LabArguments, log: (line: string) => void): Promise<number> {
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
  const scenarios = SCENARIOS.filter((s) => !args.only || new RegExp(args.only).test(s.name));
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
  const unlisted = unlistedPrograms(ranPrograms);
  if (unlisted.length > 0) {
    log(`the lab ran programs its prerequisite check (lab/tools.ts) does not list: ${unlisted.join(", ")}`);
  }
  return results.every(passed) && unlisted.length === 0 ? 0 : 1;
}

if (require.main === module) {
  runLab(process.argv.slice(2)).then((status) => {
    process.exitCode = status;
  });
}
