import { strict as assert } from "node:assert";
import { split } from "shlex";
import { ConfigError, ConfigProblem, DownloadsConfig, loadConfig, problemsAgainstCore } from "../lib/config";
import { GATEWAY_DOMAINS } from "../lib/ingress/settings";
import type { PlanConfig } from "../plan/evaluate";
import { CORE_EXAMPLE, DOWNLOADS_EXAMPLE, WITHOUT_PORT_FORWARDING, configSource, withConfig } from "./support/plan";

// The VPN rules that need the core stack's cluster facts (lib/vpn/rules.ts), checked the way the
// downloads stack checks them before it creates anything: the downloads configuration loaded, then
// held against the core stack's outputs. No plan is made: each case costs a config load.

const SECRETS = ["charmarr:vpnPrivateKey", "charmarr:vpnPresharedKey", "charmarr:vpnUser", "charmarr:vpnPassword"];

/** A downloads and a core configuration, as `pulumi config` holds them for each stack. */
interface Stacks {
  readonly downloads: PlanConfig;
  readonly core: PlanConfig;
}

/** The core example's LAN addresses, which a LAN range of another test would no longer hold. */
const NO_LAN_IPS = {
  "charmarr:gateways.arr.lanIp": undefined,
  "charmarr:gateways.media.lanIp": undefined,
  "charmarr:gateways.admin.lanIp": undefined,
  "charmarr:apps.plex.lanIp": undefined,
};

function stacks(downloads: Record<string, unknown> = {}, core: Record<string, unknown> = {}): Stacks {
  return { downloads: withConfig(DOWNLOADS_EXAMPLE, downloads, SECRETS), core: withConfig(CORE_EXAMPLE, core) };
}

