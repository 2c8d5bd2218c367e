import { strict as assert } from "node:assert";
import { ConfigError, ConfigSource, StackConfig, loadConfig } from "../lib/config";
import {
  CORE_EXAMPLE,
  DOWNLOADS_EXAMPLE,
  assertConfigError,
  planCore,
  planDownloads,
  resourcesOfLastPlan,
  withConfig,
} from "./support/plan";
import { PlanConfig } from "../plan/evaluate";

function source(stack: string, config: PlanConfig): ConfigSource {
  return {
    stack,
    project: "charmarr",
    organization: "organization",
    values: config.values,
    isSecret: (key) => config.secretKeys.includes(key),
  };
}

function load(stack: string, base: PlanConfig, changes: Record<string, unknown> = {}): StackConfig {
  return loadConfig(source(stack, withConfig(base, changes)));
}

/** The problems of a refused configuration, as `key: problem (fix)` lines. */
function refusal(stack: string, base: PlanConfig, changes: Record<string, unknown>): ConfigError {
  try {
    load(stack, base, changes);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail("configuration was accepted");
}

function problemFor(error: ConfigError, key: string) {
  const problem = error.problems.find((p) => p.key === key);
  assert.ok(problem, `no problem reported for ${key}; got: ${error.problems.map((p) => p.key).join(", ")}`);
  return problem;
}

describe("config: the core stack", () => {
  it("accepts the shipped example and fills defaults", () => {
    const config = load("core", CORE_EXAMPLE, {
      "charmarr:cluster.domain": undefined,
      "charmarr:namespace": undefined,
    });
    assert.equal(config.role, "core");
    assert.equal(config.namespace, "charmarr-core");
    assert.equal(config.role === "core" && config.cluster.domain, "cluster.local");
  });

  it("takes the role from the stack name, or from charmarr:role", () => {
    const base = withConfig(CORE_EXAMPLE, { "charmarr:role": undefined });
    assert.equal(loadConfig(source("core", base)).role, "core");
    assert.equal(loadConfig(source("home-core", withConfig(base, { "charmarr:role": "core" }))).role, "core");
  });

  it("refuses a stack whose name is no role when charmarr:role is unset", () => {
    const error = refusal("prod", CORE_EXAMPLE, { "charmarr:role": undefined });
    const problem = problemFor(error, "charmarr:role");
    assert.match(problem.problem, /stack's name "prod" is not a role \(core or downloads\)/);
    assert.equal(problem.fix, "pulumi config set charmarr:role core  (or downloads)");
  });

  it("refuses an unknown role with a suggestion", () => {
    const problem = problemFor(refusal("core", CORE_EXAMPLE, { "charmarr:role": "downlods" }), "charmarr:role");
    assert.equal(problem.problem, `"downlods" is not a role; use core or downloads`);
    assert.equal(problem.fix, "pulumi config set charmarr:role downloads");
  });

  for (const [field, value, message, fix] of [
    [
      "podCidr",
      "10.42.0.0/33",
      `"10.42.0.0/33" is not an IPv4 CIDR block (a.b.c.d/n with n from 0 to 32)`,
      "pulumi config set --path charmarr:cluster.podCidr 10.42.0.0/16",
    ],
    ["podCidr", "10.42.0", `"10.42.0" is not an IPv4 CIDR block`, "10.42.0.0/16"],
    [
      "serviceCidr",
      "10.43.0.1/16",
      `"10.43.0.1/16" has host bits set; the block it names is 10.43.0.0/16`,
      "pulumi config set --path charmarr:cluster.serviceCidr 10.43.0.0/16",
    ],
    ["lanCidr", "192.168.1.0/24/1", `"192.168.1.0/24/1" is not an IPv4 CIDR block`, "192.168.1.0/24"],
    [
      "dnsServiceIp",
      "10.43.0.300",
      `"10.43.0.300" is not an IPv4 address (a.b.c.d)`,
      "pulumi config set --path charmarr:cluster.dnsServiceIp 10.43.0.10",
    ],
    ["domain", "Cluster_Local", `"Cluster_Local" is not a DNS domain`, "cluster.local"],
  ] as const) {
    it(`refuses cluster.${field} = ${value}`, () => {
      const problem = problemFor(
        refusal("core", CORE_EXAMPLE, { [`charmarr:cluster.${field}`]: value }),
        `charmarr:cluster.${field}`,
      );
      assert.ok(problem.problem.startsWith(message), problem.problem);
      assert.ok(problem.fix?.includes(fix), problem.fix);
    });
  }

  it("refuses a dnsServiceIp outside the service CIDR", () => {
    const problem = problemFor(
      refusal("core", CORE_EXAMPLE, { "charmarr:cluster.dnsServiceIp": "10.42.0.10" }),
      "charmarr:cluster.dnsServiceIp",
    );
    assert.match(
      problem.problem,
      /10\.42\.0\.10 is not inside serviceCidr 10\.43\.0\.0\/16; it must be the ClusterIP of the kube-dns Service/,
    );
  });

  it("refuses overlapping pod and service CIDRs", () => {
    const problem = problemFor(
      refusal("core", CORE_EXAMPLE, {
        "charmarr:cluster.serviceCidr": "10.42.128.0/17",
        "charmarr:cluster.dnsServiceIp": "10.42.128.10",
      }),
      "charmarr:cluster.serviceCidr",
    );
    assert.match(problem.problem, /serviceCidr 10\.42\.128\.0\/17 overlaps podCidr 10\.42\.0\.0\/16/);
  });

  it("refuses a LAN CIDR that overlaps the cluster's ranges", () => {
    const problem = problemFor(
      refusal("core", CORE_EXAMPLE, { "charmarr:cluster.lanCidr": "10.0.0.0/8" }),
      "charmarr:cluster.lanCidr",
    );
    assert.match(problem.problem, /lanCidr 10\.0\.0\.0\/8 overlaps podCidr/);
  });

  for (const [field, value] of [
    ["podCidr", "100.0.0.0/8"],
    ["serviceCidr", "11.43.0.0/16"],
    ["lanCidr", "64.0.0.0/2"],
  ] as const) {
    it(`refuses a public ${field} (${value}): traffic to cluster ranges bypasses the VPN`, () => {
      const changes: Record<string, unknown> = { [`charmarr:cluster.${field}`]: value };
      if (field === "serviceCidr") {
        changes["charmarr:cluster.dnsServiceIp"] = "11.43.0.10";
      }
      const problem = problemFor(refusal("core", CORE_EXAMPLE, changes), `charmarr:cluster.${field}`);
      assert.equal(
        problem.problem,
        `${value} is not private address space (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10); traffic to the cluster's ranges bypasses the VPN, so a public range here would leave with your real IP`,
      );
    });
  }

  it("accepts private and shared (CGNAT) address space for the cluster", () => {
    const config = load("core", CORE_EXAMPLE, {
      "charmarr:cluster.podCidr": "100.64.0.0/16",
      "charmarr:cluster.lanCidr": "172.20.0.0/16",
      "charmarr:gateways.arr.lanIp": "172.20.0.240",
      "charmarr:gateways.media.lanIp": "172.20.0.241",
      "charmarr:gateways.admin.lanIp": "172.20.0.242",
      "charmarr:apps.plex.lanIp": "172.20.0.243",
    });
    assert.equal(config.role === "core" && config.cluster.podCidr, "100.64.0.0/16");
  });

  it("requires the cluster facts", () => {
    const error = refusal("core", CORE_EXAMPLE, { "charmarr:cluster": undefined });
    const problem = problemFor(error, "charmarr:cluster");
    assert.equal(problem.problem, "is required but not set");
    const missingField = problemFor(
      refusal("core", CORE_EXAMPLE, { "charmarr:cluster.podCidr": undefined }),
      "charmarr:cluster.podCidr",
    );
    assert.equal(missingField.fix, "pulumi config set --path charmarr:cluster.podCidr 10.42.0.0/16");
  });

  it("refuses a cluster value that is text instead of an object", () => {
    const problem = problemFor(
      refusal("core", CORE_EXAMPLE, { "charmarr:cluster": "10.42.0.0/16" }),
      "charmarr:cluster",
    );
    assert.equal(problem.problem, `must be an object, not the text "10.42.0.0/16"`);
    assert.equal(
      problem.fix,
      "set its fields one by one, e.g. pulumi config set --path charmarr:cluster.podCidr 10.42.0.0/16",
    );
  });

  it("refuses a typo inside an object instead of ignoring it", () => {
    const problem = problemFor(
      refusal("core", CORE_EXAMPLE, { "charmarr:cluster.dnsServiceIP": "10.43.0.10" }),
      "charmarr:cluster.dnsServiceIP",
    );
    assert.match(problem.problem, /is not a known setting \(did you mean dnsServiceIp\?\)/);
    assert.equal(
      problem.fix,
      "pulumi config rm --path charmarr:cluster.dnsServiceIP and set charmarr:cluster.dnsServiceIp instead",
    );
  });

  it("refuses an unknown top-level key with a suggestion", () => {
    const problem = problemFor(refusal("core", CORE_EXAMPLE, { "charmarr:namepsace": "x" }), "charmarr:namepsace");
    assert.match(
      problem.problem,
      /is not a setting of the core stack \(did you mean charmarr:namespace\?\); it would be silently ignored/,
    );
    assert.equal(problem.fix, "pulumi config rm charmarr:namepsace and set charmarr:namespace instead");
  });

  it("refuses downloads-only keys on the core stack", () => {
    const problem = problemFor(
      refusal("core", CORE_EXAMPLE, { "charmarr:vpn": { provider: "mullvad" } }),
      "charmarr:vpn",
    );
    assert.equal(problem.problem, "belongs to the downloads stack, not to this core stack");
    assert.equal(problem.fix, "pulumi config rm charmarr:vpn, and set it on the downloads stack instead");
    const indexers = problemFor(
      refusal("core", CORE_EXAMPLE, { "charmarr:indexers": { routeThroughVpn: true } }),
      "charmarr:indexers",
    );
    assert.deepEqual(
      [indexers.problem, indexers.fix],
      [
        "belongs to the downloads stack, not to this core stack",
        "pulumi config rm charmarr:indexers, and set it on the downloads stack instead",
      ],
    );
  });

  it("refuses an invalid namespace name", () => {
    const problem = problemFor(
      refusal("core", CORE_EXAMPLE, { "charmarr:namespace": "Charmarr_Core" }),
      "charmarr:namespace",
    );
    assert.match(problem.problem, /"Charmarr_Core" is not a valid Kubernetes namespace name/);
  });

  for (const [namespace, owner] of [
    ["kube-system", "Kubernetes' own components"],
    ["default", "Kubernetes' default namespace"],
    ["tailscale", "a platform add-on (charmarr:platform)"],
    ["istio-system", "a platform add-on (charmarr:platform)"],
  ] as const) {
    it(`refuses the reserved namespace ${namespace} for any of the stacks' namespaces`, () => {
      const core = problemFor(refusal("core", CORE_EXAMPLE, { "charmarr:namespace": namespace }), "charmarr:namespace");
      assert.equal(core.problem, `"${namespace}" is reserved for ${owner}; Charmarr needs a namespace of its own`);
      assert.equal(core.fix, "pulumi config set charmarr:namespace charmarr-core");
      const downloads = problemFor(
        refusal("downloads", DOWNLOADS_EXAMPLE, { "charmarr:namespace": namespace }),
        "charmarr:namespace",
      );
      assert.equal(downloads.fix, "pulumi config set charmarr:namespace charmarr-downloads");
      const vpn = problemFor(
        refusal("downloads", DOWNLOADS_EXAMPLE, { "charmarr:vpn.namespace": namespace }),
        "charmarr:vpn.namespace",
      );
      assert.equal(vpn.fix, "pulumi config set --path charmarr:vpn.namespace charmarr-vpn");
    });
  }

  it("refuses a gateway LAN IP inside the cluster's Service range", () => {
    const problem = problemFor(
      refusal("core", CORE_EXAMPLE, { "charmarr:gateways.admin.lanIp": "10.43.0.10" }),
      "charmarr:gateways.admin.lanIp",
    );
    assert.equal(
      problem.problem,
      "10.43.0.10 lies in the cluster's serviceCidr 10.43.0.0/16; a gateway's LAN IP must be a free address on your LAN",
    );
    assert.equal(problem.fix, "pulumi config set --path charmarr:gateways.admin.lanIp 192.168.1.242");
  });

  it("refuses a gateway LAN IP outside the LAN, and accepts any when the LAN is not configured", () => {
    const problem = problemFor(
      refusal("core", CORE_EXAMPLE, { "charmarr:gateways.arr.lanIp": "192.168.2.240" }),
      "charmarr:gateways.arr.lanIp",
    );
    assert.equal(
      problem.problem,
      "192.168.2.240 is outside lanCidr 192.168.1.0/24; MetalLB announces the gateway's IP on your LAN, so it must belong to it",
    );
    assert.equal(
      problem.fix,
      "pick a free address of 192.168.1.0/24 outside your router's DHCP range: pulumi config set --path charmarr:gateways.arr.lanIp <address>",
    );
    assert.equal(
      load("core", CORE_EXAMPLE, {
        "charmarr:gateways.arr.lanIp": "192.168.2.240",
        "charmarr:cluster.lanCidr": undefined,
      }).role,
      "core",
    );
  });

  it("refuses a tailnet machine name longer than 63 characters", () => {
    const problem = problemFor(
      refusal("core", CORE_EXAMPLE, { "charmarr:gateways.arr.tailscale.hostname": "a".repeat(64) }),
      "charmarr:gateways.arr.tailscale.hostname",
    );
    assert.match(problem.problem, /is longer than 63 characters, the limit for a tailnet machine name/);
  });

  it("ignores other namespaces' keys (providers read their own)", () => {
    assert.equal(load("core", CORE_EXAMPLE, { "kubernetes:context": "homelab" }).role, "core");
  });

  it("reports every problem at once", () => {
    const error = refusal("core", CORE_EXAMPLE, {
      "charmarr:cluster.podCidr": "bad",
      "charmarr:namespace": "Bad",
      "charmarr:typo": 1,
    });
    assert.deepEqual(error.problems.map((p) => p.key).sort(), [
      "charmarr:cluster.podCidr",
      "charmarr:namespace",
      "charmarr:typo",
    ]);
    assert.match(error.message, /^Invalid configuration for stack "core" \(3 problems\):/);
  });
});

describe("config: the downloads stack", () => {
  it("accepts the shipped example and fills defaults", () => {
    const config = load("downloads", DOWNLOADS_EXAMPLE, {
      "charmarr:coreStack": undefined,
      "charmarr:vpn.vxlanId": undefined,
    });
    assert.equal(config.role, "downloads");
    if (config.role !== "downloads") return;
    assert.equal(config.coreStack, "organization/charmarr/core");
    assert.equal(config.vpn.vxlanId, 42);
    assert.equal(config.vpn.vxlanNetwork, "172.16.0");
    assert.equal(config.vpn.namespace, "charmarr-vpn");
    assert.equal(config.vpn.type, "wireguard");
  });

  it("refuses cluster facts on the downloads stack: they come from core", () => {
    const problem = problemFor(
      refusal("downloads", DOWNLOADS_EXAMPLE, { "charmarr:cluster": { podCidr: "10.42.0.0/16" } }),
      "charmarr:cluster",
    );
    assert.equal(
      problem.problem,
      "belongs to the core stack, not to this downloads stack; the downloads stack reads the cluster facts from the core stack's outputs",
    );
  });

  for (const [value, message] of [
    [0, "must be at least 1"],
    [16777216, "must be at most 16777215"],
    [4.5, "must be a whole number"],
    ["forty-two", `"forty-two" is not a whole number`],
  ] as const) {
    it(`refuses vpn.vxlanId = ${JSON.stringify(value)}`, () => {
      const problem = problemFor(
        refusal("downloads", DOWNLOADS_EXAMPLE, { "charmarr:vpn.vxlanId": value }),
        "charmarr:vpn.vxlanId",
      );
      assert.ok(problem.problem.includes(message), problem.problem);
      assert.equal(problem.fix, "pulumi config set --path charmarr:vpn.vxlanId 42");
    });
  }

  it("accepts a quoted number for vpn.vxlanId", () => {
    const config = load("downloads", DOWNLOADS_EXAMPLE, { "charmarr:vpn.vxlanId": "7" });
    assert.equal(config.role === "downloads" && config.vpn.vxlanId, 7);
  });

  it("refuses a VXLAN network that is not three octets", () => {
    const problem = problemFor(
      refusal("downloads", DOWNLOADS_EXAMPLE, { "charmarr:vpn.vxlanNetwork": "172.16.0.0/24" }),
      "charmarr:vpn.vxlanNetwork",
    );
    assert.match(
      problem.problem,
      /"172\.16\.0\.0\/24" is not the first three octets of an IPv4 \/24 \(e\.g\. 172\.16\.0\)/,
    );
  });

  it("refuses an unknown provider with a suggestion", () => {
    const problem = problemFor(
      refusal("downloads", DOWNLOADS_EXAMPLE, { "charmarr:vpn.provider": "mulvad" }),
      "charmarr:vpn.provider",
    );
    assert.match(problem.problem, /"mulvad" is not one of: "mullvad", .* \(did you mean "mullvad"\?\)/);
    assert.equal(problem.fix, "pulumi config set --path charmarr:vpn.provider mullvad");
  });

  it("refuses a credential stored in plain text", () => {
    const config = withConfig(DOWNLOADS_EXAMPLE, { "charmarr:vpnPassword": "hunter2" });
    const plain = { ...config, secretKeys: config.secretKeys.filter((key) => key !== "charmarr:vpnPassword") };
    try {
      loadConfig(source("downloads", plain));
      assert.fail("accepted a plain-text password");
    } catch (error) {
      const problem = problemFor(error as ConfigError, "charmarr:vpnPassword");
      assert.match(
        problem.problem,
        /is stored in plain text in the stack file; it is a credential and must be a Pulumi secret/,
      );
      assert.ok(problem.fix?.startsWith("pulumi config set --secret charmarr:vpnPassword '<value>'"), problem.fix);
      assert.ok(!(error as Error).message.includes("hunter2"), "the message must not echo the secret");
    }
  });

  it("keeps credentials as Pulumi secrets", async () => {
    const config = load("downloads", DOWNLOADS_EXAMPLE);
    assert.ok(config.role === "downloads" && config.vpnSecrets.privateKey);
  });

  it("refuses a VPN namespace equal to the clients' namespace", () => {
    const problem = problemFor(
      refusal("downloads", DOWNLOADS_EXAMPLE, { "charmarr:vpn.namespace": "charmarr-downloads" }),
      "charmarr:vpn.namespace",
    );
    assert.match(
      problem.problem,
      /is also the download clients' namespace; the VPN gateway needs a namespace of its own that stays out of the mesh/,
    );
  });

  it("refuses a malformed core stack name", () => {
    const problem = problemFor(
      refusal("downloads", DOWNLOADS_EXAMPLE, { "charmarr:coreStack": "a/b/c/d" }),
      "charmarr:coreStack",
    );
    assert.match(problem.problem, /is not a stack name/);
  });
});

describe("config: rules that need the core stack's facts", () => {
  it("refuses a VXLAN network inside the pod CIDR, suggesting a free one", async () => {
    await assertConfigError(
      planDownloads({ "charmarr:vpn.vxlanNetwork": "10.42.7" }),
      "charmarr:vpn.vxlanNetwork",
      "10.42.7.0/24 overlaps the cluster's podCidr 10.42.0.0/16 (from the core stack)",
      "pulumi config set --path charmarr:vpn.vxlanNetwork 172.16.0",
    );
  });

  it("refuses a VXLAN network inside the LAN, and suggests one clear of every range", async () => {
    await assertConfigError(
      planDownloads({ "charmarr:vpn.vxlanNetwork": "192.168.1" }, { "charmarr:cluster.lanCidr": "192.168.1.0/24" }),
      "overlaps the cluster's lanCidr 192.168.1.0/24",
    );
    await assertConfigError(
      planDownloads(
        { "charmarr:vpn.vxlanNetwork": "172.16.0" },
        { "charmarr:cluster.lanCidr": "172.16.0.0/23", "charmarr:gateways": {}, "charmarr:apps.plex.lanIp": undefined },
      ),
      "overlaps the cluster's lanCidr 172.16.0.0/23",
      "vxlanNetwork 172.16.2",
    );
  });

  for (const network of ["169.254.7", "8.8.8", "127.0.0"]) {
    it(`refuses a VXLAN network outside private address space (${network})`, async () => {
      await assertConfigError(
        planDownloads({ "charmarr:vpn.vxlanNetwork": network }),
        "charmarr:vpn.vxlanNetwork",
        `${network}.0/24 is not private address space`,
        "pulumi config set --path charmarr:vpn.vxlanNetwork 172.16.0",
      );
    });
  }

  it("refuses a VXLAN network that contains the tunnel's own address, suggesting one clear of it", async () => {
    await assertConfigError(
      planDownloads({ "charmarr:vpn.vxlanNetwork": "172.16.0", "charmarr:vpn.addresses": ["172.16.0.9/32"] }),
      "172.16.0.0/24 contains the VPN interface address 172.16.0.9/32; the overlay and the tunnel need separate addresses",
      "pulumi config set --path charmarr:vpn.vxlanNetwork 172.16.1",
    );
  });

  it("refuses a downloads namespace equal to the core namespace", async () => {
    await assertConfigError(
      planDownloads({ "charmarr:namespace": "charmarr-core" }),
      `"charmarr-core" is the core stack's namespace`,
    );
  });

  it("creates nothing when the configuration is refused", async () => {
    await assertConfigError(planCore({ "charmarr:cluster.podCidr": "bad" }), "charmarr:cluster.podCidr");
    assert.deepEqual(resourcesOfLastPlan(), []);
    await assertConfigError(planDownloads({ "charmarr:vpn.vxlanNetwork": "10.42.7" }), "charmarr:vpn.vxlanNetwork");
    assert.deepEqual(
      resourcesOfLastPlan().map((r) => r.type),
      ["pulumi:pulumi:StackReference"],
      "only the read of the core stack may happen before the cross-stack rules pass",
    );
  });
});
