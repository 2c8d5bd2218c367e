/**
 * A stack's configuration as `loadConfig` judges it, and the `pulumi config` commands of a problem's
 * fix run on it the way the CLI would, so a test can check that a fix, applied as written, clears
 * its problem.
 */
import { strict as assert } from "node:assert";
import { split } from "shlex";
import { ConfigError, ConfigProblem, StackConfig, loadConfig } from "../../lib/config";
import type { PlanConfig } from "../../plan/evaluate";
import { configSource, withConfig } from "./plan";

/** `loadConfig` on a stack's configuration, as the program runs it before anything is created. */
export function loadStack(stack: string, config: PlanConfig): StackConfig {
  return loadConfig(configSource(stack, config));
}

/** The problems `loadConfig` finds in a stack's configuration; none when it is accepted. */
export function problemsOf(stack: string, config: PlanConfig): readonly ConfigProblem[] {
  try {
    loadStack(stack, config);
    return [];
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
}

/** A word of a command: a shell-quoted string or a run of characters up to a space, comma or semicolon. */
const WORD = String.raw`(?:'[^']*'|[^\s,;]+)`;
const COMMAND = new RegExp(String.raw`pulumi config (?:set (?:--path )?${WORD} ${WORD}|rm (?:--path )?${WORD})`, "g");

/** The `pulumi config set|rm` commands a fix's text names, in order (the prose around them left out). */
export function configCommandsIn(fix: string | undefined): string[] {
  return [...(fix ?? "").matchAll(COMMAND)].map((match) => match[0]);
}

/**
 * Runs one `pulumi config set [--path] KEY VALUE` or `pulumi config rm [--path] KEY` on `config`.
 * With `--path`, `true`/`false` become booleans and integers numbers (`pulumi config set --help`).
 */
export function runConfigCommand(config: PlanConfig, command: string): PlanConfig {
  const words = split(command);
  const path = words.includes("--path");
  const [verb, key, value, ...rest] = words.filter((word) => word !== "--path").slice(2);
  assert.deepEqual(words.slice(0, 2), ["pulumi", "config"], command);
  assert.ok(
    (verb === "set" && value !== undefined && rest.length === 0) || (verb === "rm" && value === undefined),
    `not one plain set or rm: ${command}`,
  );
  assert.ok(!/[[\]]/.test(key), `a list index is not supported here: ${command}`);
  assert.ok(path || !key.includes("."), `a nested key needs --path: ${command}`);
  const typed =
    value === undefined || !path
      ? value
      : value === "true" || value === "false"
        ? value === "true"
        : /^-?\d+$/.test(value)
          ? Number(value)
          : value;
  return withConfig(config, { [key]: typed });
}
