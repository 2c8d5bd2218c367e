import {
  CelScalar,
  CelValue,
  celEnv,
  celFunc,
  celMap,
  celMethod,
  isCelError,
  isCelMap,
  mapType,
  parse,
  plan,
} from "@bufbuild/cel";
import type { CelEnv } from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import type { Expr } from "@bufbuild/cel-spec/cel/expr/syntax_pb.js";
import { isIP as nodeIsIp } from "node:net";
import ipaddr from "ipaddr.js";

/**
 * CEL as the Kubernetes API server evaluates `x-kubernetes-validations` (k8s.io/apiserver
 * pkg/cel/library): the standard library, the strings extension (`split`, `substring`, ...,
 * from @bufbuild/cel) and, implemented below, Kubernetes' URL library and the `isIP` of its IP
 * library. Rules calling any other
 * function are reported by {@link unboundFunctions}, never skipped.
 */

/**
 * A URL value of the Kubernetes URL library (pkg/cel/library/urls.go): its parts as a CEL map the
 * URL methods read. Parsed like Go's url.ParseRequestURI, which the library uses: an absolute URI
 * or an absolute path, nothing else.
 */
const URL_TYPE = mapType(CelScalar.STRING, CelScalar.STRING);

function parseRequestUri(raw: string): Map<string, string> | undefined {
  if (raw.startsWith("/")) {
    return urlParts("", "", raw);
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(raw);
  if (!scheme) {
    return undefined;
  }
  const rest = scheme[2];
  if (!rest.startsWith("//")) {
    // Go keeps an opaque URL (`mailto:x`) with its scheme and no host or path.
    return rest.startsWith("/") ? urlParts(scheme[1], "", rest) : urlParts(scheme[1], "", "");
  }
  const authorityEnd = rest.slice(2).search(/[/?]/);
  const authority = authorityEnd === -1 ? rest.slice(2) : rest.slice(2, 2 + authorityEnd);
  const path = authorityEnd === -1 ? "" : rest.slice(2 + authorityEnd);
  if (/\s/.test(authority)) {
    return undefined;
  }
  return urlParts(scheme[1].toLowerCase(), authority.replace(/^.*@/, ""), path);
}

function urlParts(scheme: string, host: string, pathAndQuery: string): Map<string, string> {
  const query = pathAndQuery.indexOf("?");
  return new Map([
    ["scheme", scheme],
    ["host", host],
    ["path", query === -1 ? pathAndQuery : pathAndQuery.slice(0, query)],
  ]);
}

function urlPart(url: CelValue, part: string): string {
  if (!isCelMap(url)) {
    throw new Error("not a URL");
  }
  return String(url.get(part) ?? "");
}

/** Host without the port; an IPv6 literal without its brackets (Go's URL.Hostname). */
function hostname(host: string): string {
  const bracketed = /^\[([^\]]*)\]/.exec(host);
  return bracketed ? bracketed[1] : host.replace(/:[^:]*$/, "");
}

const KUBERNETES_URLS = [
  celFunc("isURL", [CelScalar.STRING], CelScalar.BOOL, (raw) => parseRequestUri(raw) !== undefined),
  celFunc("url", [CelScalar.STRING], URL_TYPE, (raw) => {
    const parts = parseRequestUri(raw);
    if (!parts) {
      throw new Error(`URL parse error during conversion from string: ${raw}`);
    }
    return celMap(parts);
  }),
  celMethod("getScheme", URL_TYPE, [], CelScalar.STRING, function () {
    return urlPart(this, "scheme");
  }),
  celMethod("getHost", URL_TYPE, [], CelScalar.STRING, function () {
    return urlPart(this, "host");
  }),
  celMethod("getHostname", URL_TYPE, [], CelScalar.STRING, function () {
    return hostname(urlPart(this, "host"));
  }),
  celMethod("getPort", URL_TYPE, [], CelScalar.STRING, function () {
    const host = urlPart(this, "host");
    const port = /:(\d*)$/.exec(host.replace(/^\[[^\]]*\]/, ""));
    return port ? port[1] : "";
  }),
  celMethod("getEscapedPath", URL_TYPE, [], CelScalar.STRING, function () {
    return urlPart(this, "path");
  }),
];

/**
 * `isIP(string)` of the Kubernetes IP library (k8s.io/apiserver pkg/cel/library/ip.go, isIP and
 * parseIPAddr): an address Go's netip.ParseAddr takes (no leading zeros in IPv4, like Node's
 * net.isIP), without a zone and not an IPv4-mapped IPv6 address. Gateway API's TLSRoute calls it
 * (`self.all(h, !isIP(h))` on spec.hostnames).
 */
function isKubernetesIp(raw: string): boolean {
  if (nodeIsIp(raw) === 0 || raw.includes("%")) {
    return false;
  }
  const address = ipaddr.parse(raw);
  return !(address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress());
}

const KUBERNETES_IPS = [celFunc("isIP", [CelScalar.STRING], CelScalar.BOOL, isKubernetesIp)];

const ENV: CelEnv = celEnv({ funcs: [...strings, ...KUBERNETES_URLS, ...KUBERNETES_IPS] });

/** A compiled rule: evaluates against `self`, returning the rule's result or the evaluation error. */
export type CompiledRule = (self: unknown) => { readonly value?: unknown; readonly error?: string };

const compiled = new Map<string, CompiledRule>();
const parsed = new Map<string, ReturnType<typeof parse>>();

/** Parses a rule once: the schema checks ask about the same few hundred rules for every object. */
function parseRule(rule: string): ReturnType<typeof parse> {
  let expression = parsed.get(rule);
  if (!expression) {
    expression = parse(rule);
    parsed.set(rule, expression);
  }
  return expression;
}

