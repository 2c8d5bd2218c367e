import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { DrillResult } from "../../verify/probes";
import type { ExecOptions, ExecResult, Target, Transport } from "../../verify/transport";

/** One recorded exec of test/fixtures/verify/captured.json. */
export interface CapturedCall {
  readonly argv: readonly string[];
  readonly stdin?: string;
  readonly result: ExecResult;
}

export interface Captured {
  readonly captured: string;
  readonly cases: Readonly<Record<string, { readonly description: string; readonly calls: readonly CapturedCall[] }>>;
  readonly drill: DrillResult;
  readonly kubectl: Readonly<Record<string, { readonly argv: readonly string[]; readonly result: ExecResult }>>;
  readonly addresses: {
    readonly client: string;
    readonly echo: string;
    readonly vpnExit: string;
    readonly resolver: string;
    readonly silentResolver: string;
  };
}

/** Real command output captured in network namespaces (see test/fixtures/verify/README.md). */
export const CAPTURED: Captured = JSON.parse(
  readFileSync(join(__dirname, "..", "fixtures", "verify", "captured.json"), "utf8"),
) as Captured;

export function capturedCalls(name: string): readonly CapturedCall[] {
  const found = CAPTURED.cases[name];
  assert.ok(found, `no captured case ${name}`);
  return found.calls;
}

/**
 * Plays a captured case back: each exec must ask for exactly the recorded argv (so the probe
 * still runs the command whose output was captured) and gets the recorded result.
 */
export class ReplayTransport implements Transport {
  private next = 0;
  readonly stdins: (string | undefined)[] = [];

  constructor(private readonly calls: readonly CapturedCall[]) {}

  async exec(_target: Target, argv: readonly string[], options: ExecOptions): Promise<ExecResult> {
    const call = this.calls[this.next++];
    assert.ok(call, `unexpected exec ${argv.join(" ")}: the capture has no more calls`);
    assert.deepEqual(argv, call.argv);
    this.stdins.push(options.stdin);
    return call.result;
  }

  /** Every recorded call was asked for. */
  assertDone(): void {
    assert.equal(this.next, this.calls.length, "the probe made fewer execs than the capture recorded");
  }
}

/** One exec the lab made through NetnsTransport with VERIFY_RECORD set (test/fixtures/verify/lab-run.jsonl). */
export interface LabExec {
  readonly target: { readonly role: string; readonly name: string };
  readonly argv: readonly string[];
  readonly result: ExecResult;
}

/** Every probe `npm run lab` ran through the verifier during one run, in order. */
export const LAB_RUN: readonly LabExec[] = readFileSync(
  join(__dirname, "..", "fixtures", "verify", "lab-run.jsonl"),
  "utf8",
)
  .split("\n")
  .filter((line) => line.length > 0)
  .map((line) => JSON.parse(line) as LabExec);
