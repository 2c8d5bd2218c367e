import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, ConfigSource, StackConfig, loadConfig } from "../../lib/config";
import {
  EvaluateOptions,
  ORGANIZATION,
  PROJECT,
  PlanConfig,
  StackPlan,
  evaluateStack,
  Manifest,
} from "../../plan/evaluate";
import { RecordedResource, ReferencedStack, currentRecorder } from "../../plan/runtime";
import { readStackFile } from "../../plan/stackFile";
import { MUTATION_RUN, activeMutant } from "./mutationCoverage";

/** The shipped example configurations: what a newcomer plans first. */
export const CORE_EXAMPLE = readStackFile("Pulumi.core.yaml");
export const DOWNLOADS_EXAMPLE = readStackFile("Pulumi.downloads.yaml");

/**
 * The example's VPN settings for a provider that forwards no port: the example forwards one
 * (ProtonVPN, `charmarr:vpn.portForwarding`); switch it off before switching to such a provider.
 */
export const WITHOUT_PORT_FORWARDING: ConfigChanges = { "charmarr:vpn.portForwarding": undefined };

/** `undefined` removes the key, like `pulumi config rm --path`. */
export type ConfigChanges = Readonly<Record<string, unknown>>;

/**
 * Applies changes the way `pulumi config set --path` would: `charmarr:vpn.provider` edits a field
 * inside the `charmarr:vpn` object, `charmarr:vpnUser` a whole key. Keys listed in `secrets` are
 * marked as Pulumi secrets.
 */
export function withConfig(base: PlanConfig, changes: ConfigChanges = {}, secrets: readonly string[] = []): PlanConfig {
  const values: Record<string, string> = { ...base.values };
  const secretKeys = new Set([...base.secretKeys, ...secrets]);
  for (const [path, value] of Object.entries(changes)) {
    const dot = path.indexOf(".");
    if (dot === -1) {
      if (value === undefined) {
        delete values[path];
      } else {
        values[path] = typeof value === "string" ? value : JSON.stringify(value);
      }
      continue;
    }
    const key = path.slice(0, dot);
    const object = JSON.parse(values[key] ?? "{}") as Record<string, unknown>;
    const fields = path.slice(dot + 1).split(".");
    let target = object;
    for (const field of fields.slice(0, -1)) {
      target[field] = (target[field] as Record<string, unknown> | undefined) ?? {};
      target = target[field] as Record<string, unknown>;
    }
    const last = fields[fields.length - 1];
    if (value === undefined) {
      delete target[last];
    } else {
      target[last] = value;
    }
    values[key] = JSON.stringify(object);
  }
  return { values, secretKeys: [...secretKeys] };
}

/** JSON with object keys sorted, so equal configurations give equal cache keys. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === "object" && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}

/** Freezes a plan all the way down: a shared plan must not be changed by the test that reads it. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) {
      deepFreeze(inner);
    }
  }
  return value;
}

interface CachedPlan {
  readonly plan: Promise<StackPlan>;
  /** What the program logged with `pulumi.log.warn` while this plan was made. */
  readonly warnings: string[];
  /** Every resource the evaluation registered, also when it was refused. */
  readonly registered: RecordedResource[];
}

const planCache = new Map<string, CachedPlan>();
let planCacheMutant: string | undefined;

/**
 * The plans a call may reuse. Stryker's mutation run (`npm run mutate`) keeps one process, switches
 * a mutant on between runs of the tests, and runs each mutant only with the tests that executed its
 * code in its first, unmutated run. There plans are shared within one mutant's run only, and not
 * at all in that first run, where a shared plan would credit its code to the first test to make it.
 */
function reusablePlans(): Map<string, CachedPlan> | undefined {
  if (!MUTATION_RUN) {
    return planCache;
  }
  const mutant = activeMutant();
  if (mutant === undefined) {
    return undefined;
  }
  if (mutant !== planCacheMutant) {
    planCache.clear();
    planCacheMutant = mutant;
  }
  return planCache;
}
/** Evaluations share Pulumi's process-global mock runtime, so they run one at a time. */
let evaluationQueue: Promise<unknown> = Promise.resolve();
let lastHandedOut: CachedPlan | undefined;

/**
 * Plans a stack once per configuration and test process: every later call with an equal
 * configuration (stack, config, referenced stacks, environment) gets the same frozen plan, or the
 * same refusal. Warnings the program logged are replayed through `pulumi.log.warn` on every call,
 * so {@link warningsWhile} sees them as if the plan had run again. Use this (or planCore /
 * planDownloads) instead of calling evaluateStack directly. A mutation run shares less
 * ({@link reusablePlans}).
 */
export function planStack(options: EvaluateOptions): Promise<StackPlan> {
  const key = canonicalJson([
    options.stack,
    options.config.values,
    [...options.config.secretKeys].sort(),
    options.referencedStacks ?? {},
    options.env ?? {},
    options.cluster ?? null,
  ]);
  const reusable = reusablePlans();
  const cached = reusable?.get(key);
  if (cached) {
    const handOut = () => {
      lastHandedOut = cached;
      for (const warning of cached.warnings) {
        void pulumi.log.warn(warning);
      }
    };
    return cached.plan.then(
      (plan) => {
        handOut();
        return plan;
      },
      (error: unknown) => {
        handOut();
        throw error;
      },
    );
  }
  const warnings: string[] = [];
  const registered: RecordedResource[] = [];
  const plan = evaluationQueue.then(async () => {
    const forward = pulumi.log.warn;
    pulumi.log.warn = (message, ...rest) => {
      warnings.push(message);
      return forward(message, ...rest);
    };
    try {
      return deepFreeze(await evaluateStack(options));
    } finally {
      pulumi.log.warn = forward;
      registered.push(...(currentRecorder()?.resources ?? []));
      deepFreeze(registered);
      lastHandedOut = entry;
    }
  });
  const entry: CachedPlan = { plan, warnings, registered };
  evaluationQueue = plan.catch(() => undefined);
  reusable?.set(key, entry);
  return plan;
}

