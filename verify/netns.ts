/**
 * The `ip netns exec` transport: the network-namespace lab runs the verifier's probes in its
 * namespaces through it. A target is a named network namespace, optionally entered through a
 * wrapper (e.g. `nsenter --mount=/proc/PID/ns/mnt --` for a bind-mounted /etc/resolv.conf).
 */
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
    /** @param ip the `ip` executable (iproute2). */
    constructor(private readonly ip: string = "ip") {}

    async exec(target: NetnsTarget, argv: readonly string[], options: ExecOptions): Promise<ExecResult> {
        const result = await runProcess([this.ip, "netns", "exec", target.netns, ...(target.wrapper ?? []), ...argv], options);
        if (result.spawnError) {
            return { ...result, failure: { kind: "unreachable", message: `cannot run ${this.ip}: ${result.spawnError}` } };
        }
        const failure = result.timedOut ? undefined : netnsFailure(result.stderr, result.exitCode);
        return failure ? { ...result, failure } : result;
    }
}
