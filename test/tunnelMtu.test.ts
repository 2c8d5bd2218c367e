import { strict as assert } from "node:assert";
import type { ClusterFacts } from "../lib/cluster/settings";
import { TEST_CLUSTER } from "./support/clusterFacts";
import { vpnSchema } from "../lib/vpn/settings";
import { VPN_MTU_MIN, tunnelMtu } from "../lib/vpn/mtu";

const CLUSTER: ClusterFacts = TEST_CLUSTER;

describe("the tunnel MTU (lib/vpn/mtu.ts tunnelMtu)", () => {
  it("is the largest value both hops of the pod network carry, or vpn.mtu", () => {
    assert.equal(tunnelMtu(vpnSchema.parse({ provider: "mullvad" }), CLUSTER), 1370);
    assert.equal(tunnelMtu(vpnSchema.parse({ provider: "mullvad" }), { ...CLUSTER, podMtu: 1500 }), 1420);
    assert.equal(tunnelMtu(vpnSchema.parse({ provider: "mullvad", mtu: 1320 }), CLUSTER), 1320);
  });

  it("is never below the 1280 bytes a tunnel needs: a pod network too small for one is an error, not a smaller MTU", () => {
    // Config validation refuses this pod MTU first (lib/vpn/rules.ts); the builder must not hand
    // pod-gateway a value it would set as given (its clamp is a shell redirection).
    const vpn = vpnSchema.parse({ provider: "mullvad" });
    for (const podMtu of [1300, VPN_MTU_MIN + 79]) {
      assert.throws(
        () => tunnelMtu(vpn, { ...CLUSTER, podMtu }),
        new RegExp(`a tunnel MTU of ${podMtu - 80} is below 1280 \\(cluster\\.podMtu ${podMtu}\\)`),
      );
    }
    assert.equal(tunnelMtu(vpn, { ...CLUSTER, podMtu: VPN_MTU_MIN + 80 }), VPN_MTU_MIN);
  });
});
