import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_LAN, hostIn, labAddresses } from "../lab/addresses";
import {
  capabilityNames,
  CONTAINERD_DEFAULT_CAPABILITIES,
  containerCapabilities,
  CRIO_DEFAULT_CAPABILITIES,
  setprivArgs,
  statusCapabilities,
} from "../lab/capabilities";
import {
  missingPrerequisites,
  missingUpstream,
  parseLabArguments,
  recordFileName,
  recordText,
  unlistedPrograms,
  UsageError,
} from "../lab/cli";
import { FALLBACK_COMMANDS, gluetunScript, gluetunSettings } from "../lab/gluetun";
import { classifyPacket, isLeak, LeakClass, leakCounterRuleset, Packet } from "../lab/leaks";
import { PolicyError, policyRuleset, PolicyPod } from "../lab/netpol";
import { extractLabPlan, LabPlan, LabPlanError, LabPod, parseShellSettings, podResolvConf } from "../lab/plan";
import { parseDigShort } from "../lab/probes";
import {
  leakedPackets,
  namedCounter,
  parseCounters,
  parseLinkMtu,
  passed,
  queriesFrom,
  recoveryCheck,
  renderTable,
  ScenarioResult,
} from "../lab/report";
import { expectEqual } from "../lab/scenarios";
import { commandsIn, packagesFor, REQUIRED_TOOLS } from "../lab/tools";
import { digHeader, FORGED_ADDRESS, forgedZone, rootZone, trustAnchorLine } from "../lab/dnssec";
import { restartBackoffMs } from "../lab/world";
import type { Manifest } from "../plan/evaluate";
import { planDownloads, planCore } from "./support/plan";

const CLUSTER = {
  podCidr: "10.42.0.0/16",
  serviceCidr: "10.43.0.0/16",
  lanCidr: "192.168.1.0/24",
  dnsServiceIp: "10.43.0.10",
  domain: "cluster.local",
  podMtu: 1450,
};

