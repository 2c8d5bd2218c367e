import { strict as assert } from "node:assert";
import type { StackPlan } from "../plan/evaluate";
import { cidrContains, formatIpv4, parseCidr, parseIpv4 } from "../lib/net";
import { clientKillSwitchSpec, killSwitchWarnings } from "../lib/vpn/killSwitch";
import { WITHOUT_PORT_FORWARDING, assertConfigError, planDownloads, warningsWhile } from "./support/plan";
import { guardVerdict } from "./support/guard";
import {
  Destination,
  EvaluationOptions,
  NetworkPolicyManifest,
  Pod,
  Protocol,
  Workload,
  configMapFile,
  envOf,
  evaluateEgress,
  evaluateIngress,
  gatewayWorkload,
  networkPoliciesOf,
  parseShellSettings,
  podOf,
  routedWorkloads,
} from "./support/networkPolicy";

// Addresses of the shipped example cluster: pods 10.42.0.0/16, Services 10.43.0.0/16, LAN
// 192.168.1.0/24, kube-dns 10.43.0.10. Pod IPs below are arbitrary addresses in the pod CIDR.

const KUBE_DNS_POD: Pod = { namespace: "kube-system", labels: { "k8s-app": "kube-dns" } };
const OTHER_DOWNLOADS_POD: Pod = {
  namespace: "charmarr-downloads",
  labels: { "app.kubernetes.io/name": "flaresolverr" },
};
const CORE_APP_POD: Pod = {
  namespace: "charmarr-core",
  labels: { "app.kubernetes.io/name": "radarr" },
  namespaceLabels: { "istio.io/dataplane-mode": "ambient" },
};

function gatewayPod(plan: StackPlan): Pod {
  return podOf(gatewayWorkload(plan));
}

/** A packet from a routed pod, named, with the verdict the kill switch must reach. */
interface Case {
  readonly name: string;
  readonly destination: (plan: StackPlan) => Destination;
  readonly allowed: boolean;
}

const TRUTH_TABLE: readonly Case[] = [
  {
    name: "1.1.1.1 (HTTPS, direct)",
    destination: () => ({ ip: "1.1.1.1", protocol: "TCP", port: 443 }),
    allowed: false,
  },
  { name: "8.8.8.8 (DNS, direct)", destination: () => ({ ip: "8.8.8.8", protocol: "UDP", port: 53 }), allowed: false },
  { name: "a LAN host", destination: () => ({ ip: "192.168.1.50", protocol: "TCP", port: 445 }), allowed: false },
  {
    name: "2606:4700:4700::1111 (IPv6 HTTPS, direct)",
    destination: () => ({ ip: "2606:4700:4700::1111", protocol: "TCP", port: 443 }),
    allowed: false,
  },
  {
    name: "2001:4860:4860::8888 (IPv6 DNS, direct)",
    destination: () => ({ ip: "2001:4860:4860::8888", protocol: "UDP", port: 53 }),
    allowed: false,
  },
  {
    name: "an IPv6 torrent peer (UDP 6881)",
    destination: () => ({ ip: "2a01:4f8::1", protocol: "UDP", port: 6881 }),
    allowed: false,
  },
  {
    name: "the gateway pod, UDP 4789 (VXLAN)",
    destination: (plan) => ({ ip: "10.42.3.7", pod: gatewayPod(plan), protocol: "UDP", port: 4789 }),
    allowed: true,
  },
  {
    name: "the gateway pod, ICMP (client ping)",
    destination: (plan) => ({ ip: "10.42.3.7", pod: gatewayPod(plan), protocol: "ICMP" }),
    allowed: true,
  },
  {
    name: "kube-dns pod, UDP 53",
    destination: () => ({ ip: "10.42.0.5", pod: KUBE_DNS_POD, protocol: "UDP", port: 53 }),
    allowed: true,
  },
  {
    name: "kube-dns pod, TCP 53",
    destination: () => ({ ip: "10.42.0.5", pod: KUBE_DNS_POD, protocol: "TCP", port: 53 }),
    allowed: true,
  },
  {
    name: "kube-dns Service IP, UDP 53 (before DNAT)",
    destination: () => ({ ip: "10.43.0.10", protocol: "UDP", port: 53 }),
    allowed: true,
  },
  {
    name: "kube-dns pod on another port (metrics, TCP 9153)",
    destination: () => ({ ip: "10.42.0.5", pod: KUBE_DNS_POD, protocol: "TCP", port: 9153 }),
    allowed: false,
  },
  {
    name: "kube-dns Service IP on another port (TCP 9153, before DNAT)",
    destination: () => ({ ip: "10.43.0.10", protocol: "TCP", port: 9153 }),
    allowed: false,
  },
  {
    name: "a core app pod (radarr:7878)",
    destination: () => ({ ip: "10.42.1.20", pod: CORE_APP_POD, protocol: "TCP", port: 7878 }),
    allowed: false,
  },
  {
    name: "another pod in the download clients' namespace",
    destination: () => ({ ip: "10.42.2.30", pod: OTHER_DOWNLOADS_POD, protocol: "TCP", port: 8080 }),
    allowed: false,
  },
  {
    name: "an in-cluster Service IP (an in-cluster proxy, TCP 3128)",
    destination: () => ({ ip: "10.43.12.34", protocol: "TCP", port: 3128 }),
    allowed: false,
  },
  {
    name: "a selector-less Service's IP (its Endpoints may be public addresses), TCP 443",
    destination: () => ({ ip: "10.43.200.1", protocol: "TCP", port: 443 }),
    allowed: false,
  },
  {
    name: "169.254.7.127 (ambient probe address)",
    destination: () => ({ ip: "169.254.7.127", protocol: "TCP", port: 15021 }),
    allowed: true,
  },
];

