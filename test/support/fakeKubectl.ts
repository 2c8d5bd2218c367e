/**
 * A fake `kubectl` executable for the verifier's transport tests: it answers `get` from objects
 * shaped like the program's plan, `exec` from captured command output (reporting a non-zero exit
 * the way kubectl does: `command terminated with exit code N`), and logs every invocation.
 */
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
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

const SCRIPT = String.raw`#!/usr/bin/env node
const fs = require("node:fs");
const scenario = JSON.parse(fs.readFileSync(process.env.FAKE_KUBECTL_SCENARIO, "utf8"));
let args = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_KUBECTL_LOG, JSON.stringify(args) + "\n");
const out = (result) => { process.stdout.write(result.stdout || ""); process.stderr.write(result.stderr || ""); process.exit(result.exitCode); };
if (scenario.unreachable) out(scenario.unreachable);
if (args[0] === "--context") args = args.slice(2);
const flag = (name) => { const i = args.indexOf(name); return i === -1 ? undefined : args[i + 1]; };
const namespace = flag("-n");
const selects = (selector, labels) => selector.split(",").every((term) => {
  if (term.startsWith("!")) return !(term.slice(1) in labels);
  const [key, value] = term.split("=");
  return value === undefined ? key in labels : labels[key] === value;
});
if (args[0] === "get") {
  const kind = args[1];
  const name = args[2] && !args[2].startsWith("-") ? args[2] : undefined;
  const selector = flag("-l");
  const items = (scenario.objects[kind] || []).filter((o) =>
    (kind === "namespace" || o.metadata.namespace === namespace) && (!name || o.metadata.name === name) && (!selector || selects(selector, o.metadata.labels || {})));
  if (name && items.length === 0) out({ stderr: "Error from server (NotFound): " + kind + " \"" + name + "\" not found\n", exitCode: 1 });
  if (flag("-o") === "name") out({ stdout: items.map((o) => kind + "/" + o.metadata.name).join("\n") + "\n", exitCode: 0 });
  out({ stdout: JSON.stringify(name ? items[0] : { apiVersion: "v1", kind: "List", items, metadata: { resourceVersion: "" } }, null, 4), exitCode: 0 });
}
if (args[0] === "exec") {
  const dash = args.indexOf("--");
  const container = flag("-c");
  const command = args.slice(dash + 1).join(" ");
  if (args.includes("-i")) fs.readFileSync(0);
  const rule = scenario.exec.find((r) => r.container === container && new RegExp(r.match).test(command));
  if (!rule) out({ stderr: "fake kubectl: no exec rule for " + container + ": " + command + "\n", exitCode: 1 });
  const code = rule.result.exitCode;
  out({ stdout: rule.result.stdout, stderr: rule.result.stderr + (code !== 0 && !rule.notRun ? "command terminated with exit code " + code + "\n" : ""), exitCode: code });
}
if (args[0] === "delete") out({ stdout: "pod \"" + args[2] + "\" deleted\n", exitCode: 0 });
out({ stderr: "fake kubectl: unsupported " + args.join(" ") + "\n", exitCode: 1 });
`;

export interface InstalledFake {
  /** Path of the fake `kubectl`. */
  readonly kubectl: string;
  /** Every invocation's argv so far. */
  calls(): string[][];
  /** Replaces the scenario the fake answers from. */
  use(cluster: FakeCluster): void;
}

/** Writes the fake into a fresh temporary directory; its scenario and log are passed through the environment. */
export function installFakeKubectl(cluster: FakeCluster): InstalledFake {
  const dir = mkdtempSync(join(tmpdir(), "fake-kubectl-"));
  const kubectl = join(dir, "kubectl");
  const scenario = join(dir, "scenario.json");
  const log = join(dir, "calls.log");
  writeFileSync(kubectl, SCRIPT);
  chmodSync(kubectl, 0o755);
  writeFileSync(log, "");
  process.env.FAKE_KUBECTL_SCENARIO = scenario;
  process.env.FAKE_KUBECTL_LOG = log;
  const use = (next: FakeCluster) => writeFileSync(scenario, JSON.stringify(next));
  use(cluster);
  return {
    kubectl,
    use,
    calls: () =>
      readFileSync(log, "utf8")
        .split("\n")
        .filter((line) => line.length > 0)
        .map((line) => JSON.parse(line) as string[]),
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