describe("npm run lab: what it takes from the plan", () => {
  let plan: LabPlan;
  let manifests: readonly Manifest[];
  before(async () => {
    const core = await planCore();
    const downloads = await planDownloads();
    manifests = downloads.manifests;
    plan = extractLabPlan(manifests, core.outputs);
  });

  it("runs the planned gateway pod: pod-gateway init, sidecar and gluetun with the plan's env and mounted files", () => {
    const names = [...plan.gateway.initContainers, ...plan.gateway.containers].map((c) => c.name);
    assert.ok(
      names.includes("gateway-init") && names.includes("gateway-sidecar") && names.includes("gluetun"),
      names.join(", "),
    );
    const gluetun = plan.gateway.containers.find((c) => c.name === "gluetun")!;
    assert.equal(gluetun.env.FIREWALL_OUTBOUND_SUBNETS, "10.42.0.0/16,10.43.0.0/16,192.168.1.0/24");
    assert.ok(
      gluetun.secretEnv.includes("WIREGUARD_PRIVATE_KEY"),
      "the private key comes from a Secret, the lab supplies its own",
    );
    assert.match(
      gluetun.configMounts["/iptables"]["post-rules.txt"],
      /^iptables -I INPUT -i eth0 -s 10\.42\.0\.0\/16 -j ACCEPT$/m,
    );
    const init = plan.gateway.initContainers.find((c) => c.name === "gateway-init")!;
    assert.deepEqual(init.command, ["/bin/gateway_init.sh"]);
    assert.match(init.configMounts["/config"]["settings.sh"], /^VPN_INTERFACE="wg0"$/m);
    assert.equal(plan.gatewaySettings.VPN_TRAFFIC_PORT, "51820");
  });

  it("takes add and drop from each planned container: the route containers drop everything and add NET_ADMIN and NET_RAW", () => {
    const route = plan.client.initContainers.find((c) => c.name === "vpn-route-init")!;
    assert.deepEqual(
      [route.capabilities, route.capabilityDrop, route.privileged],
      [["NET_ADMIN", "NET_RAW"], ["ALL"], false],
    );
  });

  it("takes runAsGroup and emptyDir mounts from the plan: the route containers' group, the gateway sidecar's lease directory", () => {
    const route = plan.client.initContainers.find((c) => c.name === "vpn-route-init")!;
    assert.equal(route.runAsGroup, 7042);
    const app = plan.client.containers.find((c) => !c.name.startsWith("vpn-route"))!;
    assert.equal(app.runAsGroup, undefined);
    const sidecar = plan.gateway.containers.find((c) => c.name === "gateway-sidecar")!;
    assert.deepEqual(sidecar.emptyDirMounts, { "/var/lib/charmarr-dhcp": "dhcp-leases" });
    assert.ok(!sidecar.otherMounts.includes("/var/lib/charmarr-dhcp"));
  });

  it("takes runAsUser from the plan, the container's else the pod's: the route containers run as root, the port follower as nobody", () => {
    const route = plan.client.initContainers.find((c) => c.name === "vpn-route-init")!;
    assert.equal(route.runAsUser, 0);
    const follower = plan.client.containers.find((c) => c.name === "vpn-port-follower")!;
    assert.equal(follower.runAsUser, 65534);
    const app = plan.client.containers.find((c) => !c.name.startsWith("vpn-"))!;
    assert.equal(app.runAsUser, undefined);
  });

  it("routes the first routed workload and resolves the gateway by the FQDN its route containers get", () => {
    assert.equal(plan.client.labels["charmarr.io/vpn-routed"], "true");
    assert.equal(plan.gatewayFqdn, "vpn-gateway.charmarr-vpn.svc.cluster.local");
    assert.ok(plan.client.initContainers.some((c) => c.name === "vpn-route-init"));
    assert.equal(plan.cluster.dnsServiceIp, "10.43.0.10");
    assert.equal(plan.namespaceLabels["kube-system"]["kubernetes.io/metadata.name"], "kube-system");
  });

  it("refuses a plan without a gateway or without a routed pod, saying which", () => {
    const core = { cluster: CLUSTER };
    assert.throws(
      () => extractLabPlan([], core),
      (e: Error) => e instanceof LabPlanError && /no workload running gluetun/.test(e.message),
    );
    const gatewayOnly = manifests.filter((m) => !(m.kind === "StatefulSet"));
    assert.throws(() => extractLabPlan(gatewayOnly, core), /routes no pod through the gateway/);
    assert.throws(() => extractLabPlan(manifests, {}), /no cluster\.podCidr/);
    const withoutMtu = Object.fromEntries(Object.entries(CLUSTER).filter(([key]) => key !== "podMtu"));
    assert.throws(() => extractLabPlan(manifests, { cluster: withoutMtu }), /no cluster\.podMtu/);
    const withoutSettings = manifests.filter(
      (m) => !(m.kind === "ConfigMap" && m.metadata.name === "vpn-gateway-settings"),
    );
    assert.throws(
      () => extractLabPlan(withoutSettings, core),
      /mounts ConfigMap charmarr-vpn\/vpn-gateway-settings but does not create it/,
    );
  });

  it("translates the plan's policies: the client reaches only the gateway (any protocol), kube-dns on 53 and the cluster", () => {
    const pods: PolicyPod[] = [
      { name: "client", namespace: plan.client.namespace, labels: plan.client.labels, ip: "10.42.0.21" },
      { name: "gateway", namespace: plan.gateway.namespace, labels: plan.gateway.labels, ip: "10.42.0.31" },
      { name: "kube-dns", namespace: "kube-system", labels: { "k8s-app": "kube-dns" }, ip: "10.42.0.53" },
    ];
    const rules = policyRuleset("t", plan.policies, pods, plan.namespaceLabels);
    const chain = (name: string) => new RegExp(`chain ${name} \\{([\\s\\S]*?)\\n\\t\\}`).exec(rules)?.[1] ?? "";
    const client = chain("egress_client");
    assert.match(client, /ip daddr \{ 10\.42\.0\.31 \} return/, "the gateway pod on any protocol (VXLAN and ping)");
    assert.match(client, /ip daddr \{ 10\.42\.0\.53 \} udp dport 53 return/);
    assert.doesNotMatch(client, /0\.0\.0\.0\/0/, "nothing open to the internet");
    assert.match(client, /counter drop/);
    assert.match(
      chain("ingress_gateway"),
      /ip saddr \{ 10\.42\.0\.21 \} return/,
      "only the routed client gets into the gateway",
    );
    assert.match(rules, /ct state established,related accept/);
    assert.match(rules, /ip saddr 10\.42\.0\.21 jump egress_client/);
    assert.doesNotMatch(rules, /egress_kube_dns/, "kube-dns is selected by no policy");
  });

  it("refuses policy features it does not model", () => {
    const pod: PolicyPod = { name: "p", namespace: "ns", labels: { app: "a" }, ip: "10.42.0.9" };
    const policy = (egress: object[]) => [
      { namespace: "ns", name: "np", spec: { podSelector: {}, policyTypes: ["Egress"], egress } },
    ];
    assert.throws(
      () => policyRuleset("t", policy([{ ports: [{ protocol: "TCP", port: "http" }] }]), [pod], {}),
      (e: Error) => e instanceof PolicyError && /named port http/.test(e.message),
    );
    assert.throws(
      () =>
        policyRuleset(
          "t",
          policy([{ to: [{ podSelector: { matchExpressions: [{ key: "a", operator: "Exists" }] } }] }]),
          [pod],
          {},
        ),
      /matchExpressions/,
    );
    const opened = policyRuleset(
      "t",
      policy([
        {
          to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "fd00::/8"] } }],
          ports: [{ protocol: "UDP", port: 51820 }],
        },
      ]),
      [pod],
      {},
    );
    assert.match(opened, /ip daddr 0\.0\.0\.0\/0 ip daddr != \{ 10\.0\.0\.0\/8 \} udp dport 51820 return/);
  });
});