const CNIS: readonly [string, EvaluationOptions][] = [
  ["a CNI that matches pod IPs by ipBlock (Calico)", { ipBlockMatchesPods: true }],
  ["a CNI that matches pods only by selector (Cilium)", { ipBlockMatchesPods: false }],
];

function routedPods(plan: StackPlan): [Workload, Pod][] {
  const routed = routedWorkloads(plan);
  assert.ok(routed.length >= 1, "the plan routes at least one workload");
  return routed.map((workload) => [workload, podOf(workload)]);
}

describe("kill switch layer 1: the egress truth table of every routed pod", () => {
  let plan: StackPlan;
  let policies: NetworkPolicyManifest[];
  before(async () => {
    plan = await planDownloads();
    policies = networkPoliciesOf(plan);
  });

  it("every routed pod is isolated for egress by a policy", () => {
    for (const [workload, pod] of routedPods(plan)) {
      const verdict = evaluateEgress(policies, pod, { ip: "1.1.1.1", protocol: "TCP", port: 443 });
      assert.ok(verdict.isolatedBy.length > 0, `${workload.metadata.name} has no egress NetworkPolicy`);
    }
  });

  it("each kill switch selects exactly one routed workload's pods", () => {
    const killSwitches = policies.filter((p) => p.metadata.name?.endsWith("-vpn-kill-switch"));
    assert.equal(killSwitches.length, routedPods(plan).length);
    for (const killSwitch of killSwitches) {
      const selected = routedPods(plan).filter(
        ([, pod]) =>
          evaluateEgress([killSwitch], pod, { ip: "1.1.1.1", protocol: "TCP", port: 443 }).isolatedBy.length > 0,
      );
      assert.equal(
        selected.length,
        1,
        `${killSwitch.metadata.name} selects ${selected.map(([w]) => w.metadata.name).join(", ")}`,
      );
    }
  });

  for (const [cni, options] of CNIS) {
    describe(`on ${cni}`, () => {
      for (const testCase of TRUTH_TABLE) {
        it(`${testCase.name} → ${testCase.allowed ? "allowed" : "denied"}`, () => {
          for (const [workload, pod] of routedPods(plan)) {
            const verdict = evaluateEgress(policies, pod, testCase.destination(plan), options);
            assert.equal(verdict.allowed, testCase.allowed, `${workload.metadata.name}: ${JSON.stringify(verdict)}`);
          }
        });
      }
    });
  }

  it("the gateway is found by selector, not address: a gateway pod with a new IP is still allowed", () => {
    for (const [workload, pod] of routedPods(plan)) {
      for (const ip of ["10.42.3.7", "10.42.200.9"]) {
        assert.ok(
          evaluateEgress(
            policies,
            pod,
            { ip, pod: gatewayPod(plan), protocol: "UDP", port: 4789 },
            { ipBlockMatchesPods: false },
          ).allowed,
          workload.metadata.name,
        );
      }
    }
  });

  it("nothing but the gateway, kube-dns on 53 and 169.254.7.127 is reachable, whatever the port", () => {
    for (const [, pod] of routedPods(plan)) {
      for (const ip of [
        "0.0.0.1",
        "10.42.9.9",
        "10.43.0.1",
        "100.64.0.1",
        "172.16.0.1",
        "203.0.113.10",
        "255.255.255.254",
        "169.254.169.254",
      ]) {
        for (const [protocol, port] of [
          ["TCP", 80],
          ["UDP", 4789],
          ["UDP", 51820],
          ["TCP", 6881],
        ] as const) {
          assert.equal(
            evaluateEgress(policies, pod, { ip, protocol, port }).allowed,
            false,
            `${ip} ${protocol}/${port}`,
          );
        }
      }
    }
  });
});

/** A FORWARD rule as pod-gateway's gateway_init.sh writes it for client traffic: match an out-interface. */
type ForwardRule = { readonly outInterface: string };

/**
 * pod-gateway's FORWARD chain for traffic arriving from clients on vxlan0, read from the planned
 * settings.sh the way gateway_init.sh (v1.13.0) builds it: with VPN_BLOCK_OTHER_TRAFFIC=true the
 * policy is DROP and `-I FORWARD -o $VPN_INTERFACE -j ACCEPT` is the only accept for it (its
 * VPN_LOCAL_CIDRS accepts are OUTPUT rules, for the gateway's own traffic; its `-i` rules are for
 * replies). Without it the policy stays ACCEPT.
 */
