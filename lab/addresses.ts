/**
 * The lab's addresses. Cluster side from the plan's cluster facts (pods in the first /24 of the pod
 * CIDR, the home LAN from `cluster.lanCidr`); internet side from the documentation ranges only
 * (RFC 5737), so nothing the lab sends could mean anything outside the machine even if it leaked.
 */
import type { ClusterFactsLike } from "./plan";

export interface LabAddresses {
  /** Node's address on the pod bridge: the pods' default gateway. */
  readonly nodeBridge: string;
  readonly podPrefix: number;
  readonly client: string;
  readonly gateway: string;
  /** Address of the gateway pod that replaces the first one. */
  readonly replacementGateway: string;
  readonly kubeDns: string;
  /** A pod outside the plan that attacks the routed client. */
  readonly otherPod: string;
  /** The `kubernetes` Service address (first address of the Service CIDR), a cluster name to resolve. */
  readonly kubernetesService: string;
  readonly nodeLan: string;
  readonly homeRouterLan: string;
  readonly lanPrefix: number;
  /** The home router's public address: what must never reach the internet from a routed pod. */
  readonly home: string;
  readonly internetRouter: string;
  readonly vpnServer: string;
  /** The VPN's exit address: what the internet must see. */
  readonly vpnExit: string;
  readonly resolver: string;
  readonly web: string;
}

function ipToInt(ip: string): number {
  return ip.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}
function intToIp(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

/** Address `offset` within the network of `cidr`. */
export function hostIn(cidr: string, offset: number): string {
  const [base, bits] = cidr.split("/");
  const size = 2 ** (32 - Number(bits));
  if (offset <= 0 || offset >= size - 1) {
    throw new Error(`${cidr} has no host number ${offset}`);
  }
  const network = ipToInt(base) - (ipToInt(base) % size);
  return intToIp(network + offset);
}

export const DEFAULT_LAN = "192.168.1.0/24";

export function labAddresses(cluster: ClusterFactsLike): LabAddresses {
  const podNet = `${cluster.podCidr.split("/")[0]}/24`;
  const lan = cluster.lanCidr ?? DEFAULT_LAN;
  return {
    nodeBridge: hostIn(podNet, 1),
    podPrefix: 24,
    client: hostIn(podNet, 21),
    gateway: hostIn(podNet, 31),
    replacementGateway: hostIn(podNet, 32),
    kubeDns: hostIn(podNet, 53),
    otherPod: hostIn(podNet, 66),
    kubernetesService: hostIn(cluster.serviceCidr, 1),
    nodeLan: hostIn(lan, 10),
    homeRouterLan: hostIn(lan, 1),
    lanPrefix: Number(lan.split("/")[1]),
    home: "203.0.113.10",
    internetRouter: "203.0.113.1",
    vpnServer: "203.0.113.20",
    vpnExit: "192.0.2.77",
    resolver: "198.51.100.53",
    web: "198.51.100.80",
  };
}
