import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ClusterFacts } from "../config/schema";
import { AMBIENT_PROBE_SOURCE } from "./gateway";

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

/** How a routed client finds the gateway pod: by selector, which every CNI honours (FACTS §3). */
export interface VpnGatewayPeer {
    /** The gateway's namespace. */
    readonly namespace: string;
    /** Labels of the gateway pod. */
    readonly podLabels: Readonly<Record<string, string>>;
    /** UDP port of the VXLAN overlay. */
    readonly vxlanPort: number;
}

function gatewayPeer(gateway: VpnGatewayPeer): NetworkPolicyPeer {
    return {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": gateway.namespace } },
        podSelector: { matchLabels: { ...gateway.podLabels } },
    };
}

export interface ClientKillSwitchInputs {
    /** Labels selecting exactly the routed workload's pods. */
    readonly podSelector: Readonly<Record<string, string>>;
    readonly gateway: VpnGatewayPeer;
    readonly cluster: ClusterFacts;
    /** Let the pods reach `cluster.lanCidr` directly. Off unless the user asks for it. */
    readonly allowLan: boolean;
    /** Further destinations the workload needs, beyond the cluster (e.g. one NAS on the LAN). */
    readonly extraRules?: readonly NetworkPolicyEgressRule[];
}

/**
 * Layer 1 of the kill switch (FACTS §3): the routed pods may send only to the gateway pod, to
 * kube-dns, inside the cluster and to the ambient probe address. Anything that does not leave
 * through the tunnel — because client init never ran, vxlan0 is down or routes were deleted — is
 * dropped by the CNI.
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
        { to: [KUBE_DNS_PEER], ports: DNS_PORTS },
        // Pods by selector for CNIs that ignore ipBlock for pod IPs (Cilium); the CIDRs for the rest,
        // and for Service IPs a CNI sees before DNAT.
        {
            to: [
                { namespaceSelector: {}, podSelector: {} },
                { ipBlock: { cidr: cluster.podCidr } },
                { ipBlock: { cidr: cluster.serviceCidr } },
            ],
        },
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

export interface GatewayEgressInputs {
    readonly podLabels: Readonly<Record<string, string>>;
    readonly cluster: ClusterFacts;
    /** UDP port of the VPN server. */
    readonly vpnServerPort: number;
}

/**
 * The gateway pod's own egress: the VPN server port anywhere outside the cluster and LAN, the
 * cluster itself (VXLAN to clients starts new flows, so it is not reply traffic) and kube-dns.
 */
export function gatewayEgressSpec(inputs: GatewayEgressInputs): NetworkPolicySpec {
    const { cluster } = inputs;
    const internalRanges = [cluster.podCidr, cluster.serviceCidr, ...(cluster.lanCidr ? [cluster.lanCidr] : [])];
    return {
        podSelector: { matchLabels: { ...inputs.podLabels } },
        policyTypes: ["Egress"],
        egress: [
            {
                to: [{ ipBlock: { cidr: "0.0.0.0/0", except: internalRanges } }],
                ports: [{ protocol: "UDP", port: inputs.vpnServerPort }],
            },
            {
                to: [
                    { namespaceSelector: {}, podSelector: {} },
                    { ipBlock: { cidr: cluster.podCidr } },
                    { ipBlock: { cidr: cluster.serviceCidr } },
                ],
            },
            { to: [KUBE_DNS_PEER], ports: DNS_PORTS },
        ],
    };
}