function podGatewayForwardChain(settings: Record<string, string>): { policy: "ACCEPT" | "DROP"; rules: ForwardRule[] } {
  if (settings.VPN_BLOCK_OTHER_TRAFFIC !== "true") {
    return { policy: "ACCEPT", rules: [] };
  }
  return { policy: "DROP", rules: [{ outInterface: settings.VPN_INTERFACE }] };
}

/**
 * Layer 2 (docs/vpn.md#the-two-kill-switch-layers): where the gateway routes a packet a client sent into
 * vxlan0, and whether the FORWARD chain lets it out. gateway_init.sh routes each VPN_LOCAL_CIDRS entry via
 * eth0; everything else takes the default route, which is gluetun's tunnel device while the tunnel is up and
 * eth0 otherwise.
 */
function gatewayForwards(
  settings: Record<string, string>,
  gluetun: Record<string, string>,
  destinationIp: string,
  tunnelUp: boolean,
): { forwarded: boolean; via: string } {
  const chain = podGatewayForwardChain(settings);
  const local = settings.VPN_LOCAL_CIDRS.split(" ").some((cidr) => cidr !== "" && ipInCidr(destinationIp, cidr));
  const via = local || !tunnelUp ? "eth0" : gluetun.VPN_INTERFACE;
  const accepted = chain.rules.some((rule) => rule.outInterface === via);
  return { forwarded: accepted || chain.policy === "ACCEPT", via };
}

function ipInCidr(ip: string, cidr: string): boolean {
  const block = parseCidr(cidr);
  const address = parseIpv4(ip);
  assert.ok(block && address !== undefined, `${ip} in ${cidr}`);
  return cidrContains(block, address);
}

/** RFC 1918 and RFC 6598 (CGNAT): never routed on the internet. */
const PRIVATE_SPACE = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"];

function isPrivateBlock(cidr: string): boolean {
  const block = parseCidr(cidr);
  assert.ok(block, cidr);
  const last = formatIpv4(block.network + 2 ** (32 - block.prefix) - 1);
  return PRIVATE_SPACE.some((range) => ipInCidr(formatIpv4(block.network), range) && ipInCidr(last, range));
}

const INTERNET_DESTINATIONS = ["1.1.1.1", "8.8.8.8", "93.184.216.34", "185.65.134.1"];

