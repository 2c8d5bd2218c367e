import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, ConfigProblem, ConfigSource, loadConfig } from "../lib/config";
import type { PlanConfig, StackPlan } from "../plan/evaluate";
import { portFollowerAuthFile } from "../lib/vpn/portForward";
import { DOWNLOADS_EXAMPLE, WITHOUT_PORT_FORWARDING, manifestOf, planDownloads, withConfig } from "./support/plan";

function source(config: PlanConfig): ConfigSource {
  return {
    stack: "downloads",
    project: "charmarr",
    organization: "organization",
    values: config.values,
    isSecret: (key) => config.secretKeys.includes(key),
  };
}

/** The problems of the example with `changes`; none when it is accepted. */
function problemsWith(changes: Record<string, unknown>): readonly ConfigProblem[] {
  try {
    loadConfig(source(withConfig(DOWNLOADS_EXAMPLE, changes, ["charmarr:vpnUser", "charmarr:vpnPassword"])));
    return [];
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
}

const WIREGUARD_KEY = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
const PROTONVPN_WIREGUARD = {
  "charmarr:vpn.provider": "protonvpn",
  "charmarr:vpn.type": "wireguard",
  "charmarr:vpn.addresses": undefined,
  "charmarr:vpnPrivateKey": WIREGUARD_KEY,
};
const OPENVPN = {
  "charmarr:vpn.type": "openvpn",
  "charmarr:vpn.addresses": undefined,
  "charmarr:vpnPrivateKey": undefined,
  "charmarr:vpnUser": "user",
  "charmarr:vpnPassword": "password",
};

describe("config: charmarr:vpn.portForwarding", () => {
  it("is off by default and accepted for ProtonVPN (WireGuard or OpenVPN) and Private Internet Access (OpenVPN)", () => {
    for (const changes of [
      PROTONVPN_WIREGUARD,
      { ...OPENVPN, "charmarr:vpn.provider": "protonvpn" },
      { ...OPENVPN, "charmarr:vpn.provider": "private internet access" },
    ]) {
      assert.deepEqual(problemsWith({ ...changes, "charmarr:vpn.portForwarding": true }), [], JSON.stringify(changes));
    }
    const config = loadConfig(source(withConfig(DOWNLOADS_EXAMPLE, { "charmarr:vpn.portForwarding": undefined })));
    assert.equal(config.role === "downloads" && config.vpn.portForwarding, false);
  });

  for (const provider of ["mullvad", "nordvpn", "surfshark", "custom"]) {
    it(`is refused for ${provider}, naming the providers gluetun forwards a port from and the fix`, () => {
      const changes: Record<string, unknown> =
        provider === "custom"
          ? {
              "charmarr:vpn.provider": "custom",
              "charmarr:vpn.publicKey": WIREGUARD_KEY,
              "charmarr:vpn.endpointIp": "203.0.113.10",
              "charmarr:vpn.endpointPort": 51820,
              "charmarr:vpn.addresses": ["10.8.0.2/32"],
            }
          : { "charmarr:vpn.provider": provider, "charmarr:vpn.addresses": ["10.64.222.21/32"] };
      const problems = problemsWith({ ...changes, "charmarr:vpn.portForwarding": true });
      assert.deepEqual(problems, [
        {
          key: "charmarr:vpn.portForwarding",
          problem:
            `is true, but provider "${provider}" forwards no port through gluetun v3.41.1, which gets one only from ` +
            "perfect privacy, private internet access, privatevpn, protonvpn; of these this program runs " +
            "private internet access (OpenVPN) and protonvpn (WireGuard or OpenVPN)",
          fix:
            "pulumi config set --path charmarr:vpn.provider protonvpn with that provider's credentials (docs/vpn.md), " +
            "or turn it off: pulumi config set --path charmarr:vpn.portForwarding false",
        },
      ]);
    });
  }

  it("is refused with qBittorrent disabled: the port would go nowhere", () => {
    const problems = problemsWith({
      ...PROTONVPN_WIREGUARD,
      "charmarr:vpn.portForwarding": true,
      "charmarr:apps.qbittorrent.enabled": false,
    });
    assert.deepEqual(problems, [
      {
        key: "charmarr:vpn.portForwarding",
        problem:
          "is true, but qBittorrent, the app the forwarded port goes to, is disabled (charmarr:apps.qbittorrent.enabled)",
        fix:
          "pulumi config set --path charmarr:apps.qbittorrent.enabled true, " +
          "or turn port forwarding off: pulumi config set --path charmarr:vpn.portForwarding false",
      },
    ]);
  });

  it("reports a wrong provider and a disabled qBittorrent in one pass", () => {
    const problems = problemsWith({
      "charmarr:vpn.portForwarding": true,
      "charmarr:vpn.provider": "mullvad",
      "charmarr:vpn.addresses": ["10.64.222.21/32"],
      "charmarr:apps.qbittorrent.enabled": false,
    });
    assert.equal(problems.length, 2);
  });
});

interface PlannedContainer {
  name: string;
  image: string;
  command?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PlannedPod {
  containers: PlannedContainer[];
  initContainers?: PlannedContainer[];
  volumes?: { name: string; secret?: { secretName: string }; configMap?: { name: string } }[];
}

function podOf(plan: StackPlan, kind: string, name: string): PlannedPod {
  return (manifestOf(plan, kind, name).spec as { template: { spec: PlannedPod } }).template.spec;
}

function envOf(container: PlannedContainer): Record<string, string> {
  return Object.fromEntries((container.env ?? []).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])));
}

