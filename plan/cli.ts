/**
 * `npm run plan -- [STACK...] [--config FILE] [--core-config FILE] [--out DIR]`
 *
 * Evaluates stacks' programs on Pulumi's mock runtime — no cluster, no Pulumi CLI, no network —
 * and writes every Kubernetes object they would create. Any stack name: its configuration is
 * `Pulumi.<stack>.yaml` (or `--config FILE`), its role `charmarr:role`, else the name. With no
 * stack named, every `Pulumi.<stack>.yaml` here, core stacks first. See README "Try it".
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, Role, stackRole } from "../lib/config";
import { CoreStackError } from "../lib/contract";
import { ORGANIZATION, PROJECT, PlanConfig, SECRET_PLACEHOLDER, StackPlan, evaluateStack } from "./evaluate";
import { summarize, writePlan } from "./render";
import { ReferencedStack } from "./runtime";
import { StackFileError, readStackFile } from "./stackFile";

const USAGE = "usage: npm run plan -- [STACK...] [--config FILE] [--core-config FILE] [--out DIR]";

/** Pulumi's stack names: letters, digits, `-`, `_` and `.`. */
const STACK_NAME = /^[A-Za-z0-9_.-]+$/;

export interface PlanArguments {
  /** The stacks named on the command line; none means every stack file in the directory. */
  readonly stacks: readonly string[];
  readonly configFile?: string;
  /** The configuration of the core stack a downloads stack reads, when it is not planned in the same run. */
  readonly coreConfigFile?: string;
  readonly outDir: string;
}

export class UsageError extends Error {}

/** A plan that cannot be made offline, with what to do about it. */
export class PlanError extends Error {}

const VALUE_OPTIONS = ["--config", "--core-config", "--out"] as const;

export function parseArguments(argv: readonly string[]): PlanArguments {
  const stacks: string[] = [];
  const options: Partial<Record<(typeof VALUE_OPTIONS)[number], string>> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if ((VALUE_OPTIONS as readonly string[]).includes(arg)) {
      const value = argv[++i];
      if (value === undefined || value.startsWith("--")) {
        throw new UsageError(`${arg} needs a value\n${USAGE}`);
      }
      options[arg as (typeof VALUE_OPTIONS)[number]] = value;
    } else if (!arg.startsWith("-") && STACK_NAME.test(arg)) {
      stacks.push(arg);
    } else {
      throw new UsageError(`unknown argument "${arg}"\n${USAGE}`);
    }
  }
  if (options["--config"] !== undefined && stacks.length !== 1) {
    throw new UsageError(`--config applies to one stack: name it\n${USAGE}`);
  }
  return {
    stacks,
    configFile: options["--config"],
    coreConfigFile: options["--core-config"],
    outDir: options["--out"] ?? ".plan",
  };
}

/** One stack to plan: its name, its configuration and the role that configuration gives it. */
interface StackSpec {
  readonly stack: string;
  readonly file: string;
  readonly config: PlanConfig;
  readonly role?: Role;
}

function readSpec(stack: string, file: string): StackSpec {
  if (!existsSync(file)) {
    throw new PlanError(`No ${file} for stack "${stack}": give its configuration with --config FILE`);
  }
  const config = readStackFile(file);
  return { stack, file, config, role: stackRole(stack, config.values["charmarr:role"]) };
}

/** Every `Pulumi.<stack>.yaml` in `dir`, core stacks first, by name. */
export function stackFiles(dir = "."): StackSpec[] {
  const specs = readdirSync(dir)
    .flatMap((name) => {
      const match = /^Pulumi\.(.+)\.yaml$/.exec(name);
      return match && STACK_NAME.test(match[1]) ? [readSpec(match[1], join(dir, name))] : [];
    })
    .sort((a, b) => a.stack.localeCompare(b.stack));
  return [...specs.filter((spec) => spec.role === "core"), ...specs.filter((spec) => spec.role !== "core")];
}

/** What a backend would return for the core stack, from a plan's outputs.json and secret-outputs.json. */
function referenceFromOutputs({ outputs, secretOutputs }: CoreOutputs): ReferencedStack {
  return {
    outputs: { ...outputs, ...secretOutputs },
    secretOutputNames: Object.keys(outputs).filter((name) => outputs[name] === SECRET_PLACEHOLDER),
  };
}

/** The core stack a downloads configuration reads: `charmarr:coreStack`, else the program's default. */
function coreStackOf(config: PlanConfig): string {
  return config.values["charmarr:coreStack"] ?? `${ORGANIZATION}/${PROJECT}/core`;
}

/** `myorg/charmarr/homelab-core` → `homelab-core`: the stack's own name within its project. */
function shortName(stack: string): string {
  return stack.slice(stack.lastIndexOf("/") + 1);
}

/** A core stack's outputs as a plan wrote them: secret ones redacted, and their plan values apart. */
interface CoreOutputs {
  readonly outputs: Record<string, unknown>;
  readonly secretOutputs: Record<string, unknown>;
}

class Planner {
  /** Outputs of the core stacks planned or read in this run, by stack name. */
  private readonly coreOutputs = new Map<string, CoreOutputs>();

  constructor(
    private readonly args: PlanArguments,
    private readonly log: (line: string) => void,
    /** Where the stack files are. */
    private readonly dir: string,
  ) {}

