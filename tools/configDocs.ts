/**
 * `npm run docs`: writes the configuration reference (docs/configuration.md), the JSON Schema of
 * the stack files (docs/stack-config.schema.json) and the key descriptions under `template.config`
 * in Pulumi.yaml from the settings schemas (lib/config's
 * ROLE_SCHEMAS, composed from each domain's zod schema and its `.describe()` texts) and the key
 * table (CONFIG_KEYS). test/configDocs.test.ts fails when the checked-in files differ.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parseDocument } from "yaml";
import { z } from "zod";
import { CONFIG_KEYS, CONFIG_NAMESPACE, ConfigKeyName, ConfigKeySpec, ROLES, ROLE_SCHEMAS, Role } from "../lib/config";

export const REFERENCE_FILE = "docs/configuration.md";
export const SCHEMA_FILE = "docs/stack-config.schema.json";
export const PROJECT_FILE = "Pulumi.yaml";

/** The subset of JSON Schema that z.toJSONSchema emits for the settings. */
export interface JsonSchema {
  type?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  required?: string[];
  [keyword: string]: unknown;
}

/** One documented setting: a key, or a field inside an object key. */
export interface ReferenceRow {
  /** `charmarr:key` or `charmarr:key.field.sub`; `<name>` stands for a name you choose. */
  readonly path: string;
  readonly stacks: string;
  readonly type: string;
  readonly default: string;
  readonly description: string;
}

type KeySchemas = Partial<Record<Role, JsonSchema>>;

/** The JSON Schema of a value as written in a stack file (zod's input side: before defaults and transforms). */
function inputSchema(schema: z.ZodType): JsonSchema {
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  // Each key's schema is embedded in the stack-file schema, which names the dialect once.
  delete json.$schema;
  return json;
}

/** Each key's value schema per role that reads it; keys outside ROLE_SCHEMAS hold plain strings. */
function keySchemas(name: ConfigKeyName): KeySchemas {
  const spec: ConfigKeySpec = CONFIG_KEYS[name];
  const result: KeySchemas = {};
  for (const role of spec.roles) {
    const shape = ROLE_SCHEMAS[role].shape as Record<string, z.ZodType>;
    result[role] = shape[name]
      ? inputSchema(shape[name])
      : name === "role"
        ? { type: "string", enum: [...ROLES] }
        : { type: "string" };
  }
  return result;
}

/** The schema inside optional, default and pipe wrappers: what holds an object's fields. */
function unwrapped(schema: z.ZodType): z.ZodType {
  if (schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault || schema instanceof z.ZodOptional) {
    return unwrapped(schema.unwrap() as z.ZodType);
  }
  if (schema instanceof z.ZodPipe) {
    return unwrapped(schema.in as z.ZodType);
  }
  return schema;
}

/** The value zod fills in for an absent field of a key (undefined when there is none). */
function defaultAt(name: ConfigKeyName, role: Role, path: readonly string[]): unknown {
  let schema: z.ZodType | undefined = (ROLE_SCHEMAS[role].shape as Record<string, z.ZodType>)[name];
  for (const field of path) {
    const holder: z.ZodType | undefined = schema && unwrapped(schema);
    schema = holder instanceof z.ZodObject ? (holder.shape as Record<string, z.ZodType>)[field] : undefined;
  }
  const parsed = schema?.safeParse(undefined);
  return parsed?.success ? parsed.data : undefined;
}

function stacksOf(spec: ConfigKeySpec): string {
  return spec.roles.length === ROLES.length ? "both" : spec.roles.join(", ");
}

function typeOf(schema: JsonSchema): string {
  if (schema.enum) {
    return schema.enum.map((value) => `\`${String(value)}\``).join(" \\| ");
  }
  if (schema.anyOf) {
    const types = new Set(schema.anyOf.map((option) => option.type));
    // The settings accept whole numbers written as numbers or as digit strings.
    return types.has("number") && types.size === 2 && types.has("string") ? "integer" : [...types].join(" or ");
  }
  if (schema.type === "array" && schema.items) {
    return `list of ${typeOf(schema.items)}`;
  }
  if (schema.type === "object" && typeof schema.additionalProperties === "object") {
    return "map of name → object";
  }
  return schema.type ?? "any";
}

function format(value: unknown): string {
  return `\`${typeof value === "string" ? value : JSON.stringify(value)}\``;
}

/**
 * Rows for one key in one role: the key itself when it is a plain value or a map, and every field
 * inside objects, with the default zod fills in.
 */
