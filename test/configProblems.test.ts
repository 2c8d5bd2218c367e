import { strict as assert } from "node:assert";
import { split } from "shlex";
import { ConfigError, ConfigProblem, ConfigSource, loadConfig, problemsAgainstCore } from "../lib/config";
import { meshEnrollmentProblems } from "../lib/mesh/enrollment";
import type { DownloadsConfig } from "../lib/config";
import type { PlanConfig } from "../plan/evaluate";
import { CORE_EXAMPLE, DOWNLOADS_EXAMPLE, withConfig } from "./support/plan";

function source(stack: string, config: PlanConfig): ConfigSource {
  return {
    stack,
    project: "charmarr",
    organization: "organization",
    values: config.values,
    isSecret: (key) => config.secretKeys.includes(key),
  };
}

/** The problems of a configuration; none when it is accepted. */
function problemsOf(stack: string, config: PlanConfig): readonly ConfigProblem[] {
  try {
    loadConfig(source(stack, config));
    return [];
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
}

/** `charmarr:gateways.arr.tailscale.tags[0]` → the top-level key and the path inside its object. */
function splitKey(key: string): { top: string; path: (string | number)[] } {
  const [top, ...rest] = key.split(/\.|(?=\[)/);
  return { top, path: rest.map((segment) => (/^\[\d+\]$/.test(segment) ? Number(segment.slice(1, -1)) : segment)) };
}

/** The value a key holds in a configuration, as text. */
function currentValue(config: PlanConfig, key: string): string | undefined {
  const { top, path } = splitKey(key);
  const raw = config.values[top];
  if (path.length === 0 || raw === undefined) {
    return raw;
  }
  const value = path.reduce<unknown>(
    (node, segment) =>
      typeof node === "object" && node !== null ? (node as Record<string, unknown>)[segment] : undefined,
    JSON.parse(raw),
  );
  return value === undefined ? undefined : typeof value === "string" ? value : JSON.stringify(value);
}

/** Applies one `pulumi config set [--path] KEY VALUE` as the CLI would. */
function applySet(config: PlanConfig, command: string): PlanConfig {
  const words = split(command).filter((word) => !word.startsWith("--"));
  assert.deepEqual(words.slice(0, 3), ["pulumi", "config", "set"], command);
  assert.equal(words.length, 5, `not one plain set command: ${command}`);
  const [key, value] = words.slice(3);
  const { top, path } = splitKey(key);
  if (path.length === 0) {
    return withConfig(config, { [top]: value });
  }
  const object = JSON.parse(config.values[top] ?? "{}") as Record<string | number, unknown>;
  let node = object;
  path.slice(0, -1).forEach((segment, index) => {
    node[segment] = node[segment] ?? (typeof path[index + 1] === "number" ? [] : {});
    node = node[segment] as Record<string | number, unknown>;
  });
  node[path[path.length - 1]] = value;
  return withConfig(config, { [top]: JSON.stringify(object) });
}

/** The single `pulumi config set` in a fix, when the fix is (or starts with) exactly one. */
function setCommandIn(fix: string | undefined): string | undefined {
  const match = /pulumi config set(?: --path)? \S+ (?:'[^']*'|\S+)/.exec(fix ?? "");
  return match?.[0];
}

const CORE_REFUSALS: Readonly<Record<string, Record<string, unknown>>> = {
  "Radarr on /sonarr": { "charmarr:apps.radarr.path": "/sonarr" },
  "Sonarr on /radarr": { "charmarr:apps.sonarr.path": "/radarr" },
  "the service range equal to the pod range": {
    "charmarr:cluster.serviceCidr": "10.42.0.0/16",
    "charmarr:cluster.dnsServiceIp": "10.42.0.10",
  },
  "the pod range inside the service range": { "charmarr:cluster.podCidr": "10.43.0.0/24" },
  "kube-dns outside the service range": { "charmarr:cluster.serviceCidr": "10.96.0.0/12" },
  "a public pod range": { "charmarr:cluster.podCidr": "11.42.0.0/16" },
  "the LAN overlapping the pods": { "charmarr:cluster.lanCidr": "10.42.1.0/24" },
  "the arr gateway named like the media gateway": { "charmarr:gateways.arr.tailscale.hostname": "charmarr-media" },
  "the media gateway named like the arr gateway": { "charmarr:gateways.media.tailscale.hostname": "charmarr-arr" },
  "the arr gateway tagged like the media gateway": { "charmarr:gateways.arr.tailscale.tags": ["tag:charmarr-media"] },
  "a gateway LAN IP outside the LAN": { "charmarr:gateways.arr.lanIp": "192.168.2.240" },
  "a host-bits CIDR": { "charmarr:cluster.serviceCidr": "10.43.0.1/16" },
  "a misspelt Recyclarr template": { "charmarr:recyclarr.templates": { radarr: ["hd-bluray-webb"] } },
  "a Recyclarr schedule without its fields": { "charmarr:recyclarr.schedule": "daily" },
  "Recyclarr with nothing to sync": { "charmarr:recyclarr.templates": undefined },
  "Recyclarr templates for a disabled Sonarr": { "charmarr:apps.sonarr.enabled": false },
  "FlareSolverr on without Prowlarr": {
    "charmarr:apps.prowlarr.enabled": false,
    "charmarr:apps.flaresolverr.enabled": true,
  },
  "a path for FlareSolverr, which no gateway serves": { "charmarr:apps.flaresolverr.path": "/flaresolverr" },
};

const DOWNLOADS_REFUSALS: Readonly<Record<string, Record<string, unknown>>> = {
  "the clients in the VPN gateway's default namespace": { "charmarr:namespace": "charmarr-vpn" },
  "the VPN gateway in the clients' namespace": { "charmarr:vpn.namespace": "charmarr-downloads" },
  "SABnzbd on /qbittorrent": { "charmarr:apps.sabnzbd.path": "/qbittorrent" },
  "Prowlarr settings without routing Prowlarr here": { "charmarr:apps.prowlarr.tag": "2.3.5.5327-ls148" },
  "FlareSolverr settings without routing Prowlarr here": { "charmarr:apps.flaresolverr.enabled": false },
  "port forwarding with NordVPN": { "charmarr:vpn.provider": "nordvpn", "charmarr:vpn.portForwarding": true },
  "port forwarding without qBittorrent": {
    "charmarr:vpn.portForwarding": true,
    "charmarr:apps.qbittorrent.enabled": false,
  },
};

describe("config problems: a fix never repeats the current value, and applying it clears the problem", () => {
  for (const [stack, base, refusals] of [
    ["core", CORE_EXAMPLE, CORE_REFUSALS],
    ["downloads", DOWNLOADS_EXAMPLE, DOWNLOADS_REFUSALS],
  ] as const) {
    for (const [title, changes] of Object.entries(refusals)) {
      it(`${stack}: ${title}`, () => {
        const config = withConfig(base, changes);
        const problems = problemsOf(stack, config);
        assert.ok(problems.length > 0, "the configuration was accepted");
        for (const problem of problems) {
          const command = setCommandIn(problem.fix);
          if (command === undefined) {
            continue;
          }
          const [, , , key, value] = split(command).filter((word) => !word.startsWith("--"));
          assert.notEqual(
            value,
            currentValue(config, key),
            `the fix for ${problem.key} repeats the current value: ${problem.fix}`,
          );
          const fixed = problemsOf(stack, applySet(config, command));
          assert.ok(
            !fixed.some((after) => after.key === problem.key && after.problem === problem.problem),
            `${command} does not clear: ${problem.key} ${problem.problem}`,
          );
        }
      });
    }
  }
});

describe("config problems: each names the culprit", () => {
  function only(stack: string, base: PlanConfig, changes: Record<string, unknown>): ConfigProblem {
    const problems = problemsOf(stack, withConfig(base, changes));
    assert.equal(problems.length, 1, problems.map((p) => `${p.key}: ${p.problem}`).join("\n"));
    return problems[0];
  }

  it("blames the app whose path was configured, not the one on its default path", () => {
    const problem = only("core", CORE_EXAMPLE, { "charmarr:apps.radarr.path": "/sonarr" });
    assert.equal(problem.key, "charmarr:apps.radarr.path");
    assert.equal(
      problem.problem,
      "radarr would be served at /sonarr on the arr gateway, which sonarr already uses; each app needs a path of its own",
    );
    assert.equal(problem.fix, "pulumi config set --path charmarr:apps.radarr.path /radarr");
  });

  it("suggests a free path when the app's own default is taken too", () => {
    const problem = only("core", CORE_EXAMPLE, {
      "charmarr:apps.radarr.path": "/sonarr",
      "charmarr:apps.lidarr.path": "/radarr",
    });
    assert.equal(problem.key, "charmarr:apps.radarr.path");
    assert.equal(problem.fix, "pulumi config set --path charmarr:apps.radarr.path /radarr-2");
  });

  it("renames the gateway whose tailnet name is not its own, and gives it its own tag back", () => {
    const hostname = only("core", CORE_EXAMPLE, { "charmarr:gateways.arr.tailscale.hostname": "charmarr-media" });
    assert.equal(hostname.key, "charmarr:gateways.arr.tailscale.hostname");
    assert.equal(hostname.fix, "pulumi config set --path charmarr:gateways.arr.tailscale.hostname charmarr-arr");
    const tag = only("core", CORE_EXAMPLE, { "charmarr:gateways.arr.tailscale.tags": ["tag:charmarr-media"] });
    assert.equal(tag.key, "charmarr:gateways.arr.tailscale.tags[0]");
    assert.equal(tag.fix, "pulumi config set --path 'charmarr:gateways.arr.tailscale.tags[0]' tag:charmarr-arr");
  });

  it("moves the download clients, not the VPN gateway, when the clients took the gateway's default namespace", () => {
    const problem = only("downloads", DOWNLOADS_EXAMPLE, { "charmarr:namespace": "charmarr-vpn" });
    assert.equal(problem.key, "charmarr:namespace");
    assert.equal(problem.fix, "pulumi config set charmarr:namespace charmarr-downloads");
  });

  it("suggests a service range clear of the pods, and kube-dns inside the service range", () => {
    const overlap = only("core", CORE_EXAMPLE, {
      "charmarr:cluster.serviceCidr": "10.42.0.0/16",
      "charmarr:cluster.dnsServiceIp": "10.42.0.10",
    });
    assert.equal(overlap.key, "charmarr:cluster.serviceCidr");
    assert.match(overlap.problem, /^serviceCidr 10\.42\.0\.0\/16 overlaps podCidr 10\.42\.0\.0\/16/);
    assert.match(
      overlap.fix ?? "",
      /copy both from your cluster's settings .*e\.g\. pulumi config set --path charmarr:cluster\.serviceCidr 10\.0\.0\.0\/16$/,
    );
    const dns = only("core", CORE_EXAMPLE, { "charmarr:cluster.serviceCidr": "10.96.0.0/12" });
    assert.equal(dns.key, "charmarr:cluster.dnsServiceIp");
    assert.equal(dns.fix, "pulumi config set --path charmarr:cluster.dnsServiceIp 10.96.0.10");
  });
});

describe("config problems: every problem in one pass", () => {
  it("reports problems of valid keys and the rules between them while other keys are invalid", () => {
    const problems = problemsOf(
      "core",
      withConfig(CORE_EXAMPLE, {
        "charmarr:cluster.podCidr": "10.42.0.0/33",
        "charmarr:cluster.lanCidr": "8.8.8.0/24",
        "charmarr:storage": { library: {} },
        "charmarr:apps.radarr.path": "/sonarr",
        "charmarr:gateways.media.tailscale.tags": ["tag:k8s"],
      }),
    );
    assert.deepEqual(problems.map((p) => p.key).sort(), [
      "charmarr:apps.radarr.path",
      "charmarr:cluster.lanCidr",
      "charmarr:cluster.podCidr",
      "charmarr:gateways.media.tailscale.tags[0]",
      "charmarr:storage.library",
    ]);
  });

  it("reports two gateways sharing a tailnet name while another gateway field is invalid", () => {
    const problems = problemsOf(
      "core",
      withConfig(CORE_EXAMPLE, {
        "charmarr:gateways.arr.lanIp": "192.168.1",
        "charmarr:gateways.media.tailscale.hostname": "charmarr-arr",
      }),
    );
    assert.deepEqual(problems.map((p) => p.key).sort(), [
      "charmarr:gateways.arr.lanIp",
      "charmarr:gateways.media.tailscale.hostname",
    ]);
  });

  it("reports the VPN provider's requirements while another downloads key is invalid", () => {
    const problems = problemsOf(
      "downloads",
      withConfig(DOWNLOADS_EXAMPLE, {
        "charmarr:apps.sabnzbd.path": "no slash",
        "charmarr:vpn.provider": "mullvad",
        "charmarr:vpn.portForwarding": undefined,
        "charmarr:vpn.addresses": undefined,
        "charmarr:coreStack": "a/b/c/d",
      }),
    );
    assert.deepEqual(problems.map((p) => p.key).sort(), [
      "charmarr:apps.sabnzbd.path",
      "charmarr:coreStack",
      "charmarr:vpn.addresses",
    ]);
  });

  it("reports a missing VPN credential while a field of charmarr:vpn is invalid", () => {
    const problems = problemsOf(
      "downloads",
      withConfig(DOWNLOADS_EXAMPLE, { "charmarr:vpn.mtu": 1500, "charmarr:vpnPrivateKey": undefined }),
    );
    assert.deepEqual(problems.map((p) => p.key).sort(), ["charmarr:vpn.mtu", "charmarr:vpnPrivateKey"]);
  });

  it("reports the VPN's clashes with the cluster, the namespaces and the apps against the core stack together", () => {
    const loaded = loadConfig(
      source(
        "downloads",
        withConfig(DOWNLOADS_EXAMPLE, {
          "charmarr:vpn.vxlanNetwork": "10.42.3",
          "charmarr:namespace": "charmarr-core",
          "charmarr:apps.sabnzbd.path": "/radarr",
        }),
      ),
    ) as DownloadsConfig;
    const problems = problemsAgainstCore(loaded, {
      cluster: {
        podCidr: "10.42.0.0/16",
        serviceCidr: "10.43.0.0/16",
        dnsServiceIp: "10.43.0.10",
        domain: "cluster.local",
        podMtu: 1450,
      },
      namespace: "charmarr-core",
      identities: {},
      gateways: {
        admin: {
          name: "admin",
          namespace: "charmarr-core",
          sectionName: "http",
          port: 80,
          principal: "p",
          paths: { "/radarr": "radarr" },
        },
      },
    });
    assert.deepEqual(problems.map((p) => p.key).sort(), [
      "charmarr:apps.sabnzbd.path",
      "charmarr:namespace",
      "charmarr:vpn.vxlanNetwork",
    ]);
  });

  it("moves the core stack's namespace, not the VPN gateway's default one, when they clash", () => {
    const loaded = loadConfig(source("downloads", DOWNLOADS_EXAMPLE)) as DownloadsConfig;
    const cluster = {
      podCidr: "10.42.0.0/16",
      serviceCidr: "10.43.0.0/16",
      dnsServiceIp: "10.43.0.10",
      domain: "cluster.local",
      podMtu: 1450,
    };
    const [problem] = problemsAgainstCore(loaded, {
      cluster,
      namespace: "charmarr-vpn",
      gateways: {},
      identities: {},
    }).filter((p) => p.key === "charmarr:vpn.namespace");
    assert.equal(
      problem.fix,
      "give the core stack a namespace of its own: pulumi config set charmarr:namespace charmarr-core --stack core (then pulumi up --stack core)",
    );
    const [mesh] = meshEnrollmentProblems(
      [{ namespace: "charmarr-vpn", source: "the core stack's namespace", rename: "rename core" }],
      [
        {
          namespace: "charmarr-vpn",
          key: "charmarr:vpn.namespace",
          suggestion: "charmarr-vpn",
          reason: "it stays out",
        },
      ],
    );
    assert.equal(mesh.fix, "rename core");
  });
});
