import { strict as assert } from "node:assert";
import { NetworkPolicyManifest, Pod, evaluateEgress, evaluateIngress, selectorMatches } from "./support/networkPolicy";

// The evaluator the kill-switch tests rely on, checked against the documented semantics
// (kubernetes.io/docs/concepts/services-networking/network-policies).

const SOURCE: Pod = { namespace: "apps", labels: { app: "client", tier: "download" } };

function policy(
  spec: NonNullable<NetworkPolicyManifest["spec"]>,
  namespace = "apps",
  name = "p",
): NetworkPolicyManifest {
  return { kind: "NetworkPolicy", metadata: { name, namespace }, spec };
}

const EXTERNAL = { ip: "1.1.1.1", protocol: "TCP", port: 443 } as const;

describe("NetworkPolicy evaluator", () => {
  it("a pod no policy selects is not isolated", () => {
    const other = policy({ podSelector: { matchLabels: { app: "other" } }, policyTypes: ["Egress"], egress: [] });
    const elsewhere = policy({ podSelector: {}, policyTypes: ["Egress"], egress: [] }, "elsewhere");
    const verdict = evaluateEgress([other, elsewhere], SOURCE, EXTERNAL);
    assert.deepEqual(verdict, { allowed: true, isolatedBy: [], allowedBy: [] });
  });

  it("an Egress policy with no rules denies everything; an ingress-only policy isolates nothing", () => {
    assert.equal(
      evaluateEgress([policy({ podSelector: {}, policyTypes: ["Egress"] })], SOURCE, EXTERNAL).allowed,
      false,
    );
    assert.equal(
      evaluateEgress([policy({ podSelector: {}, policyTypes: ["Ingress"] })], SOURCE, EXTERNAL).allowed,
      true,
    );
    // Without policyTypes (absent or empty), the API server defaults Egress only when egress rules
    // are present (kubernetes pkg/apis/networking/v1/defaults.go SetDefaults_NetworkPolicy).
    assert.equal(evaluateEgress([policy({ podSelector: {} })], SOURCE, EXTERNAL).allowed, true);
    assert.deepEqual(
      evaluateEgress([policy({ podSelector: {}, egress: [] })], SOURCE, EXTERNAL),
      { allowed: true, isolatedBy: [], allowedBy: [] },
      "egress: [] without policyTypes isolates no egress",
    );
    assert.equal(
      evaluateEgress([policy({ podSelector: {}, policyTypes: [], egress: [] })], SOURCE, EXTERNAL).allowed,
      true,
      "an empty policyTypes is defaulted like an absent one",
    );
    assert.equal(
      evaluateEgress(
        [policy({ podSelector: {}, policyTypes: [], egress: [{ ports: [{ port: 53 }] }] })],
        SOURCE,
        EXTERNAL,
      ).allowed,
      false,
      "an empty policyTypes with an egress rule isolates egress",
    );
    assert.equal(
      evaluateEgress(
        [policy({ podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0/8" } }] }] })],
        SOURCE,
        EXTERNAL,
      ).allowed,
      false,
    );
  });

  it("policies are additive: any selecting policy's rule allows", () => {
    const deny = policy({ podSelector: {}, policyTypes: ["Egress"] }, "apps", "deny");
    const allow = policy(
      { podSelector: { matchLabels: { app: "client" } }, policyTypes: ["Egress"], egress: [{}] },
      "apps",
      "allow",
    );
    assert.deepEqual(evaluateEgress([deny, allow], SOURCE, EXTERNAL), {
      allowed: true,
      isolatedBy: ["deny", "allow"],
      allowedBy: ["allow#0"],
    });
  });

  it("ipBlock with except", () => {
    const p = policy({
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [{ to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "192.168.1.0/24"] } }] }],
    });
    assert.equal(evaluateEgress([p], SOURCE, EXTERNAL).allowed, true);
    assert.equal(evaluateEgress([p], SOURCE, { ip: "10.1.2.3", protocol: "TCP", port: 1 }).allowed, false);
    assert.equal(evaluateEgress([p], SOURCE, { ip: "192.168.1.255", protocol: "TCP", port: 1 }).allowed, false);
    assert.equal(evaluateEgress([p], SOURCE, { ip: "192.168.2.1", protocol: "TCP", port: 1 }).allowed, true);
  });

  it("ipBlock does not match pods on a selector-only CNI", () => {
    const p = policy({
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [{ to: [{ ipBlock: { cidr: "10.42.0.0/16" } }] }],
    });
    const pod: Pod = { namespace: "x", labels: {} };
    assert.equal(evaluateEgress([p], SOURCE, { ip: "10.42.0.9", pod, protocol: "TCP", port: 80 }).allowed, true);
    assert.equal(
      evaluateEgress([p], SOURCE, { ip: "10.42.0.9", pod, protocol: "TCP", port: 80 }, { ipBlockMatchesPods: false })
        .allowed,
      false,
    );
  });

  it("podSelector alone means the policy's namespace; namespaceSelector widens it; both must match together", () => {
    const sameNs = policy({
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [{ to: [{ podSelector: { matchLabels: { app: "db" } } }] }],
    });
    const db = (namespace: string, namespaceLabels?: Record<string, string>): Pod => ({
      namespace,
      labels: { app: "db" },
      namespaceLabels,
    });
    assert.equal(
      evaluateEgress([sameNs], SOURCE, { ip: "10.0.0.1", pod: db("apps"), protocol: "TCP", port: 5432 }).allowed,
      true,
    );
    assert.equal(
      evaluateEgress([sameNs], SOURCE, { ip: "10.0.0.1", pod: db("other"), protocol: "TCP", port: 5432 }).allowed,
      false,
    );

    const both = policy({
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [
        { to: [{ namespaceSelector: { matchLabels: { team: "data" } }, podSelector: { matchLabels: { app: "db" } } }] },
      ],
    });
    assert.equal(
      evaluateEgress([both], SOURCE, {
        ip: "10.0.0.1",
        pod: db("other", { team: "data" }),
        protocol: "TCP",
        port: 5432,
      }).allowed,
      true,
    );
    assert.equal(
      evaluateEgress([both], SOURCE, { ip: "10.0.0.1", pod: db("other"), protocol: "TCP", port: 5432 }).allowed,
      false,
    );
    assert.equal(
      evaluateEgress([both], SOURCE, {
        ip: "10.0.0.1",
        pod: { namespace: "other", labels: { app: "web" }, namespaceLabels: { team: "data" } },
        protocol: "TCP",
        port: 5432,
      }).allowed,
      false,
    );

    const byName = policy({
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [{ to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } } }] }],
    });
    assert.equal(
      evaluateEgress([byName], SOURCE, {
        ip: "10.0.0.2",
        pod: { namespace: "kube-system", labels: {} },
        protocol: "UDP",
        port: 53,
      }).allowed,
      true,
    );
    // Selectors never match addresses that are not pods.
    assert.equal(evaluateEgress([byName], SOURCE, { ip: "10.0.0.2", protocol: "UDP", port: 53 }).allowed, false);
  });

  it("ports: protocol defaults to TCP; endPort ranges; named ports; ICMP only through port-less rules", () => {
    const p = policy({
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [
        { ports: [{ port: 80 }, { protocol: "UDP", port: 6000, endPort: 6010 }, { protocol: "TCP", port: "metrics" }] },
      ],
    });
    const web: Pod = { namespace: "apps", labels: {}, namedPorts: { metrics: 9090 } };
    assert.equal(evaluateEgress([p], SOURCE, { ip: "1.1.1.1", protocol: "TCP", port: 80 }).allowed, true);
    assert.equal(evaluateEgress([p], SOURCE, { ip: "1.1.1.1", protocol: "UDP", port: 80 }).allowed, false);
    assert.equal(evaluateEgress([p], SOURCE, { ip: "1.1.1.1", protocol: "UDP", port: 6010 }).allowed, true);
    assert.equal(evaluateEgress([p], SOURCE, { ip: "1.1.1.1", protocol: "UDP", port: 6011 }).allowed, false);
    assert.equal(evaluateEgress([p], SOURCE, { ip: "10.0.0.3", pod: web, protocol: "TCP", port: 9090 }).allowed, true);
    assert.equal(evaluateEgress([p], SOURCE, { ip: "10.0.0.3", pod: web, protocol: "TCP", port: 9091 }).allowed, false);
    assert.equal(evaluateEgress([p], SOURCE, { ip: "1.1.1.1", protocol: "ICMP" }).allowed, false);
    const portless = policy({
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [{ to: [{ ipBlock: { cidr: "1.1.1.1/32" } }] }],
    });
    assert.equal(evaluateEgress([portless], SOURCE, { ip: "1.1.1.1", protocol: "ICMP" }).allowed, true);
    const protocolOnly = policy({
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [{ ports: [{ protocol: "UDP" }] }],
    });
    assert.equal(evaluateEgress([protocolOnly], SOURCE, { ip: "1.1.1.1", protocol: "UDP", port: 12345 }).allowed, true);
  });

  it("label selectors: matchLabels and every matchExpressions operator", () => {
    const labels = { app: "client", tier: "download" };
    assert.equal(selectorMatches({}, labels), true);
    assert.equal(selectorMatches({ matchLabels: { app: "client" } }, labels), true);
    assert.equal(selectorMatches({ matchLabels: { app: "client", tier: "web" } }, labels), false);
    assert.equal(
      selectorMatches({ matchExpressions: [{ key: "tier", operator: "In", values: ["download", "web"] }] }, labels),
      true,
    );
    assert.equal(
      selectorMatches({ matchExpressions: [{ key: "tier", operator: "In", values: ["web"] }] }, labels),
      false,
    );
    assert.equal(
      selectorMatches({ matchExpressions: [{ key: "tier", operator: "NotIn", values: ["web"] }] }, labels),
      true,
    );
    assert.equal(
      selectorMatches({ matchExpressions: [{ key: "missing", operator: "NotIn", values: ["x"] }] }, labels),
      true,
    );
    assert.equal(selectorMatches({ matchExpressions: [{ key: "app", operator: "Exists" }] }, labels), true);
    assert.equal(selectorMatches({ matchExpressions: [{ key: "missing", operator: "Exists" }] }, labels), false);
    assert.equal(selectorMatches({ matchExpressions: [{ key: "missing", operator: "DoesNotExist" }] }, labels), true);
    assert.equal(selectorMatches({ matchExpressions: [{ key: "app", operator: "DoesNotExist" }] }, labels), false);
    assert.equal(
      selectorMatches(
        {
          matchLabels: { app: "client" },
          matchExpressions: [{ key: "tier", operator: "NotIn", values: ["download"] }],
        },
        labels,
      ),
      false,
    );
  });

  it("source selection uses matchExpressions too", () => {
    const p = policy({
      podSelector: { matchExpressions: [{ key: "tier", operator: "In", values: ["download"] }] },
      policyTypes: ["Egress"],
    });
    assert.equal(evaluateEgress([p], SOURCE, EXTERNAL).allowed, false);
    assert.equal(evaluateEgress([p], { namespace: "apps", labels: { tier: "web" } }, EXTERNAL).allowed, true);
  });

  it("IPv6: an address matches only IPv6 blocks; 0.0.0.0/0 admits no IPv6 and ::/0 no IPv4", () => {
    const v4All = policy({
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [{ to: [{ ipBlock: { cidr: "0.0.0.0/0" } }] }],
    });
    const v6Some = policy({
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [{ to: [{ ipBlock: { cidr: "::/0", except: ["2606:4700::/32"] } }] }],
    });
    const v6 = { ip: "2001:4860:4860::8888", protocol: "UDP", port: 53 } as const;
    assert.equal(evaluateEgress([v4All], SOURCE, v6).allowed, false);
    assert.equal(evaluateEgress([v4All], SOURCE, EXTERNAL).allowed, true);
    assert.equal(evaluateEgress([v6Some], SOURCE, v6).allowed, true);
    assert.equal(evaluateEgress([v6Some], SOURCE, { ...v6, ip: "2606:4700:4700::1111" }).allowed, false);
    assert.equal(evaluateEgress([v6Some], SOURCE, EXTERNAL).allowed, false);
    assert.throws(() => evaluateEgress([v4All], SOURCE, { ...v6, ip: "not-an-ip" }), /cannot evaluate/);
  });

  describe("ingress", () => {
    const TARGET: Pod = { namespace: "vpn", labels: { app: "gw" }, namedPorts: { vxlan: 4789 } };
    const CLIENT: Pod = { namespace: "apps", labels: { routed: "true" } };
    const fromClient = { ip: "10.0.0.9", pod: CLIENT, protocol: "UDP", port: 4789 } as const;

    it("a pod no ingress policy selects accepts everything; an egress-only policy isolates nothing for ingress", () => {
      assert.equal(evaluateIngress([], TARGET, fromClient).allowed, true);
      assert.equal(
        evaluateIngress([policy({ podSelector: {}, policyTypes: ["Egress"] }, "vpn")], TARGET, fromClient).allowed,
        true,
      );
    });

    it("without policyTypes a policy is an ingress policy; with no rules it denies every sender", () => {
      assert.deepEqual(evaluateIngress([policy({ podSelector: {} }, "vpn", "deny")], TARGET, fromClient), {
        allowed: false,
        isolatedBy: ["deny"],
        allowedBy: [],
      });
    });

    it("from peers: namespace + pod selector together, ipBlock for non-pods; ports are the target's, named ports too", () => {
      const p = policy(
        {
          podSelector: { matchLabels: { app: "gw" } },
          policyTypes: ["Ingress"],
          ingress: [
            {
              from: [
                {
                  namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "apps" } },
                  podSelector: { matchLabels: { routed: "true" } },
                },
              ],
            },
            { from: [{ ipBlock: { cidr: "192.168.1.0/24" } }], ports: [{ protocol: "UDP", port: "vxlan" }] },
          ],
        },
        "vpn",
      );
      assert.equal(evaluateIngress([p], TARGET, fromClient).allowed, true);
      assert.equal(evaluateIngress([p], TARGET, { ...fromClient, protocol: "ICMP", port: undefined }).allowed, true);
      assert.equal(
        evaluateIngress([p], TARGET, { ...fromClient, pod: { namespace: "apps", labels: {} } }).allowed,
        false,
      );
      assert.equal(
        evaluateIngress([p], TARGET, { ...fromClient, pod: { namespace: "other", labels: { routed: "true" } } })
          .allowed,
        false,
      );
      assert.equal(evaluateIngress([p], TARGET, { ip: "192.168.1.7", protocol: "UDP", port: 4789 }).allowed, true);
      assert.equal(evaluateIngress([p], TARGET, { ip: "192.168.1.7", protocol: "UDP", port: 4790 }).allowed, false);
      assert.equal(evaluateIngress([p], TARGET, { ip: "192.168.2.7", protocol: "UDP", port: 4789 }).allowed, false);
    });

    it("a podSelector alone in from means the policy's namespace", () => {
      const p = policy(
        {
          podSelector: {},
          policyTypes: ["Ingress"],
          ingress: [{ from: [{ podSelector: { matchLabels: { routed: "true" } } }] }],
        },
        "vpn",
      );
      assert.equal(evaluateIngress([p], TARGET, fromClient).allowed, false);
      assert.equal(
        evaluateIngress([p], TARGET, { ...fromClient, pod: { namespace: "vpn", labels: { routed: "true" } } }).allowed,
        true,
      );
    });
  });
});
