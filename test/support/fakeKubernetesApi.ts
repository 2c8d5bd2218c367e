// A Kubernetes API server on 127.0.0.1 for the relations' port-forward: it answers the reads the
// relation provider makes (a namespace, a StatefulSet) and serves `pods/<pod>/portforward` over
// the WebSocket protocol @kubernetes/client-node speaks, piping each forwarded stream to the app a
// test runs for that pod and port. A forward to a pod it does not know, or to a port that pod does
// not serve, fails the way a cluster fails it, so a relation aimed at the wrong place fails its test.
//
// What it models, from the sources:
// - the query: `ports=<port>` (k8s.io/api v0.35.7 core/v1/types.go L7314-7322
//   `PodPortForwardOptions.Ports`; @kubernetes/client-node 1.4.0 src/portforward.ts L35-43); each
//   port a number from 1 to 65535, else 400 (kubernetes/kubelet v0.35.7
//   pkg/cri/streaming/portforward/websocket.go L61-80, `NewV4Options`);
// - the subprotocol: the server takes "" (none), `v4.channel.k8s.io` and `v4.base64.channel.k8s.io`
//   (websocket.go L102-115) and picks the first the client offers that it takes
//   (kubernetes/apimachinery v0.35.7 pkg/util/httpstream/wsstream/conn.go L142-158, `handshake`);
//   none taken is answered 403 before the upgrade (golang.org/x/net v0.47.0 websocket/server.go
//   L33-35). The base64 variant is left out: client-node never offers it (src/web-socket-handler.ts
//   L7-13), so a client that picks it fails here;
// - the channels: two per port, data (read-write) then error (write-only) (websocket.go L98-101);
//   every binary message starts with its channel's byte, both ways (conn.go L38-51, L361-365,
//   L378-386); a frame for the error channel or for no channel is dropped (conn.go L366-369,
//   L424-427); an empty frame is skipped (conn.go L343-345); a text frame is dropped too, where
//   the server would read it as bytes (client-node sends only binary frames);
// - the first frame of each stream: the port as two bytes, little-endian (websocket.go L132-136),
//   which client-node strips (src/portforward.ts L49-52);
// - a port the pod does not serve: the error channel carries `error forwarding port <port> to pod
//   <pod>, uid : <why>` and the connection closes (websocket.go L185-198; the CRI streaming server
//   passes the pod sandbox's ID where this names the pod, and no uid, pkg/cri/streaming/server.go
//   L351-360). <why> is the runtime's own text (containerd's or CRI-O's dial error), modelled as
//   Node's `ECONNREFUSED` one;
// - the end of a stream: when the app closes its side, the WebSocket closes (websocket.go L122,
//   L187-188); when the client closes the WebSocket, the app's connection is closed.
// Left out: SPDY, the WebSocket-over-SPDY tunnel (kubectl's), and the apiserver's idle timeout.
import { IncomingMessage, ServerResponse, createServer } from "node:http";
import { AddressInfo, Socket, connect } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { stringify } from "yaml";

/** One stream a client opened through `pods/<pod>/portforward`, as the fake saw it. */
export interface Forward {
  readonly namespace: string;
  readonly pod: string;
  readonly port: number;
  /** The negotiated subprotocol. */
  readonly protocol: string;
  /** Payload bytes the client sent on the data channel, and the app sent back. */
  bytesIn: number;
  bytesOut: number;
  /** What the error channel carried after the port prefix ("" when nothing went wrong). */
  error: string;
}

/** Request seen by the fake (API reads and forward upgrades alike). */
export interface SeenApiRequest {
  readonly path: string;
  readonly authorization: string;
}

const PORT_FORWARD = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/portforward$/;
const SUBPROTOCOLS = ["", "v4.channel.k8s.io"] as const;
const DATA_CHANNEL = 0;
const ERROR_CHANNEL = 1;

const status = (code: number, reason: string, message: string) => ({
  kind: "Status",
  apiVersion: "v1",
  metadata: {},
  status: "Failure",
  message,
  reason,
  code,
});