describe("kill switch: failure matrix", () => {
  let plan: StackPlan;
  let policies: NetworkPolicyManifest[];
  let gatewaySettings: Record<string, string>;
  let gluetun: Record<string, string>;
  before(async () => {
    plan = await planDownloads();
    policies = networkPoliciesOf(plan);
    const gateway = gatewayWorkload(plan);
    gatewaySettings = parseShellSettings(
      configMapFile(plan, gateway.metadata.namespace, "vpn-gateway-settings", "settings.sh"),
    );
    const container = gateway.spec.template.spec.containers.find((c) => c.name === "gluetun");
    assert.ok(container);
    gluetun = envOf(container);
  });

  const vxlanToGateway = (p: StackPlan): Destination => ({
    ip: "10.42.3.7",
    pod: gatewayPod(p),
    protocol: "UDP",
    port: 4789,
  });
  const direct: Destination[] = [
    { ip: "1.1.1.1", protocol: "TCP", port: 443 },
    { ip: "93.184.216.34", protocol: "TCP", port: 6881 },
    { ip: "93.184.216.34", protocol: "UDP", port: 6881 },
    { ip: "8.8.8.8", protocol: "UDP", port: 53 },
  ];

  it("normal: VXLAN to the gateway passes layer 1 and layer 2 forwards it through the tunnel", () => {
    for (const [workload, pod] of routedPods(plan)) {
      assert.ok(evaluateEgress(policies, pod, vxlanToGateway(plan)).allowed, workload.metadata.name);
    }
    for (const ip of INTERNET_DESTINATIONS) {
      assert.deepEqual(gatewayForwards(gatewaySettings, gluetun, ip, true), { forwarded: true, via: "wg0" }, ip);
    }
    // Cluster traffic never needs the gateway: clients route the pod, Service and LAN ranges on
    // their own eth0 (NOT_ROUTED_TO_GATEWAY_CIDRS), and the gateway forwards nothing there.
    assert.deepEqual(gatewayForwards(gatewaySettings, gluetun, "10.42.1.20", true), { forwarded: false, via: "eth0" });
  });

  it("client init never ran / vxlan0 down / routes deleted: packets leaving eth0 directly are dropped", () => {
    for (const [workload, pod] of routedPods(plan)) {
      for (const destination of direct) {
        assert.equal(
          evaluateEgress(policies, pod, destination).allowed,
          false,
          `${workload.metadata.name} → ${destination.ip}:${destination.port}`,
        );
      }
    }
  });

  it("gateway pod restarts: one replica recreated, clients' sidecar rebuilds the tunnel, nothing leaks meanwhile", () => {
    const gateway = gatewayWorkload(plan);
    assert.equal(gateway.spec.replicas, 1);
    assert.deepEqual(gateway.spec.strategy, { type: "Recreate" });
    for (const [workload, pod] of routedPods(plan)) {
      assert.ok(
        workload.spec.template.spec.containers.some((c) => c.name === "vpn-route-sidecar"),
        `${workload.metadata.name} keeps a sidecar that rebuilds the tunnel`,
      );
      // While the gateway is away the client's default route still points into vxlan0;
      // anything that falls back to eth0 meets layer 1.
      for (const destination of direct) {
        assert.equal(evaluateEgress(policies, pod, destination).allowed, false);
      }
      assert.ok(
        evaluateEgress(
          policies,
          pod,
          { ip: "10.42.77.1", pod: gatewayPod(plan), protocol: "UDP", port: 4789 },
          { ipBlockMatchesPods: false },
        ).allowed,
      );
    }
  });

  it("tunnel down, gateway pod alive: layer 1 allows VXLAN, layer 2 forwards nothing to the internet", () => {
    for (const [, pod] of routedPods(plan)) {
      assert.ok(evaluateEgress(policies, pod, vxlanToGateway(plan)).allowed);
    }
    assert.equal(
      gatewaySettings.VPN_INTERFACE,
      gluetun.VPN_INTERFACE,
      "pod-gateway keys its rules on gluetun's device",
    );
    for (const ip of INTERNET_DESTINATIONS) {
      assert.deepEqual(gatewayForwards(gatewaySettings, gluetun, ip, false), { forwarded: false, via: "eth0" }, ip);
    }
    // Belt and braces: the gateway's own egress policy drops non-VPN traffic on eth0 as well.
    const gateway = gatewayPod(plan);
    assert.equal(evaluateEgress(policies, gateway, { ip: "1.1.1.1", protocol: "TCP", port: 443 }).allowed, false);
  });

  it("the gateway's own non-tunnel exits (VPN_LOCAL_CIDRS, routed via eth0 and accepted in OUTPUT) are private address space", () => {
    const locals = gatewaySettings.VPN_LOCAL_CIDRS.split(" ");
    assert.deepEqual(locals, ["10.42.0.0/16", "10.43.0.0/16", "192.168.1.0/24"]);
    for (const cidr of locals) {
      assert.ok(isPrivateBlock(cidr), `${cidr} is public: the gateway would reach internet hosts in it via eth0`);
    }
    assert.equal(podGatewayForwardChain(gatewaySettings).policy, "DROP");
  });

  it("the model catches what pod-gateway would leak: VPN_BLOCK_OTHER_TRAFFIC unset forwards around a down tunnel", () => {
    assert.equal(isPrivateBlock("1.0.0.0/8"), false);
    assert.equal(isPrivateBlock("172.0.0.0/8"), false, "a block only partly private is not private");
    const notBlocking = { ...gatewaySettings, VPN_BLOCK_OTHER_TRAFFIC: "false" };
    assert.deepEqual(gatewayForwards(notBlocking, gluetun, "1.1.1.1", false), { forwarded: true, via: "eth0" });
  });

  it("DNS lookups: no resolver but kube-dns (for client_init.sh's dig) is reachable off the tunnel; the pods' own resolver is the gateway; DNS capture is off", () => {
    for (const [workload, pod] of routedPods(plan)) {
      for (const destination of [
        { ip: "8.8.8.8", protocol: "UDP", port: 53 },
        { ip: "1.1.1.1", protocol: "TCP", port: 53 },
        { ip: "1.1.1.1", protocol: "TCP", port: 853 },
        { ip: "9.9.9.9", protocol: "TCP", port: 443 },
      ] as const) {
        assert.equal(
          evaluateEgress(policies, pod, destination).allowed,
          false,
          `${destination.ip}:${destination.port}`,
        );
      }
      assert.ok(
        evaluateEgress(policies, pod, { ip: "10.42.0.5", pod: KUBE_DNS_POD, protocol: "UDP", port: 53 }).allowed,
      );
      assert.equal(workload.spec.template.metadata.annotations?.["ambient.istio.io/dns-capture"], "false");
    }
    // client_init.sh finds the gateway with `dig @K8S_DNS_IPS` (on eth0: the Service CIDR is not
    // routed to the gateway); everything else in the pod asks the gateway's dnsmasq on vxlan0,
    // which only the tunnel connects to the internet.
    const clientSettings = parseShellSettings(
      configMapFile(plan, "charmarr-downloads", "vpn-gateway-client", "settings.sh"),
    );
    assert.equal(clientSettings.K8S_DNS_IPS, "10.43.0.10");
    assert.ok(clientSettings.NOT_ROUTED_TO_GATEWAY_CIDRS.split(" ").includes("10.43.0.0/16"));
    for (const [workload] of routedPods(plan)) {
      assert.deepEqual(
        workload.spec.template.spec.dnsConfig?.nameservers,
        [`${gatewaySettings.VXLAN_IP_NETWORK}.1`],
        workload.metadata.name,
      );
    }
  });
});

const CUSTOM_WIREGUARD = {
  ...WITHOUT_PORT_FORWARDING,
  "charmarr:vpn.addresses": ["10.64.222.21/32"],
  "charmarr:vpn.provider": "custom",
  "charmarr:vpn.serverCountries": undefined,
  "charmarr:vpn.endpointIp": "203.0.113.10",
  "charmarr:vpn.endpointPort": 51820,
  "charmarr:vpn.publicKey": "uLhRPiUgK1oYyb8yhTcVSUTdXbLBOkfhL4jlGvVFJnE=",
};

