/**
 * The port follower (`port-follow.sh`, the `vpn-port-follower` sidecar) as planned, run with `sh`
 * and `curl` against a real qBittorrent (Debian's qbittorrent-nox, one process for the file) and a
 * stand-in for gluetun's control server. qBittorrent release-4.5.2 (Debian) and release-5.1.4 (the
 * pinned image) answer the calls the follower makes alike: `auth/login` sets the session cookie
 * (`SID` by default; src/webui/webapplication.cpp 4.5.2 L66, 5.1.4 L73), `app/preferences` reports
 * `listen_port` (src/webui/api/appcontroller.cpp 4.5.2 and 5.1.4 `preferencesAction`, `session->port()`)
 * and `app/setPreferences` applies it with `session->setPort` (`setPreferencesAction`, 5.1.4 L689-692).
 *
 * The gluetun stand-in models, from qdm12/gluetun v3.41.1:
 * - `GET /v1/portforward` answering `{"port":N}` (`{"port":0}` while none is forwarded) through
 *   Go's json.Encoder, which ends the body with a newline (internal/server/portforward.go L38-49);
 * - the auth middleware: a route no role authorizes answers 401 (internal/server/middlewares/auth/
 *   middleware.go `ServeHTTP`), an API key is read from `X-API-Key` or else `api_key`
 *   (apikey.go `isAuthorized`), and the roles come from the planned auth file, whose TOML is read
 *   here for its `apikey` and `routes` (configfile.go `Read`).
 * It leaves out every other route, the default role (the program's own key, which the follower does
 * not hold) and the other methods' error answers (the follower only GETs).
 */
import { strict as assert } from "node:assert";
import { ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StackPlan } from "../plan/evaluate";
import { manifestOf, planDownloads } from "./support/plan";
import { RunningQbittorrent, plannedQbittorrentSeed, secretData, startQbittorrent } from "./support/qbittorrent";

interface GluetunStandIn {
  readonly url: string;
  /** The port gluetun reports; 0: none forwarded. */
  port: number;
  /** Requests refused for want of a role. */
  refused: number;
  close(): Promise<void>;
}

