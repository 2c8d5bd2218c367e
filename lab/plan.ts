/**
 * What the lab takes from the program's own plan of the `downloads` stack: the gateway pod and the
 * first routed pod exactly as they would be sent to the cluster (containers, commands, env,
 * lifecycle hooks, DNS settings, security context), the files of the ConfigMaps they mount, the
 * NetworkPolicies, the namespaces' labels and the cluster facts read from core. Pure: it reads
 * manifests, it never guesses what the program would have generated.
 */
import type { Manifest } from "../plan/evaluate";

export interface LabContainer {
  readonly name: string;
  readonly image: string;
  readonly command: readonly string[];
  readonly args: readonly string[];
  /** Literal env values; secret references are listed in {@link secretEnv}. */
  readonly env: Readonly<Record<string, string>>;
  /** Env names that come from a Secret (the lab supplies its own values). */
  readonly secretEnv: readonly string[];
  /** Mount path → files, for ConfigMap volumes (emptyDir and others are listed in `otherMounts`). */
  readonly configMounts: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Mount path → volume name, for emptyDir volumes: one directory per pod, shared by its containers, kept across container restarts. */
  readonly emptyDirMounts: Readonly<Record<string, string>>;
  readonly otherMounts: readonly string[];
  /** `securityContext.runAsGroup` (the container's, else the pod's): the primary group of its processes. */
  readonly runAsGroup?: number;
  /** `securityContext.runAsUser` (the container's, else the pod's): the user of its processes. */
  readonly runAsUser?: number;
  /** `lifecycle.postStart.exec.command`, run right after the container starts. */
  readonly postStart?: readonly string[];
  /** `lifecycle.preStop.exec.command`. */
  readonly preStop?: readonly string[];
  /** `securityContext.capabilities.add`. */
  readonly capabilities: readonly string[];
  /** `securityContext.capabilities.drop`. */
  readonly capabilityDrop: readonly string[];
  readonly privileged: boolean;
  /** Restartable init container (`restartPolicy: Always`): a native sidecar. */
  readonly sidecar: boolean;
  /** `startupProbe.periodSeconds`, when the container has a startup probe. */
  readonly startupProbePeriodSeconds?: number;
}

export interface LabDnsConfig {
  readonly nameservers: readonly string[];
  readonly searches: readonly string[];
  readonly options: readonly { name: string; value?: string }[];
}

export interface LabPod {
  readonly workload: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly initContainers: readonly LabContainer[];
  readonly containers: readonly LabContainer[];
  readonly dnsPolicy: string;
  readonly dnsConfig?: LabDnsConfig;
  /** Pod-level sysctls (`securityContext.sysctls`). */
  readonly sysctls: Readonly<Record<string, string>>;
}

export interface LabPolicy {
  readonly namespace: string;
  readonly name: string;
  readonly spec: NetworkPolicySpecLike;
}

/** The subset of a NetworkPolicy spec the lab enforces (see lab/netpol.ts). */
export interface NetworkPolicySpecLike {
  readonly podSelector: SelectorLike;
  readonly policyTypes?: readonly string[];
  readonly ingress?: readonly { from?: readonly PeerLike[]; ports?: readonly PortLike[] }[];
  readonly egress?: readonly { to?: readonly PeerLike[]; ports?: readonly PortLike[] }[];
}
export interface SelectorLike {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly unknown[];
}
export interface PeerLike {
  readonly podSelector?: SelectorLike;
  readonly namespaceSelector?: SelectorLike;
  readonly ipBlock?: { readonly cidr: string; readonly except?: readonly string[] };
}
export interface PortLike {
  readonly protocol?: string;
  readonly port?: number | string;
  readonly endPort?: number;
}

export interface ClusterFactsLike {
  readonly podCidr: string;
  readonly serviceCidr: string;
  readonly lanCidr?: string;
  readonly dnsServiceIp: string;
  readonly domain: string;
  /** The pod network's MTU: the lab's pod veths and bridge use it. */
  readonly podMtu: number;
}

export interface LabPlan {
  readonly cluster: ClusterFactsLike;
  readonly gateway: LabPod;
  /** FQDN clients resolve to the gateway pod (the `gateway` env of their route containers). */
  readonly gatewayFqdn: string;
  readonly client: LabPod;
  readonly policies: readonly LabPolicy[];
  /** Namespace name → labels (kube-system added as every cluster has it). */
  readonly namespaceLabels: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** The gateway's pod-gateway settings (settings.sh parsed), e.g. VPN_TRAFFIC_PORT. */
  readonly gatewaySettings: Readonly<Record<string, string>>;
}

export class LabPlanError extends Error {}

type Json = Record<string, unknown>;

export const POD_GATEWAY_IMAGE = /(^|\/)pod-gateway:/;
export const GLUETUN_IMAGE = /(^|\/)gluetun:/;

function asObject(value: unknown): Json {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : {};
}
function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
function strings(value: unknown): string[] {
  return asArray(value).map(String);
}

/** Parses a pod-gateway `settings.sh` of `NAME="value"` lines (what the program renders). */
export function parseShellSettings(text: string): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)="?([^"]*)"?\s*$/.exec(line.trim());
    if (match) {
      settings[match[1]] = match[2];
    }
  }
  return settings;
}