/** Internet hosts a gateway without its own firewall might try, VPN servers included. */
const INTERNET_HOSTS = ["1.1.1.1", "8.8.8.8", "93.184.216.34", "185.65.134.1", "203.0.113.10", "203.0.113.11"];
/** The same over IPv6: the VPN-port rule is an IPv4 block, so none of these may be reachable at all. */
const INTERNET_HOSTS_V6 = ["2606:4700:4700::1111", "2001:4860:4860::8888", "2a07:b944::2:1"];
/** Both ends of the range, well-known and VPN ports, the VXLAN port, torrent ports, and neighbours of 51820. */
const PORTS = [
  1, 22, 53, 80, 123, 443, 853, 1194, 1197, 1637, 4789, 6881, 8080, 41893, 51819, 51820, 51821, 58237, 65535,
];

/** Every internet packet (host, protocol, port) the gateway pod's egress policies let out. */
function gatewayInternetEgress(plan: StackPlan, hosts: readonly string[]): string[] {
  const policies = networkPoliciesOf(plan);
  const gateway = gatewayPod(plan);
  const open: string[] = [];
  for (const ip of hosts) {
    for (const protocol of ["TCP", "UDP"] as Protocol[]) {
      for (const port of PORTS) {
        if (evaluateEgress(policies, gateway, { ip, protocol, port }).allowed) {
          open.push(`${ip} ${protocol}/${port}`);
        }
      }
    }
  }
  return open;
}

describe("kill switch: gluetun's firewall fell back to ACCEPT (gluetun v3.41.1 internal/firewall/enable.go)", () => {
  // gluetun flushes the filter table and sets INPUT/OUTPUT/FORWARD to ACCEPT when enabling its
  // firewall fails; pod-gateway's filter rules go with them, NAT, the mangle table and ip_forward
  // stay. Left between forwarded client traffic and the internet: the gateway's forward guard (in
  // mangle) and its egress NetworkPolicy, each on its own.
  let plan: StackPlan;
  before(async () => {
    plan = await planDownloads();
  });

  it("layer 2 alone: the forward guard drops every forwarded client packet that would leave outside the tunnel, UDP to the VPN port included", () => {
    const gateway = gatewayWorkload(plan);
    const guard = configMapFile(plan, gateway.metadata.namespace, "vpn-gateway-settings", "forward-guard.sh");
    for (const ip of INTERNET_HOSTS) {
      for (const protocol of ["udp", "tcp"] as const) {
        for (const port of PORTS) {
          const packet = { in: "vxlan0", out: "eth0", dst: ip, protocol, port };
          assert.equal(guardVerdict(guard, "CHARMARR-FORWARD", "FORWARD", packet), "DROP", `${ip} ${protocol}/${port}`);
        }
      }
      assert.equal(
        guardVerdict(guard, "CHARMARR-FORWARD", "FORWARD", {
          in: "vxlan0",
          out: "wg0",
          dst: ip,
          protocol: "tcp",
          port: 443,
        }),
        "RETURN",
        "through the tunnel",
      );
    }
  });

  it("layer 1 alone, built-in provider: the gateway pod reaches no internet host on TCP/UDP on any port except UDP to the VPN port, and never its resolver", () => {
    const open = gatewayInternetEgress(plan, INTERNET_HOSTS);
    assert.deepEqual(
      open,
      INTERNET_HOSTS.filter((ip) => ip !== "1.1.1.1").map((ip) => `${ip} UDP/51820`),
    );
    assert.deepEqual(
      gatewayInternetEgress(plan, INTERNET_HOSTS_V6),
      [],
      "no IPv6 internet host, not even on the VPN port",
    );
  });

  it("layer 1 alone, a provider serving WireGuard on port 53: the resolver is still unreachable outside the tunnel", async () => {
    const ivpn = await planDownloads({
      ...WITHOUT_PORT_FORWARDING,
      "charmarr:vpn.provider": "ivpn",
      "charmarr:vpn.addresses": ["10.64.222.21/32"],
      "charmarr:vpn.endpointPort": 53,
    });
    assert.deepEqual(
      gatewayInternetEgress(ivpn, INTERNET_HOSTS),
      INTERNET_HOSTS.filter((ip) => ip !== "1.1.1.1").map((ip) => `${ip} UDP/53`),
    );
  });

  it("known server (vpn.endpointIp): only UDP to that one address on the VPN port", async () => {
    const plan = await planDownloads(CUSTOM_WIREGUARD);
    assert.deepEqual(gatewayInternetEgress(plan, INTERNET_HOSTS), ["203.0.113.10 UDP/51820"]);
  });
});

