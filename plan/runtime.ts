/**
 * Pulumi's mock runtime with a recorder. The only module of the plan that touches @pulumi/pulumi
 * internals, each probed rather than assumed: the mock monitor's register/read hooks and request
 * getters, the secret signature, runtime.waitForRPCs and the promise stamp's stack trace. test/sdkInternals.test.ts fails, naming
 * the internal, when an SDK upgrade changes one of them.
 */
import * as pulumi from "@pulumi/pulumi";

/** One resource the program registered, as the engine would have received it. */
export interface RecordedResource {
  readonly urn: string;
  readonly type: string;
  readonly name: string;
  /** URN of the parent resource; undefined for top-level resources. */
  readonly parent?: string;
  /** URNs this resource waits for: `dependsOn` plus the resources its inputs came from. */
  readonly dependencies: readonly string[];
  readonly custom: boolean;
  /** `retainOnDelete`: `pulumi destroy` drops the resource from the state but leaves it in place. */
  readonly retainOnDelete: boolean;
  /** `additionalSecretOutputs`: outputs the engine stores encrypted and shows as [secret]. */
  readonly additionalSecretOutputs: readonly string[];
  /** Inputs as serialized for the engine; Pulumi secrets are still wrapped (see {@link isSecretValue}). */
  readonly inputs: Record<string, unknown>;
}

/** Stack outputs handed to a `pulumi:pulumi:StackReference`, as a backend would return them. */
export interface ReferencedStack {
  readonly outputs: Record<string, unknown>;
  readonly secretOutputNames: readonly string[];
}

export interface MockRuntimeOptions {
  readonly project: string;
  readonly stack: string;
  readonly organization: string;
  /** Stacks a StackReference may read, by the name it is given. */
  readonly referencedStacks?: Readonly<Record<string, ReferencedStack>>;
}

/** Everything recorded since the runtime was installed, in registration order. */
export interface Recorder {
  readonly resources: RecordedResource[];
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getDependenciesList(): string[];
  /** Only on registrations (not reads). */
  getRetainondelete?(): boolean | undefined;
  /** Only on registrations (not reads). */
  getAdditionalsecretoutputsList?(): string[];
}

interface MockMonitorInternals {
  registerResource(request: RegisterRequest, callback: unknown): unknown;
  readResource(request: RegisterRequest, callback: unknown): unknown;
  newUrn(parent: string, type: string, name: string): string;
}

const SECRET_SIGNATURE = pulumi.runtime.specialSecretSig;
const SIGNATURE_KEY = pulumi.runtime.specialSigKey;

/** True for a Pulumi secret as it appears in serialized inputs. */
export function isSecretValue(value: unknown): value is { value: unknown } {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<string, unknown>)[SIGNATURE_KEY] === SECRET_SIGNATURE
  );
}

/**
 * Provider results the mocks cannot know: values a real provider computes. Kept small and
 * deterministic so plans are reproducible.
 */
function computedState(type: string, name: string): Record<string, unknown> {
  switch (type) {
    case "random:index/randomPassword:RandomPassword":
    case "random:index/randomString:RandomString":
      return { result: `plan-${name}-0123456789abcdef` };
    case "random:index/randomBytes:RandomBytes": {
      const bytes = Buffer.from(`plan-${name}`.padEnd(16, "-").slice(0, 16));
      return { base64: bytes.toString("base64"), hex: bytes.toString("hex") };
    }
    case "tailscale:index/oauthClient:OauthClient":
      // The client secret Tailscale returns once, at creation.
      return { key: `tskey-client-plan-${name}-0123456789abcdef`, userId: "plan-user" };
    default:
      return {};
  }
}

/** The SDK's promise wrapper: stamps every promise it makes with an id, a context and a stack trace. */
interface DebuggableInternals {
  debugPromiseLeaks: boolean;
  debuggablePromise<T>(promise: Promise<T>, context: unknown): Promise<T>;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports -- an internal module its typings do not export
const debuggable = require("@pulumi/pulumi/runtime/debuggable") as Partial<DebuggableInternals>;

/**
 * The SDK's `debuggablePromise` (@pulumi/pulumi runtime/debuggable.js) formats `new Error().stack`
 * for every promise it makes, to print only when `PULUMI_DEBUG_PROMISE_LEAKS` asks for a promise-leak
 * report. Under tsx each of those frames is looked up in a source map, which cost about a quarter of
 * a plan's CPU time (a `node --cpu-prof` run of the test suite). The plan keeps the stamp but takes
 * it with no frames, unless that report was asked for.
 */
function stampPromisesWithoutStackTraces(): void {
  const original = debuggable.debuggablePromise;
  if (!original || debuggable.debugPromiseLeaks) return;
  debuggable.debuggablePromise = <T>(promise: Promise<T>, context: unknown): Promise<T> => {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return original(promise, context);
    } finally {
      Error.stackTraceLimit = limit;
    }
  };
}

