import { existsSync } from "node:fs";
import { homedir } from "node:os";
import type { KubeConfig } from "@kubernetes/client-node";

// No other imports: the relations' dynamic provider is serialized with everything it reaches and
// loads this module at `pulumi up` time; the preflight's cluster reader uses it too.

/** The default Kubernetes provider's connection settings (`kubernetes:kubeconfig`, `kubernetes:context`). */
export interface KubernetesConnection {
  /** A kubeconfig path or its contents, as the provider takes it; unset uses KUBECONFIG or ~/.kube/config. */
  readonly kubeconfig?: string;
  readonly context?: string;
}

/**
 * Loads `connection` into `config` the way the default pulumi-kubernetes provider reads its
 * `kubeconfig` and `context` (pulumi-kubernetes provider/pkg/provider/util.go parseKubeconfigString):
 * a path (with `~` expanded) or the file's contents; unset, KUBECONFIG or ~/.kube/config. Throws on
 * an unreadable kubeconfig; an unknown context leaves no current cluster.
 */
export function loadConnection(config: KubeConfig, connection: KubernetesConnection): void {
  const kubeconfig = connection.kubeconfig?.replace(/^~(?=$|\/)/, homedir());
  if (kubeconfig === undefined || kubeconfig === "") {
    config.loadFromDefault();
  } else if (existsSync(kubeconfig)) {
    config.loadFromFile(kubeconfig);
  } else {
    config.loadFromString(kubeconfig);
  }
  if (connection.context !== undefined) {
    config.setCurrentContext(connection.context);
  }
}
