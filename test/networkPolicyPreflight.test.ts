import { strict as assert } from "node:assert";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { stringify } from "yaml";
import { readClusterInventory } from "../lib/platform/clusterReader";
import { DaemonSetFacts, NetworkPolicyFacts, NodeFacts, enforcementGaps } from "../lib/platform/networkPolicy";
import { ClusterInventory, preflightFindings } from "../lib/platform/preflight";
import { platformSchema } from "../lib/platform/settings";

const daemonSet = (namespace: string, name: string, images: string[], args: string[] = []): DaemonSetFacts => ({
  namespace,
  name,
  images,
  args,
});
const KUBEADM_NODE: NodeFacts = { name: "node-1", kubeletVersion: "v1.33.4" };
const k3sNode = (args: string[]): NodeFacts => ({ name: "k3s-1", kubeletVersion: "v1.33.4+k3s1", k3sArgs: args });
const facts = (daemonSets: DaemonSetFacts[], nodes: NodeFacts[] = [KUBEADM_NODE]): NetworkPolicyFacts => ({
  daemonSets,
  nodes,
});

/** Talos's default network plugin (its flannel manifest's DaemonSet and image). */
const TALOS_FLANNEL = daemonSet("kube-system", "kube-flannel", ["ghcr.io/siderolabs/flannel:v0.26.7"]);
const UPSTREAM_FLANNEL = daemonSet("kube-flannel", "kube-flannel-ds", [
  "docker.io/flannel/flannel-cni-plugin:v1.7.1-flannel1",
  "docker.io/flannel/flannel:v0.27.0",
]);
const KUBE_PROXY = daemonSet("kube-system", "kube-proxy", ["registry.k8s.io/kube-proxy:v1.33.4"]);

