import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ClusterFacts } from "../cluster/settings";
import type { VpnSettings } from "./settings";
import { ROUTED_LABEL } from "./client";
import { AMBIENT_PROBE_SOURCE } from "./gateway";
import { VXLAN_PORT, clusterLocalCidrs } from "./overlay";
import { PRIVATE_RANGES } from "../net";

export type NetworkPolicySpec = pulumi.Unwrap<k8s.types.input.networking.v1.NetworkPolicySpec>;
export type NetworkPolicyEgressRule = pulumi.Unwrap<k8s.types.input.networking.v1.NetworkPolicyEgressRule>;
export type NetworkPolicyPeer = pulumi.Unwrap<k8s.types.input.networking.v1.NetworkPolicyPeer>;

/** Where kube-dns runs: its pods by the labels every kube-dns/CoreDNS install carries. */
export const KUBE_DNS_PEER: NetworkPolicyPeer = {
  namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
  podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
};

const DNS_PORTS = [
  { protocol: "UDP", port: 53 },
  { protocol: "TCP", port: 53 },
];

/**
 * How a routed client finds the gateway pod: by selector, which every CNI honours
 * (docs/upstream.md#networkpolicy-across-cnis).
 */
export interface VpnGatewayPeer {
  /** The gateway's namespace. */
  readonly namespace: string;
  /** Labels of the gateway pod. */
  readonly podLabels: Readonly<Record<string, string>>;
}

function gatewayPeer(gateway: VpnGatewayPeer): NetworkPolicyPeer {
  return {
    namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": gateway.namespace } },
    podSelector: { matchLabels: { ...gateway.podLabels } },
  };
}

/** An app in the cluster a routed workload calls (a routed Prowlarr syncing Radarr): its pods and port. */
export interface ClusterCallee {
  /** The callee's namespace. */
  readonly namespace: string;
  /** Labels selecting exactly its pods. */
  readonly podLabels: Readonly<Record<string, string>>;
  /** The port it serves on. */
  readonly port: number;
}

/**
 * Egress to the apps a routed workload calls inside the cluster, each by namespace and pod selector
 * (never an address: a Service IP could front anything), on its own port and on ztunnel's HBONE port,
 * where a meshed connection to it actually goes (`hbonePort`). Pods only, never the internet.
 */
export function calleeEgressRules(callees: readonly ClusterCallee[], hbonePort: number): NetworkPolicyEgressRule[] {
  return callees.map((callee) => ({
    to: [
      {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": callee.namespace } },
        podSelector: { matchLabels: { ...callee.podLabels } },
      },
    ],
    ports: [
      { protocol: "TCP", port: callee.port },
      { protocol: "TCP", port: hbonePort },
    ],
  }));
}

export interface ClientKillSwitchInputs {
  /** Labels selecting exactly the routed workload's pods. */
  readonly podSelector: Readonly<Record<string, string>>;
  /** The gateway pod the routed pods tunnel to; the only peer reached on any port and by ICMP. */
  readonly gateway: VpnGatewayPeer;
  /** Cluster facts from the core stack: kube-dns's Service IP and the LAN range. */
  readonly cluster: ClusterFacts;
  /** Let the pods reach `cluster.lanCidr` directly. Off unless the user asks for it. */
  readonly allowLan: boolean;
  /** Further destinations the workload needs (e.g. one NAS on the LAN); nothing else in the cluster is open. */
  readonly extraRules?: readonly NetworkPolicyEgressRule[];
}

/**
 * Layer 1 of the kill switch (docs/vpn.md#the-two-kill-switch-layers): the routed pods may send only
 * to the gateway pod, to kube-dns on port 53 (`client_init.sh` asks it for the gateway's address with
 * `dig`) and to the ambient probe address — plus the LAN with `allowLan` and the extra rules. The
 * download clients open no connections inside the cluster (the arr apps call them, relations use
 * port-forward, and their names resolve through the gateway's dnsmasq, which asks kube-dns itself);
 * a routed Prowlarr calls the arr apps and the download clients, which its extra rules
 * ({@link calleeEgressRules}) open by pod selector only. No other pod, no Service IP and no
 * in-cluster proxy is reachable. Anything that does not leave
 * through the tunnel — because client init never ran, vxlan0 is down or routes were deleted — is
 * dropped by the CNI.
 *
 * Istio ambient needs nothing more: in its in-pod redirection model (istio.io, "Ztunnel traffic
 * redirection", Istio 1.27 docs/ambient/architecture/traffic-redirection) ztunnel's listeners
 * (15001 out, 15006 and 15008 in) live inside the pod's own network namespace, so the only packets
 * leaving the pod are the app's own outbound connections — a routed Prowlarr's new HBONE
 * connections to its callees' port 15008, which the extra rules open; none for a download client —
 * and replies to inbound connections (HBONE from the arr apps to 15008), which NetworkPolicy passes
 * as established traffic. ztunnel's xDS and certificate traffic leaves from the ztunnel pod, not this one.
 */
