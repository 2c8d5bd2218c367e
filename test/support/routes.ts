/**
 * A test-side model of Gateway API routing, written from the spec rather than from the builders:
 * given the Gateways, HTTPRoutes and Namespaces of the plans, where does a request to
 * gateway + port + path end up? Honours listener ports, `allowedRoutes.namespaces` (Same, All,
 * Selector with matchLabels/matchExpressions), parentRefs (namespace, sectionName, port),
 * Exact/PathPrefix matching with Gateway API precedence, RequestRedirect and URLRewrite filters.
 */
import type { Manifest } from "../../plan/evaluate";

export type Resolution =
  | {
      readonly kind: "backend";
      readonly namespace: string;
      readonly service: string;
      readonly port: number;
      readonly path: string;
      readonly route: string;
    }
  | { readonly kind: "redirect"; readonly status: number; readonly location: string; readonly route: string };

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

interface Listener {
  name: string;
  port: number;
  allowedRoutes?: {
    namespaces?: { from?: "All" | "Same" | "Selector"; selector?: LabelSelector };
    kinds?: { kind: string }[];
  };
}

interface PathMatch {
  type?: "Exact" | "PathPrefix" | "RegularExpression";
  value?: string;
}

interface Filter {
  type: string;
  requestRedirect?: {
    path?: { type: string; replaceFullPath?: string; replacePrefixMatch?: string };
    statusCode?: number;
  };
  urlRewrite?: { path?: { type: string; replaceFullPath?: string; replacePrefixMatch?: string } };
}

interface Rule {
  matches?: { path?: PathMatch }[];
  filters?: Filter[];
  backendRefs?: { kind?: string; name: string; namespace?: string; port?: number }[];
}

interface RouteSpec {
  parentRefs?: { name: string; namespace?: string; sectionName?: string; port?: number; kind?: string }[];
  rules?: Rule[];
}

export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) {
      return false;
    }
  }
  for (const expression of selector.matchExpressions ?? []) {
    const present = expression.key in labels;
    const value = labels[expression.key];
    const values = expression.values ?? [];
    const ok =
      expression.operator === "In"
        ? present && values.includes(value)
        : expression.operator === "NotIn"
          ? !present || !values.includes(value)
          : expression.operator === "Exists"
            ? present
            : expression.operator === "DoesNotExist"
              ? !present
              : false;
    if (!ok) {
      return false;
    }
  }
  return true;
}

/** Gateway API path-prefix semantics: element-wise, a trailing slash in the prefix is ignored. */
export function prefixMatches(prefix: string, path: string): boolean {
  const trimmed = prefix.length > 1 ? prefix.replace(/\/+$/, "") : prefix;
  if (trimmed === "/") {
    return path.startsWith("/");
  }
  return path === trimmed || path.startsWith(`${trimmed}/`);
}