function container(pod: PlannedPod, name: string): PlannedContainer {
  const found = pod.containers.find((c) => c.name === name);
  assert.ok(found, `no container ${name}`);
  return found;
}

describe("port forwarding: the plan (the example forwards a port with ProtonVPN)", () => {
  let plan: StackPlan;
  let without: StackPlan;
  before(async () => {
    plan = await planDownloads();
    without = await planDownloads(WITHOUT_PORT_FORWARDING);
  });

  it("gluetun asks for a port from port-forwarding servers only, and runs the script when it comes and goes", () => {
    const gluetun = envOf(container(podOf(plan, "Deployment", "vpn-gateway"), "gluetun"));
    assert.equal(gluetun.VPN_SERVICE_PROVIDER, "protonvpn");
    assert.equal(gluetun.VPN_PORT_FORWARDING, "on");
    assert.equal(gluetun.PORT_FORWARD_ONLY, "on");
    assert.equal(gluetun.VPN_PORT_FORWARDING_UP_COMMAND, "/bin/sh /iptables/port-forward.sh up {{PORTS}}");
    assert.equal(gluetun.VPN_PORT_FORWARDING_DOWN_COMMAND, "/bin/sh /iptables/port-forward.sh down {{PORTS}}");
    const files = manifestOf(plan, "ConfigMap", "vpn-gateway-post-rules").data as Record<string, string>;
    assert.deepEqual(Object.keys(files).sort(), ["port-forward.sh", "post-rules.txt"]);
    const off = envOf(container(podOf(without, "Deployment", "vpn-gateway"), "gluetun"));
    assert.deepEqual(
      Object.keys(off).filter((name) => /PORT_FORWARD|AUTH_CONFIG/.test(name)),
      [],
      "no port forwarding without the setting",
    );
  });

  it("the forwarded port arriving on the tunnel goes to qBittorrent's fixed overlay address, the same port, and nothing else", () => {
    const script = (manifestOf(plan, "ConfigMap", "vpn-gateway-post-rules").data as Record<string, string>)[
      "port-forward.sh"
    ];
    assert.match(script, /iptables -t nat -I PREROUTING -i wg0 -j CHARMARR-PORT-FORWARD/);
    assert.match(
      script,
      /iptables -t nat -A CHARMARR-PORT-FORWARD -p "\$protocol" --dport "\$port" -j DNAT --to-destination "172\.16\.0\.10:\$port"/,
    );
    assert.doesNotMatch(script, /eth0/, "nothing on the pod network (the home address) is forwarded");
    assert.match(script, /if \[ "\$port" = 8080 \]; then/, "qBittorrent's WebUI port is never forwarded");
    const postRules = (manifestOf(plan, "ConfigMap", "vpn-gateway-post-rules").data as Record<string, string>)[
      "post-rules.txt"
    ];
    assert.match(
      postRules,
      /^iptables -I FORWARD -i wg0 -o vxlan0 -d 172\.16\.0\.10\/32 -m conntrack --ctstate DNAT -j ACCEPT$/m,
    );
    const client = manifestOf(plan, "ConfigMap", "vpn-gateway-client").data as Record<string, string>;
    assert.match(client["nat.conf"], /^qbittorrent 10$/m);
    assert.equal(
      (manifestOf(without, "ConfigMap", "vpn-gateway-client").data as Record<string, string>)["nat.conf"],
      undefined,
    );
  });

  it("the port follower: no capability, no root, nothing writable, secrets by reference, gluetun by the gateway's name", () => {
    const pod = podOf(plan, "StatefulSet", "qbittorrent");
    const follower = container(pod, "vpn-port-follower");
    assert.equal(follower.image, container(pod, "qbittorrent").image, "qBittorrent's own image: nothing more to pull");
    assert.deepEqual(follower.command, ["/bin/sh", "/charmarr/vpn/port-follow.sh"]);
    const context = follower.securityContext as {
      runAsNonRoot?: boolean;
      runAsUser?: number;
      allowPrivilegeEscalation?: boolean;
      readOnlyRootFilesystem?: boolean;
      capabilities?: { drop?: string[]; add?: string[] };
    };
    assert.equal(context.runAsNonRoot, true);
    assert.notEqual(context.runAsUser ?? 0, 0, "not root, whatever the image says");
    assert.equal(context.allowPrivilegeEscalation, false);
    assert.equal(context.readOnlyRootFilesystem, true);
    assert.deepEqual(context.capabilities, { drop: ["ALL"] }, "no capability at all");
    assert.deepEqual(
      Object.fromEntries((follower.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom?.secretKeyRef])),
      {
        GLUETUN_PORTFORWARD_URL: "http://vpn-gateway.charmarr-vpn.svc.cluster.local:8000/v1/portforward",
        GLUETUN_API_KEY: { name: "vpn-gateway-port-follower", key: "api-key" },
        QBITTORRENT_WEBUI_PORT: "8080",
        QBITTORRENT_USERNAME: { name: "qbittorrent-credentials", key: "username" },
        QBITTORRENT_PASSWORD: { name: "qbittorrent-credentials", key: "password" },
        PORT_FOLLOW_INTERVAL_SECONDS: "5",
      },
    );
    assert.equal(
      podOf(without, "StatefulSet", "qbittorrent").containers.some((c) => c.name === "vpn-port-follower"),
      false,
    );
    assert.equal(
      podOf(plan, "StatefulSet", "sabnzbd").containers.some((c) => c.name === "vpn-port-follower"),
      false,
      "only qBittorrent takes the port",
    );
  });

  it("the follower's control-server key opens GET /v1/portforward only: gluetun reads it from its auth file, mounted from a Secret", () => {
    const gateway = podOf(plan, "Deployment", "vpn-gateway");
    const gluetun = container(gateway, "gluetun");
    assert.equal(envOf(gluetun).HTTP_CONTROL_SERVER_AUTH_CONFIG_FILEPATH, "/charmarr/control-auth/config.toml");
    const mount = (gluetun.volumeMounts ?? []).find((m) => m.mountPath === "/charmarr/control-auth");
    assert.ok(mount);
    assert.deepEqual(gateway.volumes?.find((v) => v.name === mount.name)?.secret, {
      secretName: "vpn-gateway-port-follower",
    });
    assert.equal(
      portFollowerAuthFile("k3y"),
      [
        "# Generated by Charmarr: the control-server role of qBittorrent's port follower.",
        "[[roles]]",
        'name = "qbittorrent-port-follower"',
        'auth = "apikey"',
        'apikey = "k3y"',
        'routes = ["GET /v1/portforward"]',
        "",
      ].join("\n"),
    );
  });
});