describe("kill switch: warnings for every layer switched off", () => {
  const warningsOf = (changes: Record<string, unknown>) => warningsWhile(() => planDownloads(changes));

  it("gatewayEgressPolicy false: the plan warns that the policy is the only guard when gluetun's firewall fails, and how to turn it back on", async () => {
    const warnings = (await warningsOf({ "charmarr:vpn.killSwitch.gatewayEgressPolicy": false })).filter((w) =>
      w.includes("gatewayEgressPolicy"),
    );
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(
      warnings[0],
      /charmarr:vpn\.killSwitch\.gatewayEgressPolicy is false: the VPN gateway pod has no egress NetworkPolicy/,
    );
    assert.match(warnings[0], /gluetun's firewall fails/);
    assert.match(warnings[0], /only guard/);
    assert.match(warnings[0], /pulumi config set --path charmarr:vpn\.killSwitch\.gatewayEgressPolicy true/);
  });

  it("unsafeDisable: the plan warns that routed clients leak when their tunnel fails", async () => {
    const warnings = (await warningsOf({ "charmarr:vpn.killSwitch.unsafeDisable": true })).filter((w) =>
      w.includes("unsafeDisable"),
    );
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0],
      /charmarr:vpn\.killSwitch\.unsafeDisable is true: the routed apps .* have no egress NetworkPolicy/,
    );
    assert.match(warnings[0], /real IP/);
    assert.match(warnings[0], /pulumi config rm --path charmarr:vpn\.killSwitch\.unsafeDisable/);
  });

  it("the defaults warn about nothing", async () => {
    assert.deepEqual(
      (await warningsOf({})).filter((w) => w.includes("charmarr:vpn")),
      [],
    );
    assert.deepEqual(killSwitchWarnings({ gatewayEgressPolicy: true, unsafeDisable: false }), []);
    assert.equal(killSwitchWarnings({ gatewayEgressPolicy: false, unsafeDisable: true }).length, 2);
  });
});

describe("kill switch: the gateway's own egress", () => {
  let plan: StackPlan;
  before(async () => {
    plan = await planDownloads();
  });

  const clientPod: Pod = {
    namespace: "charmarr-downloads",
    labels: { "app.kubernetes.io/name": "qbittorrent", "charmarr.io/vpn-routed": "true" },
  };
  const otherPod: Pod = { namespace: "charmarr-downloads", labels: { "app.kubernetes.io/name": "radarr" } };
  const otherNamespace: Pod = { namespace: "charmarr-core", labels: { "charmarr.io/vpn-routed": "true" } };

  it("reaches the VPN server port anywhere on the internet, VXLAN to routed pods and kube-dns on 53, nothing else", () => {
    const policies = networkPoliciesOf(plan);
    const gateway = gatewayPod(plan);
    const cases: [Destination, boolean][] = [
      [{ ip: "185.65.134.1", protocol: "UDP", port: 51820 }, true],
      [{ ip: "185.65.134.1", protocol: "TCP", port: 51820 }, false],
      [{ ip: "185.65.134.1", protocol: "TCP", port: 443 }, false],
      [{ ip: "8.8.8.8", protocol: "UDP", port: 53 }, false],
      [{ ip: "192.168.1.20", protocol: "UDP", port: 51820 }, false],
      [{ ip: "192.168.1.20", protocol: "TCP", port: 22 }, false],
      [{ ip: "10.42.8.8", pod: clientPod, protocol: "UDP", port: 4789 }, true],
      [{ ip: "10.42.0.5", pod: KUBE_DNS_POD, protocol: "UDP", port: 53 }, true],
      [{ ip: "10.43.0.10", protocol: "UDP", port: 53 }, true],
      [{ ip: "10.43.0.10", protocol: "TCP", port: 53 }, true],
      // Narrowed: nothing else in the cluster, on no other port.
      [{ ip: "10.42.8.8", pod: clientPod, protocol: "TCP", port: 8080 }, false],
      [{ ip: "10.42.8.8", pod: clientPod, protocol: "UDP", port: 53 }, false],
      [{ ip: "10.42.9.9", pod: otherPod, protocol: "UDP", port: 4789 }, false],
      [{ ip: "10.42.9.10", pod: otherNamespace, protocol: "UDP", port: 4789 }, false],
      [{ ip: "10.42.0.5", pod: KUBE_DNS_POD, protocol: "TCP", port: 443 }, false],
      [{ ip: "10.43.0.1", protocol: "TCP", port: 443 }, false],
      [{ ip: "10.43.7.7", protocol: "UDP", port: 53 }, false],
    ];
    for (const [destination, allowed] of cases) {
      assert.equal(
        evaluateEgress(policies, gateway, destination).allowed,
        allowed,
        `${destination.ip} ${destination.protocol}/${destination.port}`,
      );
    }
    for (const [destination, allowed] of cases.filter(([d]) => d.pod)) {
      assert.equal(
        evaluateEgress(policies, gateway, destination, { ipBlockMatchesPods: false }).allowed,
        allowed,
        "by selector too",
      );
    }
  });

  it("follows the server port: a custom WireGuard port, or OpenVPN's", async () => {
    const custom = await planDownloads({
      ...WITHOUT_PORT_FORWARDING,
      "charmarr:vpn.provider": "mullvad",
      "charmarr:vpn.addresses": ["10.64.222.21/32"],
      "charmarr:vpn.endpointPort": 443,
    });
    const gateway = gatewayPod(custom);
    assert.ok(
      evaluateEgress(networkPoliciesOf(custom), gateway, { ip: "185.65.134.1", protocol: "UDP", port: 443 }).allowed,
    );
    assert.equal(
      evaluateEgress(networkPoliciesOf(custom), gateway, { ip: "185.65.134.1", protocol: "UDP", port: 51820 }).allowed,
      false,
    );
    const openvpn = await planDownloads(
      {
        ...WITHOUT_PORT_FORWARDING,
        "charmarr:vpn.provider": "nordvpn",
        "charmarr:vpn.type": "openvpn",
        "charmarr:vpn.addresses": undefined,
        "charmarr:vpnPrivateKey": undefined,
        "charmarr:vpnUser": "u",
        "charmarr:vpnPassword": "p",
      },
      {},
      ["charmarr:vpnUser", "charmarr:vpnPassword"],
    );
    assert.ok(
      evaluateEgress(networkPoliciesOf(openvpn), gatewayPod(openvpn), {
        ip: "185.65.134.1",
        protocol: "UDP",
        port: 1194,
      }).allowed,
    );
  });

  it("can be switched off, leaving the gateway unrestricted by NetworkPolicy", async () => {
    const off = await planDownloads({ "charmarr:vpn.killSwitch.gatewayEgressPolicy": false });
    const gateway = gatewayPod(off);
    assert.deepEqual(
      evaluateEgress(networkPoliciesOf(off), gateway, { ip: "1.1.1.1", protocol: "TCP", port: 443 }).isolatedBy,
      [],
    );
    // The routed clients' kill switches are untouched.
    for (const [, pod] of routedPods(off)) {
      assert.equal(
        evaluateEgress(networkPoliciesOf(off), pod, { ip: "1.1.1.1", protocol: "TCP", port: 443 }).allowed,
        false,
      );
    }
  });
});

