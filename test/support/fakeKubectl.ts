/**
 * A fake `kubectl` executable for the verifier's transport tests: it answers `get` from objects
 * shaped like the program's plan, `exec` from captured command output (reporting a non-zero exit
 * the way kubectl does: `command terminated with exit code N`), and logs every invocation.
 *
 * The executable is a short bash script that hands its argv and stdin to a server in the test's
 * process and replays the answer (stdout, stderr, exit status): the verifier still spawns a real
 * process per kubectl call and reads its output as it would kubectl's, but a call costs a bash and
 * a few base64 processes instead of a Node.js start (the verifier's tests make about 80 calls). It
 * assumes Debian's bash (with `/dev/tcp`) and GNU coreutils' `base64`, as CI's machine has.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { AddressInfo, Server, Socket, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Manifest, StackPlan } from "../../plan/evaluate";
import type { ExecResult } from "../../verify/transport";

/** An answer to `kubectl exec` in `container` when the command line matches `match` (a RegExp source). */
export interface ExecRule {
  readonly container: string;
  readonly match: string;
  readonly result: Pick<ExecResult, "stdout" | "stderr" | "exitCode">;
  /** kubectl itself failed (the kubelet refused the exec): no "command terminated" line. */
  readonly notRun?: boolean;
}

export interface FakeCluster {
  /** Objects by kind (`pods`, `networkpolicies`, `configmap`, `secret`, `namespace`). */
  readonly objects: Record<string, Record<string, unknown>[]>;
  readonly exec: ExecRule[];
  /** When set, every call fails with this captured kubectl result (no API server). */
  readonly unreachable?: Pick<ExecResult, "stdout" | "stderr" | "exitCode">;
}

type Answer = { readonly stdout?: string; readonly stderr?: string; readonly exitCode: number | null };

/**
 * The executable: one line of its NUL-terminated arguments and one of its whole stdin to the
 * server (each base64, so any byte survives), then three lines back: the exit status, stdout and
 * stderr (base64). bash's `read` takes a line from a socket byte by byte, so nothing is lost.
 */
const script = (port: number) => `#!/usr/bin/env bash
set -eu
exec 3<>/dev/tcp/127.0.0.1/${port}
{ printf '%s\\0' "$@" | base64 -w0; echo; base64 -w0; echo; } >&3
# When the test's server closed without an answer: exit status 125, unlike the fake's own refusals (1).
lost() { echo "fake kubectl: no answer from the test's server" >&2; exit 125; }
read -r code <&3 || lost
read -r out <&3 || lost
read -r err <&3 || lost
base64 -d <<<"$out"
base64 -d <<<"$err" >&2
exit "$code"
`;

/** `-l` selector terms as kubectl's fake supports them: `key`, `!key`, `key=value`, comma-joined. */
function selects(selector: string, labels: Record<string, string>): boolean {
  return selector.split(",").every((term) => {
    if (term.startsWith("!")) return !(term.slice(1) in labels);
    const [key, value] = term.split("=");
    return value === undefined ? key in labels : labels[key] === value;
  });
}

/** What kubectl prints and exits with for `argv` on `cluster`. */
function answer(cluster: FakeCluster, argv: string[]): Answer {
  if (cluster.unreachable) return cluster.unreachable;
  const args = argv[0] === "--context" ? argv.slice(2) : argv;
  const flag = (name: string) => {
    const i = args.indexOf(name);
    return i === -1 ? undefined : args[i + 1];
  };
  if (args[0] === "get") {
    const kind = args[1];
    const name = args[2] && !args[2].startsWith("-") ? args[2] : undefined;
    const namespace = flag("-n");
    const selector = flag("-l");
    const items = (cluster.objects[kind] ?? []).filter((object) => {
      const metadata = object.metadata as { name: string; namespace?: string; labels?: Record<string, string> };
      return (
        (kind === "namespace" || metadata.namespace === namespace) &&
        (!name || metadata.name === name) &&
        (!selector || selects(selector, metadata.labels ?? {}))
      );
    });
    if (name && items.length === 0) {
      return { stderr: `Error from server (NotFound): ${kind} "${name}" not found\n`, exitCode: 1 };
    }
    if (flag("-o") === "name") {
      return {
        stdout: items.map((o) => `${kind}/${(o.metadata as { name: string }).name}`).join("\n") + "\n",
        exitCode: 0,
      };
    }
    const list = { apiVersion: "v1", kind: "List", items, metadata: { resourceVersion: "" } };
    return { stdout: JSON.stringify(name ? items[0] : list, null, 4), exitCode: 0 };
  }
  if (args[0] === "exec") {
    const container = flag("-c");
    const command = args.slice(args.indexOf("--") + 1).join(" ");
    const rule = cluster.exec.find((r) => r.container === container && new RegExp(r.match).test(command));
    if (!rule) return { stderr: `fake kubectl: no exec rule for ${container}: ${command}\n`, exitCode: 1 };
    const code = rule.result.exitCode;
    const terminated = code !== 0 && !rule.notRun ? `command terminated with exit code ${code}\n` : "";
    return { stdout: rule.result.stdout, stderr: rule.result.stderr + terminated, exitCode: code };
  }
  if (args[0] === "delete") return { stdout: `pod "${args[2]}" deleted\n`, exitCode: 0 };
  return { stderr: `fake kubectl: unsupported ${args.join(" ")}\n`, exitCode: 1 };
}

