import { distance } from "fastest-levenshtein";
import { quote } from "shlex";

/** The namespace of every key this program reads: `charmarr:<key>`. */
export const CONFIG_NAMESPACE = "charmarr";

/** One thing wrong with a stack's configuration, phrased for the person who has to fix it. */
export interface ConfigProblem {
  /** The full config key, with a `.path` into objects where it helps, e.g. `charmarr:cluster.podCidr`. */
  readonly key: string;
  /** What is wrong, in one sentence. */
  readonly problem: string;
  /** A command or edit that fixes it. */
  readonly fix?: string;
}

/**
 * How a rule wants its problem fixed: `suggest` is a value to put in the generated
 * `pulumi config set` for the problem's own key, `fix` a complete fix text that replaces it.
 * Used as the `params` of a zod custom issue and by the rules between settings.
 */
export interface IssueParams {
  suggest?: string;
  fix?: string;
}

/** A rule a setting breaks, located by its path inside the stack's config (`["gateways", "arr", "lanIp"]`). */
export interface SettingsIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
  readonly params?: IssueParams;
}

/** `["cluster", "podCidr"]` → `charmarr:cluster.podCidr`; list indexes as `[0]`. */
export function configKey(path: readonly PropertyKey[]): string {
  let key = CONFIG_NAMESPACE + ":";
  path.forEach((segment, index) => {
    if (typeof segment === "number") {
      key += `[${segment}]`;
    } else {
      key += (index === 0 ? "" : ".") + String(segment);
    }
  });
  return key;
}

/** Quotes a value for a POSIX shell when it needs it (Python's shlex.quote rules), so suggested commands paste cleanly. */
export function shellQuote(value: string): string {
  return quote(value);
}

/** Whether a key addresses a field inside an object or list, which the CLI needs `--path` for. */
function isPathKey(key: string): boolean {
  return key.includes(".") || key.includes("[");
}

/** `pulumi config set --path 'charmarr:a.b' value`, the fix for most object-field problems. */
export function configSetCommand(key: string, value: string, secret = false): string {
  const path = isPathKey(key) ? " --path" : "";
  const secretFlag = secret ? " --secret" : "";
  return `pulumi config set${path}${secretFlag} ${shellQuote(key)} ${shellQuote(value)}`;
}

/** `pulumi config rm --path 'charmarr:a.b'`: removes a key, or one field of an object key. */
export function configRemoveCommand(key: string): string {
  return `pulumi config rm${isPathKey(key) ? " --path" : ""} ${shellQuote(key)}`;
}

/** The candidate within edit distance 3 of `word` (case-insensitive), if any: for "did you mean". */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const edits = distance(word.toLowerCase(), candidate.toLowerCase());
    if (edits <= 3 && edits < word.length && (!best || edits < best.distance)) {
      best = { candidate, distance: edits };
    }
  }
  return best?.candidate;
}
