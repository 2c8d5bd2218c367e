/**
 * A test-side model of Kubernetes NetworkPolicy semantics
 * (https://kubernetes.io/docs/concepts/services-networking/network-policies/), egress and ingress:
 * which policies isolate a pod, how `to`/`from` peers (podSelector, namespaceSelector, ipBlock with
 * except) and `ports` (protocol, number, name, endPort) match, and that a pod no policy selects is
 * not isolated.
 * Independent of the builders it judges: it reads the manifests as the plan records them.
 */
import { BlockList, isIP } from "node:net";

export type Labels = Readonly<Record<string, string>>;

interface LabelSelectorRequirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values?: string[];
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

interface PolicyPort {
  protocol?: string;
  port?: number | string;
  endPort?: number;
}

interface PolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

interface EgressRule {
  to?: PolicyPeer[];
  ports?: PolicyPort[];
}

interface IngressRule {
  from?: PolicyPeer[];
  ports?: PolicyPort[];
}

/** The parts of a NetworkPolicy manifest the model reads. */
export interface NetworkPolicyManifest {
  kind: string;
  metadata: { name?: string; namespace?: string };
  spec?: {
    podSelector?: LabelSelector;
    policyTypes?: string[];
    egress?: EgressRule[];
    ingress?: IngressRule[];
  };
}

/** A pod as policies see it. */
export interface Pod {
  readonly namespace: string;
  readonly labels: Labels;
  /** Labels of the pod's namespace besides `kubernetes.io/metadata.name`, which is implied. */
  readonly namespaceLabels?: Labels;
  /** Named container ports, for policies that name ports. */
  readonly namedPorts?: Readonly<Record<string, number>>;
}

export type Protocol = "TCP" | "UDP" | "SCTP" | "ICMP";

/** Where a packet goes: an address, the pod behind it (if any), protocol and port. */
export interface Destination {
  readonly ip: string;
  /** Set when the address is a pod's; selectors match only pods. */
  readonly pod?: Pod;
  readonly protocol: Protocol;
  /** Destination port; absent for ICMP. */
  readonly port?: number;
}

export interface EvaluationOptions {
  /**
   * Whether `ipBlock` peers match pod IPs. True on Calico and most CNIs; false on Cilium, which
   * matches pods only by selector (docs/upstream.md#networkpolicy-across-cnis), so a policy must not depend
   * on ipBlock for pods.
   */
  readonly ipBlockMatchesPods?: boolean;
}

export interface Verdict {
  readonly allowed: boolean;
  /** Policies that select the source pod for egress; empty means the pod is not isolated. */
  readonly isolatedBy: readonly string[];
  /** `policy#rule` entries that allow the packet. */
  readonly allowedBy: readonly string[];
}

export function selectorMatches(selector: LabelSelector | undefined, labels: Labels): boolean {
  if (!selector) {
    return true;
  }
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) {
      return false;
    }
  }
  for (const requirement of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, requirement.key);
    const values = requirement.values ?? [];
    switch (requirement.operator) {
      case "In":
        if (!has || !values.includes(labels[requirement.key])) return false;
        break;
      case "NotIn":
        if (has && values.includes(labels[requirement.key])) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        throw new Error(`unknown selector operator ${String((requirement as LabelSelectorRequirement).operator)}`);
    }
  }
  return true;
}

function namespaceLabelsOf(pod: Pod): Labels {
  return { ...(pod.namespaceLabels ?? {}), "kubernetes.io/metadata.name": pod.namespace };
}

const FAMILIES = { 4: "ipv4", 6: "ipv6" } as const;

/** IPv4 or IPv6; an address never matches a block of the other family (0.0.0.0/0 admits no IPv6). */
function ipInCidr(ip: string, cidr: string): boolean {
  const [network, prefix, ...rest] = cidr.split("/");
  const addressFamily = isIP(ip);
  const blockFamily = isIP(network ?? "");
  const bits = Number(prefix);
  if (
    addressFamily === 0 ||
    blockFamily === 0 ||
    rest.length > 0 ||
    !/^\d+$/.test(prefix ?? "") ||
    bits > (blockFamily === 4 ? 32 : 128)
  ) {
    throw new Error(`cannot evaluate ${ip} against ${cidr}`);
  }
  if (addressFamily !== blockFamily) {
    return false;
  }
  const block = new BlockList();
  const family = FAMILIES[blockFamily as 4 | 6];
  block.addSubnet(network, bits, family);
  return block.check(ip, family);
}

/** The other end of a connection as a peer rule sees it: its address and, if it is a pod, the pod. */
type PeerEndpoint = Pick<Destination, "ip" | "pod">;

