/**
 * A test-side model of how ztunnel enforces Istio AuthorizationPolicies at L4 (no waypoint),
 * written from Istio's documented semantics rather than from the builders:
 * - policies apply to workloads in their namespace whose labels match `selector` (none: all);
 * - any matching DENY rule denies; otherwise, if any ALLOW policy applies to the workload, the
 *   request must match one of their rules; with no ALLOW policy the request is allowed;
 * - an ALLOW policy with no rules matches nothing (allow-nothing);
 * - a policy using L7-only fields cannot be enforced by ztunnel and denies everything it selects
 *   (docs/upstream.md#istio-ambient), so it is modelled that way.
 * PeerAuthentication is not modelled: sources here are mesh identities (mTLS).
 */
import type { Manifest } from "../../plan/evaluate";
import { selectorMatches } from "./routes";

export interface Workload {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface Request {
  /** SPIFFE principal of the caller, e.g. `cluster.local/ns/charmarr-core/sa/radarr`; undefined for plaintext. */
  readonly principal?: string;
  readonly destination: Workload;
  readonly port: number;
}

interface Source {
  principals?: string[];
  notPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  [field: string]: unknown;
}

interface Operation {
  ports?: string[];
  notPorts?: string[];
  [field: string]: unknown;
}

interface PolicyRule {
  from?: { source?: Source }[];
  to?: { operation?: Operation }[];
  when?: unknown[];
}

interface PolicySpec {
  action?: "ALLOW" | "DENY" | "AUDIT" | "CUSTOM";
  selector?: { matchLabels?: Record<string, string> };
  rules?: PolicyRule[];
}

const L4_SOURCE_FIELDS = new Set([
  "principals",
  "notPrincipals",
  "namespaces",
  "notNamespaces",
  "ipBlocks",
  "notIpBlocks",
]);
const L4_OPERATION_FIELDS = new Set(["ports", "notPorts"]);

/** The fields of a policy ztunnel cannot enforce without a waypoint. */
export function l7Fields(policy: Manifest): string[] {
  const spec = (policy.spec ?? {}) as PolicySpec;
  const fields: string[] = [];
  for (const rule of spec.rules ?? []) {
    if (rule.when?.length) {
      fields.push("when");
    }
    for (const { source } of rule.from ?? []) {
      fields.push(...Object.keys(source ?? {}).filter((field) => !L4_SOURCE_FIELDS.has(field)));
    }
    for (const { operation } of rule.to ?? []) {
      fields.push(...Object.keys(operation ?? {}).filter((field) => !L4_OPERATION_FIELDS.has(field)));
    }
  }
  return fields;
}

function principalNamespace(principal: string | undefined): string | undefined {
  return principal?.match(/\/ns\/([^/]+)\/sa\//)?.[1];
}

function sourceMatches(source: Source, request: Request): boolean {
  const namespace = principalNamespace(request.principal);
  if (source.principals && !(request.principal !== undefined && source.principals.includes(request.principal))) {
    return false;
  }
  if (source.notPrincipals && request.principal !== undefined && source.notPrincipals.includes(request.principal)) {
    return false;
  }
  if (source.namespaces && !(namespace !== undefined && source.namespaces.includes(namespace))) {
    return false;
  }
  if (source.notNamespaces && namespace !== undefined && source.notNamespaces.includes(namespace)) {
    return false;
  }
  return true;
}

function operationMatches(operation: Operation, request: Request): boolean {
  const port = String(request.port);
  if (operation.ports && !operation.ports.includes(port)) {
    return false;
  }
  return !(operation.notPorts && operation.notPorts.includes(port));
}

function ruleMatches(rule: PolicyRule, request: Request): boolean {
  const fromOk = !rule.from?.length || rule.from.some(({ source }) => sourceMatches(source ?? {}, request));
  const toOk = !rule.to?.length || rule.to.some(({ operation }) => operationMatches(operation ?? {}, request));
  return fromOk && toOk;
}

export class AuthorizationModel {
  private readonly policies: Manifest[];

  constructor(manifests: readonly Manifest[]) {
    this.policies = manifests.filter((m) => m.kind === "AuthorizationPolicy");
  }

  private applicable(destination: Workload): Manifest[] {
    return this.policies.filter((policy) => {
      const spec = (policy.spec ?? {}) as PolicySpec;
      return (
        policy.metadata.namespace === destination.namespace && selectorMatches(spec.selector ?? {}, destination.labels)
      );
    });
  }

  allows(request: Request): boolean {
    const policies = this.applicable(request.destination);
    if (policies.some((policy) => l7Fields(policy).length > 0)) {
      return false;
    }
    const byAction = (action: string) =>
      policies.filter((policy) => (((policy.spec ?? {}) as PolicySpec).action ?? "ALLOW") === action);
    if (
      byAction("DENY").some((policy) =>
        (((policy.spec ?? {}) as PolicySpec).rules ?? []).some((rule) => ruleMatches(rule, request)),
      )
    ) {
      return false;
    }
    const allows = byAction("ALLOW");
    if (allows.length === 0) {
      return true;
    }
    return allows.some((policy) =>
      (((policy.spec ?? {}) as PolicySpec).rules ?? []).some((rule) => ruleMatches(rule, request)),
    );
  }
}