describe("npm run lab: the capabilities a container runtime gives each container", () => {
  const names = (request: { privileged?: boolean; add?: string[]; drop?: string[] }) => {
    const set = containerCapabilities({
      privileged: request.privileged ?? false,
      add: request.add ?? [],
      drop: request.drop ?? [],
    });
    return set.all ? "all" : set.names;
  };

  it("a container that asks for nothing gets CRI-O's defaults, without NET_RAW or SYS_ADMIN", () => {
    assert.deepEqual([...names({})].sort(), [...CRIO_DEFAULT_CAPABILITIES].sort());
    assert.ok(!names({}).includes("NET_RAW"));
    assert.ok(!names({}).includes("SYS_ADMIN"));
  });

  it("adds what the container asks for and removes what it drops; a drop wins over an add", () => {
    const route = names({ add: ["NET_ADMIN", "NET_RAW"] });
    assert.deepEqual(route, [
      "CHOWN",
      "DAC_OVERRIDE",
      "FOWNER",
      "FSETID",
      "KILL",
      "SETGID",
      "SETUID",
      "SETPCAP",
      "NET_BIND_SERVICE",
      "NET_ADMIN",
      "NET_RAW",
    ]);
    assert.deepEqual(names({ add: ["cap_net_raw"], drop: ["ALL"] }), ["NET_RAW"]);
    assert.deepEqual(names({ add: ["NET_RAW"], drop: ["NET_RAW", "KILL"] }), [
      "CHOWN",
      "DAC_OVERRIDE",
      "FOWNER",
      "FSETID",
      "SETGID",
      "SETUID",
      "SETPCAP",
      "NET_BIND_SERVICE",
    ]);
    assert.deepEqual(names({ add: ["ALL"], drop: ["ALL"] }), []);
    const everything = names({ add: ["ALL"], drop: ["SYS_ADMIN"] });
    assert.ok(everything.includes("SYS_MODULE") && !everything.includes("SYS_ADMIN"));
  });

  it("a privileged container keeps every capability, and its launcher is not bounded", () => {
    const set = containerCapabilities({ privileged: true, add: ["NET_ADMIN"], drop: ["ALL"] });
    assert.deepEqual(set, { all: true });
    assert.deepEqual(setprivArgs(set), []);
  });

  it("refuses a capability the kernel does not have, naming it", () => {
    assert.throws(() => names({ add: ["NET_ADMIN", "NET_RAWW"] }), /unknown capabilities: NET_RAWW/);
  });

  it("bounds the container with setpriv: its set as the bounding set, no inheritable or ambient capabilities", () => {
    assert.deepEqual(setprivArgs(containerCapabilities({ privileged: false, add: ["NET_RAW"], drop: ["ALL"] })), [
      "--inh-caps=-all",
      "--ambient-caps=-all",
      "--bounding-set=-all,+net_raw",
    ]);
  });

  it("runs an exec as a non-root user when asked: uid, gid and no supplementary groups, before the bounds", () => {
    assert.deepEqual(
      setprivArgs(containerCapabilities({ privileged: false, add: [], drop: ["ALL"] }), { uid: 1000, gid: 1001 }),
      [
        "--reuid=1000",
        "--regid=1001",
        "--clear-groups",
        "--inh-caps=-all",
        "--ambient-caps=-all",
        "--bounding-set=-all",
      ],
    );
    assert.deepEqual(setprivArgs({ all: true }, { uid: 1000, gid: 1000 }), [
      "--reuid=1000",
      "--regid=1000",
      "--clear-groups",
    ]);
  });

  it("containerd's defaults grant NET_RAW: an app container keeps it unless it drops it", () => {
    const granted = (drop: string[]) =>
      containerCapabilities({ privileged: false, add: [], drop }, CONTAINERD_DEFAULT_CAPABILITIES);
    const kept = granted([]);
    assert.ok(!kept.all && kept.names.includes("NET_RAW") && kept.names.includes("MKNOD"));
    const dropped = granted(["NET_RAW"]);
    assert.ok(!dropped.all && !dropped.names.includes("NET_RAW"));
    const none = granted(["ALL"]);
    assert.deepEqual(none, { all: false, names: [] });
  });

  it("reads the capabilities a process holds from /proc/<pid>/status", () => {
    const status = "Name:\tbash\nCapInh:\t0000000000000000\nCapBnd:\t00000000000035fb\n";
    assert.deepEqual(statusCapabilities(status, "CapBnd"), [
      "CHOWN",
      "DAC_OVERRIDE",
      "FOWNER",
      "FSETID",
      "KILL",
      "SETGID",
      "SETUID",
      "SETPCAP",
      "NET_BIND_SERVICE",
      "NET_ADMIN",
      "NET_RAW",
    ]);
    assert.deepEqual(statusCapabilities(status, "CapInh"), []);
    assert.equal(statusCapabilities(status, "CapAmb"), undefined);
    assert.deepEqual(capabilityNames("0000000000200000"), ["SYS_ADMIN"]);
  });
});

describe("npm run lab: the kubelet's resolv.conf", () => {
  const pod = (dnsPolicy: string, dnsConfig?: LabPod["dnsConfig"]): LabPod => ({
    workload: "w",
    namespace: "ns",
    labels: {},
    initContainers: [],
    containers: [],
    dnsPolicy,
    dnsConfig,
    sysctls: {},
  });

  it("ClusterFirst: kube-dns with the namespace's search domains and ndots:5", () => {
    assert.equal(
      podResolvConf(pod("ClusterFirst"), CLUSTER),
      "search ns.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.43.0.10\noptions ndots:5\n",
    );
  });

  it("None: exactly the pod's dnsConfig, and refused without a nameserver", () => {
    const conf = podResolvConf(
      pod("None", {
        nameservers: ["172.16.0.1"],
        searches: ["ns.svc.cluster.local"],
        options: [{ name: "ndots", value: "5" }],
      }),
      CLUSTER,
    );
    assert.equal(conf, "search ns.svc.cluster.local\nnameserver 172.16.0.1\noptions ndots:5\n");
    assert.throws(() => podResolvConf(pod("None"), CLUSTER), /dnsPolicy None without dnsConfig\.nameservers/);
    assert.throws(() => podResolvConf(pod("Default"), CLUSTER), /dnsPolicy Default is not modelled/);
  });

  it("reads pod-gateway settings.sh as the program renders it", () => {
    assert.deepEqual(parseShellSettings('# comment\nVXLAN_ID="42"\nVPN_LOCAL_CIDRS="10.42.0.0/16 10.43.0.0/16"\n'), {
      VXLAN_ID: "42",
      VPN_LOCAL_CIDRS: "10.42.0.0/16 10.43.0.0/16",
    });
  });
});

