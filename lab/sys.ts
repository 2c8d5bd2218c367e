/**
 * Process and namespace bookkeeping for the lab: every network namespace and process group it
 * creates is recorded here, and {@link Registry.cleanup} removes exactly those (on exit, on failure
 * and on Ctrl-C). Nothing is removed by pattern or by name it did not create.
 */
import { spawn, spawnSync } from "node:child_process";
import { closeSync, openSync, rmSync } from "node:fs";
import { commandsIn } from "./tools";

/** Every program the lab has started in this process, wrappers included (checked against lab/tools.ts). */
export const ranPrograms = new Set<string>();

function record(argv: readonly string[]): void {
  for (const program of commandsIn(argv)) {
    ranPrograms.add(program);
  }
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** Runs argv (no shell) bounded by `timeoutMs`, in `cwd` when given; never throws. */
export function run(argv: readonly string[], timeoutMs = 10_000, input?: string, cwd?: string): RunResult {
  record(argv);
  const [command, ...args] = argv;
  const result = spawnSync(command, args, { encoding: "utf8", timeout: timeoutMs, input, cwd, killSignal: "SIGKILL" });
  return {
    code: result.status,
    stdout: result.stdout ?? "",
    stderr: result.stderr ?? (result.error ? result.error.message : ""),
    timedOut: (result.error as NodeJS.ErrnoException | undefined)?.code === "ETIMEDOUT",
  };
}

export class LabError extends Error {}

/** Runs argv and throws a LabError naming the command and its stderr unless it exits 0. */
export function must(argv: readonly string[], timeoutMs = 10_000, input?: string, cwd?: string): string {
  const result = run(argv, timeoutMs, input, cwd);
  if (result.code !== 0) {
    throw new LabError(
      `${argv.join(" ")} failed (${result.timedOut ? "timed out" : `exit ${result.code}`}): ${result.stderr.trim() || result.stdout.trim()}`,
    );
  }
  return result.stdout;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A long-running process the lab started, in its own process group. */
/** Waits (bounded) until `ready` holds; false when it never did. */
export async function until(limitMs: number, ready: () => boolean): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (Date.now() < end) {
    if (ready()) {
      return true;
    }
    await sleep(250);
  }
  return false;
}

export interface Daemon {
  readonly name: string;
  readonly pid: number;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** True once it has exited. */
  isDone(): boolean;
}

export class Registry {
  private readonly namespaces: string[] = [];
  private readonly groups = new Map<number, string>();
  private readonly dirs: string[] = [];
  private cleaned = false;

  /** True once cleanup has begun: nothing may be started any more. */
  get closed(): boolean {
    return this.cleaned;
  }

  netns(name: string): string {
    must(["ip", "netns", "add", name]);
    this.namespaces.push(name);
    return name;
  }

  dir(path: string): string {
    if (!process.env.LAB_KEEP) {
      this.dirs.push(path);
    }
    return path;
  }

  /** Starts argv detached (own process group), output appended to `logFile`. */
  start(name: string, argv: readonly string[], logFile: string, env?: NodeJS.ProcessEnv): Daemon {
    if (this.cleaned) {
      throw new LabError(`not starting ${name}: the lab is shutting down`);
    }
    record(argv);
    const fd = openSync(logFile, "a");
    const [command, ...args] = argv;
    const child = spawn(command, args, { detached: true, stdio: ["ignore", fd, fd], env: env ?? process.env });
    closeSync(fd);
    if (child.pid === undefined) {
      throw new LabError(`cannot start ${name}: ${argv.join(" ")}`);
    }
    const pid = child.pid;
    this.groups.set(pid, name);
    let done = false;
    const exited = new Promise<number | null>((resolve) => {
      child.on("exit", (code) => {
        done = true;
        this.groups.delete(pid);
        resolve(code);
      });
      child.on("error", () => {
        done = true;
        this.groups.delete(pid);
        resolve(null);
      });
    });
    return { name, pid, exited, isDone: () => done };
  }

  /** Kills one recorded process group and waits (bounded) for its leader to exit. */
  async stop(daemon: Daemon, signal: NodeJS.Signals = "SIGTERM", graceMs = 2000): Promise<void> {
    killGroup(daemon.pid, signal);
    const timeout = sleep(graceMs).then(() => "timeout" as const);
    if ((await Promise.race([daemon.exited, timeout])) === "timeout") {
      killGroup(daemon.pid, "SIGKILL");
      await Promise.race([daemon.exited, sleep(1000)]);
    }
  }

  /** Removes everything recorded, in reverse: processes, namespaces, directories. Idempotent. */
  cleanup(): void {
    if (this.cleaned) {
      return;
    }
    this.cleaned = true;
    for (const pid of this.groups.keys()) {
      killGroup(pid, "SIGKILL");
    }
    for (const name of [...this.namespaces].reverse()) {
      // Processes the lab did not start directly (children that left the group) still hold
      // the namespace: end them by the pids the kernel lists for this namespace only.
      for (const pid of run(["ip", "netns", "pids", name]).stdout.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          // already gone
        }
      }
      run(["ip", "netns", "del", name]);
    }
    for (const dir of [...this.dirs].reverse()) {
      // Mounts live in per-container mount namespaces that died with their processes.
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone
  }
}

/** Like {@link run}, without blocking the event loop (probes run side by side). */
export function runAsync(argv: readonly string[], timeoutMs = 10_000): Promise<RunResult> {
  record(argv);
  return new Promise((resolve) => {
    const [command, ...args] = argv;
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", (error) => {
      clearTimeout(timer);
      resolve({ code: null, stdout: "", stderr: error.message, timedOut });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        timedOut,
      });
    });
  });
}
