import { parse } from "yaml";
import { DEFAULT_TRUST_DOMAIN } from "../mesh/settings";
import {
  ClusterInventory,
  ClusterReading,
  CrdFacts,
  INSTALLED_BY_ANNOTATION,
  PREFLIGHT_CRDS,
  PREFLIGHT_NAMESPACES,
} from "./preflight";
import { KubernetesConnection, loadConnection } from "./kubeConnection";
import type { NetworkPolicyFacts } from "./networkPolicy";
import type { PlatformSettings } from "./settings";

/**
 * Reads the cluster for the preflight: the Kubernetes API during `pulumi preview`/`up`
 * ({@link readClusterInventory}), or, in the offline plan, the cluster the settings declare.
 */
export type ClusterReader = (connection: KubernetesConnection, platform: PlatformSettings) => Promise<ClusterReading>;

/**
 * Reads what the preflight needs straight from the Kubernetes API, with the kubeconfig and context
 * the default pulumi-kubernetes provider uses. pulumi-kubernetes has no invoke that looks an object
 * up and answers "absent": `CustomResourceDefinition.get` fails the whole program when the object
 * does not exist, so a plain API read (the maintained @kubernetes/client-node, which handles
 * exec/OIDC auth plugins and client certificates) is the only way to ask before creating anything.
 * Runs during `pulumi preview` and `pulumi up`; never throws — an unreadable cluster is a reading
 * that says why.
 */
export async function readClusterInventory(connection: KubernetesConnection): Promise<ClusterReading> {
  // Loaded on demand: the offline plan and the tests never read a cluster.
  const k8s = await import("@kubernetes/client-node");
  const config = new k8s.KubeConfig();
  try {
    loadConnection(config, connection);
  } catch (error) {
    return { reachable: false, reason: `no usable kubeconfig: ${String(error)}` };
  }
  if (config.getCurrentCluster() === null) {
    return { reachable: false, reason: "no kubeconfig with a current cluster" };
  }

  const extensions = config.makeApiClient(k8s.ApiextensionsV1Api);
  const core = config.makeApiClient(k8s.CoreV1Api);
  const apps = config.makeApiClient(k8s.AppsV1Api);
  // 404 is the answer "absent"; anything else means the cluster could not be read.
  const orAbsent = async <T>(read: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await read();
    } catch (error) {
      if (error instanceof k8s.ApiException && error.code === 404) {
        return undefined;
      }
      throw error;
    }
  };
  try {
    const crds: Record<string, CrdFacts> = {};
    for (const name of Object.values(PREFLIGHT_CRDS)) {
      const crd = await orAbsent(() => extensions.readCustomResourceDefinition({ name }));
      if (crd) {
        const annotations = crd.metadata?.annotations ?? {};
        const release = annotations["meta.helm.sh/release-name"];
        crds[name] = {
          managers: (crd.metadata?.managedFields ?? []).flatMap((field) => (field.manager ? [field.manager] : [])),
          ...(release ? { helmRelease: `${annotations["meta.helm.sh/release-namespace"] ?? "?"}/${release}` } : {}),
          ...(annotations["gateway.networking.k8s.io/bundle-version"]
            ? { bundleVersion: annotations["gateway.networking.k8s.io/bundle-version"] }
            : {}),
          ...(annotations[INSTALLED_BY_ANNOTATION] ? { installedBy: annotations[INSTALLED_BY_ANNOTATION] } : {}),
        };
      }
    }
    const namespaces: Record<string, Record<string, string>> = {};
    for (const name of PREFLIGHT_NAMESPACES) {
      const namespace = await orAbsent(() => core.readNamespace({ name }));
      if (namespace) {
        namespaces[name] = namespace.metadata?.labels ?? {};
      }
    }
    const istiods: ClusterInventory["istiods"][number][] = [];
    const deployments = await apps.listDeploymentForAllNamespaces({ labelSelector: "app=istiod" });
    const seen = new Set<string>();
    for (const deployment of deployments.items) {
      const namespace = deployment.metadata?.namespace;
      const revision = deployment.metadata?.labels?.["istio.io/rev"];
      const names = meshConfigMapNames(revision);
      if (namespace === undefined || seen.has(`${namespace}/${names[0]}`)) {
        continue;
      }
      seen.add(`${namespace}/${names[0]}`);
      let mesh: Awaited<ReturnType<typeof core.readNamespacedConfigMap>> | undefined;
      for (const name of names) {
        mesh ??= await orAbsent(() => core.readNamespacedConfigMap({ name, namespace }));
      }
      const version = istiodVersion(deployment);
      istiods.push({
        namespace,
        ...(revision !== undefined && revision !== "default" ? { revision } : {}),
        trustDomain: meshTrustDomain(mesh?.data?.mesh),
        ...(version !== undefined ? { version } : {}),
      });
    }
    const metallbPools =
      crds[PREFLIGHT_CRDS.metallb] === undefined
        ? undefined
        : ((
            (await config
              .makeApiClient(k8s.CustomObjectsApi)
              .listClusterCustomObject({ group: "metallb.io", version: "v1beta1", plural: "ipaddresspools" })) as {
              items?: { spec?: { addresses?: string[] } }[];
            }
          ).items?.map((pool) => pool.spec?.addresses ?? []) ?? []);
    const networkPolicy = await readNetworkPolicyFacts(apps, core);
    // GET /version: the API server's build, whose minor the chosen Istio must support.
    const kubernetesVersion = (await orAbsent(() => config.makeApiClient(k8s.VersionApi).getCode()))?.gitVersion;
    return {
      reachable: true,
      inventory: {
        crds,
        namespaces,
        istiods,
        ...(kubernetesVersion ? { kubernetesVersion } : {}),
        ...(metallbPools !== undefined ? { metallbPools } : {}),
        ...(networkPolicy !== undefined ? { networkPolicy } : {}),
      },
    };
  } catch (error) {
    return { reachable: false, reason: String(error instanceof Error ? error.message : error) };
  }
}

