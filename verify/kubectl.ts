/**
 * The `kubectl` transport: probes run with `kubectl exec` in the user's current context (or
 * `--context`), and the drill and the kill-switch check read and delete pods through `kubectl`.
 * Nothing here talks to the API server directly: what the user's kubectl can do, the verifier can.
 */
import { ROUTED_LABEL } from "../lib/vpn/client";
import { runProcess } from "./process";
import type {
  ExecOptions,
  ExecResult,
  GatewayControl,
  GatewayState,
  Inventory,
  NetworkPolicySummary,
  RoutedPod,
  Target,
  Transport,
  TransportFailure,
} from "./transport";

/** Containers of a pod: by name, or the pod a label selector picks at each exec (the gateway's pod changes during the drill). */
export interface KubeTarget extends Target {
  readonly namespace: string;
  readonly pod: { readonly name: string } | { readonly selector: string };
  /**
   * Tried in order: a command that cannot run in one (container restarting, no such tool) runs
   * in the next. They share the pod's network namespace and resolv.conf, so any of them sees
   * what the pod sees.
   */
  readonly containers: readonly string[];
}

/** Every routed pod carries this label. */
export const ROUTED_SELECTOR = `${ROUTED_LABEL}=true`;

/** The parts of a Pod in `kubectl get pods -o json` that the verifier reads. */
export interface PodJson {
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly uid?: string;
    readonly labels?: Record<string, string>;
    readonly creationTimestamp?: string;
    readonly deletionTimestamp?: string;
  };
  readonly spec?: { readonly containers?: readonly { readonly name: string }[] };
  readonly status?: {
    readonly phase?: string;
    readonly containerStatuses?: readonly { readonly name: string; readonly ready?: boolean }[];
  };
}

interface ListJson<T> {
  readonly items: readonly T[];
}

/** Thrown when kubectl cannot list or read what the verifier needs; the CLI reports it as "could not check". */
export class KubectlError extends Error {}

/** klog's line header (`E1201 11:02:21.717512   16524 file.go:265] ...`), which kubectl prints before its own message. */
const KLOG_LINE = /^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [^\]]+\] /;

/** kubectl's own message in its stderr: the first line that is not a klog line (else the last klog line). */
export function kubectlMessage(stderr: string): string | undefined {
  const lines = stderr
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  return lines.find((line) => !KLOG_LINE.test(line)) ?? lines[lines.length - 1];
}

/**
 * How kubectl says the command in the container did not run, as opposed to ran and failed.
 * kubectl prints `command terminated with exit code N` and exits N when the command ran
 * (k8s.io/kubectl pkg/cmd/util/helpers.go, client-go util/exec CodeExitError); the container
 * runtime's "executable file not found" (runc, via containerd or dockershim) means no such tool;
 * any other non-zero exit is kubectl's own failure (no pod, no API server, no permission).
 */
