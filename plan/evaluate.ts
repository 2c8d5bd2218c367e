import * as pulumi from "@pulumi/pulumi";
import { runCharmarr } from "../lib/program";
import { ClusterInventory, declaredInventory } from "../lib/platform/preflight";
import {
  RecordedResource,
  ReferencedStack,
  allRegistrationsSettled,
  installMockRuntime,
  isSecretValue,
} from "./runtime";

export const PROJECT = "charmarr";
export const ORGANIZATION = "organization";
export const SECRET_PLACEHOLDER = "[secret]";

/** Raw stack configuration as the CLI hands it to a program. */
export interface PlanConfig {
  /** Full keys (`charmarr:cluster`) to strings; objects and lists as JSON. */
  readonly values: Readonly<Record<string, string>>;
  /** Keys the CLI would hold as secrets. */
  readonly secretKeys: readonly string[];
}

/** A Kubernetes object exactly as it would be sent to the cluster, secrets redacted. */
export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { name?: string; namespace?: string; [key: string]: unknown };
  readonly [field: string]: unknown;
}

export interface StackPlan {
  readonly stack: string;
  /** Every registered resource, inputs redacted. */
  readonly resources: readonly RecordedResource[];
  /** Every Kubernetes object, in registration order. */
  readonly manifests: readonly Manifest[];
  /** Stack outputs; secret ones replaced by {@link SECRET_PLACEHOLDER}. */
  readonly outputs: Record<string, unknown>;
  readonly secretOutputNames: readonly string[];
  /**
   * The secret outputs' plan values, for a plan of the stack that references this one. A plan runs
   * no provider: generated keys are the mock runtime's stand-ins, never real credentials.
   */
  readonly secretOutputs: Record<string, unknown>;
  /** Inputs with secrets still in place, for tests that check where a secret goes. */
  readonly rawResources: readonly RecordedResource[];
}

export interface EvaluateOptions {
  readonly stack: string;
  readonly config: PlanConfig;
  /** Stacks the program may read through a StackReference, by name. */
  readonly referencedStacks?: Readonly<Record<string, ReferencedStack>>;
  /**
   * The environment the program sees (it reads the Tailscale provider's credential variables from
   * it). None unless given, so the caller's own variables never change a plan.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * The cluster the core stack's preflight finds; unless given, the one its configuration
   * declares (every add-on it does not install is there, nothing it installs is).
   */
  readonly cluster?: ClusterInventory;
}

/**
 * Runs the program for one stack on Pulumi's mock runtime: no engine, no providers, no cluster.
 * Rejects with the program's own error (a ConfigError for bad configuration).
 */
export async function evaluateStack(options: EvaluateOptions): Promise<StackPlan> {
  const recorder = installMockRuntime({
    project: PROJECT,
    stack: options.stack,
    organization: ORGANIZATION,
    referencedStacks: options.referencedStacks,
  });
  pulumi.runtime.setAllConfig({ ...options.config.values }, [...options.config.secretKeys]);

  const exported = await runCharmarr({
    env: options.env ?? {},
    readCluster: (_connection, platform) =>
      Promise.resolve({ reachable: true, inventory: options.cluster ?? declaredInventory(platform) }),
  });
  const outputs: Record<string, unknown> = {};
  const secretOutputNames: string[] = [];
  const secretOutputs: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(exported)) {
    const output = pulumi.output(value);
    const resolved = await (output as unknown as { promise(): Promise<unknown> }).promise();
    if (resolved === undefined) {
      continue;
    }
    if (await pulumi.isSecret(output)) {
      secretOutputNames.push(name);
      outputs[name] = SECRET_PLACEHOLDER;
      secretOutputs[name] = resolved;
    } else {
      outputs[name] = resolved;
    }
  }
  await allRegistrationsSettled();

  const rawResources = [...recorder.resources];
  const resources = rawResources.map((resource) => ({
    ...resource,
    inputs: redact(resource.inputs) as Record<string, unknown>,
  }));
  return {
    stack: options.stack,
    resources,
    manifests: rawResources.flatMap((resource) => manifestOf(resource)),
    outputs,
    secretOutputNames,
    secretOutputs,
    rawResources,
  };
}

/** Replaces every Pulumi secret inside a value with {@link SECRET_PLACEHOLDER}. */
export function redact(value: unknown): unknown {
  if (isSecretValue(value)) {
    return SECRET_PLACEHOLDER;
  }
  if (Array.isArray(value)) {
    return value.map(redact);
  }
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, redact(inner)]));
  }
  return value;
}

/** The Kubernetes object a resource sends, if it is one; Secret data is always redacted. */
function manifestOf(resource: RecordedResource): Manifest[] {
  const { inputs } = resource;
  // A `…Patch` resource is a partial object merged by server-side apply, not a whole manifest.
  if (
    !resource.custom ||
    !resource.type.startsWith("kubernetes:") ||
    resource.type.endsWith("Patch") ||
    typeof inputs.kind !== "string" ||
    typeof inputs.apiVersion !== "string"
  ) {
    return [];
  }
  const manifest = { ...inputs } as Record<string, unknown>;
  if (inputs.kind === "Secret") {
    for (const field of ["data", "stringData"]) {
      // @pulumi/kubernetes wraps a Secret's whole data/stringData in a secret: keep its keys.
      const wrapped = manifest[field];
      const data = isSecretValue(wrapped) ? wrapped.value : wrapped;
      if (data && typeof data === "object") {
        manifest[field] = Object.fromEntries(Object.keys(data).map((key) => [key, SECRET_PLACEHOLDER]));
      }
    }
  }
  return [redact(manifest) as Manifest];
}
