import { strict as assert } from "node:assert";
import type { StackPlan } from "../plan/evaluate";
import { ROUTE_GROUP_ID } from "../lib/vpn/routeGuard";
import { planDownloads } from "./support/plan";
import { configMapFile, routedWorkloads } from "./support/networkPolicy";
import { GuardPacket, ruleMatches } from "./support/guard";
import { parseListing } from "./support/iptables";

/**
 * The routed pod's guard as the plan ships it (`route-guard.sh` in the client ConfigMap), read the
 * way iptables applies it: the rules appended to each chain in order, first match wins. Only the
 * matches the program writes are understood; anything else fails the test.
 */
interface Rule {
  readonly matches: Readonly<Record<string, string>>;
  readonly target: "RETURN" | "DROP";
}

function chainOf(script: string, command: "iptables" | "ip6tables", chain: string): { rules: Rule[]; hooks: string[] } {
  const lines = script.split("\n").map((raw) => raw.replace(/\s+#.*$/, "").trim());
  const append = `${command} -w -A ${chain} `;
  const listing = lines.filter((line) => line.startsWith(append)).map((line) => line.slice(`${command} -w `.length));
  const rules = (parseListing(listing.join("\n")).chains[chain] ?? []).map(({ matches, target }): Rule => {
    if (target !== "RETURN" && target !== "DROP") {
      return assert.fail(`target ${target} in ${JSON.stringify(matches)}`);
    }
    return { matches, target };
  });
  const hooks = lines.flatMap((line) => {
    const hook = new RegExp(`\\|\\| ${command} -w -I (\\w+) 1 (.*)-j ${chain}$`).exec(line);
    return hook ? [`${hook[1]} ${hook[2]}`.trim()] : [];
  });
  return { rules, hooks };
}

type Packet = GuardPacket & { gid: number };

function verdict(rules: readonly Rule[], packet: Packet): "RETURN" | "DROP" {
  return rules.find((rule) => ruleMatches(rule, packet))?.target ?? "RETURN";
}

function guardScript(plan: StackPlan): string {
  const [workload] = routedWorkloads(plan);
  return configMapFile(plan, workload.metadata.namespace, "vpn-gateway-client", "route-guard.sh");
}

const APP_GID = 1000;

describe("the routed pod's guard (route-guard.sh, as planned)", () => {
  let plan: StackPlan;
  let lanPlan: StackPlan;
  before(async () => {
    plan = await planDownloads();
    lanPlan = await planDownloads({ "charmarr:vpn.killSwitch.allowLan": true });
  });

  const out = (script: string) => chainOf(script, "iptables", "CHARMARR-ROUTE-OUT");

  it("is hooked first into OUTPUT (IPv4 and IPv6) and into INPUT for VXLAN on eth0", () => {
    const script = guardScript(plan);
    assert.deepEqual(out(script).hooks, ["OUTPUT"]);
    assert.deepEqual(chainOf(script, "ip6tables", "CHARMARR-ROUTE-OUT").hooks, ["OUTPUT"]);
    assert.deepEqual(chainOf(script, "iptables", "CHARMARR-VXLAN-IN").hooks, ["INPUT -i eth0 -p udp --dport 4789"]);
    assert.match(script, /^set -eu$/m, "a failing rule fails the init container, so the pod never starts unguarded");
  });

  it("lets everything out through the tunnel and loopback", () => {
    const { rules } = out(guardScript(plan));
    for (const device of ["vxlan0", "lo"]) {
      for (const gid of [0, APP_GID]) {
        assert.equal(verdict(rules, { out: device, dst: "1.1.1.1", protocol: "tcp", port: 443, gid }), "RETURN");
        assert.equal(verdict(rules, { out: device, dst: "172.16.0.1", protocol: "udp", port: 53, gid }), "RETURN");
      }
    }
  });

  it("drops an app's socket bound to eth0 towards the internet, whatever the port", () => {
    const { rules } = out(guardScript(plan));
    for (const [dst, protocol, port] of [
      ["1.1.1.1", "tcp", 443],
      ["203.0.113.9", "udp", 51820],
      ["198.51.100.80", "tcp", 80],
      ["8.8.8.8", "icmp", undefined],
    ] as const) {
      for (const gid of [0, APP_GID, ROUTE_GROUP_ID]) {
        assert.equal(
          verdict(rules, { out: "eth0", dst, protocol, port, gid }),
          "DROP",
          `${dst} ${protocol}/${port} gid ${gid}`,
        );
      }
    }
  });

  it("lets out of eth0 only the pod and Service ranges and ambient's probe address (replies to the mesh, VXLAN, probes)", () => {
    const { rules } = out(guardScript(plan));
    for (const dst of ["10.42.3.3", "10.43.0.1", "169.254.7.127"]) {
      assert.equal(verdict(rules, { out: "eth0", dst, protocol: "tcp", port: 8080, gid: APP_GID }), "RETURN", dst);
    }
    assert.equal(verdict(rules, { out: "eth0", dst: "10.42.0.31", protocol: "udp", port: 4789, gid: 0 }), "RETURN");
    assert.equal(verdict(rules, { out: "eth0", dst: "169.254.7.128", protocol: "tcp", port: 80, gid: 0 }), "DROP");
  });

  it("DNS out of eth0 only from the route containers' group, by port (kube-dns's Service IP or a pod it was rewritten to), and only into the cluster", () => {
    const { rules } = out(guardScript(plan));
    for (const protocol of ["udp", "tcp"] as const) {
      for (const dst of ["10.43.0.10", "10.42.0.5"]) {
        assert.equal(verdict(rules, { out: "eth0", dst, protocol, port: 53, gid: APP_GID }), "DROP", `app ${dst}`);
        assert.equal(verdict(rules, { out: "eth0", dst, protocol, port: 53, gid: 0 }), "DROP", `root ${dst}`);
        assert.equal(verdict(rules, { out: "eth0", dst, protocol, port: 53, gid: ROUTE_GROUP_ID }), "RETURN", dst);
      }
      for (const dst of ["8.8.8.8", "192.168.1.1"]) {
        assert.equal(verdict(rules, { out: "eth0", dst, protocol, port: 53, gid: ROUTE_GROUP_ID }), "DROP", dst);
      }
    }
  });

  it("lets the LAN out of eth0 only with allowLan, and never its DNS", () => {
    const lan = { out: "eth0", dst: "192.168.1.20", protocol: "tcp", port: 445, gid: APP_GID } as const;
    assert.equal(verdict(out(guardScript(plan)).rules, lan), "DROP");
    const allowed = out(guardScript(lanPlan)).rules;
    assert.equal(verdict(allowed, lan), "RETURN");
    assert.equal(verdict(allowed, { ...lan, dst: "192.168.1.1", protocol: "udp", port: 53 }), "DROP");
    assert.equal(verdict(allowed, { ...lan, dst: "192.168.2.20" }), "DROP");
  });

  it("drops IPv6 out of eth0", () => {
    const { rules } = chainOf(guardScript(plan), "ip6tables", "CHARMARR-ROUTE-OUT");
    assert.deepEqual(rules, [{ matches: { "-o": "eth0" }, target: "DROP" }]);
  });

  it("accepts VXLAN on eth0 from nobody until route-common.sh's allow_vxlan_from names the gateway", () => {
    const { rules } = chainOf(guardScript(plan), "iptables", "CHARMARR-VXLAN-IN");
    assert.deepEqual(rules, [{ matches: {}, target: "DROP" }]);
  });
});