/** One call of the fake: its argv and what it was given on stdin. */
export interface FakeKubectlCall {
  readonly argv: string[];
  readonly stdin: string;
}

export interface InstalledFake {
  /** Path of the fake `kubectl`. */
  readonly kubectl: string;
  /** Every invocation's argv so far. */
  calls(): string[][];
  /** Every invocation so far, with its stdin. */
  callsWithInput(): FakeKubectlCall[];
  /** Replaces the scenario the fake answers from. */
  use(cluster: FakeCluster): void;
  /** Stops answering and removes the executable. */
  close(): Promise<void>;
}

const base64 = (text: string) => Buffer.from(text, "base64").toString("utf8");

/** Serves one call: reads the two request lines, answers with three. */
function serve(socket: Socket, respond: (call: FakeKubectlCall) => Answer): void {
  let received = "";
  let answered = false;
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    received += chunk;
    const lines = received.split("\n");
    if (answered || lines.length < 3) return;
    answered = true;
    const argv = base64(lines[0]).split("\0").slice(0, -1);
    let result: Answer;
    try {
      result = respond({ argv, stdin: base64(lines[1]) });
    } catch (error) {
      // A scenario the fake cannot read (a bad exec rule pattern, an object without metadata) is
      // the test's mistake: said on stderr, as kubectl's own failure, instead of a hung call.
      result = { stderr: `fake kubectl: ${(error as Error).message}\n`, exitCode: 1 };
    }
    // A process always exits with a status: a scenario without one is the test's mistake, said so.
    if (result.exitCode === null) {
      result = { stderr: "fake kubectl: the scenario's result has no exit code\n", exitCode: 1 };
    }
    const encode = (text = "") => Buffer.from(text).toString("base64");
    socket.end(`${result.exitCode}\n${encode(result.stdout)}\n${encode(result.stderr)}\n`);
  });
  socket.on("error", () => undefined);
}

/** Writes the fake into a fresh temporary directory and starts the server it asks. */
export async function installFakeKubectl(cluster: FakeCluster): Promise<InstalledFake> {
  let scenario = cluster;
  const log: FakeKubectlCall[] = [];
  const server: Server = createServer((socket) =>
    serve(socket, (call) => {
      log.push(call);
      return answer(scenario, call.argv);
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  // A test that forgets close() must not keep mocha's worker alive.
  server.unref();
  const { port } = server.address() as AddressInfo;
  const directory = mkdtempSync(join(tmpdir(), "fake-kubectl-"));
  const kubectl = join(directory, "kubectl");
  writeFileSync(kubectl, script(port));
  chmodSync(kubectl, 0o755);
  return {
    kubectl,
    use: (next) => {
      scenario = next;
    },
    calls: () => log.map((call) => call.argv),
    callsWithInput: () => [...log],
    close: () =>
      new Promise((resolve) =>
        server.close(() => {
          rmSync(directory, { recursive: true, force: true });
          resolve();
        }),
      ),
  };
}

function ready(spec: Record<string, unknown>): Record<string, unknown> {
  const containers = (spec.containers as { name: string }[]) ?? [];
  return {
    phase: "Running",
    containerStatuses: containers.map((container) => ({ name: container.name, ready: true, restartCount: 0 })),
  };
}

/**
 * The pods the API server would run for a plan's workloads (one per StatefulSet or Deployment
 * replica, with the labels their controllers add), running and ready.
 */
export function podsOf(plan: StackPlan): Record<string, unknown>[] {
  return plan.manifests
    .filter((manifest) => manifest.kind === "StatefulSet" || manifest.kind === "Deployment")
    .map((workload: Manifest) => {
      const spec = workload.spec as {
        template: {
          metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
          spec: Record<string, unknown>;
        };
      };
      const name =
        workload.kind === "StatefulSet" ? `${workload.metadata.name}-0` : `${workload.metadata.name}-5d8f7c9b4-x2k7q`;
      const controllerLabels =
        workload.kind === "StatefulSet"
          ? {
              "statefulset.kubernetes.io/pod-name": name,
              "controller-revision-hash": `${workload.metadata.name}-6c4b9f8d7`,
            }
          : { "pod-template-hash": "5d8f7c9b4" };
      return {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name,
          namespace: workload.metadata.namespace,
          uid: `uid-${name}`,
          creationTimestamp: "2026-11-30T08:00:00Z",
          labels: { ...spec.template.metadata.labels, ...controllerLabels },
          annotations: spec.template.metadata.annotations ?? {},
        },
        spec: spec.template.spec,
        status: ready(spec.template.spec),
      };
    });
}

/** A plan's objects of `kind` as the API server returns them (`kubectl get KIND -o json` items). */
export function objectsOf(plan: StackPlan, kind: string): Record<string, unknown>[] {
  return plan.manifests
    .filter((manifest) => manifest.kind === kind)
    .map((manifest) => ({ ...manifest, metadata: { ...manifest.metadata, uid: `uid-${manifest.metadata.name}` } }));
}
