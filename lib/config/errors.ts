import * as pulumi from "@pulumi/pulumi";
import type { ConfigProblem } from "../settings";

export type { ConfigProblem } from "../settings";

/**
 * Raised before any resource is created when configuration is invalid. A `RunError`, so the Pulumi
 * CLI prints the message alone instead of a stack trace.
 */
export class ConfigError extends pulumi.RunError {
  constructor(
    readonly stack: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(formatProblems(stack, problems));
    this.name = "ConfigError";
  }
}

/** Throws one {@link ConfigError} listing every problem, if there are any. */
export function throwIfProblems(stack: string, problems: readonly ConfigProblem[]): void {
  if (problems.length > 0) {
    throw new ConfigError(stack, problems);
  }
}

export function formatProblems(stack: string, problems: readonly ConfigProblem[]): string {
  const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
  const lines = [`Invalid configuration for stack "${stack}" (${count}):`];
  for (const { key, problem, fix } of problems) {
    lines.push("", `  ${key}`, `    ${problem}`);
    if (fix) {
      lines.push(`    fix: ${fix}`);
    }
  }
  return lines.join("\n");
}
