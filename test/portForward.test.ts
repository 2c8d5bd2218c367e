import { strict as assert } from "node:assert";
import { createServer, Server } from "node:http";
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import { isNamedError } from "../lib/relations/http";
import { portForwardConnect, statefulSetOf } from "../lib/relations/portForward";
import { WebSocket } from "ws";
import { FakeKubernetesApi } from "./support/fakeKubernetesApi";

const reach = { namespace: "charmarr-core", pod: "radarr-0", port: 7878 };
const NAMESPACE = "/api/v1/namespaces/charmarr-core";
const STATEFULSET = "/apis/apps/v1/namespaces/charmarr-core/statefulsets/radarr";
const FORWARD = "/api/v1/namespaces/charmarr-core/pods/radarr-0/portforward";

/** An app that answers every request with what it received, so a test sees the bytes crossed both ways. */
async function echoApp(): Promise<Server> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(
        JSON.stringify({ method: request.method, url: request.url, body: Buffer.concat(chunks).toString() }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

describe("relations: reaching an app's pod through the stack's Kubernetes connection", () => {
  let api: FakeKubernetesApi;
  let app: Server;
  before(async () => {
    app = await echoApp();
    api = await FakeKubernetesApi.start();
    api.addPod("charmarr-core", "radarr-0", { 7878: (app.address() as AddressInfo).port });
  });
  after(async () => {
    await api.close();
    app.close();
  });
  beforeEach(() => {
    api.seen.length = 0;
    api.forwards.length = 0;
  });
  const homelab = () => ({ kubeconfig: api.kubeconfig(), context: "homelab" });

  it("sends each request through a port-forward to the app's pod and port, with kubernetes:kubeconfig and kubernetes:context", async () => {
    const answers = await portForwardConnect(reach, homelab(), async (http) => [
      await http.send({ method: "POST", path: "/radarr/api/v3/rootfolder", json: { path: "/data/movies" } }),
      await http.send({ method: "GET", path: "/radarr/api/v3/system/status", query: { apikey: "k" } }),
    ]);
    assert.deepEqual(
      answers.map((answer) => [answer.status, JSON.parse(answer.text)]),
      [
        [200, { method: "POST", url: "/radarr/api/v3/rootfolder", body: '{"path":"/data/movies"}' }],
        [200, { method: "GET", url: "/radarr/api/v3/system/status?apikey=k", body: "" }],
      ],
    );
    assert.deepEqual(api.seen.slice(0, 3), [
      { path: NAMESPACE, authorization: "Bearer homelab-token" },
      { path: STATEFULSET, authorization: "Bearer homelab-token" },
      { path: FORWARD, authorization: "Bearer homelab-token" },
    ]);
    assert.ok(api.forwards.length >= 1);
    for (const forward of api.forwards) {
      assert.deepEqual(
        [forward.namespace, forward.pod, forward.port, forward.protocol, forward.error],
        ["charmarr-core", "radarr-0", 7878, "v4.channel.k8s.io", ""],
      );
    }
    const crossed = api.forwards.reduce((sum, f) => [sum[0] + f.bytesIn, sum[1] + f.bytesOut], [0, 0]);
    assert.ok(crossed[0] > 100 && crossed[1] > 100, `request and answer bytes crossed the forward: ${crossed}`);
  });

  it("fails, naming the forward and the cluster's answer, when the pod is not there (the StatefulSet is)", async () => {
    await assert.rejects(
      portForwardConnect({ ...reach, pod: "radarr-1" }, homelab(), (http) =>
        http.send({ method: "GET", path: "/radarr/api/v3/system/status" }),
      ),
      /the port-forward to charmarr-core\/radarr-1 port 7878 failed: Unexpected server response: 404/,
    );
    assert.deepEqual(api.forwards, []);
  });

  it("fails, with the error channel's message, when the pod does not serve the port", async () => {
    await assert.rejects(
      portForwardConnect({ ...reach, port: 7879 }, homelab(), (http) =>
        http.send({ method: "GET", path: "/radarr/api/v3/system/status" }),
      ),
      /the port-forward to charmarr-core\/radarr-0 port 7879 failed: error forwarding port 7879 to pod radarr-0, uid : failed to connect to localhost:7879 inside the pod/,
    );
    assert.equal(api.forwards[0].bytesOut, 0);
  });

  it("treats only a missing namespace or StatefulSet as an app that is gone", async () => {
    await assert.rejects(
      portForwardConnect({ ...reach, namespace: "charmarr-media" }, homelab(), async () => "reached"),
      (error: Error) =>
        isNamedError(error, "AppGoneError") && /namespace charmarr-media does not exist/.test(error.message),
    );
    await assert.rejects(
      portForwardConnect({ ...reach, pod: "sonarr-0" }, homelab(), async () => "reached"),
      (error: Error) =>
        isNamedError(error, "AppGoneError") && /StatefulSet charmarr-core\/sonarr does not exist/.test(error.message),
    );
  });

  it("fails, not skips, when the context names no cluster", async () => {
    await assert.rejects(
      portForwardConnect(reach, { kubeconfig: api.kubeconfig(), context: "missing" }, async () => "reached"),
      (error: Error) => /no context "missing"/.test(error.message) && !isNamedError(error, "AppGoneError"),
    );
  });

  it("the fake API speaks the port-forward protocol as the kubelet does, and refuses what a cluster refuses", async () => {
    const ws = (path: string, protocols: string[], token = "homelab-token") =>
      new WebSocket(`${api.url.replace("http", "ws")}${path}`, protocols, {
        headers: { authorization: `Bearer ${token}` },
      });
    const refusal = (socket: WebSocket) =>
      new Promise<number>((resolve) =>
        socket.on("unexpected-response", (_request, response) => resolve(response.statusCode ?? 0)),
      );
    assert.equal(await refusal(ws(`${FORWARD}?ports=7878`, ["channel.k8s.io"])), 403, "no port-forward subprotocol");
    assert.equal(await refusal(ws(FORWARD, ["v4.channel.k8s.io"])), 400, "no ports");
    assert.equal(await refusal(ws(`${FORWARD}?ports=70000`, ["v4.channel.k8s.io"])), 400, "not a port");
    assert.equal(await refusal(ws(`${FORWARD}?ports=7878`, ["v4.channel.k8s.io"], "elsewhere-token")), 401);

    // The first frame of each stream is its channel byte and the port, little-endian; then data on channel 0.
    const socket = ws(`${FORWARD}?ports=7878`, ["v5.channel.k8s.io", "v4.channel.k8s.io"]);
    const frames: Buffer[] = [];
    socket.on("message", (data: Buffer) => frames.push(data));
    await new Promise((resolve) => socket.on("open", resolve));
    assert.equal(socket.protocol, "v4.channel.k8s.io", "the first offered protocol the server takes");
    socket.send(
      Buffer.concat([
        Buffer.from([0]),
        Buffer.from("GET /ping HTTP/1.1\r\nHost: 127.0.0.1:7878\r\nConnection: close\r\n\r\n"),
      ]),
    );
    await new Promise((resolve) => socket.on("close", resolve));
    assert.deepEqual(frames.slice(0, 2), [Buffer.from([0, 0xc6, 0x1e]), Buffer.from([1, 0xc6, 0x1e])]);
    assert.match(
      Buffer.concat(frames.slice(2).map((frame) => frame.subarray(1))).toString(),
      /^HTTP\/1\.1 200 OK[\s\S]*"url":"\/ping"/,
    );
    assert.ok(
      frames.slice(2).every((frame) => frame[0] === 0),
      "the answer comes on the data channel",
    );
  });
});

// The local relay portForwardConnect opens in front of the Kubernetes API's port-forward: who can
// use it, what the app sees through it, how a dropped connection and a refusing cluster end a run.
const qbittorrentPod = { namespace: "charmarr-downloads", pod: "qbittorrent-0", port: 8080 };

/** Listens on loopback; answers each request with the Host header it received. */
async function hostEcho(): Promise<net.Server> {
  const server = createServer((request, response) => response.end(request.headers.host ?? ""));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

/** Closes each connection as soon as a request arrives, without an answer (an app that crashed mid-request). */
async function dropper(): Promise<net.Server> {
  const server = net.createServer((socket) => socket.once("data", () => socket.destroy()));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

const portOf = (server: net.Server) => (server.address() as net.AddressInfo).port;

/** The servers started while `run` runs, and `run`'s result. */
async function serversStartedDuring<T>(
  run: (servers: readonly net.Server[]) => Promise<T>,
): Promise<{ servers: net.Server[]; result: T }> {
  const servers: net.Server[] = [];
  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    servers.push(this);
    return listen.apply(this, args as Parameters<typeof listen>);
  } as typeof listen;
  try {
    return { servers, result: await run(servers) };
  } finally {
    net.Server.prototype.listen = listen;
  }
}

describe("relations: the port-forward's local relay", function () {
  this.timeout(20000);
  let api: FakeKubernetesApi;
  let echo: net.Server;
  let drop: net.Server;
  before(async () => {
    [api, echo, drop] = await Promise.all([FakeKubernetesApi.start(), hostEcho(), dropper()]);
    api.addPod(qbittorrentPod.namespace, qbittorrentPod.pod, { [qbittorrentPod.port]: portOf(echo) });
    api.addPod(qbittorrentPod.namespace, "sabnzbd-0", { 8080: portOf(drop) });
  });
  after(async () => {
    await api.close();
    echo.close();
    drop.close();
  });
  const homelab = () => ({ kubeconfig: api.kubeconfig(), context: "homelab" });

  it("listens on loopback only, for as long as the relation runs, and the app sees its own port in Host", async () => {
    let during: (net.AddressInfo | string | null)[] = [];
    const { servers, result } = await serversStartedDuring((started) =>
      portForwardConnect(qbittorrentPod, homelab(), async (http) => {
        const answer = await http.send({ method: "GET", path: "/api/v2/app/webapiVersion" });
        during = started.map((server) => server.address());
        return answer.text;
      }),
    );
    assert.equal(result, "127.0.0.1:8080", "the Host a client in the pod would send (qBittorrent checks its port)");
    assert.equal(servers.length, 1);
    assert.deepEqual(
      during.map((address) => (address as net.AddressInfo).address),
      ["127.0.0.1"],
      "nothing else on the machine's network can use the forward",
    );
    assert.equal(servers[0].listening, false, "closed once the relation is done");
  });

  it("closes the relay when the relation fails, too", async () => {
    const { servers } = await serversStartedDuring(() =>
      portForwardConnect(qbittorrentPod, homelab(), async () => {
        throw new Error("the relation failed");
      }).catch((error: Error) => assert.equal(error.message, "the relation failed")),
    );
    assert.deepEqual(
      servers.map((server) => server.listening),
      [false],
    );
  });

  it("a relay that cannot listen (the machine out of ports or files) fails the run with the system's error", async () => {
    const listen = net.Server.prototype.listen;
    net.Server.prototype.listen = function (this: net.Server) {
      const refused = Object.assign(new Error("listen EMFILE: too many open files"), { code: "EMFILE" });
      process.nextTick(() => this.emit("error", refused));
      return this;
    } as typeof listen;
    try {
      await assert.rejects(
        portForwardConnect(qbittorrentPod, homelab(), async () => "reached"),
        /^Error: listen EMFILE: too many open files$/,
      );
    } finally {
      net.Server.prototype.listen = listen;
    }
  });

  it("an app that drops the connection fails the request at once, not after the request's 15 s bound", async () => {
    const started = Date.now();
    await assert.rejects(
      portForwardConnect({ ...qbittorrentPod, pod: "sabnzbd-0" }, homelab(), (http) =>
        http.send({ method: "GET", path: "/sabnzbd/api" }),
      ),
      /socket hang up|ECONNRESET/,
    );
    assert.ok(Date.now() - started < 5000, `failed after ${Date.now() - started} ms`);
  });

  it("a cluster that refuses the stack's credentials fails the run: the app is not taken for gone (a destroy would skip its cleanup)", async () => {
    const wrongToken = api.kubeconfig().replace(`token: ${api.token}`, "token: revoked-token");
    assert.notEqual(wrongToken, api.kubeconfig());
    await assert.rejects(
      portForwardConnect(qbittorrentPod, { kubeconfig: wrongToken, context: "homelab" }, async () => "reached"),
      (error: Error) => {
        assert.match(`${error.name}: ${error.message}`, /^Error: .*401/);
        assert.equal(isNamedError(error, "AppGoneError"), false);
        return true;
      },
    );
  });

  it("finds a pod's StatefulSet by Kubernetes' pod names, <StatefulSet>-<ordinal>", () => {
    assert.deepEqual(["radarr-0", "radarr-12", "sonarr-4k-0", "sabnzbd-1"].map(statefulSetOf), [
      "radarr",
      "radarr",
      "sonarr-4k",
      "sabnzbd",
    ]);
  });
});