describe("npm run lab: gluetun's start-up, reproduced in source order", () => {
  const env = {
    VPN_INTERFACE: "wg0",
    WIREGUARD_MTU: "1320",
    WIREGUARD_ADDRESSES: "10.64.222.21/32",
    FIREWALL_OUTBOUND_SUBNETS: "10.42.0.0/16,10.43.0.0/16",
    DNS_SERVER: "off",
    DNS_ADDRESS: "1.1.1.1",
  };
  const script = gluetunScript({
    env,
    endpointIp: "203.0.113.20",
    endpointPort: 51820,
    serverPublicKey: "KEY",
    privateKeyFile: "/k",
    dnsServerScript: "/dns.js",
  });
  const at = (text: string) => {
    const index = script.indexOf(text);
    assert.ok(index >= 0, `missing: ${text}`);
    return index;
  };

  it("firewall (DROP policies, post-rules) before routing, VPN connection rule before the tunnel, the fwmark rule last", () => {
    assert.ok(at('fw iptables --policy "$chain" DROP') < at("/iptables/post-rules.txt"));
    assert.ok(at("/iptables/post-rules.txt") < at("table 200 priority 100"));
    assert.ok(at("table 199 priority 99") < at("table main priority 98"));
    assert.ok(at('-d 203.0.113.20 -o "$DEFAULT_IF" -p udp -m udp --dport 51820 -j ACCEPT') < at("wireguard-go -f wg0"));
    assert.ok(at("wireguard-go -f wg0") < at("not fwmark 51820 table 51820 priority 101"));
    for (const source of [
      "internal/firewall/enable.go",
      "internal/routing/inbound.go",
      "internal/wireguard/rule.go",
      "internal/dns/run.go",
    ]) {
      assert.ok(script.includes(source), `cites ${source}`);
    }
  });

  it("DNS_SERVER=off writes DNS_ADDRESS system-wide and starts no DNS server; on (the default) starts it", () => {
    assert.match(script, /write_resolv 1\.1\.1\.1/);
    assert.doesNotMatch(script, /node \/dns\.js/);
    const defaults = gluetunSettings({});
    assert.equal(defaults.dnsServer, true);
    assert.equal(defaults.interfaceName, "wg0");
    assert.equal(
      gluetunSettings({ DNS_ADDRESS: "127.0.0.1" }).dnsAddress,
      undefined,
      "127.0.0.1 means the provider's plain address",
    );
  });

  it("DNS_SERVER=on: the DNS loop binds :53 and, when it cannot, tries again after gluetun's back-off (10 s, doubling)", () => {
    const on = gluetunScript({
      env: { ...env, DNS_SERVER: "on" },
      endpointIp: "203.0.113.20",
      endpointPort: 51820,
      serverPublicKey: "KEY",
      privateKeyFile: "/k",
      dnsServerScript: "/dns.js",
    });
    assert.match(on, /node \/dns\.js 1\.1\.1\.1/);
    assert.match(on, /local wait=10/);
    assert.match(on, /sleep \$wait; wait=\$\(\(wait \* 2\)\)/);
    assert.match(on, /write_resolv 127\.0\.0\.1/);
    assert.ok(
      on.indexOf("touch /run/gluetun-tunnel-up") > on.indexOf("dns_loop &"),
      "the DNS loop starts when the tunnel is up",
    );
  });

  it("the fallback flushes and deletes the filter chains, then ACCEPT policies (internal/firewall/enable.go disable)", () => {
    assert.deepEqual(FALLBACK_COMMANDS.slice(0, 2), [
      ["iptables", "--flush"],
      ["iptables", "--delete-chain"],
    ]);
    assert.ok(FALLBACK_COMMANDS.some((argv) => argv.join(" ") === "iptables --policy FORWARD ACCEPT"));
    assert.ok(
      FALLBACK_COMMANDS.every((argv) => !argv.includes("-t")),
      "only the filter table: mangle and nat survive",
    );
  });
});

