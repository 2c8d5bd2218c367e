/**
 * A real qBittorrent for tests: Debian's `qbittorrent-nox`, started on loopback with the config the
 * planned init script writes, one process per test file:
 *
 *     const seed = plannedQbittorrentSeed(downloadsPlan);            // the planned script and its env
 *     const library = mkdtempSync(join(tmpdir(), "library-"));       // stands for the pod's /data
 *     const qbittorrent = await startQbittorrent(seed, { "/data": library }); // { port, version, config, stop }
 *     const relay = await startRelay(qbittorrent.port);              // another local port, as a port-forward presents it
 *     ...
 *     await relay.close(); await qbittorrent.stop();
 *
 * Without qbittorrent-nox the start fails, saying how to install it: CI installs it (.ci/run), and a
 * skipped test would hide a CI that no longer does.
 */
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StackPlan } from "../../plan/evaluate";
import { isSecretValue } from "../../plan/runtime";
import { manifestOf } from "./plan";

/**
 * LinuxServer's root/defaults/qBittorrent.conf (linuxserver/docker-qbittorrent, unchanged from
 * 5.1.2-r4-ls426 to the newest tag): the image's init copies it to /config when there is no
 * qBittorrent.conf yet (root/etc/s6-overlay/s6-rc.d/init-qbittorrent-config/run), so every first
 * start begins from it.
 */
export const LINUXSERVER_QBITTORRENT_DEFAULTS = String.raw`[AutoRun]
enabled=false
program=

[LegalNotice]
Accepted=true

[Preferences]
Connection\UPnP=false
Connection\PortRangeMin=6881
Downloads\SavePath=/downloads/
Downloads\ScanDirsV2=@Variant(\0\0\0\x1c\0\0\0\0)
Downloads\TempPath=/downloads/incomplete/
WebUI\Address=*
WebUI\ServerDomains=*
`;

/** What the planned qBittorrent pod runs before qBittorrent starts: the settings script and its environment. */
export interface QbittorrentSeed {
  /** The `settings.sh` of the `qbittorrent-settings` ConfigMap. */
  readonly script: string;
  /** The `qbittorrent-settings` init container's environment, secrets resolved. */
  readonly env: Readonly<Record<string, string>>;
}

export interface RunningQbittorrent {
  /** The WebUI port on 127.0.0.1 (ephemeral: the pod's is 8080). */
  readonly port: number;
  /** `qBittorrent v4.5.2`. */
  readonly version: string;
  /** The directory standing for the pod's /config. */
  readonly config: string;
  /** The qBittorrent.conf as qBittorrent keeps it now. */
  conf(): string;
  /** Stops qBittorrent and removes its directories. */
  stop(): Promise<void>;
}

const INSTALL = "apt-get update && apt-get install qbittorrent-nox";

/** The qbittorrent-nox binary, or an error that says how to install it. */
export function qbittorrentNox(): string {
  try {
    return execFileSync("sh", ["-c", "command -v qbittorrent-nox"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error(
      `qbittorrent-nox is not installed: the real-qBittorrent tests need Debian's qbittorrent-nox (as root: ${INSTALL}; .ci/run installs it)`,
    );
  }
}

type Env = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } };
type Container = { name: string; env?: Env[] };

/** A plan's Secret data as the program set it (the manifests only show `[secret]`). */
export function secretData(plan: StackPlan, name: string): Record<string, string> {
  const secret = plan.rawResources.find(
    (resource) => resource.type === "kubernetes:core/v1:Secret" && resource.name === name,
  );
  if (secret === undefined) {
    throw new Error(`the plan has no Secret ${name}`);
  }
  const reveal = (value: unknown) => (isSecretValue(value) ? value.value : value);
  const data = reveal(secret.inputs.stringData) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(data).map(([key, value]) => [key, String(reveal(value))]));
}

/** The qBittorrent settings script of a downloads plan and the env its init container gives it. */
export function plannedQbittorrentSeed(plan: StackPlan): QbittorrentSeed {
  const script = (manifestOf(plan, "ConfigMap", "qbittorrent-settings").data as Record<string, string>)["settings.sh"];
  const pod = (
    manifestOf(plan, "StatefulSet", "qbittorrent").spec as { template: { spec: { initContainers: Container[] } } }
  ).template.spec;
  const init = pod.initContainers.find((container) => container.name === "qbittorrent-settings");
  if (init === undefined) {
    throw new Error("the planned qBittorrent pod has no qbittorrent-settings init container");
  }
  const env = Object.fromEntries(
    (init.env ?? []).map((variable) => {
      const ref = variable.valueFrom?.secretKeyRef;
      if (ref === undefined) {
        return [variable.name, variable.value ?? ""];
      }
      const value = secretData(plan, ref.name)[ref.key];
      if (value === undefined) {
        throw new Error(`the plan's Secret ${ref.name} has no key ${ref.key} (${variable.name})`);
      }
      return [variable.name, value];
    }),
  );
  return { script, env };
}

/**
 * Settings that keep the test's qBittorrent on loopback and off the internet; nothing qBittorrent
 * checks in a request (its WebUI\ServerDomains stays the image's `*`) or where it saves.
 */
const LOOPBACK_ONLY: readonly [section: string, key: string, value: string][] = [
  ["Preferences", String.raw`WebUI\Address`, "127.0.0.1"],
  ["BitTorrent", String.raw`Session\InterfaceAddress`, "127.0.0.1"],
  ["BitTorrent", String.raw`Session\DHTEnabled`, "false"],
  ["BitTorrent", String.raw`Session\LSDEnabled`, "false"],
  ["BitTorrent", String.raw`Session\PeXEnabled`, "false"],
  ["Preferences", String.raw`Connection\ResolvePeerCountries`, "false"],
];