function peerMatches(
  peer: PolicyPeer,
  policyNamespace: string,
  destination: PeerEndpoint,
  options: EvaluationOptions,
): boolean {
  if (peer.ipBlock) {
    if (peer.podSelector || peer.namespaceSelector) {
      throw new Error("a NetworkPolicy peer may not combine ipBlock with selectors");
    }
    if (destination.pod && options.ipBlockMatchesPods === false) {
      return false;
    }
    return (
      ipInCidr(destination.ip, peer.ipBlock.cidr) &&
      !(peer.ipBlock.except ?? []).some((cidr) => ipInCidr(destination.ip, cidr))
    );
  }
  const pod = destination.pod;
  if (!pod) {
    return false;
  }
  if (peer.namespaceSelector) {
    if (!selectorMatches(peer.namespaceSelector, namespaceLabelsOf(pod))) {
      return false;
    }
  } else if (pod.namespace !== policyNamespace) {
    return false;
  }
  return selectorMatches(peer.podSelector, pod.labels);
}

function portMatches(ports: PolicyPort[] | undefined, destination: Destination): boolean {
  if (!ports || ports.length === 0) {
    return true;
  }
  // `ports` names TCP, UDP and SCTP only: a rule that lists ports never admits ICMP.
  return ports.some((entry) => {
    if ((entry.protocol ?? "TCP") !== destination.protocol) {
      return false;
    }
    if (entry.port === undefined) {
      return true;
    }
    if (typeof entry.port === "string") {
      const named = destination.pod?.namedPorts?.[entry.port];
      return named !== undefined && named === destination.port;
    }
    if (destination.port === undefined) {
      return false;
    }
    const end = entry.endPort ?? entry.port;
    return destination.port >= entry.port && destination.port <= end;
  });
}

type Direction = "Ingress" | "Egress";

/**
 * Whether a policy isolates its pods in `direction`. An absent or empty `policyTypes` is defaulted by
 * the API server to Ingress, plus Egress only if the policy has at least one egress rule:
 * `if len(obj.Spec.PolicyTypes) == 0 { … Ingress; if len(obj.Spec.Egress) != 0 { … Egress } }`
 * (kubernetes/kubernetes pkg/apis/networking/v1/defaults.go `SetDefaults_NetworkPolicy` L38-46,
 * commit 030880a5dc5449403c6d1f0aa146a7dc21d6c6dc). So `egress: []` without policyTypes isolates no
 * egress, and neither does an explicit `policyTypes: []`.
 */
function appliesTo(policy: NetworkPolicyManifest, direction: Direction): boolean {
  const given = policy.spec?.policyTypes ?? [];
  const types = given.length > 0 ? given : (policy.spec?.egress ?? []).length > 0 ? ["Ingress", "Egress"] : ["Ingress"];
  return types.includes(direction);
}

/** A connection arriving at a pod: who sends it (address, pod if any), protocol and the receiving pod's port. */
export type Source = Destination;

/**
 * Whether the policies selecting `pod` let one connection through in `direction`: `peer` is the
 * other end, `traffic` the protocol and port as the pod's rules see them.
 */
function evaluate(
  policies: readonly NetworkPolicyManifest[],
  pod: Pod,
  direction: Direction,
  peer: PeerEndpoint,
  traffic: Destination,
  options: EvaluationOptions,
): Verdict {
  const selecting = policies.filter(
    (policy) =>
      policy.kind === "NetworkPolicy" &&
      policy.metadata.namespace === pod.namespace &&
      appliesTo(policy, direction) &&
      selectorMatches(policy.spec?.podSelector ?? {}, pod.labels),
  );
  const allowedBy: string[] = [];
  for (const policy of selecting) {
    const rules =
      direction === "Ingress"
        ? (policy.spec?.ingress ?? []).map((rule) => ({ peers: rule.from, ports: rule.ports }))
        : (policy.spec?.egress ?? []).map((rule) => ({ peers: rule.to, ports: rule.ports }));
    rules.forEach((rule, index) => {
      const peerAllowed =
        !rule.peers ||
        rule.peers.length === 0 ||
        rule.peers.some((candidate) => peerMatches(candidate, policy.metadata.namespace ?? "", peer, options));
      if (peerAllowed && portMatches(rule.ports, traffic)) {
        allowedBy.push(`${policy.metadata.name}#${index}`);
      }
    });
  }
  const isolatedBy = selecting.map((policy) => policy.metadata.name ?? "");
  return { allowed: selecting.length === 0 || allowedBy.length > 0, isolatedBy, allowedBy };
}

