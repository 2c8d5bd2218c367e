/**
 * The lab's own probes, beside the verifier's (verify/probes.ts, which the lab runs for the
 * address and DNS-path checks): a DNS lookup of a fresh name through the pod's own resolv.conf
 * (fresh, so no cache hides a query from the resolver's log) and one UDP datagram to the VPN port
 * of an internet host. Each is one command with its own timeout; none retries.
 */
import type { RunResult } from "./sys";

/** Runs argv in a target (the lab enters a container with nsenter). */
export type Exec = (argv: readonly string[], timeoutMs: number) => Promise<RunResult>;

export type Probe<T> = { ok: true; value: T } | { ok: false; message: string };

function firstLine(text: string): string {
  return (
    text
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l.length > 0) ?? ""
  );
}

/** A/ANSWER lines from `dig +short`; the first IPv4 address is the answer. */
export function parseDigShort(output: string): string | undefined {
  return output
    .split("\n")
    .map((l) => l.trim())
    .find((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l));
}

/** Resolves `name` with the target's resolv.conf (dig, one try). */
export async function resolve(exec: Exec, name: string, timeoutSeconds: number): Promise<Probe<string>> {
  const result = await exec(
    ["dig", `+time=${timeoutSeconds}`, "+tries=1", "+short", name],
    (timeoutSeconds + 2) * 1000,
  );
  const answer = parseDigShort(result.stdout);
  if (result.code === 0 && answer) {
    return { ok: true, value: answer };
  }
  return {
    ok: false,
    message:
      firstLine(result.stdout) || firstLine(result.stderr) || (result.timedOut ? "no answer" : `exit ${result.code}`),
  };
}

/** Sends one UDP datagram (bash's /dev/udp); succeeds when the command ran, whatever became of the packet. */
export async function sendUdp(exec: Exec, host: string, port: number): Promise<Probe<void>> {
  const result = await exec(["bash", "-c", `echo lab-probe > /dev/udp/${host}/${port}`], 3000);
  return result.code === 0 || result.timedOut
    ? { ok: true, value: undefined }
    : { ok: false, message: firstLine(result.stderr) || `exit ${result.code}` };
}