function startGluetun(authFile: string): Promise<GluetunStandIn> {
  const key = /^apikey = "(.*)"$/m.exec(authFile)?.[1];
  const routes = /^routes = \[(.*)\]$/m.exec(authFile)?.[1] ?? "";
  assert.ok(key, "the planned auth file has no apikey");
  const state = { port: 0, refused: 0 };
  const server: Server = createServer((req, res) => {
    const route = `${req.method} ${new URL(req.url ?? "/", "http://x").pathname}`;
    const given = req.headers["x-api-key"] ?? new URL(req.url ?? "/", "http://x").searchParams.get("api_key");
    if (!routes.includes(JSON.stringify(route)) || given !== key) {
      state.refused++;
      res.writeHead(401).end("Unauthorized\n");
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(`${JSON.stringify({ port: state.port })}\n`);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}/v1/portforward`,
        get port() {
          return state.port;
        },
        set port(value: number) {
          state.port = value;
        },
        get refused() {
          return state.refused;
        },
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}

/** A TCP port on 127.0.0.1 free right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

/** qBittorrent's listen port, asked with the WebUI credentials as a user would. */
async function listenPort(qbittorrent: RunningQbittorrent, username: string, password: string): Promise<number> {
  const call = (path: string, body?: string, cookie?: string) =>
    new Promise<{ headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: qbittorrent.port,
          path,
          method: body === undefined ? "GET" : "POST",
          headers: {
            ...(body === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" }),
            ...(cookie ? { cookie } : {}),
          },
        },
        (res) => {
          let text = "";
          res.on("data", (chunk: Buffer) => (text += chunk.toString()));
          res.on("end", () => resolve({ headers: res.headers, body: text }));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  const login = await call("/api/v2/auth/login", new URLSearchParams({ username, password }).toString());
  const cookie = String((login.headers["set-cookie"] as string[])[0]).split(";")[0];
  return (JSON.parse((await call("/api/v2/app/preferences", undefined, cookie)).body) as { listen_port: number })
    .listen_port;
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`not within ${timeoutMs} ms: ${what}`);
}

describe("port follower: qBittorrent's listen port follows the VPN's forwarded port (real qbittorrent-nox, the planned script)", () => {
  let plan: StackPlan;
  let qbittorrent: RunningQbittorrent;
  let gluetun: GluetunStandIn;
  let follower: ChildProcess;
  let output = "";
  let dir: string;
  let credentials: { username: string; password: string };

  before(async function () {
    this.timeout(60_000);
    plan = await planDownloads();
    dir = mkdtempSync(join(tmpdir(), "port-follower-"));
    qbittorrent = await startQbittorrent(plannedQbittorrentSeed(plan), { "/data": dir });
    gluetun = await startGluetun(secretData(plan, "vpn-port-follower-auth")["config.toml"]);
    const qbCredentials = secretData(plan, "qbittorrent-credentials");
    credentials = { username: qbCredentials.username, password: qbCredentials.password };
    const script = join(dir, "port-follow.sh");
    writeFileSync(
      script,
      (manifestOf(plan, "ConfigMap", "vpn-gateway-client").data as Record<string, string>)["port-follow.sh"],
    );
    const pod = (
      manifestOf(plan, "StatefulSet", "qbittorrent").spec as {
        template: {
          spec: {
            containers: {
              name: string;
              env: { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[];
            }[];
          };
        };
      }
    ).template.spec;
    const planned = pod.containers.find((c) => c.name === "vpn-port-follower");
    assert.ok(planned);
    const secretResource: Record<string, string> = {
      "vpn-gateway-port-follower": "vpn-port-follower",
      "qbittorrent-credentials": "qbittorrent-credentials",
    };
    const env = Object.fromEntries(
      planned.env.map((e) => [
        e.name,
        e.valueFrom
          ? secretData(plan, secretResource[e.valueFrom.secretKeyRef.name])[e.valueFrom.secretKeyRef.key]
          : e.value,
      ]),
    ) as Record<string, string>;
    follower = spawn("sh", [script], {
      env: {
        PATH: process.env.PATH,
        ...env,
        // The pod's addresses, here on loopback: gluetun by its URL, qBittorrent's WebUI on the test's port.
        GLUETUN_PORTFORWARD_URL: gluetun.url,
        QBITTORRENT_WEBUI_PORT: String(qbittorrent.port),
        PORT_FOLLOW_INTERVAL_SECONDS: "0.2",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    follower.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    follower.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  });

  after(async () => {
    follower?.kill("SIGTERM");
    await gluetun?.close();
    await qbittorrent?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("holds the key gluetun's auth file names for GET /v1/portforward, and nothing changes while no port is forwarded", async () => {
    const before = await listenPort(qbittorrent, credentials.username, credentials.password);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(gluetun.refused, 0, output);
    assert.equal(await listenPort(qbittorrent, credentials.username, credentials.password), before);
  });

  it("sets the forwarded port as qBittorrent's listen port, without a restart, and follows it when it changes", async () => {
    /** gluetun reports a new free port; qBittorrent must end up listening on it. */
    const forward = async (): Promise<number> => {
      const port = await freePort();
      gluetun.port = port;
      await eventually(
        `qBittorrent listens on ${port}\n${output}`,
        async () => (await listenPort(qbittorrent, credentials.username, credentials.password)) === port,
      );
      await eventually(`something accepts on ${port}`, () => accepts(port));
      return port;
    };
    const first = await forward();
    const second = await forward();
    await eventually(`nothing accepts on the old port ${first} any more`, async () => !(await accepts(first)));
    // The follower logs after qBittorrent took the port: its line may reach us a moment later.
    const logged = new RegExp(`qBittorrent now listens on ${second}, the forwarded port \\(was ${first}\\)`);
    await eventually(`the follower logs the change\n${output}`, () => Promise.resolve(logged.test(output)));
  });

  it("never takes the WebUI port, and keeps its port while the tunnel is down", async () => {
    const current = await listenPort(qbittorrent, credentials.username, credentials.password);
    gluetun.port = qbittorrent.port;
    await eventually("the follower refuses the WebUI port", async () => output.includes("is qBittorrent's WebUI port"));
    gluetun.port = 0;
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(await listenPort(qbittorrent, credentials.username, credentials.password), current);
  });
});