/** Every problem the user sees for the two stacks: the downloads stack's own, else those against core. */
function problemsOf({ downloads, core }: Stacks): readonly ConfigProblem[] {
  const coreConfig = loadConfig(configSource("core", core));
  assert.ok(coreConfig.role === "core");
  let config: DownloadsConfig;
  try {
    const loaded = loadConfig(configSource("downloads", downloads));
    assert.ok(loaded.role === "downloads");
    config = loaded;
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  return problemsAgainstCore(config, {
    cluster: coreConfig.cluster,
    namespace: coreConfig.namespace,
    // Every gateway on, with no path taken: the rules under test are the VPN's, not the apps'.
    gateways: Object.fromEntries(
      GATEWAY_DOMAINS.map((name) => [
        name,
        { name, namespace: coreConfig.namespace, sectionName: "http", port: 80, principal: name, paths: {} },
      ]),
    ),
    identities: {},
  });
}

function only(problems: readonly ConfigProblem[]): ConfigProblem {
  assert.equal(problems.length, 1, problems.map((p) => `${p.key}: ${p.problem}`).join("\n"));
  return problems[0];
}

/** The `pulumi config set|rm` commands a fix names, in order (prose and `pulumi up` left out). */
function commandsIn(fix: string | undefined): string[] {
  return (fix ?? "")
    .split("pulumi config ")
    .slice(1)
    .map((rest) => `pulumi config ${rest.split(/;|\s\(|, or |\)/)[0].trim()}`);
}

/** `charmarr:vpn.addresses[0]` → the top-level key and the path inside its value. */
function splitKey(key: string): { top: string; path: (string | number)[] } {
  const [top, ...rest] = key.split(/\.|(?=\[)/);
  return { top, path: rest.map((segment) => (/^\[\d+\]$/.test(segment) ? Number(segment.slice(1, -1)) : segment)) };
}

/** Runs one `pulumi config set|rm [--path] [--stack core] KEY [VALUE]` the way the CLI would. */
function run(state: Stacks, command: string): Stacks {
  const words = split(command);
  assert.deepEqual(words.slice(0, 2), ["pulumi", "config"], command);
  const stackFlag = words.indexOf("--stack");
  const stack = stackFlag === -1 ? "downloads" : words[stackFlag + 1];
  assert.ok(stack === "downloads" || stack === "core", command);
  const operands = words.filter((word, index) => !word.startsWith("--") && words[index - 1] !== "--stack").slice(2);
  const [verb, key, value] = operands;
  assert.ok(
    (verb === "set" && operands.length === 3) || (verb === "rm" && operands.length === 2),
    `not a plain command: ${command}`,
  );
  const config = state[stack];
  const { top, path } = splitKey(key);
  let changed: PlanConfig;
  if (path.length === 0) {
    changed = withConfig(config, { [top]: value });
  } else {
    const object = JSON.parse(config.values[top] ?? "{}") as Record<string | number, unknown>;
    let node = object;
    path.slice(0, -1).forEach((segment, index) => {
      node[segment] = node[segment] ?? (typeof path[index + 1] === "number" ? [] : {});
      node = node[segment] as Record<string | number, unknown>;
    });
    const last = path[path.length - 1];
    if (verb === "rm") {
      delete node[last];
    } else {
      // With --path, "true"/"false" become booleans and integers numbers (pulumi config set --help).
      node[last] =
        value === "true" || value === "false" ? value === "true" : /^-?\d+$/.test(value) ? Number(value) : value;
    }
    changed = withConfig(config, { [top]: JSON.stringify(object) });
  }
  return { ...state, [stack]: changed };
}

/**
 * Runs the commands of a fix (all of them, or those at `pick`) with placeholders filled in, and
 * asserts what a user relies on: the stacks are then accepted.
 */
function assertFixed(state: Stacks, fix: string | undefined, pick?: number[], fill: Record<string, string> = {}): void {
  let text = fix ?? "";
  for (const [placeholder, value] of Object.entries(fill)) {
    text = text.replaceAll(placeholder, value);
  }
  const commands = commandsIn(text);
  assert.ok(commands.length > 0, `no command in: ${fix}`);
  const chosen = pick ? pick.map((index) => commands[index]) : commands;
  const fixed = chosen.reduce(run, state);
  assert.deepEqual(problemsOf(fixed), [], `after ${chosen.join("; ")}`);
}

describe("vpn rules: the shipped examples pass every rule against the core stack", () => {
  it("accepts the examples as they are, and with each VPN type", () => {
    assert.deepEqual(problemsOf(stacks()), []);
    assert.deepEqual(
      problemsOf(
        stacks({
          ...WITHOUT_PORT_FORWARDING,
          "charmarr:vpn.provider": "mullvad",
          "charmarr:vpn.addresses": ["10.64.0.2/32"],
        }),
      ),
      [],
    );
    assert.deepEqual(
      problemsOf(
        stacks({
          "charmarr:vpn.type": "openvpn",
          "charmarr:vpnPrivateKey": undefined,
          "charmarr:vpnUser": "user+pmp",
          "charmarr:vpnPassword": "password",
        }),
      ),
      [],
    );
  });
});

describe("vpn rules: the gateway's namespace stays apart from the download clients'", () => {
  it("moves the clients when they took the gateway's default namespace", () => {
    const state = stacks({ "charmarr:namespace": "charmarr-vpn" });
    const problem = only(problemsOf(state));
    assert.equal(problem.key, "charmarr:namespace");
    assert.match(problem.problem, /^"charmarr-vpn" is the VPN gateway's namespace \(charmarr:vpn\.namespace\)/);
    assert.equal(problem.fix, "pulumi config set charmarr:namespace charmarr-downloads");
    assertFixed(state, problem.fix);
  });

  it("moves the gateway when it was put in the clients' namespace", () => {
    const state = stacks({ "charmarr:namespace": "media-dl", "charmarr:vpn.namespace": "media-dl" });
    const problem = only(problemsOf(state));
    assert.equal(problem.key, "charmarr:vpn.namespace");
    assert.match(problem.problem, /^"media-dl" is also the download clients' namespace; the VPN gateway needs/);
    assert.equal(problem.fix, "pulumi config set --path charmarr:vpn.namespace charmarr-vpn");
    assertFixed(state, problem.fix);
  });

  it("accepts a gateway namespace of its own, default or not", () => {
    assert.deepEqual(problemsOf(stacks({ "charmarr:vpn.namespace": "vpn-only" })), []);
  });
});

describe("vpn rules: the tunnel is IPv4-only (gluetun v3.41.1 refuses an IPv6 WireGuard address without IPv6)", () => {
  const MULLVAD = { ...WITHOUT_PORT_FORWARDING, "charmarr:vpn.provider": "mullvad" };

  it("keeps the IPv4 address of a dual-stack pair", () => {
    const state = stacks({ ...MULLVAD, "charmarr:vpn.addresses": ["10.64.0.2/32", "fc00:bbbb:bbbb:bb01::2/128"] });
    const problem = only(problemsOf(state));
    assert.equal(problem.key, "charmarr:vpn.addresses");
    assert.match(problem.problem, /^fc00:bbbb:bbbb:bb01::2\/128 is an IPv6 address; the VPN gateway is IPv4-only/);
    // Why it is refused rather than left to fail: the pod would crash-loop.
    assert.match(problem.problem, /gluetun refuses to start with an IPv6 WireGuard address when the pod has no IPv6$/);
    assert.equal(
      problem.fix,
      "keep only the IPv4 entry: pulumi config rm --path charmarr:vpn.addresses; pulumi config set --path 'charmarr:vpn.addresses[0]' 10.64.0.2/32",
    );
    assertFixed(state, problem.fix);
  });

  it("names every IPv6 address, and asks for the IPv4 one the provider assigned when there is none", () => {
    const state = stacks({ ...MULLVAD, "charmarr:vpn.addresses": ["fc00::2/128", "fc00::3/128"] });
    const problem = only(problemsOf(state));
    assert.equal(problem.key, "charmarr:vpn.addresses");
    assert.match(problem.problem, /^fc00::2\/128, fc00::3\/128 are IPv6 addresses; /);
    assert.ok(problem.fix?.startsWith("use the IPv4 address your provider assigned to your key: "), problem.fix);
    assertFixed(state, problem.fix, undefined, { "<IPv4 address>/32": "10.64.0.2/32" });
  });

  it("accepts IPv4 addresses", () => {
    assert.deepEqual(
      problemsOf(stacks({ ...MULLVAD, "charmarr:vpn.addresses": ["10.64.0.2/32", "10.65.0.2/24"] })),
      [],
    );
  });
});

describe("vpn rules: the tunnel MTU fits the pod network on both hops", () => {
  // WireGuard adds 80 bytes, OpenVPN 100, VXLAN 50 (lib/vpn/mtu.ts): the larger bounds the tunnel.
  const OPENVPN = {
    "charmarr:vpn.type": "openvpn",
    "charmarr:vpnPrivateKey": undefined,
    "charmarr:vpnUser": "user+pmp",
    "charmarr:vpnPassword": "password",
  };

  it("accepts vpn.mtu up to the pod MTU minus the tunnel's overhead, and refuses one byte more", () => {
    assert.deepEqual(problemsOf(stacks({ "charmarr:vpn.mtu": 1370 })), []);
    assert.deepEqual(problemsOf(stacks({ ...OPENVPN, "charmarr:vpn.mtu": 1350 })), []);
    const state = stacks({ ...OPENVPN, "charmarr:vpn.mtu": 1351 });
    const problem = only(problemsOf(state));
    assert.equal(problem.key, "charmarr:vpn.mtu");
    assert.match(
      problem.problem,
      /^1351 does not fit the pod network's MTU 1450 .*: a client's packet crosses the pod network inside VXLAN \(50 bytes\) to the gateway, and the gateway sends it on inside OpenVPN \(100 bytes\).* at most 1350 bytes fit/,
    );
    // What goes wrong otherwise, in the words a user can match to what they see.
    assert.match(
      problem.problem,
      /; pod-gateway sets vxlan0 to this value without lowering it, and larger packets fragment or hang TLS while ping and DNS still work$/,
    );
    assert.match(
      problem.fix ?? "",
      /^pulumi config rm --path charmarr:vpn\.mtu {2}\(the program then uses 1350\), or /,
    );
    assertFixed(state, problem.fix, [0]);
  });

  it("offers the core stack's pod MTU as the other fix", () => {
    const state = stacks({ "charmarr:vpn.mtu": 1420 });
    const problem = only(problemsOf(state));
    assert.equal(problem.key, "charmarr:vpn.mtu");
    assert.match(problem.fix ?? "", /pulumi config set --path --stack core charmarr:cluster\.podMtu <mtu>$/);
    assertFixed(state, problem.fix, [1], { "<mtu>": "1500" });
  });

  it("refuses a pod network too small for any tunnel, and accepts the smallest that fits", () => {
    // 1280 (the least a tunnel may carry) + 80 (WireGuard) = 1360.
    assert.deepEqual(problemsOf(stacks({}, { "charmarr:cluster.podMtu": 1360 })), []);
    const state = stacks({}, { "charmarr:cluster.podMtu": 1359 });
    const problem = only(problemsOf(state));
    assert.equal(problem.key, "charmarr:cluster.podMtu");
    assert.match(
      problem.problem,
      /^the pod network's MTU 1359 \(from the core stack\) is too small for a WireGuard tunnel: .*which leaves 1279 bytes, below the 1280 a tunnel needs; the pod network needs an MTU of at least 1360$/,
    );
    assert.match(problem.fix ?? "", /^if 1359 is not your pod network's MTU \(ip link show eth0 in any pod\), /);
    assertFixed(state, problem.fix, undefined, { "<mtu>": "1450" });
  });
});

describe("vpn rules: the resolver is reached only through the tunnel", () => {
  for (const [address, range, core] of [
    ["10.42.3.4", "the cluster's podCidr 10.42.0.0/16", {}],
    ["10.43.0.10", "the cluster's serviceCidr 10.43.0.0/16", {}],
    ["192.168.1.1", "the cluster's lanCidr 192.168.1.0/24", {}],
    ["172.16.0.1", "the VXLAN overlay (vpn.vxlanNetwork) 172.16.0.0/24", {}],
    ["127.0.0.53", "loopback 127.0.0.0/8", {}],
    ["169.254.169.254", "link-local 169.254.0.0/16", {}],
    ["0.1.2.3", '"this network" 0.0.0.0/8', {}],
    ["224.0.0.251", "multicast or reserved space 224.0.0.0/3", {}],
    ["255.255.255.255", "multicast or reserved space 224.0.0.0/3", {}],
  ] as const) {
    it(`refuses ${address}: it lies in ${range}`, () => {
      const state = stacks({ "charmarr:vpn.dnsAddress": address }, core);
      const problem = only(problemsOf(state));
      assert.equal(problem.key, "charmarr:vpn.dnsAddress");
      assert.equal(
        problem.problem,
        `${address} lies in ${range}; the gateway must reach its resolver only through the tunnel, or internet lookups leave from your home address`,
      );
      assert.equal(problem.fix, "pulumi config set --path charmarr:vpn.dnsAddress 1.1.1.1");
      assertFixed(state, problem.fix);
    });
  }

  it("accepts a LAN resolver's address when the core stack names no LAN, and any public resolver", () => {
    assert.deepEqual(
      problemsOf(stacks({ "charmarr:vpn.dnsAddress": "192.168.1.1" }, { "charmarr:cluster.lanCidr": undefined })),
      [],
    );
    for (const address of ["9.9.9.9", "223.255.255.255", "1.0.0.0"]) {
      assert.deepEqual(problemsOf(stacks({ "charmarr:vpn.dnsAddress": address })), [], address);
    }
  });

  it("refuses the VPN server's own address, suggesting another public resolver", () => {
    const custom = {
      ...WITHOUT_PORT_FORWARDING,
      "charmarr:vpn.provider": "custom",
      "charmarr:vpn.addresses": ["10.64.0.2/32"],
      "charmarr:vpn.publicKey": "xScVkH3fUGUv4RrJFfmcqm8rs3SEHr41km6+yffAHw4=",
      "charmarr:vpn.endpointPort": 51820,
    };
    assert.deepEqual(problemsOf(stacks({ ...custom, "charmarr:vpn.endpointIp": "203.0.113.10" })), []);
    const state = stacks({ ...custom, "charmarr:vpn.endpointIp": "1.1.1.1" });
    const problem = only(problemsOf(state));
    assert.equal(problem.key, "charmarr:vpn.dnsAddress");
    assert.match(problem.problem, /^1\.1\.1\.1 is also the VPN server's address \(vpn\.endpointIp\); /);
    assert.equal(
      problem.fix,
      "use the resolver's address inside the tunnel your provider gives, or a public one: pulumi config set --path charmarr:vpn.dnsAddress 9.9.9.9",
    );
    assertFixed(state, problem.fix);
  });
});

describe("vpn rules: the VXLAN overlay has addresses of its own", () => {
  for (const [network, name, range] of [
    ["10.42.7", "podCidr", "10.42.0.0/16"],
    ["10.43.200", "serviceCidr", "10.43.0.0/16"],
    ["192.168.1", "lanCidr", "192.168.1.0/24"],
  ] as const) {
    it(`refuses ${network} inside the cluster's ${name}, suggesting the first free 172.16–31 /24`, () => {
      const state = stacks({ "charmarr:vpn.vxlanNetwork": network });
      const problem = only(problemsOf(state));
      assert.equal(problem.key, "charmarr:vpn.vxlanNetwork");
      assert.equal(
        problem.problem,
        `${network}.0/24 overlaps the cluster's ${name} ${range} (from the core stack); the VXLAN overlay needs addresses no pod, Service or LAN host uses`,
      );
      assert.equal(problem.fix, "pulumi config set --path charmarr:vpn.vxlanNetwork 172.16.0");
      assertFixed(state, problem.fix);
    });
  }

  it("suggests a network clear of every cluster range and the tunnel's own address", () => {
    const state = stacks(
      {
        ...WITHOUT_PORT_FORWARDING,
        "charmarr:vpn.provider": "mullvad",
        "charmarr:vpn.addresses": ["172.16.2.9/32"],
        "charmarr:vpn.vxlanNetwork": "10.42.7",
      },
      { ...NO_LAN_IPS, "charmarr:cluster.lanCidr": "172.16.0.0/23" },
    );
    const problem = only(problemsOf(state));
    assert.equal(problem.fix, "pulumi config set --path charmarr:vpn.vxlanNetwork 172.16.3");
    assertFixed(state, problem.fix);
  });

  it("accepts an overlay beside the LAN when the core stack names none", () => {
    assert.deepEqual(
      problemsOf(stacks({ "charmarr:vpn.vxlanNetwork": "192.168.1" }, { "charmarr:cluster.lanCidr": undefined })),
      [],
    );
  });

  it("suggests nothing it would refuse when every 172.16–31 /24 is taken", () => {
    const problem = only(
      problemsOf(
        stacks(
          { "charmarr:vpn.vxlanNetwork": "172.20.0" },
          { ...NO_LAN_IPS, "charmarr:cluster.lanCidr": "172.16.0.0/12" },
        ),
      ),
    );
    assert.equal(problem.key, "charmarr:vpn.vxlanNetwork");
    assert.equal(problem.fix, "pulumi config set --path charmarr:vpn.vxlanNetwork '<a.b.c>'");
  });

  for (const network of ["8.8.8", "100.128.0", "169.254.1"]) {
    it(`refuses ${network}, outside private address space`, () => {
      const state = stacks({ "charmarr:vpn.vxlanNetwork": network });
      const problem = only(problemsOf(state));
      assert.equal(problem.key, "charmarr:vpn.vxlanNetwork");
      assert.equal(
        problem.problem,
        `${network}.0/24 is not private address space (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10); the overlay between clients and the gateway must not shadow internet or link-local addresses`,
      );
      assertFixed(state, problem.fix);
    });
  }

  it("accepts every private range for the overlay, CGNAT included", () => {
    for (const network of ["10.99.0", "172.31.255", "192.168.77", "100.64.9"]) {
      assert.deepEqual(problemsOf(stacks({ "charmarr:vpn.vxlanNetwork": network })), [], network);
    }
  });

  it("refuses an overlay holding the tunnel's address, the provider's default one included", () => {
    // ProtonVPN's WireGuard address is 10.2.0.2/32 unless set (gluetun v3.41.1 wireguard.go setDefaults).
    const state = stacks({ "charmarr:vpn.vxlanNetwork": "10.2.0" });
    const problem = only(problemsOf(state));
    assert.equal(problem.key, "charmarr:vpn.vxlanNetwork");
    assert.equal(
      problem.problem,
      "10.2.0.0/24 contains the VPN interface address 10.2.0.2/32; the overlay and the tunnel need separate addresses",
    );
    assert.equal(problem.fix, "pulumi config set --path charmarr:vpn.vxlanNetwork 172.16.0");
    assertFixed(state, problem.fix);
  });
});

describe("vpn rules: the kill switch's LAN exception and the tunnel's address against the cluster", () => {
  it("refuses allowLan when the core stack names no LAN; either fix clears it", () => {
    const state = stacks({ "charmarr:vpn.killSwitch.allowLan": true }, { "charmarr:cluster.lanCidr": undefined });
    const problem = only(problemsOf(state));
    assert.equal(problem.key, "charmarr:vpn.killSwitch.allowLan");
    assert.equal(
      problem.problem,
      "is true, but the core stack has no cluster.lanCidr, so there is no LAN range to allow",
    );
    assertFixed(state, problem.fix, [0]);
    assertFixed(state, problem.fix, [1]);
    assert.deepEqual(problemsOf(stacks({ "charmarr:vpn.killSwitch.allowLan": true })), []);
  });

  for (const [address, name, range] of [
    ["10.42.0.2/32", "podCidr", "10.42.0.0/16"],
    ["10.43.9.9/32", "serviceCidr", "10.43.0.0/16"],
    ["192.168.1.77/32", "lanCidr", "192.168.1.0/24"],
  ] as const) {
    it(`refuses a tunnel address inside the cluster's ${name}`, () => {
      const state = stacks({
        ...WITHOUT_PORT_FORWARDING,
        "charmarr:vpn.provider": "mullvad",
        "charmarr:vpn.addresses": [address],
      });
      const problem = only(problemsOf(state));
      assert.equal(problem.key, "charmarr:vpn.addresses");
      assert.equal(
        problem.problem,
        `the VPN interface address ${address} lies inside the cluster's ${name} ${range} (from the core stack); gluetun cannot route the cluster and the tunnel through the same addresses`,
      );
      assertFixed(state, problem.fix, undefined, { "<address>/32": "10.64.0.2/32" });
    });
  }
});