describe("port forwarding: port-forward.sh, gluetun's up and down command (iptables recorded)", () => {
  let dir: string;
  let script: string;
  before(async () => {
    const plan = await planDownloads();
    dir = mkdtempSync(join(tmpdir(), "port-forward-"));
    script = join(dir, "port-forward.sh");
    writeFileSync(
      script,
      (manifestOf(plan, "ConfigMap", "vpn-gateway-post-rules").data as Record<string, string>)["port-forward.sh"],
    );
    // An iptables that records its arguments; `-C` (check) finds nothing, `-N` succeeds.
    writeFileSync(
      join(dir, "iptables"),
      '#!/bin/sh\necho "$*" >> "$IPTABLES_LOG"\ncase " $* " in *" -C "*) exit 1 ;; esac\nexit 0\n',
      { mode: 0o755 },
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs the script as gluetun would (`/bin/sh port-forward.sh <action> <ports>`); its exit code and iptables calls. */
  function runScript(...args: string[]): { code: number; calls: string[] } {
    const log = join(dir, `log-${args.join("-")}`);
    const result = spawnSync("sh", [script, ...args], {
      env: { PATH: `${dir}:${process.env.PATH}`, IPTABLES_LOG: log },
      encoding: "utf8",
    });
    return { code: result.status ?? -1, calls: existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : [] };
  }

  it("up: empties the chain, then DNATs the first forwarded port, TCP and UDP, from the tunnel to qBittorrent", () => {
    const { code, calls } = runScript("up", "42000,42001,42002");
    assert.equal(code, 0);
    assert.deepEqual(calls.slice(-3), [
      "-t nat -F CHARMARR-PORT-FORWARD",
      "-t nat -A CHARMARR-PORT-FORWARD -p tcp --dport 42000 -j DNAT --to-destination 172.16.0.10:42000",
      "-t nat -A CHARMARR-PORT-FORWARD -p udp --dport 42000 -j DNAT --to-destination 172.16.0.10:42000",
    ]);
    assert.ok(calls.includes("-t nat -I PREROUTING -i wg0 -j CHARMARR-PORT-FORWARD"), "hooked for the tunnel only");
    assert.ok(
      calls.includes("-t nat -I POSTROUTING -o vxlan0 -m conntrack --ctstate DNAT -j ACCEPT"),
      "forwarded connections keep the peer's address",
    );
  });

  it("down: the chain is emptied and nothing is forwarded", () => {
    const { code, calls } = runScript("down", "42000");
    assert.equal(code, 0);
    assert.equal(calls.at(-1), "-t nat -F CHARMARR-PORT-FORWARD");
    assert.ok(!calls.some((call) => call.includes("DNAT --to-destination")));
  });

  it("refuses to forward qBittorrent's WebUI port", () => {
    const { code, calls } = runScript("up", "8080");
    assert.notEqual(code, 0);
    assert.ok(!calls.some((call) => call.includes("DNAT --to-destination")));
  });
});
