import * as net from "node:net";
import { Writable } from "node:stream";
import type * as Kubernetes from "@kubernetes/client-node";
import { KubernetesConnection, loadConnection } from "../platform/kubeConnection";
import { HttpClient, httpClient, relationError } from "./http";
import { Connect, appGone } from "./lifecycle";
import type { Reach } from "./plan";

/**
 * The Kubernetes client, required by its package name when a relation runs. Imported at the top of
 * this module, it would be captured as a module, which Pulumi's closure serializer writes as a
 * `require` of the file it was loaded from (`@kubernetes/client-node/dist/index.js`: @pulumi/pulumi
 * 3.248.0 runtime/closure/createClosure.js `findNormalizedModuleNameAsync`, `captureModuleAsync`),
 * a path inside an ES module package that an `exports` map would close. By name, Node resolves the
 * package's own entry point, from the directory the Pulumi engine starts the provider in (the
 * project's: pulumi sdk/go/common/resource/plugin/context.go `Pwd`; require-from-string 2.0.2
 * resolves from there). The package is an ES module: `require` loads it on every Node the project
 * declares (Node 22.12 enabled `require(esm)` by default, as did 20.19).
 */
function kubernetesClient(): typeof Kubernetes {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when it runs, by name (above)
  return require("@kubernetes/client-node") as typeof Kubernetes;
}

/** One HTTP request's bound: an app that accepts a connection but never answers fails the attempt, not the run. */
const REQUEST_TIMEOUT_MS = 15000;

function isNotFound(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: number }).code === 404;
}

/** The StatefulSet that owns a pod: its pods are `<statefulset>-<ordinal>` (Kubernetes StatefulSet pod identity). */
export function statefulSetOf(pod: string): string {
  return pod.replace(/-\d+$/, "");
}

/**
 * The app is gone only when its namespace or its StatefulSet is: a missing pod is one being
 * (re)scheduled, which the readiness wait rides out, so a destroy never skips its cleanup for it.
 */
async function ensureAppExists(kubeconfig: Kubernetes.KubeConfig, reach: Reach): Promise<void> {
  const { AppsV1Api, CoreV1Api } = kubernetesClient();
  const checks: [string, () => Promise<unknown>][] = [
    [
      `namespace ${reach.namespace}`,
      () => kubeconfig.makeApiClient(CoreV1Api).readNamespace({ name: reach.namespace }),
    ],
    [
      `StatefulSet ${reach.namespace}/${statefulSetOf(reach.pod)}`,
      () =>
        kubeconfig
          .makeApiClient(AppsV1Api)
          .readNamespacedStatefulSet({ name: statefulSetOf(reach.pod), namespace: reach.namespace }),
    ],
  ];
  for (const [what, read] of checks) {
    try {
      await read();
    } catch (error) {
      if (isNotFound(error)) {
        throw appGone(`${what} does not exist`);
      }
      throw error;
    }
  }
}

/**
 * The client for an app relayed from a local port to its pod's port `appPort`. Its requests name the
 * app's own port in Host, as a client in the pod would: qBittorrent refuses a Host header naming a
 * port other than the one it listens on, with HTTP 401 before any login (qBittorrent release-5.1.4
 * src/webui/webapplication.cpp `WebApplication::processRequest` L618-622 and
 * `validateHostHeader` L842-851; release-4.5.2 the same). The address is the pod's loopback, where
 * the forward connects: qBittorrent also accepts a Host naming its local address when
 * `WebUI\ServerDomains` is narrowed (L853-857), and SABnzbd any IP literal (sabnzbd/interface.py
 * `check_hostname`).
 */
export function relayedClient(localPort: number, appPort: number, timeoutMs = REQUEST_TIMEOUT_MS): HttpClient {
  return httpClient(`http://127.0.0.1:${localPort}`, timeoutMs, `127.0.0.1:${appPort}`);
}

/**
 * Reaches an app's pod through the Kubernetes API's port-forward, as `kubectl port-forward` does,
 * with the connection of the stack's Kubernetes provider (`kubernetes:kubeconfig`,
 * `kubernetes:context`; unset, KUBECONFIG or ~/.kube/config). The connection ends in the pod's own
 * network namespace on loopback, so it needs neither the user's LAN nor a mesh identity: Istio
 * ambient captures traffic arriving on the pod's interface, not its loopback.
 */
export const portForwardConnect: Connect = async (reach, connection: KubernetesConnection, use) => {
  const { KubeConfig, PortForward } = kubernetesClient();
  const kubeconfig = new KubeConfig();
  loadConnection(kubeconfig, connection);
  if (kubeconfig.getCurrentCluster() === null) {
    throw relationError(
      `no cluster to reach ${reach.namespace}/${reach.pod}: the kubeconfig has no context ${JSON.stringify(kubeconfig.getCurrentContext())} with a cluster`,
    );
  }
  await ensureAppExists(kubeconfig, reach);
  const forward = new PortForward(kubeconfig);
  const where = `the port-forward to ${reach.namespace}/${reach.pod} port ${reach.port}`;
  // What went wrong in a forward, for the request that used it: the client only sees its connection close.
  let failure: string | undefined;
  const server = net.createServer((socket) => {
    // The Kubernetes API answers a forward it cannot make on the stream's error channel, then
    // closes the WebSocket (kubernetes/kubelet v0.35.7 pkg/cri/streaming/portforward/websocket.go
    // L185-198, L122); client-node writes the first to `err` and leaves the second to its caller
    // (@kubernetes/client-node 1.4.0 src/portforward.ts L44-60).
    const errors = new Writable({
      write(chunk: Buffer, _encoding, done) {
        // client-node passes the error stream's port prefix on as an empty write.
        if (chunk.length > 0) {
          failure = `${where} failed: ${chunk.toString("utf8")}`;
          socket.destroy();
        }
        done();
      },
    });
    forward
      .portForward(reach.namespace, reach.pod, [reach.port], socket, errors, socket)
      .then((webSocket) => {
        if (typeof webSocket !== "function") {
          webSocket.addEventListener("close", () => socket.end());
        }
      })
      .catch((error: Error) => {
        failure = `${where} failed: ${error.message}`;
        socket.destroy();
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  const client = relayedClient(port, reach.port);
  try {
    return await use({
      send: (request) =>
        client.send(request).catch((error: Error) => {
          throw new Error(failure ?? error.message);
        }),
    });
  } finally {
    server.close();
  }
};