describe("vpn gateway ingress: only routed clients reach the gateway pod", () => {
  let plan: StackPlan;
  let policies: NetworkPolicyManifest[];
  before(async () => {
    plan = await planDownloads();
    policies = networkPoliciesOf(plan);
  });

  const UNROUTED_DOWNLOADS_POD: Pod = {
    namespace: "charmarr-downloads",
    labels: { "app.kubernetes.io/name": "something-else" },
  };
  const IMPOSTOR: Pod = { namespace: "charmarr-core", labels: { "charmarr.io/vpn-routed": "true" } };

  for (const [cni, options] of CNIS) {
    it(`on ${cni}: every routed client reaches the gateway on VXLAN and by ICMP`, () => {
      for (const [workload, pod] of routedPods(plan)) {
        for (const packet of [
          { ip: "10.42.8.8", pod, protocol: "UDP", port: 4789 },
          { ip: "10.42.8.8", pod, protocol: "ICMP" },
        ] as const) {
          assert.ok(
            evaluateIngress(policies, gatewayPod(plan), packet, options).allowed,
            `${workload.metadata.name} ${packet.protocol}`,
          );
        }
      }
    });

    it(`on ${cni}: nothing else does — another pod in the clients' namespace, a labelled pod elsewhere, a core app, a LAN host (nodes included), the internet`, () => {
      for (const [name, packet] of [
        [
          "unrouted pod in charmarr-downloads",
          { ip: "10.42.8.9", pod: UNROUTED_DOWNLOADS_POD, protocol: "UDP", port: 4789 },
        ],
        ["pod labelled routed in charmarr-core", { ip: "10.42.1.21", pod: IMPOSTOR, protocol: "UDP", port: 4789 }],
        ["radarr → control server", { ip: "10.42.1.20", pod: CORE_APP_POD, protocol: "TCP", port: 8000 }],
        ["LAN host → VXLAN", { ip: "192.168.1.50", protocol: "UDP", port: 4789 }],
        ["LAN host → control server", { ip: "192.168.1.50", protocol: "TCP", port: 8000 }],
        ["internet host", { ip: "1.1.1.1", protocol: "UDP", port: 4789 }],
      ] as const) {
        assert.equal(evaluateIngress(policies, gatewayPod(plan), packet, options).allowed, false, name);
      }
    });
  }

  it("the gateway needs no kubelet network access: its probes are exec", () => {
    const gluetun = gatewayWorkload(plan).spec.template.spec.containers.find((c) => c.name === "gluetun");
    assert.ok(gluetun?.startupProbe?.exec, "startup probe is exec");
    for (const container of gatewayWorkload(plan).spec.template.spec.containers) {
      const probes = container as {
        livenessProbe?: { httpGet?: unknown; tcpSocket?: unknown };
        readinessProbe?: { httpGet?: unknown; tcpSocket?: unknown };
      };
      for (const probe of [probes.livenessProbe, probes.readinessProbe]) {
        assert.ok(
          !probe?.httpGet && !probe?.tcpSocket,
          `${container.name} has a network probe the ingress policy would block`,
        );
      }
    }
  });
});