describe("preflight: does the cluster enforce NetworkPolicy?", () => {
  it("warns on flannel alone (Talos's default, upstream's manifest), naming the DaemonSet and the ways to add enforcement", () => {
    for (const flannel of [TALOS_FLANNEL, UPSTREAM_FLANNEL]) {
      const [gap, ...more] = enforcementGaps(facts([KUBE_PROXY, flannel]));
      assert.equal(more.length, 0);
      assert.match(gap.problem, new RegExp(`flannel alone \\(DaemonSet ${flannel.namespace}/${flannel.name}\\)`));
      assert.match(gap.problem, /kill switch .* would be accepted and do nothing/);
      assert.match(gap.fix, /Canal/);
      assert.match(gap.fix, /kubeNetworkPoliciesEnabled: true/);
      assert.match(gap.fix, /npm run verify/);
    }
  });

  it("does not warn where flannel runs with an enforcing agent: Canal, RKE2's canal, Talos's kube-network-policies", () => {
    const canal = daemonSet("kube-system", "canal", [
      "docker.io/calico/node:v3.30.2",
      "docker.io/flannel/flannel:v0.27.0",
    ]);
    const rke2 = daemonSet("kube-system", "rke2-canal", [
      "rancher/hardened-calico:v3.30.2-build20250731",
      "rancher/hardened-flannel:v0.27.1-build20250710",
    ]);
    const netpol = daemonSet("kube-system", "kube-network-policies", [
      "registry.k8s.io/networking/kube-network-policies:v0.9.1",
    ]);
    for (const sets of [[canal], [rke2], [TALOS_FLANNEL, netpol]]) {
      assert.deepEqual(enforcementGaps(facts(sets)), [], sets.map((set) => set.name).join(", "));
    }
  });

  it("does not warn on Cilium, Calico, Antrea or kube-router with its firewall on", () => {
    for (const set of [
      daemonSet("kube-system", "cilium", ["quay.io/cilium/cilium:v1.18.1@sha256:0123"]),
      daemonSet("calico-system", "calico-node", ["quay.io/calico/node:v3.30.2"]),
      daemonSet("kube-system", "antrea-agent", ["antrea/antrea-agent-ubuntu:v2.4.0"]),
      daemonSet("kube-system", "kube-router", ["docker.io/cloudnativelabs/kube-router:v2.5.0"], ["--run-router=true"]),
    ]) {
      assert.deepEqual(enforcementGaps(facts([set, TALOS_FLANNEL])), [], set.name);
    }
  });

  it("takes kube-router with --run-firewall=false for no enforcer", () => {
    const router = daemonSet(
      "kube-system",
      "kube-router",
      ["docker.io/cloudnativelabs/kube-router:v2.5.0"],
      ["/usr/local/bin/kube-router --run-router=true --run-firewall=false"],
    );
    assert.equal(enforcementGaps(facts([router, UPSTREAM_FLANNEL])).length, 1);
  });

  it("warns on k3s started with --disable-network-policy, as a flag or from config.yaml, unless another agent enforces", () => {
    for (const args of [
      ["server", "--disable-network-policy"],
      ["server", "--disable-network-policy", "true"],
      ["server", "--disable-network-policy=true"],
    ]) {
      const [gap, ...more] = enforcementGaps(facts([], [k3sNode(args)]));
      assert.equal(more.length, 0, JSON.stringify(args));
      assert.match(gap.problem, /k3s runs with --disable-network-policy \(node k3s-1, annotation k3s.io\/node-args\)/);
      assert.match(gap.fix, /\/etc\/rancher\/k3s\/config.yaml/);
    }
    const calico = daemonSet("calico-system", "calico-node", ["quay.io/calico/node:v3.30.2"]);
    assert.deepEqual(enforcementGaps(facts([calico], [k3sNode(["server", "--disable-network-policy"])])), []);
  });

  it("does not warn on k3s with its embedded network policy controller (the default, or the flag set false)", () => {
    for (const args of [["server"], ["server", "--disable-network-policy", "false"], ["agent"]]) {
      assert.deepEqual(enforcementGaps(facts([], [k3sNode(args)])), [], JSON.stringify(args));
    }
  });

  it("warns on Docker Desktop's built-in Kubernetes", () => {
    const [gap] = enforcementGaps(facts([KUBE_PROXY], [{ name: "docker-desktop", kubeletVersion: "v1.32.2" }]));
    assert.match(gap.problem, /Docker Desktop/);
  });

  it("says nothing about a setup it does not recognize: only npm run verify proves enforcement", () => {
    assert.deepEqual(enforcementGaps(facts([KUBE_PROXY])), []);
  });

  it("is a warning on the kubeconfig's context, never a refusal, and skipped when the facts could not be read", () => {
    const inventory: ClusterInventory = {
      crds: { "gateways.gateway.networking.k8s.io": { managers: ["kubectl"] } },
      namespaces: {},
      istiods: [{ namespace: "istio-system", trustDomain: "cluster.local" }],
      networkPolicy: facts([TALOS_FLANNEL]),
    };
    const settings = platformSchema.parse({});
    const found = preflightFindings(settings, { reachable: true, inventory }).filter(
      (finding) => finding.key === "kubernetes:context",
    );
    assert.deepEqual(
      found.map((finding) => finding.severity),
      ["warn"],
    );
    const unread = { ...inventory };
    delete (unread as { networkPolicy?: unknown }).networkPolicy;
    assert.deepEqual(
      preflightFindings(settings, { reachable: true, inventory: unread }).filter((f) => f.key === "kubernetes:context"),
      [],
    );
  });

  describe("read from the Kubernetes API", () => {
    /** A fake API server: the listed paths answer with their object, `forbidden` ones 403, the rest 404. */
    function serve(
      objects: Record<string, unknown>,
      forbidden: readonly string[] = [],
    ): Promise<{ url: string; close: () => void }> {
      const server = createServer((request, response) => {
        const path = (request.url ?? "").split("?")[0];
        const body = objects[path];
        const code = body ? 200 : forbidden.includes(path) ? 403 : 404;
        response.writeHead(code, { "content-type": "application/json" });
        response.end(JSON.stringify(body ?? { kind: "Status", apiVersion: "v1", status: "Failure", code }));
      });
      return new Promise((resolve) =>
        server.listen(0, "127.0.0.1", () =>
          resolve({
            url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
            close: () => server.close(),
          }),
        ),
      );
    }
    const kubeconfig = (server: string) =>
      stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "lab", cluster: { server, "insecure-skip-tls-verify": true } }],
        users: [{ name: "lab", user: { token: "t" } }],
        contexts: [{ name: "lab", context: { cluster: "lab", user: "lab" } }],
        "current-context": "lab",
      });
    const EMPTY_LISTS = {
      "/apis/apps/v1/deployments": { apiVersion: "apps/v1", kind: "DeploymentList", metadata: {}, items: [] },
    };

    it("reads every DaemonSet's images and arguments and every node's kubelet version and k3s flags", async () => {
      const api = await serve({
        ...EMPTY_LISTS,
        "/apis/apps/v1/daemonsets": {
          apiVersion: "apps/v1",
          kind: "DaemonSetList",
          metadata: {},
          items: [
            {
              metadata: { name: "kube-flannel", namespace: "kube-system" },
              spec: {
                selector: {},
                template: {
                  spec: {
                    initContainers: [{ name: "install-cni", image: "ghcr.io/siderolabs/install-cni:v1.11.0" }],
                    containers: [
                      {
                        name: "kube-flannel",
                        image: "ghcr.io/siderolabs/flannel:v0.26.7",
                        command: ["/opt/bin/flanneld"],
                        args: ["--ip-masq"],
                      },
                    ],
                  },
                },
              },
            },
          ],
        },
        "/api/v1/nodes": {
          apiVersion: "v1",
          kind: "NodeList",
          metadata: {},
          items: [
            {
              metadata: {
                name: "k3s-1",
                annotations: { "k3s.io/node-args": '["server","--disable-network-policy","true"]' },
              },
              status: { nodeInfo: { kubeletVersion: "v1.33.4+k3s1" } },
            },
          ],
        },
      });
      try {
        const reading = await readClusterInventory({ kubeconfig: kubeconfig(api.url), context: "lab" });
        assert.ok(reading.reachable, JSON.stringify(reading));
        assert.deepEqual(reading.inventory.networkPolicy, {
          daemonSets: [
            {
              namespace: "kube-system",
              name: "kube-flannel",
              images: ["ghcr.io/siderolabs/install-cni:v1.11.0", "ghcr.io/siderolabs/flannel:v0.26.7"],
              args: ["", "/opt/bin/flanneld --ip-masq"],
            },
          ],
          nodes: [
            { name: "k3s-1", kubeletVersion: "v1.33.4+k3s1", k3sArgs: ["server", "--disable-network-policy", "true"] },
          ],
        });
      } finally {
        api.close();
      }
    });

    it("skips the check, not the preflight, when the credentials may not list DaemonSets or nodes (403)", async () => {
      const api = await serve(EMPTY_LISTS, ["/apis/apps/v1/daemonsets", "/api/v1/nodes"]);
      try {
        const reading = await readClusterInventory({ kubeconfig: kubeconfig(api.url), context: "lab" });
        assert.ok(reading.reachable, JSON.stringify(reading));
        assert.equal(reading.inventory.networkPolicy, undefined);
        assert.deepEqual(reading.inventory.istiods, []);
      } finally {
        api.close();
      }
    });
  });
});