/** Whether `target` accepts a new connection from `source` under `policies` (any namespace; filtered here). */
export function evaluateIngress(
  policies: readonly NetworkPolicyManifest[],
  target: Pod,
  source: Source,
  options: EvaluationOptions = {},
): Verdict {
  // Named ports in an ingress rule name the receiving pod's ports.
  return evaluate(policies, target, "Ingress", source, { ...source, pod: target }, options);
}

/** Whether `source` may send to `destination` under `policies` (any namespace; filtered here). */
export function evaluateEgress(
  policies: readonly NetworkPolicyManifest[],
  source: Pod,
  destination: Destination,
  options: EvaluationOptions = {},
): Verdict {
  return evaluate(policies, source, "Egress", destination, destination, options);
}

// ---- Reading the VPN path out of a plan (shared by the vpn* and killSwitch* tests) ----

import type { StackPlan } from "../../plan/evaluate";

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  volumeMounts?: { name: string; mountPath: string }[];
  securityContext?: {
    privileged?: boolean;
    runAsGroup?: number;
    capabilities?: { add?: string[]; drop?: string[] };
  };
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
}

/** A container probe: how the kubelet checks it, and how long it waits. */
export interface Probe {
  exec?: { command?: string[] };
  httpGet?: unknown;
  tcpSocket?: unknown;
  grpc?: unknown;
  periodSeconds?: number;
  failureThreshold?: number;
}

export interface PodTemplate {
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    initContainers?: Container[];
    containers: Container[];
    volumes?: { name: string; configMap?: { name: string } }[];
    dnsPolicy?: string;
    dnsConfig?: { nameservers?: string[]; searches?: string[]; options?: { name: string; value?: string }[] };
  };
}

/** A Deployment or StatefulSet as the plan records it. */
export interface Workload {
  kind: string;
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  spec: {
    replicas?: number;
    strategy?: unknown;
    selector: { matchLabels?: Record<string, string> };
    template: PodTemplate;
  };
}

function workloads(plan: StackPlan): Workload[] {
  return plan.manifests.filter((m) =>
    ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"].includes(m.kind),
  ) as unknown as Workload[];
}

export function podSpecOf(workload: Workload): PodTemplate["spec"] {
  return workload.spec.template.spec;
}

/** Every workload whose pods are routed through the gateway (they run `vpn-route-init`). */
export function routedWorkloads(plan: StackPlan): Workload[] {
  return workloads(plan).filter((w) =>
    (w.spec.template.spec.initContainers ?? []).some((c) => c.name === "vpn-route-init"),
  );
}

/** The one workload running gluetun. */
export function gatewayWorkload(plan: StackPlan): Workload {
  const found = workloads(plan).filter((w) => w.spec.template.spec.containers.some((c) => c.name === "gluetun"));
  if (found.length !== 1) {
    throw new Error(`expected one gateway workload, found ${found.length}`);
  }
  return found[0];
}

/** A workload's pods as the policy model sees them. */
export function podOf(workload: Workload): Pod {
  return { namespace: workload.metadata.namespace, labels: workload.spec.template.metadata.labels ?? {} };
}

/** Literal env values by name; references to Secrets as the text "secretKeyRef". */
export function envOf(container: Container): Record<string, string> {
  return Object.fromEntries(
    (container.env ?? []).map((e) => [
      e.name,
      e.value ?? ((e.valueFrom as { secretKeyRef?: unknown } | undefined)?.secretKeyRef ? "secretKeyRef" : "valueFrom"),
    ]),
  );
}

export function configMapFile(plan: StackPlan, namespace: string, name: string, file: string): string {
  const configMap = plan.manifests.find(
    (m) => m.kind === "ConfigMap" && m.metadata.name === name && m.metadata.namespace === namespace,
  ) as { data?: Record<string, string> } | undefined;
  const text = configMap?.data?.[file];
  if (text === undefined) {
    throw new Error(`no ConfigMap ${namespace}/${name} with ${file}`);
  }
  return text;
}

/** Reads `KEY="value"` lines the way pod-gateway's `.` would, for the values this program writes. */
export function parseShellSettings(text: string): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^([A-Z0-9_]+)="([^"]*)"$/.exec(line);
    if (match) {
      settings[match[1]] = match[2];
    } else if (line.trim() !== "" && !line.startsWith("#")) {
      throw new Error(`unexpected line in settings.sh: ${line}`);
    }
  }
  return settings;
}

export function networkPoliciesOf(plan: StackPlan): NetworkPolicyManifest[] {
  return plan.manifests.filter((m) => m.kind === "NetworkPolicy") as unknown as NetworkPolicyManifest[];
}
