/**
 * `npm run plan -- [core|downloads] [--config FILE] [--out DIR]`
 *
 * Evaluates a stack's program on Pulumi's mock runtime — no cluster, no Pulumi CLI, no network —
 * and writes every Kubernetes object it would create. See README "Try it — no cluster needed".
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../lib/config";
import { CoreStackError } from "../lib/contract";
import { ORGANIZATION, PROJECT, SECRET_PLACEHOLDER, StackPlan, evaluateStack } from "./evaluate";
import { summarize, writePlan } from "./render";
import { ReferencedStack } from "./runtime";
import { StackFileError, readStackFile } from "./stackFile";

const STACKS = ["core", "downloads"] as const;
type StackName = (typeof STACKS)[number];

const USAGE = "usage: npm run plan -- [core|downloads] [--config FILE] [--out DIR]";

export interface PlanArguments {
    readonly stacks: readonly StackName[];
    readonly configFile?: string;
    readonly outDir: string;
}

export class UsageError extends Error {}

export function parseArguments(argv: readonly string[]): PlanArguments {
    const stacks: StackName[] = [];
    let configFile: string | undefined;
    let outDir = ".plan";
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--config" || arg === "--out") {
            const value = argv[++i];
            if (value === undefined || value.startsWith("--")) {
                throw new UsageError(`${arg} needs a value\n${USAGE}`);
            }
            if (arg === "--config") {
                configFile = value;
            } else {
                outDir = value;
            }
        } else if ((STACKS as readonly string[]).includes(arg)) {
            stacks.push(arg as StackName);
        } else {
            throw new UsageError(`unknown argument "${arg}"\n${USAGE}`);
        }
    }
    if (configFile !== undefined && stacks.length !== 1) {
        throw new UsageError(`--config applies to one stack: name it (core or downloads)\n${USAGE}`);
    }
    return { stacks: stacks.length > 0 ? stacks : [...STACKS], configFile, outDir };
}

/** What a backend would return for the core stack, from a plan's outputs.json and secret-outputs.json. */
function referenceFromOutputs(outputs: Record<string, unknown>, secretOutputs: Record<string, unknown>): ReferencedStack {
    return {
        outputs: { ...outputs, ...secretOutputs },
        secretOutputNames: Object.keys(outputs).filter((name) => outputs[name] === SECRET_PLACEHOLDER),
    };
}

async function planStack(stack: StackName, configFile: string, core?: ReferencedStack): Promise<StackPlan> {
    return evaluateStack({
        stack,
        config: readStackFile(configFile),
        referencedStacks: core ? { [`${ORGANIZATION}/${PROJECT}/core`]: core, core } : undefined,
        // Like `pulumi up`, which runs the program (and the Tailscale provider) in the shell's environment.
        env: process.env,
    });
}

/** Runs the plan command; returns the process exit status. */
export async function runPlan(argv: readonly string[], log: (line: string) => void = console.log): Promise<number> {
    let args: PlanArguments;
    try {
        args = parseArguments(argv);
    } catch (error) {
        log((error as Error).message);
        return 2;
    }
    try {
        let coreOutputs: Record<string, unknown> | undefined;
        let coreSecretOutputs: Record<string, unknown> = {};
        for (const stack of args.stacks) {
            const configFile = args.configFile ?? `Pulumi.${stack}.yaml`;
            if (stack === "downloads" && coreOutputs === undefined) {
                const saved = join(args.outDir, "core", "outputs.json");
                if (existsSync(saved)) {
                    log(`Using core stack outputs from ${saved}`);
                    coreOutputs = JSON.parse(readFileSync(saved, "utf8")) as Record<string, unknown>;
                    const savedSecrets = join(args.outDir, "core", "secret-outputs.json");
                    coreSecretOutputs = existsSync(savedSecrets) ? (JSON.parse(readFileSync(savedSecrets, "utf8")) as Record<string, unknown>) : {};
                } else {
                    log(`No ${saved}: planning core first with Pulumi.core.yaml`);
                    const corePlan = await planStack("core", "Pulumi.core.yaml");
                    log(summarize(corePlan, writePlan(corePlan, args.outDir)));
                    coreOutputs = corePlan.outputs;
                    coreSecretOutputs = corePlan.secretOutputs;
                }
            }
            const plan = await planStack(stack, configFile, coreOutputs && referenceFromOutputs(coreOutputs, coreSecretOutputs));
            log(summarize(plan, writePlan(plan, args.outDir)));
            if (stack === "core") {
                coreOutputs = plan.outputs;
                coreSecretOutputs = plan.secretOutputs;
            }
        }
        return 0;
    } catch (error) {
        if (error instanceof ConfigError || error instanceof CoreStackError || error instanceof StackFileError) {
            log(error.message);
            return 1;
        }
        if (error instanceof pulumi.RunError) {
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
