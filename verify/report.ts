import type { Status, Verdict } from "./verdicts";
import { exitStatus } from "./verdicts";

const LABELS: Record<Status, string> = { pass: "PASS", fail: "FAIL", unknown: "??" };

/** The verdicts as a table a person reads, one row per check, and a last line with the counts and the exit status. */
export function renderReport(verdicts: readonly Verdict[]): string {
  const header = ["CHECK", "SUBJECT", "RESULT", "DETAIL"];
  const rows = verdicts.map((verdict) => [verdict.check, verdict.subject, LABELS[verdict.status], verdict.message]);
  const widths = [0, 1, 2].map((column) => Math.max(header[column].length, ...rows.map((row) => row[column].length)));
  const line = (row: readonly string[]) =>
    [...row.slice(0, 3).map((cell, column) => cell.padEnd(widths[column])), row[3]].join("  ").trimEnd();
  const count = (status: Status) => verdicts.filter((verdict) => verdict.status === status).length;
  const code = exitStatus(verdicts);
  const outcome = code === 0 ? "OK" : code === 1 ? "LEAK OR FAILURE" : "COULD NOT CHECK EVERYTHING";
  return [
    line(header),
    ...rows.map(line),
    "",
    `${outcome}: ${count("pass")} pass, ${count("fail")} fail, ${count("unknown")} could not be checked (exit ${code})`,
  ].join("\n");
}