export function kubectlExecFailure(stderr: string, exitCode: number | null): TransportFailure | undefined {
  if (exitCode === 0 || exitCode === null) {
    return undefined;
  }
  const lines = stderr
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  const missing = lines.find((line) =>
    /executable file not found|exec: ".*": stat .*: no such file or directory/.test(line),
  );
  if (missing) {
    return { kind: "missing-command", message: missing.replace(/^.*(exec: ")/, "$1") };
  }
  if (lines.some((line) => line === `command terminated with exit code ${exitCode}`)) {
    return undefined;
  }
  return { kind: "unreachable", message: kubectlMessage(stderr) ?? `kubectl exited with ${exitCode}` };
}

/** A pod that is running, not being deleted, with every container ready. */
export function podReady(pod: PodJson): boolean {
  const statuses = pod.status?.containerStatuses ?? [];
  return (
    pod.metadata.deletionTimestamp === undefined &&
    pod.status?.phase === "Running" &&
    statuses.length > 0 &&
    statuses.every((status) => status.ready === true)
  );
}

/** The pod a selector target means: a running pod not being deleted, ready ones and then the newest first. */
export function pickPod(pods: readonly PodJson[]): PodJson | undefined {
  const live = pods.filter((pod) => pod.metadata.deletionTimestamp === undefined && pod.status?.phase === "Running");
  const rank = (pod: PodJson) => [podReady(pod) ? 1 : 0, pod.metadata.creationTimestamp ?? ""] as const;
  return [...live].sort((a, b) => {
    const [readyA, createdA] = rank(a);
    const [readyB, createdB] = rank(b);
    return readyB - readyA || createdB.localeCompare(createdA);
  })[0];
}

export interface KubectlOptions {
  /** The kubectl executable. */
  readonly kubectl?: string;
  /** `--context`; the current context when absent. */
  readonly context?: string;
  /** Where the gateway pod is: its namespace and a selector for it (the drill deletes and watches it). */
  readonly gateway: { readonly namespace: string; readonly selector: string };
  /** Time limit of a kubectl call that is not an exec. */
  readonly requestTimeoutMs?: number;
}

export class KubectlTransport implements Transport<KubeTarget>, GatewayControl, Inventory {
  private readonly kubectl: string;
  private readonly requestTimeoutMs: number;

  constructor(private readonly options: KubectlOptions) {
    this.kubectl = options.kubectl ?? "kubectl";
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  private argv(args: readonly string[]): string[] {
    return [this.kubectl, ...(this.options.context ? ["--context", this.options.context] : []), ...args];
  }

  /** Runs a kubectl command that must succeed; returns its stdout. */
  private async run(args: readonly string[]): Promise<string> {
    const result = await runProcess(this.argv(args), { timeoutMs: this.requestTimeoutMs });
    if (result.spawnError) {
      throw new KubectlError(`cannot run ${this.kubectl}: ${result.spawnError}`);
    }
    if (result.timedOut) {
      throw new KubectlError(`kubectl ${args.join(" ")}: no answer within ${this.requestTimeoutMs / 1000} s`);
    }
    if (result.exitCode !== 0) {
      const message = kubectlMessage(result.stderr) ?? `exit status ${result.exitCode}`;
      throw new KubectlError(`kubectl ${args.join(" ")}: ${message}`);
    }
    return result.stdout;
  }

  private async getJson<T>(args: readonly string[]): Promise<T> {
    const text = await this.run([...args, "-o", "json"]);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new KubectlError(`kubectl ${args.join(" ")}: output is not JSON`);
    }
  }

  /** Fails with kubectl's own message when the cluster or `namespace` cannot be reached. */
  async checkAccess(namespace: string): Promise<void> {
    await this.run(["get", "namespace", namespace, "-o", "name"]);
  }

  async pods(namespace: string, selector: string): Promise<PodJson[]> {
    return [...(await this.getJson<ListJson<PodJson>>(["get", "pods", "-n", namespace, "-l", selector])).items];
  }

  /** One key of a Secret, decoded. Never logged. */
  async secretValue(namespace: string, name: string, key: string): Promise<string> {
    const secret = await this.getJson<{ data?: Record<string, string> }>(["get", "secret", name, "-n", namespace]);
    const value = secret.data?.[key];
    if (value === undefined) {
      throw new KubectlError(`secret ${namespace}/${name} has no key ${key}`);
    }
    return Buffer.from(value, "base64").toString("utf8");
  }

  /** One key of a ConfigMap. */
  async configMapValue(namespace: string, name: string, key: string): Promise<string> {
    const configMap = await this.getJson<{ data?: Record<string, string> }>([
      "get",
      "configmap",
      name,
      "-n",
      namespace,
    ]);
    const value = configMap.data?.[key];
    if (value === undefined) {
      throw new KubectlError(`configmap ${namespace}/${name} has no key ${key}`);
    }
    return value;
  }

  async exec(target: KubeTarget, argv: readonly string[], options: ExecOptions): Promise<ExecResult> {
    let pod: string;
    if ("name" in target.pod) {
      pod = target.pod.name;
    } else {
      let picked: PodJson | undefined;
      try {
        picked = pickPod(await this.pods(target.namespace, target.pod.selector));
      } catch (error) {
        return notRun("unreachable", (error as Error).message);
      }
      if (!picked) {
        return notRun("unreachable", `no running pod in ${target.namespace} matches ${target.pod.selector}`);
      }
      pod = picked.metadata.name;
    }
    let last: ExecResult = notRun("unreachable", `${target.name}: no container to run in`);
    for (const container of target.containers) {
      last = await this.execIn(target.namespace, pod, container, argv, options);
      if (!last.failure) {
        return last;
      }
    }
    return last;
  }

  private async execIn(
    namespace: string,
    pod: string,
    container: string,
    argv: readonly string[],
    options: ExecOptions,
  ): Promise<ExecResult> {
    const stdin = options.stdin !== undefined ? ["-i"] : [];
    const result = await runProcess(
      this.argv(["exec", ...stdin, "-n", namespace, pod, "-c", container, "--", ...argv]),
      options,
    );
    if (result.spawnError) {
      return {
        ...result,
        failure: { kind: "unreachable", message: `cannot run ${this.kubectl}: ${result.spawnError}` },
      };
    }
    const failure = kubectlExecFailure(result.stderr, result.exitCode);
    return failure ? { ...result, failure } : result;
  }

  async deleteGateway(): Promise<string> {
    const { namespace, selector } = this.options.gateway;
    const pod = pickPod(await this.pods(namespace, selector));
    if (!pod) {
      throw new KubectlError(`no running gateway pod in ${namespace} matches ${selector}`);
    }
    // --wait=false: the drill starts its clock when the deletion is accepted, not when the pod is gone.
    await this.run(["delete", "pod", pod.metadata.name, "-n", namespace, "--wait=false"]);
    return pod.metadata.uid ?? pod.metadata.name;
  }

  async gatewayState(): Promise<GatewayState | undefined> {
    const { namespace, selector } = this.options.gateway;
    const pod = pickPod(await this.pods(namespace, selector));
    return pod ? { id: pod.metadata.uid ?? pod.metadata.name, ready: podReady(pod) } : undefined;
  }

  async routedPods(namespace: string): Promise<RoutedPod[]> {
    return (await this.pods(namespace, ROUTED_SELECTOR))
      .filter((pod) => pod.metadata.deletionTimestamp === undefined)
      .map((pod) => ({
        name: `${pod.metadata.namespace}/${pod.metadata.name}`,
        namespace: pod.metadata.namespace,
        labels: pod.metadata.labels ?? {},
        containers: (pod.spec?.containers ?? []).map((container) => container.name),
      }));
  }

  async networkPolicies(namespace: string): Promise<NetworkPolicySummary[]> {
    const list = await this.getJson<
      ListJson<{ metadata: { name: string; namespace: string }; spec: Partial<NetworkPolicySummary> }>
    >(["get", "networkpolicies", "-n", namespace]);
    return list.items.map(({ metadata, spec }) => ({
      name: metadata.name,
      namespace: metadata.namespace,
      podSelector: spec.podSelector ?? {},
      // The API server defaults policyTypes to Ingress, plus Egress when there are egress rules.
      policyTypes: spec.policyTypes ?? ["Ingress", ...(spec.egress ? ["Egress"] : [])],
      egress: spec.egress ?? [],
    }));
  }
}

function notRun(kind: TransportFailure["kind"], message: string): ExecResult {
  return { stdout: "", stderr: "", exitCode: null, timedOut: false, failure: { kind, message } };
}
