/**
 * Whether the cluster enforces NetworkPolicy, as far as the API shows it. Layer 1 of the kill
 * switch and the gateway's own policies are NetworkPolicies: on a cluster whose network plugin does
 * not enforce them they are accepted and do nothing, and nothing else says so. Enforcement is done
 * by a node agent, which the API shows as a DaemonSet (or, on k3s, as the k3s binary's own flags on
 * each node), so the preflight reads those and warns on the setups known to enforce nothing.
 */

/** A DaemonSet, as far as telling network plugins apart goes. */
export interface DaemonSetFacts {
  readonly namespace: string;
  readonly name: string;
  /** Every container's and init container's image. */
  readonly images: readonly string[];
  /** Every container's command and args, joined. */
  readonly args: readonly string[];
}

/** A node, as far as telling distributions apart goes. */
export interface NodeFacts {
  readonly name: string;
  /** `status.nodeInfo.kubeletVersion`: k3s's carries `+k3s`. */
  readonly kubeletVersion: string;
  /** k3s's `k3s.io/node-args` annotation, parsed: the server's or agent's own flags. */
  readonly k3sArgs?: readonly string[];
}

/** What the preflight reads to tell whether NetworkPolicy is enforced. */
export interface NetworkPolicyFacts {
  readonly daemonSets: readonly DaemonSetFacts[];
  readonly nodes: readonly NodeFacts[];
}

/** One reason NetworkPolicy is not enforced, and how to make it so. */
export interface EnforcementGap {
  readonly problem: string;
  readonly fix: string;
}

/**
 * Node agents that enforce NetworkPolicy, by image: Calico's calico-node (also in Canal and RKE2's
 * rke2-canal, `rancher/hardened-calico`), Cilium's agent, Antrea's agent, Weave Net's weave-npc,
 * kube-network-policies (sigs.k8s.io; Talos 1.13's flannel with `kubeNetworkPoliciesEnabled`), and
 * kube-router unless started with `--run-firewall=false` (kube-router docs/user-guide.md: the
 * firewall, its network policy controller, is on by default).
 */
const ENFORCERS: readonly { readonly image: RegExp; readonly off?: RegExp }[] = [
  { image: /calico\/node[:@]|hardened-calico[:@]/ },
  { image: /cilium\/cilium[:@]/ },
  { image: /antrea\/antrea-(agent-)?ubuntu[:@]|antrea\/antrea-agent/ },
  { image: /weave-npc[:@]/ },
  { image: /kube-network-policies[:@]/ },
  { image: /kube-router[:@]/, off: /--run-firewall(=|\s+)false/ },
];

function enforces(daemonSet: DaemonSetFacts): boolean {
  return ENFORCERS.some(
    (enforcer) =>
      daemonSet.images.some((image) => enforcer.image.test(image)) &&
      !(enforcer.off !== undefined && daemonSet.args.some((arg) => enforcer.off?.test(arg))),
  );
}

/**
 * k3s runs kube-router's network policy controller inside its own binary, unless a server was started
 * with `--disable-network-policy` (docs.k3s.io/networking/networking-services, "Network Policy
 * Controller"). k3s records each node's flags in the annotation `k3s.io/node-args`, config-file
 * entries as `"--disable-network-policy","true"` (k3s-io/k3s issue 7244).
 */
function k3sPolicyDisabled(node: NodeFacts): boolean {
  const args = node.k3sArgs ?? [];
  return args.some((arg, index) => {
    if (arg === "--disable-network-policy") {
      return args[index + 1] !== "false";
    }
    return arg === "--disable-network-policy=true";
  });
}

const isK3s = (node: NodeFacts) => node.kubeletVersion.includes("+k3s");
/** flannel's agent: upstream's `flannel/flannel`, Talos's `siderolabs/flannel`, RKE2's `hardened-flannel`. */
const isFlannel = (daemonSet: DaemonSetFacts) =>
  daemonSet.images.some((image) => /(^|\/)(hardened-)?flannel[:@]/.test(image));

const VERIFY = "then check it with npm run verify (a connection the kill switch denies must fail)";

/**
 * The setups known not to enforce NetworkPolicy that the cluster shows; empty when an enforcing
 * agent runs, or when none of those setups is recognized (the preflight cannot prove enforcement:
 * `npm run verify` does).
 */
export function enforcementGaps(facts: NetworkPolicyFacts): EnforcementGap[] {
  if (facts.daemonSets.some(enforces)) {
    return [];
  }
  const k3s = facts.nodes.filter(isK3s);
  if (k3s.length > 0) {
    const disabled = k3s.filter(k3sPolicyDisabled);
    return disabled.length === 0
      ? []
      : [
          {
            problem: `k3s runs with --disable-network-policy (node ${disabled.map((node) => node.name).join(", ")}, annotation k3s.io/node-args) and no other network policy agent runs, so no NetworkPolicy is enforced: the VPN kill switch and the gateway's policies would be accepted and do nothing`,
            fix: `remove disable-network-policy from every server's flags or /etc/rancher/k3s/config.yaml and restart k3s, or install a network plugin that enforces NetworkPolicy; ${VERIFY}`,
          },
        ];
  }
  const flannel = facts.daemonSets.filter(isFlannel);
  if (flannel.length > 0) {
    return [
      {
        problem: `the cluster's network plugin is flannel alone (DaemonSet ${flannel.map((set) => `${set.namespace}/${set.name}`).join(", ")}), which enforces no NetworkPolicy (flannel README: "Flannel is focused on networking. For network policy, other projects such as Calico can be used"), so the VPN kill switch and the gateway's policies would be accepted and do nothing`,
        fix: `add policy enforcement: Calico for policy with flannel for networking (Canal, docs.tigera.io "Install Calico for policy and flannel"), on Talos 1.13 or later cluster.network.cni.flannel.kubeNetworkPoliciesEnabled: true, or another network plugin (Calico, Cilium); ${VERIFY}`,
      },
    ];
  }
  const desktop = facts.nodes.filter((node) => node.name === "docker-desktop");
  if (desktop.length > 0) {
    return [
      {
        problem:
          "this is Docker Desktop's built-in Kubernetes (node docker-desktop), whose networking enforces no NetworkPolicy (docker/roadmap issue 311, docker/desktop-feedback issue 174), so the VPN kill switch and the gateway's policies would be accepted and do nothing",
        fix: `run the stack on a cluster whose network plugin enforces NetworkPolicy (k3s with its defaults, or Calico or Cilium); ${VERIFY}`,
      },
    ];
  }
  return [];
}
