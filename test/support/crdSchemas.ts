import * as fs from "node:fs";
import * as path from "node:path";
import Ajv, { ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import { parse } from "yaml";
import { compileRule, isTransitionRule } from "./kubernetesCel";

/**
 * Custom resources checked the way the API server checks them on create with strict field
 * validation (k8s.io/apiextensions-apiserver): unknown fields refused (a structural schema prunes
 * every field its `properties` do not name, unless `x-kubernetes-preserve-unknown-fields`), defaults
 * applied, the OpenAPI value validations, list-type uniqueness, then the CEL rules
 * (`x-kubernetes-validations`, a failure reported with the rule's messageExpression or message).
 * Rules comparing with `oldSelf` are transition rules, which do not run on create; they are
 * counted, not evaluated. A rule with `optionalOldSelf`, which does run on create, is reported as
 * one this checker cannot evaluate.
 */

/** One `x-kubernetes-validations` entry. */
interface CelRule {
  readonly rule: string;
  readonly message?: string;
  readonly messageExpression?: string;
  readonly fieldPath?: string;
  readonly optionalOldSelf?: boolean;
}

/** A CRD's OpenAPI v3 schema node, with the Kubernetes extensions this checker reads. */
interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  required?: string[];
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-embedded-resource"?: boolean;
  "x-kubernetes-validations"?: CelRule[];
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  [keyword: string]: unknown;
}

interface CustomResourceDefinition {
  kind: string;
  spec: {
    group: string;
    names: { kind: string };
    versions: { name: string; served: boolean; schema?: { openAPIV3Schema: SchemaNode } }[];
  };
}

/** How many CEL rules a validation evaluated, and how many transition rules it left for updates. */
export interface RuleCounts {
  evaluated: number;
  transition: number;
}

interface CompiledKind {
  readonly schema: SchemaNode;
  readonly validate: ValidateFunction;
}

/** Kubernetes' CEL escaping of property names (apiserver pkg/cel/escaping.go). */
const CEL_RESERVED = new Set([
  "true",
  "false",
  "null",
  "in",
  "as",
  "break",
  "const",
  "continue",
  "else",
  "for",
  "function",
  "if",
  "import",
  "let",
  "loop",
  "package",
  "namespace",
  "return",
  "var",
]);

