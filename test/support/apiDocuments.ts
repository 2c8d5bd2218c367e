// The apps' published API documents, read from the shared folder beside the repository (the project
// does not copy them into its tree), and request validators built from them.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import Ajv from "ajv";
import OpenAPIBackend from "openapi-backend";
import type { Document } from "openapi-backend";
import { parse } from "yaml";

/**
 * Where the apps' API documents live: `shared/servarr` in the directory that holds the repository
 * (CI lays the shared artifacts beside its clone), as the published CRDs (strictSchemas.ts).
 */
export const API_DOCUMENTS = resolve(__dirname, "..", "..", "..", "shared", "servarr");

export function apiDocumentsDir(): string {
  if (!existsSync(join(API_DOCUMENTS, "radarr-v3.openapi.json"))) {
    throw new Error(
      `the apps' API documents are not at ${API_DOCUMENTS} (the shared artifacts must sit beside the repository)`,
    );
  }
  return API_DOCUMENTS;
}

export type DocumentName =
  | "radarr-v3.openapi.json"
  | "sonarr-v3.openapi.json"
  | "lidarr-v1.openapi.json"
  | "prowlarr-v1.openapi.json"
  | "radarr-v3.6.0.3.10276.openapi.json"
  | "sonarr-v3.4.0.19.2979.openapi.json"
  | "lidarr-v1.2.14.5.4836.openapi.json"
  | "prowlarr-v1.2.3.5.5327.openapi.json"
  | "seerr-api.3.1.0.yml";

const HTTP_METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];

/** A request as the stand-in servers see it. */
export interface SeenRequest {
  readonly method: string;
  /** Path as in the API document (base path stripped). */
  readonly path: string;
  readonly query: Record<string, string>;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

/**
 * OpenAPI 3.0 lets a schema without a `type` say `nullable: true` (Servarr's `Field.value`: any value
 * or null); ajv refuses that combination, and without a type the schema already admits null.
 */
function dropUntypedNullable(node: unknown): void {
  if (Array.isArray(node)) {
    node.forEach(dropUntypedNullable);
  } else if (typeof node === "object" && node !== null) {
    const schema = node as Record<string, unknown>;
    if (schema.nullable === true && schema.type === undefined) {
      delete schema.nullable;
    }
    Object.values(schema).forEach(dropUntypedNullable);
  }
}

/**
 * OpenAPI 3.0.2 (Schema Object, readOnly): a property that is readOnly and required is required in
 * responses only. The validator checks requests, so those properties leave `required` (Seerr's
 * PlexSettings `name` and `machineId`, which Seerr fills from the Plex server).
 */
function requireReadOnlyInResponsesOnly(node: unknown): void {
  if (Array.isArray(node)) {
    node.forEach(requireReadOnlyInResponsesOnly);
  } else if (typeof node === "object" && node !== null) {
    const schema = node as { required?: unknown; properties?: Record<string, { readOnly?: boolean }> };
    if (Array.isArray(schema.required) && schema.properties !== undefined) {
      const properties = schema.properties;
      schema.required = schema.required.filter((name: string) => properties[name]?.readOnly !== true);
    }
    Object.values(node).forEach(requireReadOnlyInResponsesOnly);
  }
}

/** Checks requests against one published OpenAPI document; the validator library is openapi-backend (ajv). */
export class DocumentValidator {
  private constructor(private readonly api: OpenAPIBackend) {}

  private static readonly loaded = new Map<DocumentName, Promise<DocumentValidator>>();

  /** The validator of a document, read and built once per test process: it keeps no state between requests. */
  static load(name: DocumentName): Promise<DocumentValidator> {
    let validator = DocumentValidator.loaded.get(name);
    if (validator === undefined) {
      validator = DocumentValidator.build(name);
      DocumentValidator.loaded.set(name, validator);
    }
    return validator;
  }

  private static async build(name: DocumentName): Promise<DocumentValidator> {
    const text = readFileSync(join(apiDocumentsDir(), name), "utf8");
    const definition = (name.endsWith(".yml") ? parse(text) : JSON.parse(text)) as Document;
    // Servarr's documents name no operations; openapi-backend keys its validators by operationId.
    for (const [path, item] of Object.entries(definition.paths ?? {})) {
      for (const method of HTTP_METHODS) {
        const operation = (item as Record<string, { operationId?: string } | undefined>)[method];
        if (operation !== undefined && operation.operationId === undefined) {
          operation.operationId = `${method} ${path}`;
        }
      }
    }
    dropUntypedNullable(definition);
    requireReadOnlyInResponsesOnly(definition);
    // Every schema of the document, as edited above, is checked against JSON Schema's meta-schema
    // here, once. openapi-backend then makes a new Ajv for each operation's body and parameters
    // (openapi-backend validation.js `getAjv`), each of which would compile the meta-schema again
    // for the same check; they skip it (validateSchema). quick: an operation's validators are
    // compiled when a test first uses it.
    const metaCheck = new Ajv({ strict: false, logger: false });
    for (const [schemaName, schema] of Object.entries(definition.components?.schemas ?? {})) {
      if (!metaCheck.validateSchema(schema as object)) {
        throw new Error(`${name}: components.schemas.${schemaName} is no JSON Schema: ${metaCheck.errorsText()}`);
      }
    }
    const api = new OpenAPIBackend({
      definition,
      validate: true,
      strict: false,
      quick: true,
      ajvOpts: { strict: false, logger: false, validateSchema: false },
    });
    await api.init();
    return new DocumentValidator(api);
  }

  /** The document's operation for the request, or the reason it has none. */
  check(request: SeenRequest): { operation?: string; problem?: string } {
    // `apikey` is the documents' query security scheme (Servarr's securitySchemes), not a parameter of
    // any operation: openapi-backend would count it as an unknown query parameter.
    const query = Object.fromEntries(Object.entries(request.query).filter(([name]) => name !== "apikey"));
    const req = {
      method: request.method.toLowerCase(),
      path: request.path,
      query,
      headers: request.headers,
      body: request.body,
    };
    const operation = this.api.matchOperation(req);
    if (operation === undefined) {
      return { problem: `${request.method} ${request.path} is not an operation of the API document` };
    }
    const known = new Set(
      (operation.parameters ?? []).filter((p) => "in" in p && p.in === "query").map((p) => ("name" in p ? p.name : "")),
    );
    const unknown = Object.keys(request.query).filter((name) => !known.has(name) && name !== "apikey");
    if (unknown.length > 0) {
      return {
        problem: `${request.method} ${request.path}: query parameter ${unknown.join(", ")} is not in the API document`,
      };
    }
    const result = this.api.validateRequest(req, operation);
    if (!result.valid) {
      return {
        problem: `${request.method} ${request.path}: ${(result.errors ?? []).map((e) => `${e.instancePath} ${e.message}`).join("; ")}`,
      };
    }
    return { operation: operation.operationId };
  }
}
