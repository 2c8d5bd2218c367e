import * as net from "node:net";
import { AppsV1Api, CoreV1Api, KubeConfig, PortForward } from "@kubernetes/client-node";
import { KubernetesConnection, loadConnection } from "../platform/kubeConnection";
import { HttpClient, httpClient, RelationError } from "./http";
import { AppGoneError, Connect } from "./lifecycle";
import type { Reach } from "./plan";

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
async function ensureAppExists(kubeconfig: KubeConfig, reach: Reach): Promise<void> {
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
        throw new AppGoneError(`${what} does not exist`);
      }
      throw error;
    }
  }
}

/**
 * The client for an app relayed from a local port to its pod's port `appPort`. Its requests name the
 * app's own port in Host, as a client in the pod would: qBittorrent refuses a Host header naming a
 * port other than the one it listens on, with HTTP 401 before any login (qBittorrent release-5.1.2
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
  const kubeconfig = new KubeConfig();
  loadConnection(kubeconfig, connection);
  if (kubeconfig.getCurrentCluster() === null) {
    throw new RelationError(
      `no cluster to reach ${reach.namespace}/${reach.pod}: the kubeconfig has no context ${JSON.stringify(kubeconfig.getCurrentContext())} with a cluster`,
    );
  }
  await ensureAppExists(kubeconfig, reach);
  const forward = new PortForward(kubeconfig);
  const server = net.createServer((socket) => {
    forward
      .portForward(reach.namespace, reach.pod, [reach.port], socket, null, socket)
      .catch((error: Error) => socket.destroy(error));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  try {
    return await use(relayedClient(port, reach.port));
  } finally {
    server.close();
  }
};