export function clientKillSwitchSpec(inputs: ClientKillSwitchInputs): NetworkPolicySpec {
  const { cluster } = inputs;
  if (inputs.allowLan && !cluster.lanCidr) {
    throw new Error("allowLan needs cluster.lanCidr");
  }
  const egress: NetworkPolicyEgressRule[] = [
    // No `ports`: NetworkPolicy cannot name ICMP, and the client scripts ping the gateway before
    // building the tunnel. The peer is one pod, so this opens no way to the internet.
    { to: [gatewayPeer(inputs.gateway)] },
    // kube-dns by selector, and by its Service IP for CNIs that see a Service address before
    // kube-proxy's DNAT; port 53 only.
    { to: [KUBE_DNS_PEER, { ipBlock: { cidr: `${cluster.dnsServiceIp}/32` } }], ports: DNS_PORTS },
    { to: [{ ipBlock: { cidr: AMBIENT_PROBE_SOURCE } }] },
    ...(inputs.allowLan && cluster.lanCidr ? [{ to: [{ ipBlock: { cidr: cluster.lanCidr } }] }] : []),
    ...(inputs.extraRules ?? []),
  ];
  return {
    podSelector: { matchLabels: { ...inputs.podSelector } },
    policyTypes: ["Egress"],
    egress,
  };
}

/**
 * Link-local addresses: a cloud's metadata service (169.254.169.254) and ambient's probe source
 * (RFC 3927). Never the internet.
 */
const LINK_LOCAL = "169.254.0.0/16";

/**
 * The egress of an app that needs the internet and nothing in the cluster or the home network —
 * FlareSolverr unrouted, whose browser runs indexer pages' JavaScript: every address except the
 * private ranges ({@link PRIVATE_RANGES}: the LAN, RFC 1918, CGNAT), link-local, and the cluster's
 * pod and Service ranges and LAN (private too, config validation refuses others, but the policy
 * does not rest on that); plus kube-dns on 53, by selector and by its Service IP. So no pod,
 * Service IP (the API server's among them), node (kubelet) or LAN host.
 *
 * Istio ambient needs nothing more (istio.io, "Ambient and Kubernetes NetworkPolicy",
 * docs/ambient/usage/networkpolicy): HBONE goes to port 15008 of the destination pod only for
 * connections to meshed pods, which such an app opens none of (kube-dns is not in the mesh);
 * ztunnel answers the inbound HBONE from Prowlarr inside the pod, and replies are not new egress.
 */
export function internetOnlyEgressSpec(
  podSelector: Readonly<Record<string, string>>,
  cluster: ClusterFacts,
): NetworkPolicySpec {
  return {
    podSelector: { matchLabels: { ...podSelector } },
    policyTypes: ["Egress"],
    egress: [
      {
        to: [
          { ipBlock: { cidr: "0.0.0.0/0", except: [...PRIVATE_RANGES, LINK_LOCAL, ...clusterLocalCidrs(cluster)] } },
        ],
      },
      { to: [KUBE_DNS_PEER, { ipBlock: { cidr: `${cluster.dnsServiceIp}/32` } }], ports: DNS_PORTS },
    ],
  };
}

export interface GatewayEgressInputs {
  /** Labels of the gateway pod, which the policy selects. */
  readonly podLabels: Readonly<Record<string, string>>;
  /** Cluster facts from the core stack: the ranges kept off the VPN-port rule, kube-dns's Service IP. */
  readonly cluster: ClusterFacts;
  /** Namespace of the routed workloads: VXLAN goes only to routed pods there. */
  readonly clientNamespace: string;
  /** UDP port of the VPN server. */
  readonly vpnServerPort: number;
  /**
   * The VPN server's IPv4 address when it is known at plan time (`vpn.endpointIp`). The VPN-port
   * rule then opens that one host instead of every address outside the cluster.
   */
  readonly vpnServerIp?: string;
  /** The resolver the gateway uses (`vpn.dnsAddress`): never reached outside the tunnel, whatever the VPN port. */
  readonly resolver: string;
}