/** The port as the first frame of a stream carries it: channel byte, then two bytes little-endian. */
function portFrame(channel: number, port: number): Buffer {
  const frame = Buffer.alloc(3);
  frame.writeUInt8(channel, 0);
  frame.writeUInt16LE(port, 1);
  return frame;
}

export class FakeKubernetesApi {
  /** Every request, in order. */
  readonly seen: SeenApiRequest[] = [];
  /** Every forwarded stream, in order. */
  readonly forwards: Forward[] = [];
  /** API objects by path (`/api/v1/namespaces/charmarr-core`): a GET of any other path is a NotFound. */
  readonly objects: Record<string, unknown> = {};
  /** Pods by `<namespace>/<pod>`: each container port to the local port its app listens on. */
  private readonly pods = new Map<string, Map<number, number>>();
  private readonly sockets = new Set<WebSocket>();
  private readonly server = createServer((request, response) => this.read(request, response));
  private readonly webSockets = new WebSocketServer({
    noServer: true,
    handleProtocols: (offered) => [...offered].find((protocol) => SUBPROTOCOLS.includes(protocol as never)) ?? false,
  });

  /** @param token the bearer token the cluster accepts; any other request is answered 401. */
  private constructor(readonly token: string) {
    this.server.on("upgrade", (request: IncomingMessage, socket: Socket, head: Buffer) =>
      this.upgrade(request, socket, head),
    );
  }

