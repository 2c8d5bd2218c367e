import type { ClusterFacts } from "../../lib/cluster/settings";

/** Cluster facts for the pure builders' tests: kubeadm's default pod and Service ranges, a VXLAN CNI's MTU. */
export const TEST_CLUSTER: ClusterFacts = {
  podCidr: "10.244.0.0/16",
  serviceCidr: "10.96.0.0/12",
  dnsServiceIp: "10.96.0.10",
  domain: "home.arpa",
  podMtu: 1450,
};
