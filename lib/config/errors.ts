import * as pulumi from "@pulumi/pulumi";

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

/** Quotes a value for a POSIX shell when it needs it, so suggested commands paste cleanly. */
export function shellQuote(value: string): string {
    return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** `pulumi config set --path 'charmarr:a.b' value`, the fix for most object-field problems. */
export function configSetCommand(key: string, value: string, secret = false): string {
    const path = key.includes(".") || key.includes("[") ? " --path" : "";
    const secretFlag = secret ? " --secret" : "";
    return `pulumi config set${path}${secretFlag} ${shellQuote(key)} ${shellQuote(value)}`;
}

/** The candidate within edit distance 3 of `word` (case-insensitive), if any: for "did you mean". */
export function closest(word: string, candidates: readonly string[]): string | undefined {
    let best: { candidate: string; distance: number } | undefined;
    for (const candidate of candidates) {
        const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
        if (distance <= 3 && distance < word.length && (!best || distance < best.distance)) {
            best = { candidate, distance };
        }
    }
    return best?.candidate;
}

function editDistance(a: string, b: string): number {
    let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
        const current = [i];
        for (let j = 1; j <= b.length; j++) {
            current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        }
        previous = current;
    }
    return previous[b.length];
}