function replacePrefix(prefix: string, path: string, replacement: string): string {
  const trimmed = prefix.length > 1 ? prefix.replace(/\/+$/, "") : prefix;
  const rest = trimmed === "/" ? path.slice(1) : path.slice(trimmed.length).replace(/^\//, "");
  const base = replacement.endsWith("/") ? replacement : `${replacement}/`;
  return rest === "" ? replacement : `${base}${rest}`;
}

export class RouteTable {
  private readonly gateways: Manifest[];
  private readonly routes: Manifest[];
  private readonly namespaceLabels = new Map<string, Record<string, string>>();

  constructor(manifests: readonly Manifest[]) {
    this.gateways = manifests.filter((m) => m.kind === "Gateway");
    this.routes = manifests.filter((m) => m.kind === "HTTPRoute");
    for (const namespace of manifests.filter((m) => m.kind === "Namespace")) {
      const labels = (namespace.metadata.labels ?? {}) as Record<string, string>;
      this.namespaceLabels.set(namespace.metadata.name as string, {
        ...labels,
        "kubernetes.io/metadata.name": namespace.metadata.name as string,
      });
    }
  }

  /** The gateways by name and their listener ports. */
  listeners(): { gateway: string; port: number }[] {
    return this.gateways.flatMap((gateway) =>
      ((gateway.spec as { listeners: Listener[] }).listeners ?? []).map((listener) => ({
        gateway: gateway.metadata.name as string,
        port: listener.port,
      })),
    );
  }

  /** Whether the listener admits routes from `namespace`. */
  private admits(gateway: Manifest, listener: Listener, namespace: string): boolean {
    const kinds = listener.allowedRoutes?.kinds;
    if (kinds && !kinds.some((kind) => kind.kind === "HTTPRoute")) {
      return false;
    }
    const from = listener.allowedRoutes?.namespaces?.from ?? "Same";
    if (from === "All") {
      return true;
    }
    if (from === "Same") {
      return namespace === gateway.metadata.namespace;
    }
    const labels = this.namespaceLabels.get(namespace);
    return labels !== undefined && selectorMatches(listener.allowedRoutes?.namespaces?.selector ?? {}, labels);
  }

  /** The routes attached to one listener: parentRef names it, and the listener admits the route's namespace. */
  attachedRoutes(gatewayName: string, port: number): Manifest[] {
    const gateway = this.gateways.find((g) => g.metadata.name === gatewayName);
    const listener = ((gateway?.spec as { listeners?: Listener[] } | undefined)?.listeners ?? []).find(
      (l) => l.port === port,
    );
    if (!gateway || !listener) {
      return [];
    }
    return this.routes.filter((route) => {
      const routeNamespace = route.metadata.namespace as string;
      const refs = (route.spec as RouteSpec).parentRefs ?? [];
      const referenced = refs.some(
        (ref) =>
          (ref.kind ?? "Gateway") === "Gateway" &&
          ref.name === gatewayName &&
          (ref.namespace ?? routeNamespace) === gateway.metadata.namespace &&
          (ref.sectionName === undefined || ref.sectionName === listener.name) &&
          (ref.port === undefined || ref.port === listener.port),
      );
      return referenced && this.admits(gateway, listener, routeNamespace);
    });
  }

  /** Where a request for `path` on gateway:port goes; undefined is a 404 (or no listener). */
  resolve(gatewayName: string, port: number, path: string): Resolution | undefined {
    type Candidate = { route: Manifest; rule: Rule; match: PathMatch; exact: boolean; length: number };
    const candidates: Candidate[] = [];
    for (const route of this.attachedRoutes(gatewayName, port)) {
      for (const rule of (route.spec as RouteSpec).rules ?? []) {
        const matches = rule.matches?.length ? rule.matches : [{ path: { type: "PathPrefix" as const, value: "/" } }];
        for (const { path: match } of matches) {
          const value = match?.value ?? "/";
          const type = match?.type ?? "PathPrefix";
          if (type === "Exact" ? path === value : type === "PathPrefix" ? prefixMatches(value, path) : false) {
            candidates.push({ route, rule, match: { type, value }, exact: type === "Exact", length: value.length });
          }
        }
      }
    }
    // Gateway API precedence: Exact first, then the longest prefix.
    candidates.sort((a, b) => Number(b.exact) - Number(a.exact) || b.length - a.length);
    const best = candidates[0];
    if (!best) {
      return undefined;
    }
    const routeName = `${best.route.metadata.namespace}/${best.route.metadata.name}`;
    let effectivePath = path;
    for (const filter of best.rule.filters ?? []) {
      if (filter.type === "RequestRedirect" && filter.requestRedirect) {
        const target = filter.requestRedirect.path;
        const location =
          target?.type === "ReplaceFullPath"
            ? (target.replaceFullPath as string)
            : target?.type === "ReplacePrefixMatch"
              ? replacePrefix(best.match.value as string, path, target.replacePrefixMatch as string)
              : path;
        return { kind: "redirect", status: filter.requestRedirect.statusCode ?? 302, location, route: routeName };
      }
      if (filter.type === "URLRewrite" && filter.urlRewrite?.path) {
        const target = filter.urlRewrite.path;
        effectivePath =
          target.type === "ReplaceFullPath"
            ? (target.replaceFullPath as string)
            : replacePrefix(best.match.value as string, path, target.replacePrefixMatch as string);
      }
    }
    const backend = best.rule.backendRefs?.[0];
    if (!backend) {
      return undefined;
    }
    return {
      kind: "backend",
      namespace: backend.namespace ?? (best.route.metadata.namespace as string),
      service: backend.name,
      port: backend.port as number,
      path: effectivePath,
      route: routeName,
    };
  }
}