function configMapFiles(manifests: readonly Manifest[], namespace: string, name: string): Record<string, string> {
  const found = manifests.find(
    (m) => m.kind === "ConfigMap" && m.metadata.name === name && m.metadata.namespace === namespace,
  );
  if (!found) {
    throw new LabPlanError(`the plan mounts ConfigMap ${namespace}/${name} but does not create it`);
  }
  return Object.fromEntries(Object.entries(asObject(found.data)).map(([key, value]) => [key, String(value)]));
}

function container(
  raw: unknown,
  volumes: Map<string, Json>,
  manifests: readonly Manifest[],
  namespace: string,
  podSecurity: Json,
): LabContainer {
  const c = asObject(raw);
  const env: Record<string, string> = {};
  const secretEnv: string[] = [];
  for (const entry of asArray(c.env).map(asObject)) {
    if (typeof entry.value === "string") {
      env[String(entry.name)] = entry.value;
    } else if (asObject(entry.valueFrom).secretKeyRef) {
      secretEnv.push(String(entry.name));
    } else if (entry.value === undefined && entry.valueFrom === undefined) {
      env[String(entry.name)] = "";
    } else {
      throw new LabPlanError(
        `container ${String(c.name)}: env ${String(entry.name)} comes from ${JSON.stringify(entry.valueFrom)}, which the lab does not model`,
      );
    }
  }
  const configMounts: Record<string, Record<string, string>> = {};
  const otherMounts: string[] = [];
  const emptyDirMounts: Record<string, string> = {};
  for (const mount of asArray(c.volumeMounts).map(asObject)) {
    const volume = volumes.get(String(mount.name));
    const configMap = asObject(volume?.configMap);
    if (volume?.emptyDir !== undefined) {
      emptyDirMounts[String(mount.mountPath)] = String(mount.name);
    } else if (typeof configMap.name === "string") {
      const files = configMapFiles(manifests, namespace, configMap.name);
      const subPath = typeof mount.subPath === "string" ? mount.subPath : undefined;
      configMounts[String(mount.mountPath)] = subPath ? { [subPath]: files[subPath] ?? "" } : files;
    } else {
      otherMounts.push(String(mount.mountPath));
    }
  }
  const security = asObject(c.securityContext);
  const lifecycle = asObject(c.lifecycle);
  const hook = (name: string) => {
    const command = asObject(asObject(lifecycle[name]).exec).command;
    return command ? strings(command) : undefined;
  };
  return {
    name: String(c.name),
    image: String(c.image),
    command: strings(c.command),
    args: strings(c.args),
    env,
    secretEnv,
    configMounts,
    emptyDirMounts,
    otherMounts,
    runAsGroup:
      typeof security.runAsGroup === "number" ? security.runAsGroup : (podSecurity.runAsGroup as number | undefined),
    runAsUser:
      typeof security.runAsUser === "number" ? security.runAsUser : (podSecurity.runAsUser as number | undefined),
    postStart: hook("postStart"),
    preStop: hook("preStop"),
    capabilities: strings(asObject(security.capabilities).add),
    capabilityDrop: strings(asObject(security.capabilities).drop),
    privileged: security.privileged === true,
    sidecar: c.restartPolicy === "Always",
    startupProbePeriodSeconds: c.startupProbe ? Number(asObject(c.startupProbe).periodSeconds ?? 10) : undefined,
  };
}

function podOf(workload: Manifest, manifests: readonly Manifest[]): LabPod {
  const namespace = String(workload.metadata.namespace);
  const template = asObject(asObject(workload.spec).template);
  const spec = asObject(template.spec);
  const volumes = new Map(asArray(spec.volumes).map((v) => [String(asObject(v).name), asObject(v)]));
  const dnsConfig = spec.dnsConfig ? asObject(spec.dnsConfig) : undefined;
  const sysctls = Object.fromEntries(
    asArray(asObject(spec.securityContext).sysctls).map((s) => [String(asObject(s).name), String(asObject(s).value)]),
  );
  return {
    workload: String(workload.metadata.name),
    namespace,
    labels: Object.fromEntries(
      Object.entries(asObject(asObject(template.metadata).labels)).map(([k, v]) => [k, String(v)]),
    ),
    initContainers: asArray(spec.initContainers).map((c) =>
      container(c, volumes, manifests, namespace, asObject(spec.securityContext)),
    ),
    containers: asArray(spec.containers).map((c) =>
      container(c, volumes, manifests, namespace, asObject(spec.securityContext)),
    ),
    dnsPolicy: typeof spec.dnsPolicy === "string" ? spec.dnsPolicy : "ClusterFirst",
    dnsConfig: dnsConfig && {
      nameservers: strings(dnsConfig.nameservers),
      searches: strings(dnsConfig.searches),
      options: asArray(dnsConfig.options).map((o) => {
        const option = asObject(o);
        return option.value === undefined
          ? { name: String(option.name) }
          : { name: String(option.name), value: String(option.value) };
      }),
    },
    sysctls,
  };
}

const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet"]);