stampPromisesWithoutStackTraces();

let activeRecorder: Recorder | undefined;

/** The recorder of the most recently installed runtime: what the last evaluation registered. */
export function currentRecorder(): Recorder | undefined {
  return activeRecorder;
}

/**
 * Installs Pulumi's mock runtime for one stack and records every resource registration,
 * including the parent and dependency URNs that `Mocks.newResource` alone does not see.
 */
export function installMockRuntime(options: MockRuntimeOptions): Recorder {
  const recorder: Recorder = { resources: [] };
  activeRecorder = recorder;
  const meta = new Map<
    string,
    { urn: string; parent?: string; dependencies: string[]; retainOnDelete: boolean; additionalSecretOutputs: string[] }
  >();
  const metaKey = (type: string, name: string) => `${type}\u0000${name}`;

  pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
        const seen = meta.get(metaKey(args.type, args.name));
        recorder.resources.push({
          urn: seen?.urn ?? `${args.type}::${args.name}`,
          type: args.type,
          name: args.name,
          parent: seen?.parent,
          dependencies: seen?.dependencies ?? [],
          custom: args.custom ?? false,
          retainOnDelete: seen?.retainOnDelete ?? false,
          additionalSecretOutputs: seen?.additionalSecretOutputs ?? [],
          inputs: args.inputs,
        });
        if (args.type === "pulumi:pulumi:StackReference") {
          const referenced = options.referencedStacks?.[args.inputs.name as string];
          return {
            id: args.inputs.name as string,
            state: {
              name: args.inputs.name,
              outputs: referenced?.outputs ?? {},
              secretOutputNames: referenced?.secretOutputNames ?? [],
            },
          };
        }
        return { id: `${args.name}-id`, state: { ...args.inputs, ...computedState(args.type, args.name) } };
      },
      call(args: pulumi.runtime.MockCallArgs): pulumi.runtime.MockCallResult {
        return args.inputs;
      },
    },
    options.project,
    options.stack,
    false,
    options.organization,
  );

  const monitor = pulumi.runtime.getMonitor() as unknown as MockMonitorInternals;
  for (const method of ["registerResource", "readResource", "newUrn"] as const) {
    if (typeof monitor[method] !== "function") {
      throw new Error(
        `@pulumi/pulumi's mock monitor has no ${method} method any more; plan/runtime.ts records registrations through it`,
      );
    }
  }
  for (const method of ["registerResource", "readResource"] as const) {
    const original = monitor[method].bind(monitor);
    monitor[method] = (request: RegisterRequest, callback: unknown) => {
      const parent = request.getParent() || undefined;
      meta.set(metaKey(request.getType(), request.getName()), {
        urn: monitor.newUrn(request.getParent(), request.getType(), request.getName()),
        parent,
        dependencies: request.getDependenciesList(),
        retainOnDelete: request.getRetainondelete?.() ?? false,
        additionalSecretOutputs: request.getAdditionalsecretoutputsList?.() ?? [],
      });
      return original(request, callback);
    };
  }
  return recorder;
}

// Registrations run asynchronously after the program returns; the SDK's own drain (used by the
// real language host at exit) is internal, so it is probed and a missing one is a loud error.
const runtimeInternals = pulumi.runtime as { waitForRPCs?: () => Promise<void> };

/** Waits until every registration the program started has reached the mock monitor. */
export async function allRegistrationsSettled(): Promise<void> {
  if (!runtimeInternals.waitForRPCs) {
    throw new Error(
      "@pulumi/pulumi no longer provides runtime.waitForRPCs; the plan cannot tell when registrations finish",
    );
  }
  await runtimeInternals.waitForRPCs();
}
