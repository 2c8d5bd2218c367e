/**
 * The per-module summary of a Stryker run (`npm run mutate`, docs/development.md "Mutation
 * testing"), read from its JSON report (the mutation-testing-elements report schema, which
 * Stryker's json reporter writes): each module's score and counts, then every mutant no test
 * noticed, where it is and what it changed. `scripts/mutate --record` appends this to the log.
 *
 * usage: node --require tsx/cjs tools/mutationSummary.ts .cache/stryker/mutation.json
 */
import { readFileSync } from "node:fs";

/** The fields of the report this summary reads. */
export interface MutationReport {
  readonly files: Record<string, { readonly source: string; readonly mutants: readonly ReportedMutant[] }>;
}

export interface ReportedMutant {
  readonly mutatorName: string;
  readonly replacement?: string;
  readonly location: { readonly start: { readonly line: number; readonly column: number } };
  readonly status: string;
}

/** The modules issue scope names: a folder (trailing slash) or one file. */
export const MODULES = ["lib/vpn/", "lib/relations/", "lib/mesh/policies.ts", "lab/report.ts", "lab/leaks.ts"];

interface Tally {
  killed: number;
  timeout: number;
  survived: number;
  noCoverage: number;
  compileError: number;
  ignored: number;
}

function tally(mutants: readonly ReportedMutant[]): Tally {
  const count = (...statuses: string[]) => mutants.filter((m) => statuses.includes(m.status)).length;
  return {
    killed: count("Killed"),
    timeout: count("Timeout"),
    survived: count("Survived"),
    noCoverage: count("NoCoverage"),
    compileError: count("CompileError", "RuntimeError"),
    ignored: count("Ignored"),
  };
}

/** Stryker's mutation score: detected (killed or timed out) over all valid mutants that ran or had no test. */
export function score(t: Tally): number | undefined {
  const valid = t.killed + t.timeout + t.survived + t.noCoverage;
  return valid === 0 ? undefined : ((t.killed + t.timeout) / valid) * 100;
}

function row(name: string, t: Tally): string {
  const figure = score(t);
  return [
    name.padEnd(34),
    (figure === undefined ? "n/a" : figure.toFixed(2)).padStart(7),
    String(t.killed).padStart(7),
    String(t.timeout).padStart(8),
    String(t.survived).padStart(9),
    String(t.noCoverage).padStart(7),
    String(t.compileError).padStart(14),
    String(t.ignored).padStart(8),
  ].join(" ");
}

/** The summary text: one row per module and per file, then the undetected mutants. */
export function summarize(report: MutationReport): string {
  const files = Object.keys(report.files).sort();
  const header = [
    "module or file".padEnd(34),
    "  score",
    " killed",
    " timeout",
    " survived",
    " no cov",
    " compile error",
    " ignored",
  ].join(" ");
  const lines = ["Mutation score per module (killed + timeout over all but compile errors and ignored):", header];
  for (const module of MODULES) {
    const inModule = files.filter((file) => (module.endsWith("/") ? file.startsWith(module) : file === module));
    if (inModule.length === 0) {
      lines.push(`${module.padEnd(34)}  not in this run`);
      continue;
    }
    lines.push(row(module, tally(inModule.flatMap((file) => report.files[file].mutants))));
    if (module.endsWith("/")) {
      for (const file of inModule) {
        lines.push(row(`  ${file}`, tally(report.files[file].mutants)));
      }
    }
  }
  lines.push("", "Mutants no test detected (file:line:column status mutator: original => replacement):");
  for (const file of files) {
    const source = report.files[file].source.split("\n");
    for (const mutant of report.files[file].mutants) {
      if (mutant.status !== "Survived" && mutant.status !== "NoCoverage") {
        continue;
      }
      const { line, column } = mutant.location.start;
      const original = source[line - 1].trim();
      const replacement = (mutant.replacement ?? "").replace(/\s+/g, " ");
      lines.push(`${file}:${line}:${column} ${mutant.status} ${mutant.mutatorName}: ${original} => ${replacement}`);
    }
  }
  return lines.join("\n");
}

if (require.main === module) {
  const [path] = process.argv.slice(2);
  if (!path) {
    console.error("usage: node --require tsx/cjs tools/mutationSummary.ts <stryker JSON report>");
    process.exit(2);
  }
  console.log(summarize(JSON.parse(readFileSync(path, "utf8")) as MutationReport));
}
