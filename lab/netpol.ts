/**
 * Layer 1 of the kill switch in the lab: the plan's NetworkPolicies enforced on the node the way
 * an iptables/nftables CNI (Calico, kube-router, flannel + a policy controller) enforces them —
 * stateful, on the node's forward path, after kube-proxy's Service DNAT, per pod address on the
 * pod bridge. Pure: policies and the lab's pods in, an nftables script out.
 *
 * Modelled: pod and namespace selectors (matchLabels), ipBlock with except, TCP/UDP/SCTP ports and
 * port ranges, rules without ports (every protocol, ICMP included), Ingress and Egress, replies
 * (conntrack established/related). Not modelled: matchExpressions and named ports (refused with an
 * error), IPv6 (the lab's pods have none), traffic a pod sends to its own node (the lab's node runs
 * nothing a pod talks to), host-network pods.
 */
import type { LabPolicy, PeerLike, PortLike, SelectorLike } from "./plan";

export interface PolicyPod {
  /** Shown in chain names and comments. */
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly ip: string;
}

export class PolicyError extends Error {}

function matches(selector: SelectorLike | undefined, labels: Readonly<Record<string, string>>, where: string): boolean {
  if (selector?.matchExpressions && selector.matchExpressions.length > 0) {
    throw new PolicyError(`${where}: matchExpressions are not modelled by the lab`);
  }
  return Object.entries(selector?.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
}

/** Pods a peer selects, or undefined when the peer is an ipBlock. */
function peerPods(
  peer: PeerLike,
  policy: LabPolicy,
  pods: readonly PolicyPod[],
  namespaceLabels: Readonly<Record<string, Readonly<Record<string, string>>>>,
): PolicyPod[] {
  const where = `NetworkPolicy ${policy.namespace}/${policy.name}`;
  return pods.filter((pod) => {
    const inNamespace = peer.namespaceSelector
      ? matches(peer.namespaceSelector, namespaceLabels[pod.namespace] ?? {}, where)
      : pod.namespace === policy.namespace;
    return inNamespace && matches(peer.podSelector, pod.labels, where);
  });
}

/** nftables address matches for a list of peers (`field` is `saddr` or `daddr`); [""] means any. */
export function peerMatches(
  peers: readonly PeerLike[] | undefined,
  field: "saddr" | "daddr",
  policy: LabPolicy,
  pods: readonly PolicyPod[],
  namespaceLabels: Readonly<Record<string, Readonly<Record<string, string>>>>,
): string[] {
  if (!peers || peers.length === 0) {
    return [""];
  }
  const result: string[] = [];
  for (const peer of peers) {
    if (peer.ipBlock) {
      if (peer.ipBlock.cidr.includes(":")) {
        continue; // IPv6 block: the lab's pods have no IPv6
      }
      const except = (peer.ipBlock.except ?? []).filter((cidr) => !cidr.includes(":"));
      result.push(
        `ip ${field} ${peer.ipBlock.cidr}${except.length > 0 ? ` ip ${field} != { ${except.join(", ")} }` : ""}`,
      );
    } else {
      const ips = peerPods(peer, policy, pods, namespaceLabels).map((pod) => pod.ip);
      if (ips.length > 0) {
        result.push(`ip ${field} { ${ips.join(", ")} }`);
      }
    }
  }
  return result;
}

/** nftables protocol/port matches for a rule's ports; [""] means every protocol. */
export function portMatches(ports: readonly PortLike[] | undefined, where: string): string[] {
  if (!ports || ports.length === 0) {
    return [""];
  }
  return ports.map((port) => {
    const protocol = (port.protocol ?? "TCP").toLowerCase();
    if (!["tcp", "udp", "sctp"].includes(protocol)) {
      throw new PolicyError(`${where}: protocol ${port.protocol} is not a NetworkPolicy protocol`);
    }
    if (port.port === undefined) {
      return `meta l4proto ${protocol}`;
    }
    if (typeof port.port === "string" && !/^\d+$/.test(port.port)) {
      throw new PolicyError(`${where}: named port ${port.port} is not modelled by the lab`);
    }
    const range = port.endPort !== undefined ? `${port.port}-${port.endPort}` : String(port.port);
    return `${protocol} dport ${range}`;
  });
}

function chainName(direction: "egress" | "ingress", pod: PolicyPod): string {
  return `${direction}_${pod.name.replace(/[^A-Za-z0-9]/g, "_")}`;
}

/**
 * The nftables script enforcing `policies` for `pods` in table `inet <table>`: a forward chain
 * that sends each selected pod's new connections through its egress chain (as source) and its
 * ingress chain (as destination); a chain ends in a counted drop unless a rule returned first.
 */
export function policyRuleset(
  table: string,
  policies: readonly LabPolicy[],
  pods: readonly PolicyPod[],
  namespaceLabels: Readonly<Record<string, Readonly<Record<string, string>>>>,
): string {
  const chains: string[] = [];
  const dispatch: string[] = [];
  for (const direction of ["egress", "ingress"] as const) {
    const policyType = direction === "egress" ? "Egress" : "Ingress";
    for (const pod of pods) {
      const selecting = policies.filter((policy) => {
        const types =
          policy.spec.policyTypes ??
          (direction === "ingress" || policy.spec.egress
            ? ["Ingress", ...(policy.spec.egress ? ["Egress"] : [])]
            : ["Ingress"]);
        return (
          policy.namespace === pod.namespace &&
          types.includes(policyType) &&
          matches(policy.spec.podSelector, pod.labels, `NetworkPolicy ${policy.namespace}/${policy.name}`)
        );
      });
      if (selecting.length === 0) {
        continue;
      }
      const name = chainName(direction, pod);
      const rules: string[] = [];
      for (const policy of selecting) {
        const where = `NetworkPolicy ${policy.namespace}/${policy.name}`;
        const entries =
          direction === "egress"
            ? (policy.spec.egress ?? []).map((r) => ({ peers: r.to, ports: r.ports }))
            : (policy.spec.ingress ?? []).map((r) => ({ peers: r.from, ports: r.ports }));
        for (const entry of entries) {
          const addresses = peerMatches(
            entry.peers,
            direction === "egress" ? "daddr" : "saddr",
            policy,
            pods,
            namespaceLabels,
          );
          for (const address of addresses) {
            for (const port of portMatches(entry.ports, where)) {
              rules.push(
                `\t\t${[address, port].filter(Boolean).join(" ")} return comment "${policy.name}"`.replace(
                  /\t\t /,
                  "\t\t",
                ),
              );
            }
          }
        }
      }
      chains.push(
        `\tchain ${name} {\n${rules.join("\n")}${rules.length > 0 ? "\n" : ""}\t\tcounter drop comment "${direction} of ${pod.name} not allowed"\n\t}`,
      );
      dispatch.push(`\t\tip ${direction === "egress" ? "saddr" : "daddr"} ${pod.ip} jump ${name}`);
    }
  }
  return [
    `table inet ${table} {`,
    ...chains,
    "\tchain forward {",
    "\t\ttype filter hook forward priority -5; policy accept;",
    "\t\tct state established,related accept",
    ...dispatch,
    "\t}",
    "}",
    "",
  ].join("\n");
}