/** The routed pods: the only peers of the gateway's VXLAN. */
export function routedPodsPeer(clientNamespace: string): NetworkPolicyPeer {
  return {
    namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": clientNamespace } },
    podSelector: { matchLabels: { [ROUTED_LABEL]: "true" } },
  };
}

/**
 * The gateway pod's own egress, and nothing more: the VPN server port (on the server's address when
 * known, otherwise anywhere outside the cluster, the LAN and the gateway's resolver — some providers
 * serve WireGuard on port 53); VXLAN (UDP 4789) to the routed pods, by selector, since it starts new
 * flows to them (DHCP and DNS answers travel inside it); kube-dns on port 53, by selector and by its
 * Service IP, for dnsmasq's cluster names (`DNS_LOCAL_SERVER`). No other pod, Service or port: the
 * gateway answers the clients' pings and serves nothing else. When gluetun's firewall fails to
 * start, gluetun falls back to accepting everything and pod-gateway's filter rules are gone with it;
 * this policy and the gateway's forward guard (lib/vpn/guard.ts) then still hold.
 */
export function gatewayEgressSpec(inputs: GatewayEgressInputs): NetworkPolicySpec {
  const { cluster } = inputs;
  const vpnServer: NetworkPolicyPeer = inputs.vpnServerIp
    ? { ipBlock: { cidr: `${inputs.vpnServerIp}/32` } }
    : { ipBlock: { cidr: "0.0.0.0/0", except: [...clusterLocalCidrs(cluster), `${inputs.resolver}/32`] } };
  return {
    podSelector: { matchLabels: { ...inputs.podLabels } },
    policyTypes: ["Egress"],
    egress: [
      { to: [vpnServer], ports: [{ protocol: "UDP", port: inputs.vpnServerPort }] },
      { to: [routedPodsPeer(inputs.clientNamespace)], ports: [{ protocol: "UDP", port: VXLAN_PORT }] },
      { to: [KUBE_DNS_PEER, { ipBlock: { cidr: `${cluster.dnsServiceIp}/32` } }], ports: DNS_PORTS },
    ],
  };
}

export interface GatewayIngressInputs {
  /** Labels of the gateway pod, which the policy selects. */
  readonly podLabels: Readonly<Record<string, string>>;
  /** Namespace of the routed workloads: the only namespace the gateway accepts traffic from. */
  readonly clientNamespace: string;
}

/**
 * The gateway pod accepts new connections only from routed pods (label `charmarr.io/vpn-routed`)
 * in the clients' namespace, on any port: VXLAN (UDP 4789, which carries DHCP and DNS to
 * dnsmasq) and the clients' ICMP pings, which NetworkPolicy cannot name. Nothing else in the
 * cluster can inject traffic into the tunnel. Probes are `exec`, so the kubelet needs no way in;
 * replies to the gateway's own connections are not new connections and pass.
 */
export function gatewayIngressSpec(inputs: GatewayIngressInputs): NetworkPolicySpec {
  return {
    podSelector: { matchLabels: { ...inputs.podLabels } },
    policyTypes: ["Ingress"],
    ingress: [
      {
        from: [routedPodsPeer(inputs.clientNamespace)],
      },
    ],
  };
}

/** Kill-switch settings a user may turn off, each of which opens a way to leak the real IP. */
export type KillSwitchSettings = Readonly<Pick<VpnSettings["killSwitch"], "gatewayEgressPolicy" | "unsafeDisable">>;

/**
 * Warnings to print at every `pulumi up` for each kill-switch layer the user switched off: each
 * says what can leak and how to turn the layer back on.
 */
export function killSwitchWarnings(settings: KillSwitchSettings): string[] {
  const warnings: string[] = [];
  if (settings.unsafeDisable) {
    warnings.push(
      "charmarr:vpn.killSwitch.unsafeDisable is true: the routed apps (download clients, and Prowlarr when indexers are routed) have no egress NetworkPolicy, " +
        "so if their tunnel fails they reach the internet with your real IP. Unset it: pulumi config rm --path charmarr:vpn.killSwitch.unsafeDisable",
    );
  }
  if (!settings.gatewayEgressPolicy) {
    warnings.push(
      "charmarr:vpn.killSwitch.gatewayEgressPolicy is false: the VPN gateway pod has no egress NetworkPolicy. " +
        "If gluetun's firewall fails to start, gluetun falls back to accepting all traffic and pod-gateway's forwarding rules are gone, " +
        "and this policy is the only guard left: without it the gateway and the clients it forwards for can reach the internet outside the tunnel. " +
        "Turn it back on: pulumi config set --path charmarr:vpn.killSwitch.gatewayEgressPolicy true",
    );
  }
  return warnings;
}
