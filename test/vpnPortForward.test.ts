import { strict as assert } from "node:assert";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConfigProblem } from "../lib/config";
import type { StackPlan } from "../plan/evaluate";
import { portFollowerAuthFile } from "../lib/vpn/portForward";
import { DOWNLOADS_EXAMPLE, WITHOUT_PORT_FORWARDING, manifestOf, planDownloads, withConfig } from "./support/plan";
import { loadStack, problemsOf } from "./support/configCommands";
import { IptablesTable, Netns, decidingRule, parseListing, verdict } from "./support/iptables";

/** The problems of the example with `changes`; none when it is accepted. */
function problemsWith(changes: Record<string, unknown>): readonly ConfigProblem[] {
  return problemsOf("downloads", withConfig(DOWNLOADS_EXAMPLE, changes, ["charmarr:vpnUser", "charmarr:vpnPassword"]));
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
    const config = loadStack("downloads", withConfig(DOWNLOADS_EXAMPLE, { "charmarr:vpn.portForwarding": undefined }));
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

  it("the gateway pod can start with and without it: each volume it mounts is declared, each ConfigMap and Secret it names is planned", () => {
    for (const [what, planned] of [
      ["with port forwarding", plan],
      ["without", without],
    ] as const) {
      const gateway = manifestOf(planned, "Deployment", "vpn-gateway");
      const pod = podOf(planned, "Deployment", "vpn-gateway");
      const declared = new Set((pod.volumes ?? []).map((volume) => volume.name));
      for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
        for (const mount of c.volumeMounts ?? []) {
          assert.ok(
            declared.has(mount.name),
            `${what}: ${c.name} mounts ${mount.name}, which the pod does not declare`,
          );
        }
      }
      for (const volume of pod.volumes ?? []) {
        const [kind, name] = volume.secret
          ? ["Secret", volume.secret.secretName]
          : volume.configMap
            ? ["ConfigMap", volume.configMap.name]
            : [undefined, undefined];
        if (kind !== undefined) {
          const found = planned.manifests.some(
            (m) => m.kind === kind && m.metadata.name === name && m.metadata.namespace === gateway.metadata.namespace,
          );
          assert.ok(found, `${what}: volume ${volume.name} needs ${kind} ${name}, which the plan does not create`);
        }
      }
    }
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
    assert.deepEqual(
      Object.keys(manifestOf(without, "ConfigMap", "vpn-gateway-post-rules").data as Record<string, string>),
      ["post-rules.txt"],
      "without port forwarding the gateway holds no script that forwards a port",
    );
    const off = envOf(container(podOf(without, "Deployment", "vpn-gateway"), "gluetun"));
    assert.deepEqual(
      Object.keys(off).filter((name) => /PORT_FORWARD|AUTH_CONFIG/.test(name)),
      [],
      "no port forwarding without the setting",
    );
  });

  it("gluetun's firewall lets DNATed connections through to qBittorrent alone, at the fixed overlay address nat.conf gives it", () => {
    // port-forward.sh itself runs under iptables below; here what lets its DNAT through and where it points.
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

/** Where the nat table's PREROUTING sends a new connection: its DNAT destination, or undefined (not rewritten). */
function dnatOf(
  nat: IptablesTable,
  packet: { in: string; protocol: "tcp" | "udp"; dport: number },
): string | undefined {
  const rule = decidingRule(nat, "PREROUTING", packet);
  return rule?.target === "DNAT" ? rule.toDestination : undefined;
}

/** What the nat table's POSTROUTING does with a new connection leaving `out` (`dnat`: DNATed on the way in). */
function postroutingOf(nat: IptablesTable, packet: { out: string; dnat: boolean }): string {
  return verdict(nat, "POSTROUTING", { out: packet.out, protocol: "tcp", state: packet.dnat ? "DNAT" : "NEW" });
}

interface ScriptRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The nat table after the run, as the kernel holds it. */
  readonly nat: IptablesTable;
}

describe("port forwarding: port-forward.sh, gluetun's up and down command, run with iptables in a network namespace of its own", () => {
  /** The steps, in order, each as gluetun runs it (`unprivileged`: without any capability, so every iptables call fails). */
  const STEPS = ["up", "again", "down", "upBeforeWebUi", "webUi", "unprivileged"] as const;
  let runs: Record<(typeof STEPS)[number], ScriptRun>;
  let webUiPort: number;
  before(async () => {
    const plan = await planDownloads();
    const dir = mkdtempSync(join(tmpdir(), "port-forward-"));
    try {
      const script = join(dir, "port-forward.sh");
      writeFileSync(
        script,
        (manifestOf(plan, "ConfigMap", "vpn-gateway-post-rules").data as Record<string, string>)["port-forward.sh"],
      );
      const qbittorrent = podOf(plan, "StatefulSet", "qbittorrent");
      webUiPort = Number(envOf(container(qbittorrent, "vpn-port-follower")).QBITTORRENT_WEBUI_PORT);
      const args: Record<(typeof STEPS)[number], string> = {
        up: "up 42000,42001,42002",
        again: "up 43000",
        down: "down 43000",
        upBeforeWebUi: "up 42000",
        webUi: `up ${webUiPort}`,
        unprivileged: "up 44000",
      };
      // One process for the file, in a network namespace of its own whose nat table holds pod-gateway's
      // masquerade (`gateway_init.sh` line 57), as the gateway's does: each step as gluetun runs it
      // (`/bin/sh port-forward.sh <action> <ports>`), then the nat table after it.
      const driver = [
        "iptables -w -t nat -A POSTROUTING -j MASQUERADE || exit 1",
        ...STEPS.map((step) => {
          const drop = step === "unprivileged" ? "setpriv --bounding-set -all --inh-caps -all " : "";
          const out = join(dir, step);
          return `${drop}/bin/sh ${script} ${args[step]} >${out}.out 2>${out}.err; echo $? >${out}.code; iptables -w -t nat -S >${out}.nat`;
        }),
      ].join("\n");
      const netns = new Netns();
      try {
        const result = netns.exec(["/bin/sh", "-c", driver]);
        assert.equal(result.status, 0, result.stderr);
      } finally {
        netns.remove();
      }
      const read = (step: string, suffix: string) => readFileSync(join(dir, `${step}.${suffix}`), "utf8");
      runs = Object.fromEntries(
        STEPS.map((step) => [
          step,
          {
            code: Number(read(step, "code")),
            stdout: read(step, "out"),
            stderr: read(step, "err"),
            nat: parseListing(read(step, "nat")),
          },
        ]),
      ) as typeof runs;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("up: a connection to the first forwarded port arriving on the tunnel reaches qBittorrent on the same port, TCP and UDP, and keeps the peer's address", () => {
    const { up } = runs;
    assert.equal(up.code, 0, up.stderr);
    for (const protocol of ["tcp", "udp"] as const) {
      assert.equal(dnatOf(up.nat, { in: "wg0", protocol, dport: 42000 }), "172.16.0.10:42000");
    }
    assert.equal(
      dnatOf(up.nat, { in: "wg0", protocol: "tcp", dport: 42001 }),
      undefined,
      "qBittorrent listens on one port",
    );
    assert.equal(
      dnatOf(up.nat, { in: "eth0", protocol: "tcp", dport: 42000 }),
      undefined,
      "nothing arriving on the pod network (the home address) is forwarded",
    );
    assert.equal(
      postroutingOf(up.nat, { out: "vxlan0", dnat: true }),
      "ACCEPT",
      "not masqueraded: the peer's own address",
    );
    assert.equal(
      postroutingOf(up.nat, { out: "wg0", dnat: false }),
      "MASQUERADE",
      "pod-gateway's masquerade still applies",
    );
    // What gluetun logs (v3.41.1 internal/portforward/service/command.go `streamLines`: stdout as info).
    assert.match(up.stdout, /port 42000 on wg0 is forwarded to 172\.16\.0\.10:42000/);
  });

  it("up again with a new port: the old port reaches nothing, and the hooks are not repeated", () => {
    const { again } = runs;
    assert.equal(again.code, 0, again.stderr);
    assert.equal(dnatOf(again.nat, { in: "wg0", protocol: "tcp", dport: 42000 }), undefined);
    assert.equal(dnatOf(again.nat, { in: "wg0", protocol: "tcp", dport: 43000 }), "172.16.0.10:43000");
    assert.deepEqual(
      again.nat.chains.PREROUTING.map((rule) => rule.target),
      ["CHARMARR-PORT-FORWARD"],
      "hooked once, for the tunnel",
    );
    assert.deepEqual(
      again.nat.chains.POSTROUTING.map((rule) => rule.target),
      ["ACCEPT", "MASQUERADE"],
    );
  });

  it("down: the port reaches nothing, and gluetun's log says it is closed", () => {
    const { down } = runs;
    assert.equal(down.code, 0, down.stderr);
    assert.equal(dnatOf(down.nat, { in: "wg0", protocol: "tcp", dport: 43000 }), undefined);
    assert.match(down.stdout, /the forwarded port 43000 is closed/);
  });

  it("refuses to forward qBittorrent's WebUI port, says why in gluetun's log, and leaves no earlier port forwarded", () => {
    assert.equal(dnatOf(runs.upBeforeWebUi.nat, { in: "wg0", protocol: "tcp", dport: 42000 }), "172.16.0.10:42000");
    const refused = runs.webUi;
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, new RegExp(`refusing to forward port ${webUiPort}: it is qBittorrent's WebUI port`));
    for (const port of [webUiPort, 42000]) {
      assert.equal(dnatOf(refused.nat, { in: "wg0", protocol: "tcp", dport: port }), undefined);
    }
  });

  it("fails when iptables does, so gluetun logs the up command as failed instead of a forwarded port", () => {
    const { unprivileged } = runs;
    assert.notEqual(unprivileged.code, 0);
    assert.doesNotMatch(unprivileged.stdout, /forwarded to/);
  });
});
