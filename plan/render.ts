import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { StackPlan } from "./evaluate";

/**
 * Writes `manifests.yaml`, `resources.json`, `outputs.json` and `secret-outputs.json` (the plan's
 * stand-in values of secret outputs, which a plan of the downloads stack reads) under `<dir>/<stack>/`.
 */
export function writePlan(plan: StackPlan, dir: string): string {
  const stackDir = join(dir, plan.stack);
  mkdirSync(stackDir, { recursive: true });
  // YAML 1.1 quoting, as kubectl reads it: a string such as gluetun's `DNS_SERVER: "off"` must not
  // come back as the boolean false from `kubectl apply -f manifests.yaml`.
  const manifests = plan.manifests
    .map((manifest) => stringify(manifest, { lineWidth: 0, version: "1.1" }))
    .join("---\n");
  writeFileSync(join(stackDir, "manifests.yaml"), manifests);
  const resources = plan.resources.map(({ type, name, urn, parent, dependencies, inputs }) => ({
    type,
    name,
    urn,
    parent,
    dependencies,
    inputs,
  }));
  writeFileSync(join(stackDir, "resources.json"), JSON.stringify(resources, null, 2) + "\n");
  writeFileSync(join(stackDir, "outputs.json"), JSON.stringify(plan.outputs, null, 2) + "\n");
  writeFileSync(join(stackDir, "secret-outputs.json"), JSON.stringify(plan.secretOutputs, null, 2) + "\n");
  return stackDir;
}

function countBy<T>(items: readonly T[], key: (item: T) => string): [string, number][] {
  const counts = new Map<string, number>();
  for (const item of items) {
    counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  }
  return [...counts.entries()].sort(([a], [b]) => a.localeCompare(b));
}

/** A one-screen summary: resources per type, Kubernetes objects per namespace, outputs. */
export function summarize(plan: StackPlan, stackDir: string): string {
  const lines = [
    `Stack ${plan.stack}: ${plan.resources.length} resources, ${plan.manifests.length} Kubernetes objects → ${stackDir}/`,
  ];
  lines.push("  resources by type:");
  for (const [type, count] of countBy(plan.resources, (r) => r.type)) {
    lines.push(`    ${String(count).padStart(3)}  ${type}`);
  }
  lines.push("  Kubernetes objects by namespace:");
  for (const [namespace, count] of countBy(plan.manifests, (m) => m.metadata.namespace ?? "(cluster-scoped)")) {
    lines.push(`    ${String(count).padStart(3)}  ${namespace}`);
  }
  lines.push(`  outputs: ${Object.keys(plan.outputs).join(", ") || "(none)"}`);
  return lines.join("\n");
}