/** Compiles a rule once; later calls return the same evaluator. */
export function compileRule(rule: string): CompiledRule {
  let evaluator = compiled.get(rule);
  if (!evaluator) {
    const run = plan(ENV, parseRule(rule));
    evaluator = (self) => {
      const result = run({ self: self as CelValue });
      return isCelError(result) ? { error: result.message } : { value: result };
    };
    compiled.set(rule, evaluator);
  }
  return evaluator;
}

/** Whether a rule compares with the previous object (`oldSelf`): such transition rules do not run on create. */
export function isTransitionRule(rule: string): boolean {
  return referencedIdents(parseRule(rule).expr).has("oldSelf");
}

/**
 * Operators @bufbuild/cel's planner evaluates itself rather than through its function table
 * (src/planner.ts): indexing, optional access, the conditional, the logical operators and the
 * comprehension loop condition.
 */
const PLANNER_OPERATORS = new Set([
  "_[_]",
  "_[?_]",
  "_?._",
  "_?_:_",
  "_&&_",
  "_||_",
  "@not_strictly_false",
  "__not_strictly_false__",
]);

/** Functions a rule calls that this environment does not provide. */
export function unboundFunctions(rule: string): string[] {
  const names = new Set<string>();
  walk(parseRule(rule).expr, (expr) => {
    if (expr.exprKind.case === "callExpr") {
      names.add(expr.exprKind.value.function);
    }
  });
  return [...names].filter((name) => !PLANNER_OPERATORS.has(name) && ENV.funcs.find(name) === undefined);
}

function referencedIdents(expr: Expr | undefined): Set<string> {
  const idents = new Set<string>();
  walk(expr, (node) => {
    if (node.exprKind.case === "identExpr") {
      idents.add(node.exprKind.value.name);
    }
  });
  return idents;
}

function walk(expr: Expr | undefined, visit: (expr: Expr) => void): void {
  if (!expr) {
    return;
  }
  visit(expr);
  const kind = expr.exprKind;
  switch (kind.case) {
    case "selectExpr":
      walk(kind.value.operand, visit);
      break;
    case "callExpr":
      walk(kind.value.target, visit);
      kind.value.args.forEach((arg) => walk(arg, visit));
      break;
    case "listExpr":
      kind.value.elements.forEach((element) => walk(element, visit));
      break;
    case "structExpr":
      kind.value.entries.forEach((entry) => {
        if (entry.keyKind.case === "mapKey") {
          walk(entry.keyKind.value, visit);
        }
        walk(entry.value, visit);
      });
      break;
    case "comprehensionExpr":
      for (const part of [
        kind.value.iterRange,
        kind.value.accuInit,
        kind.value.loopCondition,
        kind.value.loopStep,
        kind.value.result,
      ]) {
        walk(part, visit);
      }
      break;
    default:
      break;
  }
}

/** The part of a ValidatingAdmissionPolicy's spec its evaluation reads. */
export interface AdmissionPolicyExpressions {
  readonly variables?: readonly { readonly name: string; readonly expression: string }[];
  readonly validations: readonly {
    readonly expression: string;
    readonly message?: string;
    readonly messageExpression?: string;
  }[];
}

/** Every CEL expression of a policy: its variables', validations' and message expressions. */
export function admissionExpressions(spec: AdmissionPolicyExpressions): string[] {
  return [
    ...(spec.variables ?? []).map((variable) => variable.expression),
    ...spec.validations.flatMap((validation) => [
      validation.expression,
      ...(validation.messageExpression !== undefined ? [validation.messageExpression] : []),
    ]),
  ];
}

/** Admission expressions planned once per test process. */
const plannedExpressions = new Map<string, ReturnType<typeof plan>>();

/**
 * What the API server answers a request for `object` with, under a ValidatingAdmissionPolicy bound
 * with `validationActions: [Deny]` and `failurePolicy: Fail` (k8s.io/apiserver
 * pkg/admission/plugin/policy/validating): the variables evaluated in order, each seeing the earlier
 * ones as `variables.<name>`; each validation that is false denies with its messageExpression's value
 * (its message when that fails), and one whose evaluation fails denies with the error. Empty: admitted.
 */
export function admissionDenials(spec: AdmissionPolicyExpressions, object: unknown): string[] {
  const variables = new Map<string, CelValue>();
  const activation = () => ({ object: object as CelValue, variables: celMap(variables) });
  const run = (expression: string) => {
    let evaluator = plannedExpressions.get(expression);
    if (!evaluator) {
      evaluator = plan(ENV, parse(expression));
      plannedExpressions.set(expression, evaluator);
    }
    const result = evaluator(activation());
    return isCelError(result) ? { error: result.message } : { value: result };
  };
  for (const variable of spec.variables ?? []) {
    const result = run(variable.expression);
    if (result.error !== undefined) {
      return [`variable ${variable.name}: evaluation error: ${result.error}`];
    }
    variables.set(variable.name, result.value as CelValue);
  }
  return spec.validations.flatMap((validation) => {
    const result = run(validation.expression);
    if (result.error !== undefined) {
      return [`evaluation error: ${result.error} (${validation.expression})`];
    }
    if (result.value === true) {
      return [];
    }
    if (result.value !== false) {
      return [`not a bool: ${validation.expression}`];
    }
    const message = validation.messageExpression !== undefined ? run(validation.messageExpression) : undefined;
    return [typeof message?.value === "string" ? message.value : (validation.message ?? validation.expression)];
  });
}
