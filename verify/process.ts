import { spawn } from "node:child_process";
import { constants } from "node:os";
import type { ExecOptions } from "./transport";

/** What a local process did: both transports wrap their tool (kubectl, ip) in this. */
export interface ProcessResult {
  readonly stdout: string;
  readonly stderr: string;
  /**
   * Exit status; a command killed by a signal other than our own time limit reports 128 + the
   * signal's number, as a shell and a container runtime do. `null` when it ran past the time
   * limit or could not be started.
   */
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  /** Set when the executable could not be started at all (e.g. not on PATH). */
  readonly spawnError?: string;
}

/**
 * Runs `argv` without a shell, bounded by `timeoutMs` (SIGKILL when it is exceeded), feeding
 * `stdin` when given. Never rejects.
 */
export function runProcess(
  argv: readonly string[],
  options: ExecOptions & { readonly env?: NodeJS.ProcessEnv },
): Promise<ProcessResult> {
  return new Promise((resolve) => {
    const [command, ...args] = argv;
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    let settled = false;
    const finish = (result: Omit<ProcessResult, "stdout" | "stderr" | "timedOut">) => {
      if (settled) {
        return;
      }
      settled = true;
      clearTimeout(timer);
      resolve({
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8"),
        timedOut,
        ...result,
      });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", (error) => finish({ exitCode: null, spawnError: error.message }));
    child.on("close", (code, signal) =>
      finish({ exitCode: timedOut ? null : (code ?? (signal ? 128 + constants.signals[signal] : null)) }),
    );
    // A command that exits without reading its input must not fail the run with EPIPE.
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.stdin ?? "");
  });
}
