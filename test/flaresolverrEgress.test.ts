import { strict as assert } from "node:assert";
import type { StackPlan } from "../plan/evaluate";
import { APP_LABEL } from "../lib/k8s/labels";
import {
  Destination,
  Pod,
  Workload,
  evaluateEgress,
  evaluateIngress,
  networkPoliciesOf,
  podOf,
} from "./support/networkPolicy";
import { manifestOf, planCore } from "./support/plan";

// FlareSolverr in core (unrouted): its browser runs indexer pages' JavaScript, so it may reach the
// internet and kube-dns, and nothing in the cluster or the home network. Addresses are the shipped
// example cluster's (pods 10.42.0.0/16, Services 10.43.0.0/16, LAN 192.168.1.0/24, kube-dns 10.43.0.10).

const CORE = "charmarr-core";
const AMBIENT = { "istio.io/dataplane-mode": "ambient" };
/** Prowlarr as a peer, by the label any selector of it names. */
const PROWLARR: Pod = { namespace: CORE, labels: { [APP_LABEL]: "prowlarr" }, namespaceLabels: AMBIENT };
const KUBE_DNS: Pod = { namespace: "kube-system", labels: { "k8s-app": "kube-dns" } };

const ALLOWED: readonly [string, Destination][] = [
  ["an internet host on 443", { ip: "203.0.113.10", protocol: "TCP", port: 443 }],
  ["an internet host on 80", { ip: "198.51.100.7", protocol: "TCP", port: 80 }],
  ["kube-dns's Service IP on 53/UDP", { ip: "10.43.0.10", protocol: "UDP", port: 53 }],
  ["kube-dns's pod on 53/TCP", { ip: "10.42.0.10", pod: KUBE_DNS, protocol: "TCP", port: 53 }],
];
const DENIED: readonly [string, Destination][] = [
  ["Prowlarr's pod", { ip: "10.42.1.5", pod: PROWLARR, protocol: "TCP", port: 9696 }],
  ["Prowlarr's pod over HBONE", { ip: "10.42.1.5", pod: PROWLARR, protocol: "TCP", port: 15008 }],
  ["the API server's Service IP", { ip: "10.43.0.1", protocol: "TCP", port: 443 }],
  ["the API server on the node", { ip: "192.168.1.10", protocol: "TCP", port: 6443 }],
  ["the kubelet", { ip: "192.168.1.10", protocol: "TCP", port: 10250 }],
  ["a NAS on the LAN", { ip: "192.168.1.20", protocol: "TCP", port: 445 }],
  ["the router", { ip: "192.168.1.1", protocol: "TCP", port: 80 }],
  ["another private network", { ip: "10.0.0.1", protocol: "TCP", port: 443 }],
  ["172.16.0.0/12", { ip: "172.20.0.1", protocol: "TCP", port: 443 }],
  ["CGNAT space (a tailnet)", { ip: "100.100.100.100", protocol: "UDP", port: 53 }],
  ["a cloud metadata service", { ip: "169.254.169.254", protocol: "TCP", port: 80 }],
  ["kube-dns on another port", { ip: "10.43.0.10", protocol: "TCP", port: 443 }],
];

describe("FlareSolverr in core: egress to the internet only", () => {
  let core: StackPlan;
  /** A pod of the planned StatefulSet, with its labels. */
  const podOfApp = (app: string): Pod => ({
    ...podOf(manifestOf(core, "StatefulSet", app) as unknown as Workload),
    namespaceLabels: AMBIENT,
  });
  before(async () => {
    core = await planCore();
  });

  for (const ipBlockMatchesPods of [true, false]) {
    it(`reaches internet hosts and kube-dns, and no pod, Service IP, node, LAN host or metadata address (${ipBlockMatchesPods ? "Calico" : "Cilium"})`, () => {
      const policies = networkPoliciesOf(core);
      const flaresolverr = podOfApp("flaresolverr");
      for (const [what, destination] of ALLOWED) {
        const verdict = evaluateEgress(policies, flaresolverr, destination, { ipBlockMatchesPods });
        assert.ok(verdict.allowed, `${what}: ${JSON.stringify(verdict)}`);
        assert.deepEqual(verdict.isolatedBy, ["flaresolverr-egress"], what);
      }
      for (const [what, destination] of DENIED) {
        assert.equal(evaluateEgress(policies, flaresolverr, destination, { ipBlockMatchesPods }).allowed, false, what);
      }
    });
  }

  it("fences FlareSolverr's egress only: Prowlarr still reaches it on its port (HBONE included)", () => {
    const flaresolverr = podOfApp("flaresolverr");
    for (const port of [8191, 15008]) {
      const verdict = evaluateIngress(networkPoliciesOf(core), flaresolverr, {
        ip: "10.42.1.5",
        pod: PROWLARR,
        protocol: "TCP",
        port,
      });
      assert.ok(verdict.allowed, `port ${port}: ${JSON.stringify(verdict)}`);
    }
  });

  it("fences FlareSolverr alone: Prowlarr beside it still reaches the LAN (an indexer or NZBGet on a NAS)", () => {
    const verdict = evaluateEgress(networkPoliciesOf(core), podOfApp("prowlarr"), {
      ip: "192.168.1.20",
      protocol: "TCP",
      port: 6789,
    });
    assert.deepEqual([verdict.allowed, verdict.isolatedBy], [true, []]);
  });
});