/** Sets `key=value` in an INI section (QSettings' format: `[section]`, then `key=value` lines). */
function setIniKey(text: string, section: string, key: string, value: string): string {
  const lines = text.split("\n").filter((line, index, all) => !(line === "" && index === all.length - 1));
  let current = "";
  const kept = lines.filter((line) => {
    if (line.startsWith("[")) {
      current = line;
    }
    return !(current === `[${section}]` && line.startsWith(`${key}=`));
  });
  const header = kept.indexOf(`[${section}]`);
  if (header === -1) {
    kept.push("", `[${section}]`, `${key}=${value}`);
  } else {
    kept.splice(header + 1, 0, `${key}=${value}`);
  }
  return `${kept.join("\n")}\n`;
}

/** A free TCP port on 127.0.0.1 (the kernel's pick: tests never use fixed ports). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once anything answers HTTP on the port; rejects when qBittorrent exits first or after `timeoutMs`. */
async function answering(port: number, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`qbittorrent-nox exited (${child.exitCode ?? child.signalCode}) before answering:\n${output()}`);
    }
    const answered = await new Promise<boolean>((resolve) => {
      const request = http.get({ host: "127.0.0.1", port, path: "/api/v2/app/version", timeout: 500 }, (response) => {
        response.resume();
        resolve(true);
      });
      request.on("error", () => resolve(false));
      request.on("timeout", () => request.destroy());
    });
    if (answered) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`qbittorrent-nox did not answer on 127.0.0.1:${port} within ${timeoutMs} ms:\n${output()}`);
}

/** Pod paths mapped to local directories, by mount path: `{ "/data": "/tmp/library-x" }`. */
export type PathMap = Readonly<Record<string, string>>;

/** A text or path with every mapped mount path (followed by `/` or ending it) replaced by its directory. */
export function mapPaths(text: string, paths: PathMap): string {
  return Object.entries(paths).reduce(
    (mapped, [mountPath, directory]) => mapped.replace(new RegExp(`${mountPath}(?=/|$)`, "gm"), directory),
    text,
  );
}

/**
 * Runs the seed's script as the pod's init container would (its /config and the image's /defaults
 * mapped to temporary directories, the image's defaults in place, `volumes` mapped in the script and
 * its environment: the library's mount path to a directory of the test's), keeps the result on loopback,
 * and starts qbittorrent-nox on it as the LinuxServer image does (HOME, XDG_CONFIG_HOME and
 * XDG_DATA_HOME are /config: linuxserver/docker-qbittorrent Dockerfile; `--webui-port`:
 * root/etc/s6-overlay/s6-rc.d/svc-qbittorrent/run).
 */
export async function startQbittorrent(
  seed: QbittorrentSeed,
  volumes: PathMap = {},
  timeoutMs = 15000,
): Promise<RunningQbittorrent> {
  const binary = qbittorrentNox();
  const version = execFileSync(binary, ["--version"], { encoding: "utf8" }).trim();
  const root = mkdtempSync(join(tmpdir(), "qbittorrent-"));
  const config = join(root, "config");
  const defaults = join(root, "defaults");
  mkdirSync(config);
  mkdirSync(defaults);
  writeFileSync(join(defaults, "qBittorrent.conf"), LINUXSERVER_QBITTORRENT_DEFAULTS);
  const script = join(root, "settings.sh");
  const paths = { "/config": config, "/defaults": defaults, ...volumes };
  writeFileSync(script, mapPaths(seed.script, paths));
  const env = Object.fromEntries(Object.entries(seed.env).map(([name, value]) => [name, mapPaths(value, paths)]));
  execFileSync("sh", [script], { env: { PATH: process.env.PATH, ...env } });
  const confFile = join(config, "qBittorrent", "qBittorrent.conf");
  writeFileSync(
    confFile,
    LOOPBACK_ONLY.reduce(
      (text, [section, key, value]) => setIniKey(text, section, key, value),
      readFileSync(confFile, "utf8"),
    ),
  );

  const [port, torrentingPort] = [await freePort(), await freePort()];
  const child = spawn(binary, [`--webui-port=${port}`, `--torrenting-port=${torrentingPort}`], {
    env: {
      PATH: process.env.PATH,
      HOME: config,
      XDG_CONFIG_HOME: config,
      XDG_DATA_HOME: config,
      XDG_CACHE_HOME: join(root, "cache"),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const stop = async () => {
    process.removeListener("exit", killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const killed = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(killed);
    }
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await answering(port, child, () => output, timeoutMs);
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, version, config, conf: () => readFileSync(confFile, "utf8"), stop };
}

export interface Relay {
  /** The relay's own port on 127.0.0.1. */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A TCP relay from another local port to `targetPort`, as the relation provider's port-forward
 * presents the app: a client that connects here and names this port in Host reaches the app, which
 * listens on another port.
 */
export function startRelay(targetPort: number): Promise<Relay> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    const upstream = net.connect(targetPort, "127.0.0.1");
    for (const end of [socket, upstream]) {
      sockets.add(end);
      end.on("close", () => sockets.delete(end));
      end.on("error", () => {
        socket.destroy();
        upstream.destroy();
      });
    }
    socket.pipe(upstream).pipe(socket);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () =>
          new Promise<void>((closed) => {
            sockets.forEach((socket) => socket.destroy());
            server.close(() => closed());
          }),
      }),
    );
  });
}
