/**
 * The `ip netns exec` transport: the network-namespace lab runs the verifier's probes in its
 * namespaces through it. A target is a named network namespace, optionally entered through a
 * wrapper (e.g. `nsenter --mount=/proc/PID/ns/mnt --` for a bind-mounted /etc/resolv.conf).
 */
import { appendFileSync } from "node:fs";
import { runProcess } from "./process";
import type { ExecOptions, ExecResult, Target, Transport, TransportFailure } from "./transport";

export interface NetnsTarget extends Target {
  /** The network namespace's name, as `ip netns list` shows it. */
  readonly netns: string;
  /** Argv prefix run inside the namespace before the probe's argv (another namespace to enter, a user to become). */
  readonly wrapper?: readonly string[];
}

/**
 * How `ip netns exec` (iproute2 ip/ipnetns.c) says it never ran the command:
 * `Cannot open network namespace "NAME": ...` (exit 255) and `exec of "CMD" failed: ...` (exit 1).
 */
export function netnsFailure(stderr: string, exitCode: number | null): TransportFailure | undefined {
  const line = stderr.split("\n").find((text) => /^Cannot open network namespace|^exec of "/.test(text));
  if (!line) {
    return undefined;
  }
  if (line.startsWith("exec of") && exitCode !== 0) {
    return { kind: "missing-command", message: line.trim() };
  }
  return { kind: "unreachable", message: line.trim() };
}

export class NetnsTransport implements Transport<NetnsTarget> {
  /**
   * @param ip the `ip` executable (iproute2).
   * @param record a file to append every exec to, one JSON line each (target, argv, result; stdin
   *   only by its length): how the verifier's test fixtures are captured from a lab run. Default
   *   `$VERIFY_RECORD`, else none.
   */
  constructor(
    private readonly ip: string = "ip",
    private readonly record: string | undefined = process.env.VERIFY_RECORD,
  ) {}

  async exec(target: NetnsTarget, argv: readonly string[], options: ExecOptions): Promise<ExecResult> {
    const ran = await runProcess([this.ip, "netns", "exec", target.netns, ...(target.wrapper ?? []), ...argv], options);
    const { spawnError, ...output } = ran;
    const failure: TransportFailure | undefined = spawnError
      ? { kind: "unreachable", message: `cannot run ${this.ip}: ${spawnError}` }
      : ran.timedOut
        ? undefined
        : netnsFailure(ran.stderr, ran.exitCode);
    const result: ExecResult = failure ? { ...output, failure } : output;
    if (this.record) {
      const stdin = options.stdin !== undefined ? { stdinBytes: Buffer.byteLength(options.stdin) } : {};
      appendFileSync(
        this.record,
        `${JSON.stringify({ target: { role: target.role, name: target.name }, argv, ...stdin, result })}\n`,
      );
    }
    return result;
  }
}