/**
 * The resources registered by the evaluation behind the plan (or refusal) planStack handed out
 * last: what a real `pulumi up` of that configuration would have started creating.
 */
export function resourcesOfLastPlan(): readonly RecordedResource[] {
  assert.ok(lastHandedOut, "no plan has been made yet");
  return lastHandedOut.registered;
}

export async function planCore(changes: ConfigChanges = {}, secrets: readonly string[] = []): Promise<StackPlan> {
  return planStack({ stack: "core", config: withConfig(CORE_EXAMPLE, changes, secrets) });
}

export function referenceTo(plan: StackPlan): ReferencedStack {
  return { outputs: { ...plan.outputs, ...plan.secretOutputs }, secretOutputNames: plan.secretOutputNames };
}

/** Plans core (with `coreChanges`), then downloads against core's outputs, as a deployment would. */
export async function planDownloads(
  changes: ConfigChanges = {},
  coreChanges: ConfigChanges = {},
  secrets: readonly string[] = [],
  coreSecrets: readonly string[] = [],
): Promise<StackPlan> {
  const core = await planCore(coreChanges, coreSecrets);
  return planStack({
    stack: "downloads",
    config: withConfig(DOWNLOADS_EXAMPLE, changes, secrets),
    referencedStacks: { [`${ORGANIZATION}/${PROJECT}/core`]: referenceTo(core) },
  });
}

/** Asserts that planning fails with a ConfigError whose message contains every fragment. */
export async function assertConfigError(plan: Promise<unknown>, ...fragments: string[]): Promise<ConfigError> {
  try {
    await plan;
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got: ${String(error)}`);
    for (const fragment of fragments) {
      assert.ok(error.message.includes(fragment), `message lacks ${JSON.stringify(fragment)}:\n${error.message}`);
    }
    return error;
  }
  assert.fail("expected the plan to be refused with a ConfigError, but it succeeded");
}

/** The manifests of a kind (and name, when given). */
export function manifestsOf(plan: StackPlan, kind: string, name?: string): Manifest[] {
  return plan.manifests.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
}

export function manifestOf(plan: StackPlan, kind: string, name: string): Manifest {
  const found = manifestsOf(plan, kind, name);
  assert.equal(found.length, 1, `expected one ${kind} named ${name}, found ${found.length}`);
  return found[0];
}

/** The warnings the program logs (`pulumi.log.warn`, shown at every preview and up) while `run` runs. */
export async function warningsWhile(run: () => Promise<unknown>): Promise<string[]> {
  const warnings: string[] = [];
  const original = pulumi.log.warn;
  pulumi.log.warn = (message: string) => {
    warnings.push(message);
    return Promise.resolve();
  };
  try {
    await run();
  } finally {
    pulumi.log.warn = original;
  }
  return warnings;
}

/**
 * The order `pulumi destroy` deletes the plan's resources in: a resource goes only once nothing that
 * depends on it is left (its dependents, and its children, whose parent it is). Resources that could
 * go at the same time keep their registration order. Throws on a dependency cycle.
 */
export function deletionOrder(plan: StackPlan): string[] {
  const waitingOn = new Map(plan.resources.map((r) => [r.urn, new Set<string>()]));
  for (const resource of plan.resources) {
    for (const prerequisite of [...resource.dependencies, ...(resource.parent ? [resource.parent] : [])]) {
      waitingOn.get(prerequisite)?.add(resource.urn);
    }
  }
  const order: string[] = [];
  const left = new Set(plan.resources.map((r) => r.urn));
  while (left.size > 0) {
    const deletable = [...left].filter((urn) =>
      [...(waitingOn.get(urn) ?? [])].every((dependent) => !left.has(dependent)),
    );
    assert.ok(deletable.length > 0, `dependency cycle among ${[...left].join(", ")}`);
    for (const urn of deletable) {
      order.push(urn);
      left.delete(urn);
    }
  }
  return order;
}

/** What `loadConfig` reads for a stack holding `config`, its secret keys marked as Pulumi secrets. */
export function configSource(stack: string, config: PlanConfig): ConfigSource {
  return {
    stack,
    project: PROJECT,
    organization: ORGANIZATION,
    values: config.values,
    isSecret: (key) => config.secretKeys.includes(key),
  };
}

/** The core stack's settings as the program loads them from the shipped example with `changes`, without planning. */
export function coreConfig(changes: ConfigChanges = {}): Extract<StackConfig, { role: "core" }> {
  const config = withConfig(CORE_EXAMPLE, changes);
  const loaded = loadConfig({
    stack: "core",
    project: "charmarr",
    organization: "organization",
    values: config.values,
    isSecret: () => true,
  });
  assert.equal(loaded.role, "core");
  return loaded as Extract<StackConfig, { role: "core" }>;
}