function rowsOf(name: ConfigKeyName, role: Role, schema: JsonSchema, stacks: string): ReferenceRow[] {
  const spec: ConfigKeySpec = CONFIG_KEYS[name];
  const rows: ReferenceRow[] = [];
  const walk = (node: JsonSchema, path: readonly string[], required: boolean, description: string | undefined) => {
    const objects = node.anyOf?.filter((option) => option.type === "object") ?? [];
    if (node.type === "object" && node.properties) {
      for (const [field, inner] of Object.entries(node.properties)) {
        walk(inner, [...path, field], node.required?.includes(field) ?? false, inner.description);
      }
      return;
    }
    if (objects.length > 0 && !node.type) {
      objects.forEach((option) => walk(option, path, required, description));
      return;
    }
    const known = node.default ?? (path.includes("<name>") ? undefined : defaultAt(name, role, path));
    rows.push({
      path: [`${CONFIG_NAMESPACE}:${name}`, ...path].join("."),
      stacks,
      type: spec.secret ? "secret string" : typeOf(node),
      default:
        path.length === 0 && spec.defaultText
          ? spec.defaultText
          : known !== undefined
            ? format(known)
            : required
              ? "required"
              : "none",
      description: path.length === 0 ? spec.description : (description ?? ""),
    });
    if (node.type === "object" && typeof node.additionalProperties === "object") {
      walk(node.additionalProperties, [...path, "<name>"], false, node.additionalProperties.description);
    }
  };
  if (schema.type === "object" && schema.properties) {
    rows.push({
      path: `${CONFIG_NAMESPACE}:${name}`,
      stacks,
      type: "object",
      default: "see its fields",
      description: spec.description,
    });
  }
  walk(schema, [], false, spec.description);
  return rows;
}

/** Every documented setting, in the key table's order; a key two roles read differently gets one row per role. */
export function referenceRows(): ReferenceRow[] {
  const rows: ReferenceRow[] = [];
  for (const name of Object.keys(CONFIG_KEYS) as ConfigKeyName[]) {
    const schemas = keySchemas(name);
    const distinct = new Map<string, { role: Role; schema: JsonSchema }[]>();
    for (const [role, schema] of Object.entries(schemas) as [Role, JsonSchema][]) {
      const text = JSON.stringify(schema);
      distinct.set(text, [...(distinct.get(text) ?? []), { role, schema }]);
    }
    for (const group of distinct.values()) {
      const stacks = distinct.size === 1 ? stacksOf(CONFIG_KEYS[name]) : group.map(({ role }) => role).join(", ");
      rows.push(...rowsOf(name, group[0].role, group[0].schema, stacks));
    }
  }
  return rows;
}

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** docs/configuration.md. */
export function configurationReference(): string {
  const lines = [
    "<!-- Generated by `npm run docs` from the settings schemas (lib/*/settings.ts) and the key table (lib/config/keys.ts); edit those, not this file. -->",
    "# Configuration reference",
    "",
    "Every key the program reads. All are in the `charmarr:` namespace except the Tailscale provider's",
    "own (`tailscale:oauthClientId` + `tailscale:oauthClientSecret`, or `tailscale:apiKey`, and",
    "`tailscale:tailnet`; each may come from its `TAILSCALE_*` environment variable instead), which",
    "any `platform.tailscale` feature needs ([platform](platform.md#tailscale)).",
    "",
    "Objects are set field by field with `pulumi config set --path` (or edited in the stack file). A",
    "key that belongs to the other stack, an unknown key or an unknown field inside an object is an",
    "error, never silently ignored; the whole configuration is checked before anything is created.",
    "Secret keys must be set with `pulumi config set --secret`; a plain-text value is refused. Details:",
    "[VPN](vpn.md#configuration-charmarrvpn-and-the-credentials),",
    "[apps](apps-ingress-mesh.md#enabling-disabling-or-re-imaging-an-app), [platform](platform.md).",
    "",
    "## Editor completion",
    "",
    `[\`${SCHEMA_FILE.replace("docs/", "")}\`](${SCHEMA_FILE.replace("docs/", "")}) is a JSON Schema of the stack files`,
    "(`Pulumi.<stack>.yaml`). The shipped `Pulumi.core.yaml` and `Pulumi.downloads.yaml` start with",
    "the modeline `# yaml-language-server: $schema=./docs/stack-config.schema.json`, so editors using",
    "the YAML language server (VS Code's YAML extension, Neovim, Helix, …) complete and check every",
    "`charmarr:` key; keep that first line when you copy one for another stack. Pulumi ignores the",
    "comment and keeps it when `pulumi config set` edits the file.",
    "",
    "## Keys",
    "",
    "| key | stack | type | default | what it is |",
    "|---|---|---|---|---|",
    ...referenceRows().map(
      (row) =>
        `| \`${row.path}\` | ${row.stacks} | ${cell(row.type)} | ${cell(row.default)} | ${cell(row.description)} |`,
    ),
    "",
  ];
  return lines.join("\n");
}

const SECURE_VALUE: JsonSchema = {
  type: "object",
  description: "A value encrypted by `pulumi config set --secret`.",
  properties: { secure: { type: "string" } },
  required: ["secure"],
  additionalProperties: false,
};

/** The stack-file schema of one key: its value in every role that reads it, and its secure form for secrets. */
function stackFileKeySchema(name: ConfigKeyName): JsonSchema {
  const spec: ConfigKeySpec = CONFIG_KEYS[name];
  const distinct = [
    ...new Map(Object.values(keySchemas(name)).map((schema) => [JSON.stringify(schema), schema])).values(),
  ];
  const value = distinct.length === 1 ? distinct[0] : { anyOf: distinct };
  const description = `${spec.description} Stack: ${stacksOf(spec)}.${spec.defaultText ? ` Default: ${spec.defaultText}.` : ""}`;
  return spec.secret ? { description, anyOf: [value, SECURE_VALUE] } : { ...value, description };
}