describe("npm run lab: leak accounting and the table", () => {
  const counters =
    '{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"counter": {"family": "inet", "name": "tunnel", "table": "lab_leaks", "handle": 1, "packets": 40, "bytes": 5000}}, {"counter": {"family": "inet", "name": "home_dns", "table": "lab_leaks", "handle": 2, "packets": 2, "bytes": 190}}, {"counter": {"family": "inet", "name": "home_other", "table": "lab_leaks", "handle": 3, "packets": 3, "bytes": 200}}]}';

  it("counts what reached the internet from the home address outside the tunnel", () => {
    const parsed = parseCounters(counters);
    assert.deepEqual(parsed, { tunnel: 40, homeDns: 2, homeOther: 3 });
    assert.equal(leakedPackets(parsed), 5);
    assert.throws(() => parseCounters('{"nftables": []}'), /counter tunnel missing/);
  });

  it("counts the resolver's queries by source, after a mark (dnsmasq log-queries=extra lines)", () => {
    const log = [
      "Dec  1 11:05:51 dnsmasq[20935]: 3 203.0.113.10/49614 query[A] probe3.tracker.example.net from 203.0.113.10",
      "Dec  1 11:05:51 dnsmasq[20935]: 3 203.0.113.10/49614 config probe3.tracker.example.net is 198.51.100.80",
      "Dec  1 11:47:01 dnsmasq[11855]: 10 192.0.2.77/44177 query[A] probe4.tracker.example.net from 192.0.2.77",
      "Dec  1 11:47:01 dnsmasq[11855]: 11 203.0.113.10/49107 query[AAAA] probe5.tracker.example.net from 203.0.113.10",
    ].join("\n");
    assert.deepEqual(queriesFrom(log, "203.0.113.10"), {
      count: 2,
      names: ["probe3.tracker.example.net", "probe5.tracker.example.net"],
    });
    assert.equal(queriesFrom(log, "203.0.113.10", 2).count, 1);
    assert.equal(queriesFrom(log, "192.0.2.77").count, 1);
  });

  it("reads dig +short's answer", () => {
    assert.equal(parseDigShort("198.51.100.80\n"), "198.51.100.80");
    assert.equal(parseDigShort(";; communications error to 172.16.0.1#53: timed out\n"), undefined);
  });

  const result = (
    scenario: string,
    l1: number,
    l2: number,
    layer2MustHold: boolean,
    checksOk = true,
    dns: { l1?: number; l2?: number } = {},
  ): ScenarioResult => ({
    scenario,
    checks: [{ ok: checksOk, text: "the internet saw the VPN exit" }],
    withLayer1: { packets: l1, dns: dns.l1 ?? 0 },
    layer2Only: { packets: l2, dns: dns.l2 ?? 0 },
    layer2MustHold,
    seconds: 1.5,
  });

  it("fails a DNS leak alone: with both layers on, and through layer 2 alone where it must hold", () => {
    assert.equal(passed(result("dns-l1", 0, 0, true, true, { l1: 1 })), false, "one query with both layers on");
    assert.equal(passed(result("dns-l2", 0, 0, true, true, { l2: 3 })), false, "queries through layer 2 alone");
    assert.equal(
      passed(result("dns-l1-only", 0, 0, false, true, { l2: 3 })),
      true,
      "layer 2 alone need not hold where only layer 1 can stop it",
    );
    assert.equal(
      passed(result("dns-l1-only", 0, 0, false, true, { l1: 1, l2: 3 })),
      false,
      "a DNS leak with both layers on always fails",
    );
    const table = renderTable([result("kube-dns", 0, 0, true, true, { l1: 2, l2: 4 })]);
    assert.match(table, /^kube-dns\s+FAIL\s+0\s+2\s+0\s+4\s/m);
    assert.match(
      table,
      /kube-dns: 0 packet\(s\) and 2 DNS query\(ies\) reached the internet from the home address with both layers on/,
    );
    assert.match(table, /kube-dns: layer 2 alone let 0 packet\(s\) and 4 DNS query\(ies\) out from the home address/);
    assert.equal(table.split("\n").at(-1), "0 passed, 1 failed");
  });

  it("fails a leak with both layers, a leak through layer 2 alone where it must hold, and a failed check", () => {
    assert.equal(passed(result("a", 0, 0, true)), true);
    assert.equal(passed(result("b", 1, 0, true)), false);
    assert.equal(passed(result("c", 0, 16, true)), false);
    assert.equal(
      passed(result("d", 0, 16, false)),
      true,
      "only layer 1 can stop a client whose routes bypass the gateway",
    );
    assert.equal(passed(result("e", 0, 0, true, false)), false);
  });

  it("a recovery passes within its target, fails above it, and fails when traffic never came back", () => {
    assert.deepEqual(recoveryCheck("layer 1 on", 9.96, 60, 10), {
      ok: true,
      text: "layer 1 on: traffic flowed again after 10.0 s (within 10 s)",
    });
    assert.deepEqual(recoveryCheck("layer 1 on", 10, 60, 10).ok, true);
    assert.deepEqual(recoveryCheck("layer 2 alone", 10.2, 60, 10), {
      ok: false,
      text: "layer 2 alone: traffic flowed again after 10.2 s (more than 10 s)",
    });
    assert.deepEqual(recoveryCheck("layer 1 on", undefined, 60, 10), {
      ok: false,
      text: "layer 1 on: no traffic through the new gateway within 60 s",
    });
    assert.equal(
      passed({ ...result("replaced", 0, 0, true), checks: [recoveryCheck("layer 1 on", 23.6, 60, 10)] }),
      false,
    );
  });

  it("prints a table and the counts as the last line", () => {
    const table = renderTable([
      result("baseline", 0, 0, true),
      result("fallback", 2, 16, true),
      { ...result("replaced", 0, 0, true), recoverySeconds: 12.34 },
    ]);
    const lines = table.split("\n");
    assert.match(lines[0], /^scenario\s+verdict\s+leaked pkts L1\+L2\s+leaked DNS L1\+L2/);
    assert.match(table, /^baseline\s+PASS\s+0\s+0\s+0\s+0\s+-\s+1\.5 s$/m);
    assert.match(table, /^replaced\s+PASS.*12\.3 s/m);
    assert.match(
      table,
      /fallback: 2 packet\(s\) and 0 DNS query\(ies\) reached the internet from the home address with both layers on/,
    );
    assert.equal(lines[lines.length - 1], "2 passed, 1 failed");
  });

  it("fails a leak of as many packets as DNS queries, and a failed check beside one that held", () => {
    assert.equal(passed(result("even", 1, 0, true, true, { l1: 1 })), false, "1 packet and 1 query, both layers on");
    assert.equal(passed(result("even-l2", 0, 2, true, true, { l2: 2 })), false, "2 and 2 through layer 2 alone");
    const mixed: ScenarioResult = {
      ...result("mixed", 0, 0, true),
      checks: [
        { ok: true, text: "the internet saw the VPN exit" },
        { ok: false, text: "the client resolved through the gateway" },
      ],
    };
    assert.equal(passed(mixed), false);
  });

  it("lines the columns up, marks layer-1-only scenarios and lists only what failed under the table", () => {
    const table = renderTable([
      { ...result("baseline", 0, 0, true), recoverySeconds: 3.25 },
      result("bypass", 0, 16, false),
      {
        ...result("fallback", 2, 0, true, true, { l2: 1 }),
        checks: [
          { ok: true, text: "the internet saw the VPN exit" },
          { ok: false, text: "no DNS answer came back" },
        ],
      },
    ]);
    assert.equal(
      table,
      [
        "scenario  verdict  leaked pkts L1+L2  leaked DNS L1+L2  L2 only pkts  L2 only DNS  recovery  time",
        "--------  -------  -----------------  ----------------  ------------  -----------  --------  -----",
        "baseline  PASS     0                  0                 0             0            3.3 s     1.5 s",
        "bypass    PASS     0                  0                 16 (L1 only)  0            -         1.5 s",
        "fallback  FAIL     2                  0                 0             1            -         1.5 s",
        "",
        "Failures:",
        "  fallback: no DNS answer came back",
        "  fallback: 2 packet(s) and 0 DNS query(ies) reached the internet from the home address with both layers on",
        "  fallback: layer 2 alone let 0 packet(s) and 1 DNS query(ies) out from the home address",
        "",
        "2 passed, 1 failed",
      ].join("\n"),
    );
  });

  it("a run where everything held prints no failures section", () => {
    assert.equal(
      renderTable([result("a-scenario-with-a-long-name", 0, 0, true)]),
      [
        "scenario                     verdict  leaked pkts L1+L2  leaked DNS L1+L2  L2 only pkts  L2 only DNS  recovery  time",
        "---------------------------  -------  -----------------  ----------------  ------------  -----------  --------  -----",
        "a-scenario-with-a-long-name  PASS     0                  0                 0             0            -         1.5 s",
        "",
        "1 passed, 0 failed",
      ].join("\n"),
    );
  });
});