function celFieldName(name: string): string | undefined {
  if (CEL_RESERVED.has(name)) {
    return `__${name}__`;
  }
  if (!/^[a-zA-Z_.\-/][a-zA-Z0-9_.\-/]*$/.test(name)) {
    return undefined;
  }
  return name
    .replace(/__/g, "__underscores__")
    .replace(/\./g, "__dot__")
    .replace(/-/g, "__dash__")
    .replace(/\//g, "__slash__");
}

/**
 * The published CRDs of one directory tree (`<component>-<version>/*.yaml`), by
 * `group/version/kind`. A CRD document is parsed when one of its kinds is first asked for, and each
 * kind's schema compiled once, on first use: a test run pays only for the kinds it validates.
 */
export class CrdSchemas {
  /** Unparsed CRD documents by `group/kind`. */
  private readonly documents = new Map<string, { text: string; source: string }>();
  private readonly parsed = new Set<string>();
  private readonly definitions = new Map<string, { schema: SchemaNode; source: string }>();
  private readonly compiled = new Map<string, CompiledKind>();
  private readonly ajv: Ajv;

  /** `directories`: the directories of the CRDs of the versions the program installs. */
  constructor(directories: readonly string[]) {
    for (const directory of directories) {
      if (!fs.existsSync(directory)) {
        throw new Error(
          `published CRDs not found: ${directory} (a checkout of the shared upstream artifacts must sit beside the repository)`,
        );
      }
      for (const file of fs
        .readdirSync(directory)
        .filter((name) => name.endsWith(".yaml"))
        .sort()) {
        const source = path.join(directory, file);
        for (const text of fs.readFileSync(source, "utf8").split(/^---[ \t]*$/m)) {
          if (!/^kind: *CustomResourceDefinition\s*$/m.test(text)) {
            continue;
          }
          // spec.group and spec.names.kind, found without parsing the whole schema;
          // load() checks them against the parsed document.
          const group = /^ {2}group: *["']?([^\s"']+)/m.exec(text)?.[1];
          const kind = /^ {4}kind: *["']?([^\s"']+)/m.exec(text)?.[1];
          if (!group || !kind) {
            throw new Error(`cannot find the group and kind of a CustomResourceDefinition in ${source}`);
          }
          this.documents.set(`${group}/${kind}`, { text, source });
        }
      }
    }
    this.ajv = new Ajv({
      allErrors: true,
      useDefaults: true,
      strictTypes: false,
      strictRequired: false,
      strictTuples: false,
    });
    addFormats(this.ajv, ["date-time", "ipv4", "ipv6"]);
    // kube-openapi's string formats the CRDs use; int32/int64/double/binary only annotate a type.
    this.ajv.addFormat("cidr", (value: string) => isCidr(value));
    for (const annotation of ["int32", "int64", "double", "float", "binary"]) {
      this.ajv.addFormat(annotation, () => true);
    }
  }

  /** Every `group/version/kind` the directories publish. */
  kinds(): string[] {
    this.loadAll();
    return [...this.definitions.keys()];
  }

  has(apiVersion: string, kind: string): boolean {
    this.load(apiVersion, kind);
    return this.definitions.has(`${apiVersion}/${kind}`);
  }

  /** Parses the CRD of an apiVersion's group and kind, once. */
  private load(apiVersion: string, kind: string): void {
    this.loadGroupKind(`${apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : ""}/${kind}`);
  }

  private loadGroupKind(groupKind: string): void {
    const document = this.documents.get(groupKind);
    if (!document || this.parsed.has(groupKind)) {
      return;
    }
    this.parsed.add(groupKind);
    const crd = parse(document.text) as CustomResourceDefinition;
    if (`${crd.spec.group}/${crd.spec.names.kind}` !== groupKind) {
      throw new Error(
        `${document.source}: the CustomResourceDefinition read as ${groupKind} defines ${crd.spec.group}/${crd.spec.names.kind}`,
      );
    }
    for (const version of crd.spec.versions.filter((entry) => entry.served && entry.schema)) {
      const key = `${crd.spec.group}/${version.name}/${crd.spec.names.kind}`;
      this.definitions.set(key, {
        schema: (version.schema as { openAPIV3Schema: SchemaNode }).openAPIV3Schema,
        source: document.source,
      });
    }
  }

  private loadAll(): void {
    for (const groupKind of this.documents.keys()) {
      this.loadGroupKind(groupKind);
    }
  }

  /** Every CEL rule of every published kind, with where it sits. */
  allRules(): { kind: string; at: string; rule: CelRule }[] {
    this.loadAll();
    const found: { kind: string; at: string; rule: CelRule }[] = [];
    const visit = (kind: string, node: SchemaNode | undefined, at: string) => {
      if (!node || typeof node !== "object") {
        return;
      }
      for (const rule of node["x-kubernetes-validations"] ?? []) {
        found.push({ kind, at, rule });
      }
      for (const [name, child] of Object.entries(node.properties ?? {})) {
        visit(kind, child, `${at}.${name}`);
      }
      if (typeof node.additionalProperties === "object") {
        visit(kind, node.additionalProperties, `${at}[*]`);
      }
      visit(kind, node.items, `${at}[*]`);
    };
    for (const [kind, { schema }] of this.definitions) {
      visit(kind, schema, "");
    }
    return found;
  }

  /**
   * Problems the API server would report creating `manifest`, as `path: message`. Counts the
   * CEL rules evaluated into `counts`. Does not check `metadata` (see the caller: it is ObjectMeta).
   */
  validate(manifest: Record<string, unknown>, counts: RuleCounts): string[] {
    const key = `${manifest.apiVersion as string}/${manifest.kind as string}`;
    const kind = this.compile(key);
    const { metadata, ...rest } = manifest;
    // The API server defaults before it validates: work on a copy so the plan stays as planned.
    const object = structuredClone(rest) as Record<string, unknown>;
    if (!kind.validate(object)) {
      return (kind.validate.errors ?? []).map((error) => {
        const unknown = error.keyword === "additionalProperties";
        const field = unknown ? `/${(error.params as { additionalProperty: string }).additionalProperty}` : "";
        return `${fieldPath(error.instancePath + field)}: ${unknown ? "unknown field" : error.message}`;
      });
    }
    const problems: string[] = [];
    this.checkLists(kind.schema, object, "", problems);
    this.evaluateRules(kind.schema, { ...object, metadata }, "", problems, counts);
    return problems;
  }

  private compile(key: string): CompiledKind {
    let kind = this.compiled.get(key);
    if (!kind) {
      const slash = key.lastIndexOf("/");
      this.load(key.slice(0, slash), key.slice(slash + 1));
      const definition = this.definitions.get(key);
      if (!definition) {
        throw new Error(`no published CRD defines ${key}`);
      }
      const root = toJsonSchema(definition.schema);
      // Every object has apiVersion, kind and metadata whether its schema names them or not
      // (Istio's do not); metadata is ObjectMeta, checked by the caller.
      root.properties = {
        ...(root.properties as object),
        apiVersion: { type: "string" },
        kind: { type: "string" },
        metadata: { type: "object" },
      };
      kind = { schema: definition.schema, validate: this.ajv.compile(root) };
      this.compiled.set(key, kind);
    }
    return kind;
  }

  /** The message of a failed rule: its `messageExpression` when that yields a string, else `message`, else the rule. */
  private message(rule: CelRule, self: unknown): string {
    if (rule.messageExpression) {
      const result = compileRule(rule.messageExpression)(self);
      if (typeof result.value === "string" && result.value !== "") {
        return result.value;
      }
    }
    return rule.message ?? `failed rule: ${rule.rule}`;
  }

  /** `x-kubernetes-list-type: set | map`: duplicate items (sets) or duplicate keys (maps) are refused. */
  private checkLists(node: SchemaNode | undefined, value: unknown, at: string, problems: string[]): void {
    if (!node || value === null || typeof value !== "object") {
      return;
    }
    if (Array.isArray(value)) {
      const listType = node["x-kubernetes-list-type"];
      const keys = node["x-kubernetes-list-map-keys"] ?? [];
      if (listType === "set" || listType === "map") {
        const seen = new Set<string>();
        value.forEach((item, index) => {
          const identity = JSON.stringify(
            listType === "set" ? item : keys.map((field) => (item as Record<string, unknown>)[field]),
          );
          if (seen.has(identity)) {
            problems.push(`${at}[${index}]: Duplicate value: ${identity}`);
          }
          seen.add(identity);
        });
      }
      value.forEach((item, index) => this.checkLists(node.items, item, `${at}[${index}]`, problems));
      return;
    }
    for (const [field, inner] of Object.entries(value)) {
      const child =
        node.properties?.[field] ??
        (typeof node.additionalProperties === "object" ? node.additionalProperties : undefined);
      this.checkLists(child, inner, `${at}.${field}`, problems);
    }
  }

  private evaluateRules(
    node: SchemaNode | undefined,
    value: unknown,
    at: string,
    problems: string[],
    counts: RuleCounts,
  ): void {
    if (!node || value === undefined) {
      return;
    }
    for (const rule of node["x-kubernetes-validations"] ?? []) {
      const where = `${at}${rule.fieldPath ?? ""}` || ".";
      if (isTransitionRule(rule.rule) && !rule.optionalOldSelf) {
        counts.transition++;
        continue;
      }
      if (rule.optionalOldSelf) {
        // On create the API server runs these with oldSelf as an empty optional, which this
        // checker does not model: say so rather than pass the object.
        problems.push(
          `${where}: rule ${JSON.stringify(rule.rule)} uses optionalOldSelf, which this checker cannot evaluate`,
        );
        continue;
      }
      counts.evaluated++;
      const self = toCel(node, value);
      const result = compileRule(rule.rule)(self);
      if (result.error !== undefined) {
        problems.push(
          `${where}: Invalid value: rule ${JSON.stringify(rule.rule)} could not be evaluated: ${result.error}`,
        );
      } else if (result.value !== true) {
        problems.push(`${where}: Invalid value: ${this.message(rule, self)}`);
      }
    }
    if (value === null || typeof value !== "object") {
      return;
    }
    if (Array.isArray(value)) {
      value.forEach((item, index) => this.evaluateRules(node.items, item, `${at}[${index}]`, problems, counts));
      return;
    }
    for (const [field, inner] of Object.entries(value)) {
      const child =
        node.properties?.[field] ??
        (typeof node.additionalProperties === "object" ? node.additionalProperties : undefined);
      this.evaluateRules(child, inner, `${at}.${field}`, problems, counts);
    }
  }
}

/**
 * The structural schema as a JSON Schema: every object without `additionalProperties` and without
 * `x-kubernetes-preserve-unknown-fields` refuses fields its `properties` do not name (the API
 * server prunes them, and strict validation turns pruning into an error); `x-kubernetes-int-or-string`
 * takes an integer or a string; an embedded resource also takes apiVersion, kind and metadata.
 * Value validations (`anyOf`, `oneOf`, `not`, `allOf`) are kept as they are.
 */
function toJsonSchema(node: SchemaNode): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [keyword, value] of Object.entries(node)) {
    if (!keyword.startsWith("x-kubernetes-")) {
      out[keyword] = value;
    }
  }
  if (node["x-kubernetes-int-or-string"]) {
    out.type = ["integer", "string"];
  }
  if (node.properties) {
    out.properties = Object.fromEntries(
      Object.entries(node.properties).map(([name, child]) => [name, toJsonSchema(child)]),
    );
  }
  if (node["x-kubernetes-embedded-resource"]) {
    out.properties = {
      apiVersion: { type: "string" },
      kind: { type: "string" },
      metadata: { type: "object" },
      ...(out.properties as Record<string, unknown> | undefined),
    };
  }
  if (node.items) {
    out.items = toJsonSchema(node.items);
  }
  if (typeof node.additionalProperties === "object") {
    out.additionalProperties = toJsonSchema(node.additionalProperties);
  } else if (
    node.type === "object" &&
    node.additionalProperties === undefined &&
    !node["x-kubernetes-preserve-unknown-fields"]
  ) {
    out.additionalProperties = false;
  }
  return out;
}

/**
 * A value as CEL sees it under its schema: integers as CEL ints, objects with properties as maps of
 * escaped field names, maps (`additionalProperties`) keyed as they are.
 */
function toCel(node: SchemaNode | undefined, value: unknown): unknown {
  if (value === null || value === undefined) {
    return value;
  }
  if (!node) {
    return untypedToCel(value);
  }
  if (typeof value === "number") {
    const integer = node.type === "integer" || node["x-kubernetes-int-or-string"];
    return integer && Number.isInteger(value) ? BigInt(value) : value;
  }
  if (Array.isArray(value)) {
    return value.map((item) => toCel(node.items, item));
  }
  if (typeof value === "object") {
    const entries: [string, unknown][] = [];
    for (const [field, inner] of Object.entries(value)) {
      const property = node.properties?.[field];
      if (property) {
        const name = celFieldName(field);
        if (name !== undefined) {
          entries.push([name, toCel(property, inner)]);
        }
      } else if (typeof node.additionalProperties === "object") {
        entries.push([field, toCel(node.additionalProperties, inner)]);
      } else {
        entries.push([field, untypedToCel(inner)]);
      }
    }
    return new Map(entries);
  }
  return value;
}

/** A JSON pointer (`/spec/rules/0/matches`) as a field path (`.spec.rules[0].matches`). */
function fieldPath(pointer: string): string {
  return pointer
    .split("/")
    .slice(1)
    .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((part) => (/^\d+$/.test(part) ? `[${part}]` : `.${part}`))
    .join("");
}

/** A value under `x-kubernetes-preserve-unknown-fields`: whole numbers are ints, objects maps. */
function untypedToCel(value: unknown): unknown {
  if (typeof value === "number") {
    return Number.isInteger(value) ? BigInt(value) : value;
  }
  if (Array.isArray(value)) {
    return value.map(untypedToCel);
  }
  if (value !== null && typeof value === "object") {
    return new Map(Object.entries(value).map(([field, inner]) => [field, untypedToCel(inner)]));
  }
  return value;
}

/** kube-openapi's `cidr` format: an IPv4 or IPv6 address with a prefix length (Go's net.ParseCIDR). */
function isCidr(value: string): boolean {
  const slash = value.lastIndexOf("/");
  if (slash === -1) {
    return false;
  }
  const [address, bits] = [value.slice(0, slash), value.slice(slash + 1)];
  if (!/^\d{1,3}$/.test(bits)) {
    return false;
  }
  const ipv4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(address);
  const ipv6 = !ipv4 && address.includes(":") && /^[0-9a-fA-F:.]+$/.test(address);
  return (ipv4 && Number(bits) <= 32) || (ipv6 && Number(bits) <= 128);
}