  async plan(spec: StackSpec): Promise<void> {
    let referencedStacks: Record<string, ReferencedStack> | undefined;
    let coreSource: string | undefined;
    if (spec.role === "downloads") {
      const coreStack = coreStackOf(spec.config);
      const core = await this.outputsOfCore(coreStack, spec.stack);
      referencedStacks = { [coreStack]: referenceFromOutputs(core) };
      coreSource = core.source;
    }
    let plan: StackPlan;
    try {
      plan = await evaluateStack({
        stack: spec.stack,
        config: spec.config,
        referencedStacks,
        // Like `pulumi up`, which runs the program (and the Tailscale provider) in the shell's environment.
        env: process.env,
      });
    } catch (error) {
      if (error instanceof CoreStackError && coreSource !== undefined) {
        throw new PlanError(
          `${error.problem} Planning offline, the core outputs came from ${coreSource}: plan the core stack again with this version of the program (npm run plan -- ${error.stackName}, or --core-config FILE).`,
        );
      }
      throw error;
    }
    this.log(summarize(plan, writePlan(plan, this.args.outDir)));
    if (spec.role === "core") {
      this.coreOutputs.set(spec.stack, { outputs: plan.outputs, secretOutputs: plan.secretOutputs });
    }
  }

  /**
   * The core stack's outputs for a downloads stack planned offline, served under the name
   * `charmarr:coreStack` gives: planned in this run, from --core-config, saved by an earlier
   * plan, or planned now from its stack file.
   */
  private async outputsOfCore(coreStack: string, downloads: string): Promise<CoreOutputs & { source: string }> {
    const name = shortName(coreStack);
    const planned = this.coreOutputs.get(name);
    if (planned) {
      return { ...planned, source: `this run's plan of ${name}` };
    }
    if (this.args.coreConfigFile !== undefined) {
      return this.planCore(readSpec(name, this.args.coreConfigFile));
    }
    const saved = join(this.args.outDir, name, "outputs.json");
    if (existsSync(saved)) {
      this.log(`Using core stack outputs from ${saved}`);
      const savedSecrets = join(this.args.outDir, name, "secret-outputs.json");
      return {
        outputs: JSON.parse(readFileSync(saved, "utf8")) as Record<string, unknown>,
        secretOutputs: existsSync(savedSecrets)
          ? (JSON.parse(readFileSync(savedSecrets, "utf8")) as Record<string, unknown>)
          : {},
        source: saved,
      };
    }
    const file = join(this.dir, `Pulumi.${name}.yaml`);
    const candidates = existsSync(file) ? [readSpec(name, file)] : stackFiles(this.dir);
    const cores = candidates.filter((spec) => spec.role === "core");
    if (cores.length !== 1) {
      throw new PlanError(
        `Cannot plan the downloads stack "${downloads}" offline: it reads the core stack "${coreStack}" (charmarr:coreStack), ` +
          (cores.length === 0
            ? `and there is no core stack configuration here`
            : `and ${cores.map((spec) => spec.file).join(", ")} are all core stacks`) +
          `. Give the core stack's configuration with --core-config FILE, or plan it in the same run (npm run plan -- <core stack> ${downloads}).`,
      );
    }
    this.log(`No ${saved}: planning core first with ${cores[0].file}`);
    return this.planCore({ ...cores[0], stack: name });
  }

  private async planCore(spec: StackSpec): Promise<CoreOutputs & { source: string }> {
    if (spec.role !== "core") {
      throw new PlanError(
        `${spec.file} is not a core stack's configuration (charmarr:role is ${spec.config.values["charmarr:role"] ?? "unset"})`,
      );
    }
    await this.plan(spec);
    return { ...(this.coreOutputs.get(spec.stack) as CoreOutputs), source: spec.file };
  }
}

/** Runs the plan command on the stack files of `dir`; returns the process exit status. */
export async function runPlan(
  argv: readonly string[],
  log: (line: string) => void = console.log,
  dir = ".",
): Promise<number> {
  let args: PlanArguments;
  try {
    args = parseArguments(argv);
  } catch (error) {
    log((error as Error).message);
    return 2;
  }
  try {
    const specs =
      args.stacks.length > 0
        ? args.stacks.map((stack) => readSpec(stack, args.configFile ?? join(dir, `Pulumi.${stack}.yaml`)))
        : stackFiles(dir);
    if (specs.length === 0) {
      throw new PlanError(
        `No Pulumi.<stack>.yaml here: name a stack and give its configuration with --config FILE\n${USAGE}`,
      );
    }
    const planner = new Planner(args, log, dir);
    for (const spec of specs) {
      await planner.plan(spec);
    }
    return 0;
  } catch (error) {
    if (
      error instanceof ConfigError ||
      error instanceof CoreStackError ||
      error instanceof StackFileError ||
      error instanceof PlanError ||
      error instanceof pulumi.RunError
    ) {
      log(error.message);
      return 1;
    }
    log(`plan failed: ${(error as Error).stack ?? String(error)}`);
    return 1;
  }
}

if (require.main === module) {
  runPlan(process.argv.slice(2)).then((status) => {
    process.exitCode = status;
  });
}