describe("npm run lab: MTU figures", () => {
  it("reads one named counter from nft's JSON and says which is missing", () => {
    const json = JSON.stringify({
      nftables: [
        { metainfo: {} },
        { counter: { family: "bridge", name: "fragments", table: "lab_fragments", packets: 924, bytes: 1 } },
      ],
    });
    assert.equal(namedCounter(json, "fragments"), 924);
    assert.throws(() => namedCounter(json, "tunnel"), /counter tunnel missing/);
  });

  it("reads a link's MTU from ip -o link output", () => {
    assert.equal(
      parseLinkMtu(
        "7: vxlan0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1370 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/ether 3a:5e",
      ),
      1370,
    );
    assert.equal(parseLinkMtu(""), undefined);
  });

  it("an MTU check names the figure, and what was expected when it differs or is missing", () => {
    assert.deepEqual(expectEqual("client vxlan0 MTU", 1370, 1370), { ok: true, text: "client vxlan0 MTU 1370" });
    assert.deepEqual(expectEqual("client vxlan0 MTU", 1400, 1370), {
      ok: false,
      text: "client vxlan0 MTU 1400, expected 1370",
    });
    assert.deepEqual(expectEqual("wg0 MTU", undefined, 1370), { ok: false, text: "wg0 MTU missing, expected 1370" });
  });
});

describe("npm run lab: arguments, prerequisites, addresses", () => {
  it("parses its arguments and refuses unknown ones", () => {
    assert.deepEqual(parseLabArguments([]), {
      config: "Pulumi.downloads.yaml",
      coreConfig: "Pulumi.core.yaml",
      only: undefined,
    });
    assert.deepEqual(parseLabArguments(["--config", "my.yaml", "--only", "DNS"]), {
      config: "my.yaml",
      coreConfig: "Pulumi.core.yaml",
      only: "DNS",
    });
    assert.throws(
      () => parseLabArguments(["--config"]),
      (e: Error) => e instanceof UsageError && /--config needs a value/.test(e.message),
    );
    assert.throws(() => parseLabArguments(["downloads"]), /unknown argument "downloads"/);
    assert.throws(() => parseLabArguments(["--only", "gateway("]), /--only gateway\(: not a regular expression/);
    assert.equal(parseLabArguments(["--record", "docs/lab-runs"]).record, "docs/lab-runs");
  });

  it("says exactly what is missing: root first, then tools with their Debian packages, /dev/net/tun, namespaces", () => {
    const ok = { uid: 0, hasTool: () => true, canCreateNetns: () => undefined, tunDevice: () => undefined };
    assert.deepEqual(missingPrerequisites(ok), []);
    assert.deepEqual(missingPrerequisites({ ...ok, uid: 1000 }), [
      "the lab must run as root (it creates network namespaces, veth pairs and mounts): run it with sudo",
    ]);
    const problems = missingPrerequisites({
      ...ok,
      hasTool: (t) => !["wg", "wireguard-go", "dig"].includes(t),
      tunDevice: () => "/dev/net/tun is missing",
      canCreateNetns: () => "cannot create a network namespace",
    });
    assert.deepEqual(problems, [
      "missing tools: wg, wireguard-go, dig (apt-get install wireguard-tools wireguard-go bind9-dnsutils)",
      "/dev/net/tun is missing",
      "cannot create a network namespace",
    ]);
    assert.match(
      missingUpstream("/nowhere", () => false)!,
      /needs the pinned upstream artifacts in \/nowhere .*missing: pod-gateway-v1\.13\.0\/bin\/client_init\.sh/,
    );
    assert.equal(
      missingUpstream("/x", () => true),
      undefined,
    );
  });

  it("puts the internet side in documentation ranges only and the pods in the plan's pod CIDR", () => {
    const a = labAddresses(CLUSTER);
    for (const address of [a.home, a.internetRouter, a.vpnServer, a.vpnExit, a.resolver, a.web]) {
      assert.match(address, /^(192\.0\.2|198\.51\.100|203\.0\.113)\.\d+$/, address);
    }
    assert.equal(a.client, "10.42.0.21");
    assert.equal(a.kubernetesService, "10.43.0.1");
    assert.equal(labAddresses({ ...CLUSTER, lanCidr: undefined }).nodeLan, hostIn(DEFAULT_LAN, 10));
    assert.throws(() => hostIn("10.0.0.0/30", 5), /10\.0\.0\.0\/30 has no host number 5/);
  });

  it("restarts containers with the kubelet's back-off", () => {
    assert.deepEqual([0, 1, 2, 5, 9].map(restartBackoffMs), [10_000, 20_000, 40_000, 300_000, 300_000]);
  });
});

describe("npm run lab: the programs it runs, checked and installed", () => {
  it("names each wrapper and the command it runs", () => {
    assert.deepEqual(
      commandsIn([
        "ip",
        "netns",
        "exec",
        "ns",
        "unshare",
        "-m",
        "-u",
        "--propagation",
        "private",
        "/bin/bash",
        "/x/launch.sh",
      ]),
      ["ip", "unshare", "bash"],
    );
    assert.deepEqual(
      commandsIn(["nsenter", "-t", "42", "-n", "-m", "--", "setpriv", "--inh-caps=-all", "--", "curl", "-s", "u"]),
      ["nsenter", "setpriv", "curl"],
    );
    assert.deepEqual(commandsIn(["ip", "netns", "exec", "ns", "ping", "-M", "do"]), ["ip", "ping"]);
    assert.deepEqual(commandsIn(["chroot", "/root", "/usr/bin/dig", "x"]), ["chroot", "dig"]);
  });

  it("a program the lab ran but does not check for fails the run, by name", () => {
    assert.deepEqual(unlistedPrograms(["ip", "ping", "tcpdump", "nft"]), ["tcpdump"]);
    assert.deepEqual(unlistedPrograms(["ip", "ping"]), []);
  });

  it(".ci/run installs the package of every program the lab checks for", () => {
    const script = readFileSync(join(__dirname, "..", ".ci", "run"), "utf8");
    const list = /^packages=\(([^)]*)\)$/m.exec(script);
    assert.ok(list, ".ci/run has no packages=(...) line");
    const installed = list[1].split(/\s+/).filter(Boolean);
    const needed = packagesFor(Object.keys(REQUIRED_TOOLS));
    assert.deepEqual(
      needed.filter((pkg) => !installed.includes(pkg)),
      [],
      "packages the lab needs that .ci/run does not install",
    );
    assert.equal(REQUIRED_TOOLS.ping, "iputils-ping", "ping -M do is iputils' (busybox ping has no -M)");
  });
});