describe("kill switch: each policy selects only the pods it is meant for", () => {
  let plan: StackPlan;
  let policies: NetworkPolicyManifest[];
  before(async () => {
    plan = await planDownloads();
    policies = networkPoliciesOf(plan);
  });

  // A pod that is not the gateway in the gateway's namespace (a user's debug pod, a later
  // component), and a pod that copies the gateway's labels in another namespace: neither is the
  // gateway, so neither is an exit for a routed pod, and neither is bound by the gateway's policies.
  const NEIGHBOUR: Pod = { namespace: "charmarr-vpn", labels: { "app.kubernetes.io/name": "debug" } };
  const lookalike = (): Pod => ({ namespace: "charmarr-core", labels: gatewayPod(plan).labels });
  const INTERNET: Destination = { ip: "1.1.1.1", protocol: "TCP", port: 443 };

  for (const [cni, options] of CNIS) {
    it(`on ${cni}: a routed pod reaches the gateway pod only, not its neighbours nor a pod with its labels elsewhere`, () => {
      assert.equal(gatewayPod(plan).namespace, NEIGHBOUR.namespace, "the neighbour shares the gateway's namespace");
      for (const [workload, pod] of routedPods(plan)) {
        for (const [name, destination] of [
          ["neighbour", { ip: "10.42.7.7", pod: NEIGHBOUR, protocol: "TCP", port: 3128 }],
          ["lookalike", { ip: "10.42.7.8", pod: lookalike(), protocol: "TCP", port: 3128 }],
        ] as const) {
          const verdict = evaluateEgress(policies, pod, destination, options);
          assert.equal(verdict.allowed, false, `${workload.metadata.name} → ${name}: ${JSON.stringify(verdict)}`);
        }
      }
    });
  }

  it("the gateway's egress and ingress policies bind the gateway pod only, not another pod of its namespace", () => {
    assert.ok(evaluateEgress(policies, gatewayPod(plan), INTERNET).isolatedBy.length > 0, "the gateway is isolated");
    assert.deepEqual(evaluateEgress(policies, NEIGHBOUR, INTERNET), { allowed: true, isolatedBy: [], allowedBy: [] });
    assert.deepEqual(
      evaluateIngress(policies, NEIGHBOUR, { ip: "10.42.1.20", pod: CORE_APP_POD, protocol: "TCP", port: 8080 }),
      { allowed: true, isolatedBy: [], allowedBy: [] },
    );
  });
});

describe("kill switch: options", () => {
  it("allowLan lets routed pods reach the LAN, and only the LAN", async () => {
    const plan = await planDownloads({ "charmarr:vpn.killSwitch.allowLan": true });
    for (const [, pod] of routedPods(plan)) {
      const policies = networkPoliciesOf(plan);
      assert.ok(evaluateEgress(policies, pod, { ip: "192.168.1.50", protocol: "TCP", port: 445 }).allowed);
      assert.equal(evaluateEgress(policies, pod, { ip: "192.168.2.50", protocol: "TCP", port: 445 }).allowed, false);
      assert.equal(evaluateEgress(policies, pod, { ip: "1.1.1.1", protocol: "TCP", port: 443 }).allowed, false);
    }
  });

  it("allowLan without a LAN CIDR in the core stack is refused", async () => {
    await assertConfigError(
      planDownloads({ "charmarr:vpn.killSwitch.allowLan": true }, { "charmarr:cluster.lanCidr": undefined }),
      "charmarr:vpn.killSwitch.allowLan",
      "is true, but the core stack has no cluster.lanCidr, so there is no LAN range to allow",
      "pulumi config set --path charmarr:vpn.killSwitch.allowLan false",
    );
  });

  it("unsafeDisable: routed pods are left without a kill switch, only when explicitly asked", async () => {
    const plan = await planDownloads({ "charmarr:vpn.killSwitch.unsafeDisable": true });
    const policies = networkPoliciesOf(plan);
    for (const [workload, pod] of routedPods(plan)) {
      const verdict = evaluateEgress(policies, pod, { ip: "1.1.1.1", protocol: "TCP", port: 443 });
      assert.deepEqual(verdict.isolatedBy, [], `${workload.metadata.name} is unprotected, as documented`);
    }
  });

  it("the builder refuses allowLan without a LAN CIDR and adds extra rules verbatim", () => {
    const gateway = { namespace: "charmarr-vpn", podLabels: { app: "gw" } };
    const cluster = {
      podCidr: "10.42.0.0/16",
      serviceCidr: "10.43.0.0/16",
      dnsServiceIp: "10.43.0.10",
      domain: "cluster.local",
      podMtu: 1450,
    };
    assert.throws(
      () => clientKillSwitchSpec({ podSelector: { app: "x" }, gateway, cluster, allowLan: true }),
      /allowLan needs cluster.lanCidr/,
    );
    const spec = clientKillSwitchSpec({
      podSelector: { app: "x" },
      gateway,
      cluster,
      allowLan: false,
      extraRules: [{ to: [{ ipBlock: { cidr: "192.168.1.10/32" } }], ports: [{ protocol: "TCP", port: 2049 }] }],
    });
    const policy: NetworkPolicyManifest = {
      kind: "NetworkPolicy",
      metadata: { name: "x", namespace: "d" },
      spec: spec as NetworkPolicyManifest["spec"],
    };
    const pod: Pod = { namespace: "d", labels: { app: "x" } };
    assert.ok(evaluateEgress([policy], pod, { ip: "192.168.1.10", protocol: "TCP", port: 2049 }).allowed);
    assert.equal(evaluateEgress([policy], pod, { ip: "192.168.1.10", protocol: "TCP", port: 22 }).allowed, false);
  });
});