/**
 * Every DaemonSet's images and arguments and every node's kubelet version and k3s flags: what tells
 * whether NetworkPolicy is enforced (./networkPolicy.ts). Undefined when the credentials may not list
 * them (a namespace-scoped user): the check is then skipped, not the whole preflight.
 */
async function readNetworkPolicyFacts(
  apps: import("@kubernetes/client-node").AppsV1Api,
  core: import("@kubernetes/client-node").CoreV1Api,
): Promise<NetworkPolicyFacts | undefined> {
  try {
    const daemonSets = (await apps.listDaemonSetForAllNamespaces()).items.map((set) => {
      const pod = set.spec?.template.spec;
      const containers = [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])];
      return {
        namespace: set.metadata?.namespace ?? "",
        name: set.metadata?.name ?? "",
        images: containers.flatMap((container) => (container.image !== undefined ? [container.image] : [])),
        args: containers.map((container) => [...(container.command ?? []), ...(container.args ?? [])].join(" ")),
      };
    });
    const nodes = (await core.listNode()).items.map((node) => ({
      name: node.metadata?.name ?? "",
      kubeletVersion: node.status?.nodeInfo?.kubeletVersion ?? "",
      ...k3sArgs(node.metadata?.annotations?.["k3s.io/node-args"]),
    }));
    return { daemonSets, nodes };
  } catch {
    return undefined;
  }
}

/** k3s's `k3s.io/node-args` annotation: a JSON array of the node's flags. */
function k3sArgs(annotation: string | undefined): { k3sArgs?: string[] } {
  if (annotation === undefined) {
    return {};
  }
  try {
    const parsed: unknown = JSON.parse(annotation);
    return Array.isArray(parsed) ? { k3sArgs: parsed.map(String) } : {};
  } catch {
    return {};
  }
}

/**
 * The Istio version an istiod Deployment runs: the `app.kubernetes.io/version` label Istio's
 * istiod chart puts on it (the chart's appVersion; istio/istio manifests/charts/istio-control/
 * istio-discovery templates/deployment.yaml with zzz_profile.yaml's `istio.labels`), else the tag
 * of its `discovery` container's image (`<hub>/pilot:<tag>`).
 */
export function istiodVersion(deployment: {
  metadata?: { labels?: Record<string, string> };
  spec?: { template?: { spec?: { containers?: { name?: string; image?: string }[] } } };
}): string | undefined {
  const label = deployment.metadata?.labels?.["app.kubernetes.io/version"];
  if (label) {
    return label;
  }
  const image = deployment.spec?.template?.spec?.containers?.find((container) => container.name === "discovery")?.image;
  // A digest (`pilot@sha256:…`) names no version.
  const name = image === undefined || image.includes("@") ? undefined : image.slice(image.lastIndexOf("/") + 1);
  return name?.includes(":") ? name.slice(name.indexOf(":") + 1) : undefined;
}

/**
 * The ConfigMap holding the mesh config of an istiod with label `istio.io/rev` = `revision`, in the
 * order to try. Istio's istiod chart (1.27 manifests/charts/istio-control/istio-discovery
 * templates/configmap.yaml) names it `istio` without a revision and `istio-<revision>` with one,
 * and labels the Deployment `istio.io/rev: <revision, else "default">` — so a `default` label is
 * `istio`, or `istio-default` when the revision was literally named default.
 */
export function meshConfigMapNames(revision: string | undefined): readonly string[] {
  if (revision === undefined || revision === "") {
    return ["istio"];
  }
  return revision === "default" ? ["istio", "istio-default"] : [`istio-${revision}`];
}

/** The `trustDomain` of an istiod's mesh config (the `mesh` key of its `istio` ConfigMap); Istio's default when unset. */
export function meshTrustDomain(mesh: string | undefined): string {
  const parsed = mesh === undefined ? undefined : (parse(mesh) as { trustDomain?: unknown } | null);
  return typeof parsed?.trustDomain === "string" && parsed.trustDomain !== ""
    ? parsed.trustDomain
    : DEFAULT_TRUST_DOMAIN;
}