describe("npm run lab: what counts as a leak where it arrives (lab/leaks.ts)", () => {
  const endpoints = { home: "203.0.113.10", vpnServer: "203.0.113.20", vpnPort: 51820 };
  const from = (source: string, rest: Omit<Packet, "source">): LeakClass =>
    classifyPacket({ source, ...rest }, endpoints);

  it("the tunnel's own packets to the VPN server port are not a leak; the same port elsewhere is", () => {
    assert.equal(from("203.0.113.10", { destination: "203.0.113.20", protocol: "udp", port: 51820 }), "tunnel");
    assert.equal(from("203.0.113.10", { destination: "198.51.100.80", protocol: "udp", port: 51820 }), "other");
    assert.equal(from("203.0.113.10", { destination: "203.0.113.20", protocol: "tcp", port: 51820 }), "other");
    assert.equal(from("203.0.113.10", { destination: "203.0.113.20", protocol: "udp", port: 51821 }), "other");
    assert.equal(isLeak("tunnel"), false);
    assert.equal(isLeak("other"), true);
  });

  it("port 53 from the home address is a DNS leak, over UDP and TCP, to any resolver", () => {
    assert.equal(from("203.0.113.10", { destination: "198.51.100.53", protocol: "udp", port: 53 }), "dns");
    assert.equal(from("203.0.113.10", { destination: "1.1.1.1", protocol: "tcp", port: 53 }), "dns");
    assert.equal(from("203.0.113.10", { destination: "203.0.113.20", protocol: "udp", port: 53 }), "dns");
    assert.equal(isLeak("dns"), true);
  });

  it("port 53 over anything but UDP and TCP is no DNS query, and still a leak", () => {
    assert.equal(from("203.0.113.10", { destination: "198.51.100.53", protocol: "other", port: 53 }), "other");
  });

  it("ICMP errors about late answers are not counted; any other ICMP is a leak", () => {
    for (const icmpType of ["destination-unreachable", "time-exceeded"]) {
      assert.equal(from("203.0.113.10", { destination: "198.51.100.80", protocol: "icmp", icmpType }), "icmp-error");
    }
    assert.equal(isLeak("icmp-error"), false);
    assert.equal(
      from("203.0.113.10", { destination: "198.51.100.80", protocol: "icmp", icmpType: "echo-request" }),
      "other",
    );
  });

  it("only the home address is counted: the VPN exit's traffic is what must be seen", () => {
    assert.equal(from("192.0.2.77", { destination: "198.51.100.53", protocol: "udp", port: 53 }), "not-home");
    assert.equal(isLeak("not-home"), false);
  });

  it("the nftables rules are the same list in the same order, each keyed on the home address", () => {
    const ruleset = leakCounterRuleset("lab_leaks", endpoints);
    const rules = ruleset.split("\n").filter((line) => line.startsWith("\t\tip saddr"));
    assert.deepEqual(rules, [
      '\t\tip saddr 203.0.113.10 ip daddr 203.0.113.20 udp dport 51820 counter name "tunnel" accept',
      "\t\tip saddr 203.0.113.10 icmp type { destination-unreachable, time-exceeded } accept",
      '\t\tip saddr 203.0.113.10 meta l4proto { tcp, udp } th dport 53 counter name "home_dns" accept',
      '\t\tip saddr 203.0.113.10 counter name "home_other" accept',
    ]);
    assert.match(
      ruleset,
      /^table inet lab_leaks \{\n\tcounter tunnel \{\}\n\tcounter home_dns \{\}\n\tcounter home_other \{\}\n/,
    );
    assert.match(ruleset, /type filter hook prerouting priority -300; policy accept;/);
    assert.equal(
      ruleset,
      [
        "table inet lab_leaks {",
        "\tcounter tunnel {}",
        "\tcounter home_dns {}",
        "\tcounter home_other {}",
        "\tchain count {",
        "\t\ttype filter hook prerouting priority -300; policy accept;",
        ...rules,
        "\t}",
        "}",
        "",
      ].join("\n"),
      "the whole table nft loads: every counter and rule inside one prerouting chain",
    );
  });
});

describe("npm run lab --record: the committed log of a run", () => {
  const source = { commit: "0123456789abcdef0123456789abcdef01234567", subject: "Lab: a change" };

  it("is named by the minute the run started and the commit it ran", () => {
    assert.equal(recordFileName(new Date("2026-12-07T05:30:59Z"), source.commit), "2026-12-07T0530Z-0123456789.txt");
    assert.notEqual(
      recordFileName(new Date("2026-12-07T05:33:00Z"), source.commit),
      recordFileName(new Date("2026-12-07T05:30:00Z"), source.commit),
      "consecutive runs of one commit keep a log each",
    );
  });

  it("names the command, the commit, the machine and the exit status above every line the run printed", () => {
    const text = recordText({
      argv: ["--only", "DNS"],
      source,
      when: new Date("2026-12-07T05:30:00Z"),
      machine: "2 cores, Linux 6.1, load average 1.00 0.50 0.25",
      lines: ["- DNS", "1 passed, 0 failed"],
      status: 0,
    });
    assert.equal(
      text,
      [
        "# npm run lab -- --only DNS",
        "# commit 0123456789abcdef0123456789abcdef01234567 (Lab: a change)",
        "# started 2026-12-07T05:30:00.000Z on 2 cores, Linux 6.1, load average 1.00 0.50 0.25",
        "# exit status 0",
        "",
        "- DNS",
        "1 passed, 0 failed",
        "",
      ].join("\n"),
    );
  });
});

describe("npm run lab: the internet's signed root and its forger (lab/dnssec.ts)", () => {
  const SIGNED = [
    ".\t300\tIN\tSOA\ta.root-servers.example.net. hostmaster.example.net. 1 3600 600 86400 300",
    ".\t300\tIN\tDNSKEY\t257 3 13 ipg+mNII== ;{id = 16803 (ksk), size = 256b}",
    "*.tracker.example.net.\t300\tIN\tA\t198.51.100.80",
    "*.tracker.example.net.\t300\tIN\tRRSIG\tA 13 3 300 20270104075938 20261207075938 16803 . prDD==",
    "*.tracker.example.net.\t300\tIN\tNSEC\t*.mirror.example.net. A RRSIG NSEC",
    "*.tracker.example.net.\t300\tIN\tRRSIG\tNSEC 13 3 300 20270104075938 20261207075938 16803 . 8yki==",
    "*.mirror.example.net.\t300\tIN\tA\t198.51.100.80",
    "*.mirror.example.net.\t300\tIN\tRRSIG\tA 13 3 300 20270104075938 20261207075938 16803 . mIrr==",
    "*.mirror.example.net.\t300\tIN\tNSEC\t. A RRSIG NSEC",
    "*.mirror.example.net.\t300\tIN\tRRSIG\tNSEC 13 3 300 20270104075938 20261207075938 16803 . nSec==",
  ].join("\n");

  it("serves every probe name as the echo server", () => {
    const zone = rootZone({ resolver: "198.51.100.53", web: "198.51.100.80" });
    assert.match(zone, /^\*\.tracker\.example\.net\. IN A 198\.51\.100\.80$/m);
    assert.match(zone, /^\*\.mirror\.example\.net\. IN A 198\.51\.100\.80$/m);
  });

  it("forges the tracker names under their genuine signature and strips the mirror names' signature; all else unchanged", () => {
    const forged = forgedZone(SIGNED).split("\n");
    assert.ok(forged.includes(`*.tracker.example.net.\t300\tIN\tA\t${FORGED_ADDRESS}`));
    assert.ok(forged.includes(`*.mirror.example.net.\t300\tIN\tA\t${FORGED_ADDRESS}`));
    assert.ok(forged.some((line) => line.startsWith("*.tracker.example.net.\t300\tIN\tRRSIG\tA ")));
    assert.ok(!forged.some((line) => line.startsWith("*.mirror.example.net.\t300\tIN\tRRSIG\tA ")));
    assert.ok(forged.some((line) => line.startsWith("*.mirror.example.net.\t300\tIN\tRRSIG\tNSEC ")));
    assert.equal(forged.length, SIGNED.split("\n").length - 1);
    assert.ok(!forged.includes("*.tracker.example.net.\t300\tIN\tA\t198.51.100.80"));
  });

  it("turns ldns-keygen's DS record into dnsmasq's trust-anchor line, and refuses anything else", () => {
    assert.equal(
      trustAnchorLine(".\tIN\tDS\t16803 13 2 0dbecb55f8c18c4ad91f15d44419195f76e4820256e037fb185c1dc2ded1559c\n"),
      "trust-anchor=.,16803,13,2,0DBECB55F8C18C4AD91F15D44419195F76E4820256E037FB185C1DC2DED1559C",
    );
    assert.throws(() => trustAnchorLine(".\tIN\tDNSKEY\t257 3 13 ipg+mNII=="), /not a DS record/);
    assert.throws(() => trustAnchorLine(".\tIN\tDS\t16803 13 2"), /not a DS record/);
  });

  it("reads dig's status and header flags", () => {
    assert.deepEqual(
      digHeader(
        ";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 83\n;; flags: qr aa rd ra ad; QUERY: 1, ANSWER: 1",
      ),
      { status: "NOERROR", flags: ["qr", "aa", "rd", "ra", "ad"] },
    );
    assert.deepEqual(
      digHeader(";; ->>HEADER<<- opcode: QUERY, status: SERVFAIL, id: 1\n;; flags: qr rd ra; QUERY: 1"),
      {
        status: "SERVFAIL",
        flags: ["qr", "rd", "ra"],
      },
    );
    assert.deepEqual(digHeader(";; communications error to 172.16.0.1#53: timed out"), { flags: [] });
  });
});
