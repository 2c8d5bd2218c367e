import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterFacts } from "../lib/cluster/settings";
import { NetworkPolicyEgressRule, VpnGatewayPeer, clientKillSwitchSpec } from "../lib/vpn/killSwitch";

export interface KillSwitchArgs {
  /** Namespace of the routed workload. */
  namespace: pulumi.Input<string>;
  /** `matchLabels` selecting exactly the routed workload's pods (its StatefulSet selector). */
  podSelector: Record<string, string>;
  /** The gateway pod, as {@link VpnEgress.gatewayPeer} describes it. */
  gateway: VpnGatewayPeer;
  /** Cluster facts from the core stack: kube-dns's Service IP and the LAN range. */
  cluster: ClusterFacts;
  /** Let the pods reach `cluster.lanCidr` directly (`vpn.killSwitch.allowLan`). Default false. */
  allowLan?: boolean;
  /** Extra egress rules the workload needs, e.g. one NAS address on the LAN; nothing else in the cluster is open. */
  extraRules?: NetworkPolicyEgressRule[];
  /** Labels for the NetworkPolicy. */
  labels?: Record<string, string>;
}

/**
 * Layer 1 of the kill switch for one routed workload (docs/vpn.md#the-two-kill-switch-layers): an egress
 * NetworkPolicy that lets its pods reach only the gateway pod, kube-dns on port 53 and ambient's probe
 * address (and the LAN with `allowLan`), so traffic that bypasses the tunnel is dropped. Layer 2 lives in the gateway ({@link VpnEgress}).
 */
export class KillSwitch extends pulumi.ComponentResource {
  /** The egress NetworkPolicy, named `<name>-vpn-kill-switch`. */
  readonly policy: k8s.networking.v1.NetworkPolicy;

  constructor(name: string, args: KillSwitchArgs, opts?: pulumi.ComponentResourceOptions) {
    super("charmarr:vpn:KillSwitch", name, {}, opts);
    this.policy = new k8s.networking.v1.NetworkPolicy(
      `${name}-policy`,
      {
        metadata: { name: `${name}-vpn-kill-switch`, namespace: args.namespace, labels: args.labels },
        spec: clientKillSwitchSpec({
          podSelector: args.podSelector,
          gateway: args.gateway,
          cluster: args.cluster,
          allowLan: args.allowLan ?? false,
          extraRules: args.extraRules,
        }),
      },
      { parent: this },
    );
    this.registerOutputs({ policy: this.policy.metadata.name });
  }
}
