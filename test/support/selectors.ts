import { strict as assert } from "node:assert";

/**
 * Asserts that a Service's (or a workload's `matchLabels`) selector selects the workload's pods: it
 * names at least one label, and each of its entries is one of the pods' labels. An empty selector
 * selects no pod — "If empty or not present, the service is assumed to have an external process
 * managing its endpoints, which Kubernetes will not modify" (ServiceSpec.selector, k8s.io/api
 * core/v1 types.go) — so a check that only loops over its entries would pass it vacuously.
 */
export function assertSelects(
  selector: Readonly<Record<string, string>> | undefined,
  podLabels: Readonly<Record<string, string>> | undefined,
  what: string,
): void {
  const entries = Object.entries(selector ?? {});
  assert.ok(entries.length > 0, `${what}: the selector is empty, so it selects no pod`);
  const mismatched = entries.filter(([key, value]) => podLabels?.[key] !== value);
  assert.deepEqual(
    mismatched,
    [],
    `${what}: selector entries that are not the pods' labels ${JSON.stringify(podLabels ?? {})}`,
  );
}