  /**
   * Starts the server; it does not keep the process alive, so a test may leave it running (the
   * forwards it serves end when their clients close, as Node's HTTP agent closes idle sockets).
   */
  static async start(token = "homelab-token"): Promise<FakeKubernetesApi> {
    const api = new FakeKubernetesApi(token);
    await new Promise<void>((resolve) => api.server.listen(0, "127.0.0.1", resolve));
    api.server.unref();
    return api;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /**
   * A kubeconfig with two contexts: `elsewhere` (its current one) points at a closed port,
   * `homelab` at this server with its token, so only a connection that names its context reaches it.
   */
  kubeconfig(): string {
    return stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        { name: "homelab", cluster: { server: this.url, "insecure-skip-tls-verify": true } },
        { name: "elsewhere", cluster: { server: "http://127.0.0.1:9", "insecure-skip-tls-verify": true } },
      ],
      users: [
        { name: "homelab", user: { token: this.token } },
        { name: "elsewhere", user: { token: "elsewhere-token" } },
      ],
      contexts: [
        { name: "homelab", context: { cluster: "homelab", user: "homelab" } },
        { name: "elsewhere", context: { cluster: "elsewhere", user: "elsewhere" } },
      ],
      "current-context": "elsewhere",
    });
  }

  /**
   * Runs pod `<namespace>/<pod>` of StatefulSet `<statefulSet>` (its namespace and StatefulSet
   * exist too): each of `ports` (container port → the local port a test's app listens on) is served.
   */
  addPod(namespace: string, pod: string, ports: Readonly<Record<number, number>>): void {
    this.objects[`/api/v1/namespaces/${namespace}`] = { kind: "Namespace", metadata: { name: namespace } };
    const statefulSet = pod.replace(/-\d+$/, "");
    this.objects[`/apis/apps/v1/namespaces/${namespace}/statefulsets/${statefulSet}`] = {
      kind: "StatefulSet",
      metadata: { name: statefulSet, namespace },
    };
    this.pods.set(`${namespace}/${pod}`, new Map(Object.entries(ports).map(([port, to]) => [Number(port), to])));
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) {
      socket.terminate();
    }
    this.webSockets.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private authorized(request: IncomingMessage): boolean {
    const authorization = request.headers.authorization ?? "";
    this.seen.push({ path: (request.url ?? "").split("?")[0], authorization });
    return authorization === `Bearer ${this.token}`;
  }

  private read(request: IncomingMessage, response: ServerResponse): void {
    const path = (request.url ?? "").split("?")[0];
    const reply = (code: number, body: unknown) => {
      response.writeHead(code, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    };
    if (!this.authorized(request)) {
      reply(401, status(401, "Unauthorized", "Unauthorized"));
    } else if (request.method !== "GET" || this.objects[path] === undefined) {
      reply(404, status(404, "NotFound", `${path} not found`));
    } else {
      reply(200, this.objects[path]);
    }
  }

  private upgrade(request: IncomingMessage, socket: Socket, head: Buffer): void {
    const url = new URL(request.url ?? "/", "http://fake");
    const refuse = (code: number, reason: string, message: string) => {
      const body = JSON.stringify(status(code, reason, message));
      socket.end(
        `HTTP/1.1 ${code} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    };
    if (!this.authorized(request)) {
      return refuse(401, "Unauthorized", "Unauthorized");
    }
    const match = PORT_FORWARD.exec(url.pathname);
    if (match === null) {
      return refuse(404, "NotFound", `${url.pathname} not found`);
    }
    const [namespace, pod] = [decodeURIComponent(match[1]), decodeURIComponent(match[2])];
    const served = this.pods.get(`${namespace}/${pod}`);
    if (served === undefined) {
      return refuse(404, "NotFound", `pods "${pod}" not found`);
    }
    const ports = url.searchParams.getAll("ports").flatMap((value) => value.split(","));
    const invalid = ports.find((port) => !/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535);
    if (ports.length === 0 || invalid !== undefined) {
      return refuse(
        400,
        "BadRequest",
        invalid === undefined ? `query parameter "ports" is required` : `unable to parse "${invalid}" as a port`,
      );
    }
    const offered = (request.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
    if (!offered.some((protocol) => SUBPROTOCOLS.includes(protocol as never))) {
      socket.end("HTTP/1.1 403 Forbidden\r\nconnection: close\r\n\r\n");
      return;
    }
    this.webSockets.handleUpgrade(request, socket, head, (webSocket) =>
      this.forward(webSocket, namespace, pod, ports.map(Number), served),
    );
  }

  private forward(
    webSocket: WebSocket,
    namespace: string,
    pod: string,
    ports: readonly number[],
    served: ReadonlyMap<number, number>,
  ): void {
    this.sockets.add(webSocket);
    webSocket.on("close", () => this.sockets.delete(webSocket));
    const apps = ports.map((port, index) => {
      const forward: Forward = {
        namespace,
        pod,
        port,
        protocol: webSocket.protocol,
        bytesIn: 0,
        bytesOut: 0,
        error: "",
      };
      this.forwards.push(forward);
      webSocket.send(portFrame(index * 2 + DATA_CHANNEL, port));
      webSocket.send(portFrame(index * 2 + ERROR_CHANNEL, port));
      const failed = (why: string) => {
        forward.error = `error forwarding port ${port} to pod ${pod}, uid : ${why}`;
        webSocket.send(Buffer.concat([Buffer.from([index * 2 + ERROR_CHANNEL]), Buffer.from(forward.error)]));
        webSocket.close();
      };
      const local = served.get(port);
      if (local === undefined) {
        failed(`failed to connect to localhost:${port} inside the pod: connect ECONNREFUSED 127.0.0.1:${port}`);
        return undefined;
      }
      const app = connect(local, "127.0.0.1");
      app.on("data", (chunk: Buffer) => {
        forward.bytesOut += chunk.length;
        webSocket.send(Buffer.concat([Buffer.from([index * 2 + DATA_CHANNEL]), chunk]));
      });
      app.on("error", (error) => failed(error.message));
      app.on("close", () => webSocket.close());
      return { app, forward };
    });
    webSocket.on("message", (data: Buffer, isBinary: boolean) => {
      if (!isBinary || data.length === 0) {
        return;
      }
      const channel = data[0];
      const stream = channel % 2 === DATA_CHANNEL ? apps[channel / 2] : undefined;
      if (stream !== undefined && data.length > 1) {
        stream.forward.bytesIn += data.length - 1;
        stream.app.write(data.subarray(1));
      }
    });
    webSocket.on("close", () => {
      for (const stream of apps) {
        stream?.app.destroy();
      }
    });
  }
}