function allContainers(pod: LabPod): LabContainer[] {
  return [...pod.initContainers, ...pod.containers];
}

/** Extracts what the lab runs from a `downloads` plan and the core stack's `cluster` output. */
export function extractLabPlan(
  downloads: readonly Manifest[],
  coreOutputs: Readonly<Record<string, unknown>>,
): LabPlan {
  const cluster = asObject(coreOutputs.cluster) as unknown as ClusterFactsLike;
  for (const key of ["podCidr", "serviceCidr", "dnsServiceIp", "domain"] as const) {
    if (typeof cluster[key] !== "string") {
      throw new LabPlanError(`the core stack's outputs have no cluster.${key}`);
    }
  }
  if (!Number.isInteger(cluster.podMtu)) {
    throw new LabPlanError("the core stack's outputs have no cluster.podMtu");
  }
  const pods = downloads.filter((m) => WORKLOAD_KINDS.has(m.kind)).map((m) => podOf(m, downloads));
  const gateway = pods.find((pod) => allContainers(pod).some((c) => GLUETUN_IMAGE.test(c.image)));
  if (!gateway) {
    throw new LabPlanError("the downloads plan has no workload running gluetun (the VPN gateway)");
  }
  const routed = pods.filter(
    (pod) => pod !== gateway && allContainers(pod).some((c) => POD_GATEWAY_IMAGE.test(c.image)),
  );
  const client = routed[0];
  if (!client) {
    throw new LabPlanError("the downloads plan routes no pod through the gateway (no pod-gateway client containers)");
  }
  const routeContainer = allContainers(client).find(
    (c) => POD_GATEWAY_IMAGE.test(c.image) && c.env.gateway !== undefined,
  );
  if (!routeContainer) {
    throw new LabPlanError(`routed pod ${client.workload} has no pod-gateway container with the gateway env`);
  }
  const settingsFile = allContainers(gateway)
    .flatMap((c) => Object.values(c.configMounts))
    .find((files) => files["settings.sh"] !== undefined)?.["settings.sh"];
  if (settingsFile === undefined) {
    throw new LabPlanError("the gateway pod mounts no pod-gateway settings.sh");
  }
  const namespaceLabels: Record<string, Record<string, string>> = {
    "kube-system": { "kubernetes.io/metadata.name": "kube-system" },
  };
  for (const ns of downloads.filter((m) => m.kind === "Namespace")) {
    const name = String(ns.metadata.name);
    namespaceLabels[name] = {
      ...(asObject(ns.metadata.labels) as Record<string, string>),
      "kubernetes.io/metadata.name": name,
    };
  }
  for (const pod of [gateway, client]) {
    namespaceLabels[pod.namespace] ??= { "kubernetes.io/metadata.name": pod.namespace };
  }
  return {
    cluster,
    gateway,
    gatewayFqdn: routeContainer.env.gateway,
    client,
    policies: downloads
      .filter((m) => m.kind === "NetworkPolicy")
      .map((m) => ({
        namespace: String(m.metadata.namespace),
        name: String(m.metadata.name),
        spec: m.spec as NetworkPolicySpecLike,
      })),
    namespaceLabels,
    gatewaySettings: parseShellSettings(settingsFile),
  };
}

/** The `/etc/resolv.conf` the kubelet writes for a pod (dnsPolicy ClusterFirst or None + dnsConfig). */
export function podResolvConf(pod: LabPod, cluster: ClusterFactsLike): string {
  const clusterFirst = pod.dnsPolicy === "ClusterFirst" || pod.dnsPolicy === "ClusterFirstWithHostNet";
  if (!clusterFirst && pod.dnsPolicy !== "None") {
    throw new LabPlanError(`pod ${pod.workload}: dnsPolicy ${pod.dnsPolicy} is not modelled`);
  }
  const base = clusterFirst
    ? {
        nameservers: [cluster.dnsServiceIp],
        searches: [`${pod.namespace}.svc.${cluster.domain}`, `svc.${cluster.domain}`, cluster.domain],
        options: [{ name: "ndots", value: "5" }] as { name: string; value?: string }[],
      }
    : { nameservers: [] as string[], searches: [] as string[], options: [] as { name: string; value?: string }[] };
  const extra = pod.dnsConfig ?? { nameservers: [], searches: [], options: [] };
  const nameservers = [...base.nameservers, ...extra.nameservers];
  if (nameservers.length === 0) {
    throw new LabPlanError(`pod ${pod.workload}: dnsPolicy None without dnsConfig.nameservers`);
  }
  const options = new Map<string, string | undefined>();
  for (const option of [...base.options, ...extra.options]) {
    options.set(option.name, option.value);
  }
  const searches = [...base.searches, ...extra.searches.filter((s) => !base.searches.includes(s))];
  const lines = [
    ...(searches.length > 0 ? [`search ${searches.join(" ")}`] : []),
    ...nameservers.map((ns) => `nameserver ${ns}`),
    ...(options.size > 0
      ? [`options ${[...options].map(([name, value]) => (value === undefined ? name : `${name}:${value}`)).join(" ")}`]
      : []),
  ];
  return `${lines.join("\n")}\n`;
}
