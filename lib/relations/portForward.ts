import * as net from "node:net";
import { CoreV1Api, KubeConfig, PortForward } from "@kubernetes/client-node";
import { fetchClient } from "./http";
import { AppGoneError, Connect } from "./lifecycle";
import type { Reach } from "./plan";

/** One HTTP request's bound: an app that accepts a connection but never answers fails the attempt, not the run. */
const REQUEST_TIMEOUT_MS = 15000;

function isNotFound(error: unknown): boolean {
    return typeof error === "object" && error !== null && (error as { code?: number }).code === 404;
}

/**
 * Reaches an app's pod through the Kubernetes API's port-forward, as `kubectl port-forward` does,
 * with the kubeconfig `pulumi up` runs with (KUBECONFIG, else ~/.kube/config). The connection ends in
 * the pod's own network namespace on loopback, so it needs neither the user's LAN nor a mesh
 * identity: Istio ambient captures traffic arriving on the pod's interface, not its loopback.
 */
export const portForwardConnect: Connect = async (reach: Reach, use) => {
    const kubeconfig = new KubeConfig();
    kubeconfig.loadFromDefault();
    try {
        await kubeconfig.makeApiClient(CoreV1Api).readNamespacedPod({ name: reach.pod, namespace: reach.namespace });
    } catch (error) {
        if (isNotFound(error)) {
            throw new AppGoneError(`pod ${reach.namespace}/${reach.pod} does not exist`);
        }
        throw error;
    }
    const forward = new PortForward(kubeconfig);
    const server = net.createServer((socket) => {
        forward.portForward(reach.namespace, reach.pod, [reach.port], socket, null, socket).catch((error: Error) => socket.destroy(error));
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", resolve);
    });
    const { port } = server.address() as net.AddressInfo;
    try {
        return await use(fetchClient(`http://127.0.0.1:${port}`, REQUEST_TIMEOUT_MS));
    } finally {
        server.close();
    }
};