/** docs/stack-config.schema.json: what a `Pulumi.<stack>.yaml` of this project may hold. */
export function stackFileSchema(): JsonSchema {
  const names = Object.keys(CONFIG_KEYS) as ConfigKeyName[];
  const definitions = Object.fromEntries(names.map((name) => [name, stackFileKeySchema(name)]));
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "Charmarr stack configuration (Pulumi.<stack>.yaml)",
    description: "Generated by `npm run docs` from the settings schemas; see docs/configuration.md.",
    type: "object",
    properties: {
      config: {
        type: "object",
        description:
          "The stack's configuration, `<namespace>:<key>`; a key without namespace is the project's (charmarr).",
        properties: Object.fromEntries(
          names.map((name) => [`${CONFIG_NAMESPACE}:${name}`, { $ref: `#/$defs/${name}` }]),
        ),
        patternProperties: {
          // Pulumi reads a key without namespace as the project's own (charmarr:<key>).
          ...Object.fromEntries(names.map((name) => [`^${name}$`, { $ref: `#/$defs/${name}` }])),
          // Other namespaces (tailscale:, kubernetes:, ...) belong to providers.
          [`^(?!${CONFIG_NAMESPACE}:)[^:]+:.+$`]: {},
        },
        additionalProperties: false,
      },
      secretsprovider: { type: "string", description: "Secrets provider of the stack, written by Pulumi." },
      encryptedkey: {
        type: "string",
        description: "Encrypted data key of a cloud secrets provider, written by Pulumi.",
      },
      encryptionsalt: { type: "string", description: "Salt of the passphrase secrets provider, written by Pulumi." },
      environment: { description: "Pulumi ESC environments the stack imports." },
    },
    additionalProperties: false,
    $defs: definitions,
  };
}

export function stackFileSchemaText(): string {
  return `${JSON.stringify(stackFileSchema(), null, 2)}\n`;
}

/** An object's fields, nested objects and maps spelled out: `{a, b, c {d}, <name>: {e}}`. */
function fieldsOf(schema: JsonSchema): string {
  const fields = Object.entries(schema.properties ?? {}).map(([field, inner]) =>
    inner.type === "object" ? `${field} ${fieldsOf(inner)}` : field,
  );
  if (typeof schema.additionalProperties === "object") {
    fields.push(`<name>: ${fieldsOf(schema.additionalProperties)}`);
  }
  return `{${fields.join(", ")}}`;
}

/**
 * A key's line under `template.config` in Pulumi.yaml, which `pulumi new` shows:
 * "<type>, <stack>. <what it is> Default: <default>."
 */
export function templateDescription(name: ConfigKeyName): string {
  const spec: ConfigKeySpec = CONFIG_KEYS[name];
  const schemas = Object.entries(keySchemas(name)) as [Role, JsonSchema][];
  const [, schema] = schemas[0];
  const typeOfSchema = (value: JsonSchema) =>
    value.type === "object"
      ? `object ${fieldsOf(value)}`
      : value.enum
        ? `${value.type}: ${value.enum.join(" | ")}`
        : (value.type ?? "string");
  const types = [...new Set(schemas.map(([, value]) => typeOfSchema(value)))];
  const type = spec.secret
    ? "secret string"
    : types.length === 1
      ? types[0]
      : schemas.map(([role, value]) => `${typeOfSchema(value)} in ${role}`).join(", ");
  const stacks = spec.roles.length === ROLES.length ? "both stacks" : spec.roles.join(", ");
  const defaults = schemas.map(([role]) => [role, defaultAt(name, role, [])] as const);
  const defaultText =
    spec.defaultText ??
    (schema.type === "object"
      ? "see docs/configuration.md"
      : defaults.every(([, value]) => value === undefined)
        ? "none"
        : defaults
            .map(([role, value]) => (defaults.length > 1 ? `${String(value)} (${role})` : String(value)))
            .join(", "));
  return `${type}, ${stacks}. ${spec.description} Default: ${defaultText}.`;
}

/** Pulumi.yaml with every key's template description regenerated; everything else kept as written. */
export function projectFileText(current: string = readFileSync(PROJECT_FILE, "utf8")): string {
  const document = parseDocument(current);
  for (const name of Object.keys(CONFIG_KEYS) as ConfigKeyName[]) {
    document.setIn(["template", "config", `${CONFIG_NAMESPACE}:${name}`, "description"], templateDescription(name));
  }
  return document.toString({ lineWidth: 0 });
}

if (require.main === module) {
  writeFileSync(REFERENCE_FILE, configurationReference());
  writeFileSync(SCHEMA_FILE, stackFileSchemaText());
  writeFileSync(PROJECT_FILE, projectFileText());
  console.log(`wrote ${REFERENCE_FILE}, ${SCHEMA_FILE} and the template descriptions in ${PROJECT_FILE}`);
}
