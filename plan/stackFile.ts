import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { CONFIG_KEYS, CONFIG_NAMESPACE, isConfigKeyName } from "../lib/config/keys";
import { PlanConfig } from "./evaluate";

export class StackFileError extends Error {}

function isSecure(value: unknown): value is { secure: string } {
  return typeof value === "object" && value !== null && Object.keys(value).length === 1 && "secure" in value;
}

/** Replaces `secure:` ciphertext, which needs the stack's passphrase, with a readable placeholder. */
function withPlaceholders(value: unknown, path: string, found: { secure: boolean }): unknown {
  if (isSecure(value)) {
    found.secure = true;
    return `[secret ${path}]`;
  }
  if (Array.isArray(value)) {
    return value.map((item, index) => withPlaceholders(item, `${path}[${index}]`, found));
  }
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [key, withPlaceholders(inner, `${path}.${key}`, found)]),
    );
  }
  return value;
}

/**
 * Turns the `config:` block of a Pulumi stack file into what the CLI would hand the program:
 * strings, with objects and lists as JSON. `secure:` values become placeholders; keys the
 * program requires to be secret count as secrets even when written in plain text here.
 */
export function readStackFile(file: string): PlanConfig {
  let document: unknown;
  try {
    document = parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new StackFileError(`Cannot read stack config file ${file}: ${(error as Error).message}`);
  }
  const config = (document as { config?: unknown } | null)?.config ?? {};
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new StackFileError(`${file}: 'config' must be a map of keys to values`);
  }
  const values: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [written, raw] of Object.entries(config)) {
    // Like the CLI, a key without a namespace is the project's own (pulumi/pulumi
    // sdk/go/common/workspace/loaders.go, LoadProjectStackBytes).
    const key = written.includes(":") ? written : `${CONFIG_NAMESPACE}:${written}`;
    const found = { secure: false };
    const value = withPlaceholders(raw, key, found);
    values[key] = typeof value === "string" ? value : JSON.stringify(value);
    const [namespace, name] = key.split(":");
    const declaredSecret =
      namespace === CONFIG_NAMESPACE && name !== undefined && isConfigKeyName(name) && "secret" in CONFIG_KEYS[name];
    if (found.secure || declaredSecret) {
      secretKeys.push(key);
    }
  }
  return { values, secretKeys };
}
