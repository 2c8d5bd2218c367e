import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StackPlan } from "../plan/evaluate";
import { PLATFORM_ALL_ON } from "./support/variants";
import { assertSelects } from "./support/selectors";
import { assertConfigError, manifestOf, manifestsOf, planCore } from "./support/plan";

type Container = { name: string; env?: { name: string; value?: string }[] };

describe("Plex: a TCP LoadBalancer Service of its own", () => {
  let core: StackPlan;
  before(async () => {
    core = await planCore();
  });

  it("is not behind the media gateway: no listener on 32400, no HTTPRoute", () => {
    const media = manifestOf(core, "Gateway", "media");
    assert.deepEqual(
      (media.spec as { listeners: { port: number }[] }).listeners.map((l) => l.port),
      [80, 5055],
    );
    assert.deepEqual(manifestsOf(core, "HTTPRoute", "plex"), []);
  });

  it("gets a LoadBalancer Service straight to its pods: pinned LAN IP, client addresses kept, IPv4, on the tailnet with the media tags", () => {
    const service = manifestOf(core, "Service", "plex-lan");
    assert.deepEqual(service.metadata.annotations, {
      "metallb.io/loadBalancerIPs": "192.168.1.243",
      "tailscale.com/expose": "true",
      "tailscale.com/hostname": "charmarr-plex",
      "tailscale.com/tags": "tag:charmarr-media",
    });
    const spec = service.spec as Record<string, unknown>;
    assert.equal(spec.type, "LoadBalancer");
    assert.equal(
      spec.externalTrafficPolicy,
      "Local",
      "kube-proxy must not SNAT LAN clients, or Plex sees every client as the node",
    );
    assert.equal(spec.ipFamilyPolicy, "SingleStack");
    assert.deepEqual(spec.ipFamilies, ["IPv4"]);
    assert.deepEqual(spec.ports, [{ name: "tcp", port: 32400, targetPort: 32400, protocol: "TCP" }]);
    const plex = manifestOf(core, "StatefulSet", "plex");
    const podLabels = (plex.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata
      .labels;
    assertSelects(spec.selector as Record<string, string>, podLabels, "plex-lan selects Plex's pods");
  });

  it("publishes the LAN IP over https (plex.direct) and the tailnet name, and counts the LAN as local", () => {
    const plex = manifestOf(core, "StatefulSet", "plex");
    const init = (
      plex.spec as { template: { spec: { initContainers: Container[] } } }
    ).template.spec.initContainers.find((c) => c.name === "plex-settings");
    assert.ok(init, "an init container sets Preferences.xml");
    const env = Object.fromEntries((init.env ?? []).map((e) => [e.name, e.value]));
    assert.equal(env.PLEX_CUSTOM_CONNECTIONS, "https://192.168.1.243:32400,http://charmarr-plex:32400");
    assert.equal(env.PLEX_LAN_NETWORKS, "192.168.1.0/24");
    assert.equal(env.PLEX_PREFERENCES_DIR, "/config/Library/Application Support/Plex Media Server");
  });

  it("sets customConnections and LanNetworks in Preferences.xml, creating it like pms-docker and keeping every other preference", () => {
    const script = (manifestOf(core, "ConfigMap", "plex-settings").data as Record<string, string>)["settings.sh"];
    const dir = mkdtempSync(join(tmpdir(), "plex-"));
    const scriptFile = join(dir, "settings.sh");
    writeFileSync(scriptFile, script);
    const prefsDir = join(dir, "Plex Media Server");
    const prefs = join(prefsDir, "Preferences.xml");
    const run = (connections: string, lanNetworks = "192.168.1.0/24") =>
      execFileSync("sh", [scriptFile], {
        env: {
          PATH: process.env.PATH,
          PLEX_PREFERENCES_DIR: prefsDir,
          PLEX_CUSTOM_CONNECTIONS: connections,
          PLEX_LAN_NETWORKS: lanNetworks,
          PUID: String(process.getuid?.() ?? 0),
          PGID: String(process.getgid?.() ?? 0),
        },
      });
    run("https://192.168.1.243:32400,http://charmarr-plex:32400");
    const created = readFileSync(prefs, "utf8");
    assert.match(created, /^<\?xml version="1.0" encoding="utf-8"\?>\n<Preferences /);
    assert.match(created, / MachineIdentifier="[0-9a-f-]{36}"/);
    assert.match(created, / ProcessedMachineIdentifier="[0-9a-f]{40}"/);
    assert.match(created, / customConnections="https:\/\/192\.168\.1\.243:32400,http:\/\/charmarr-plex:32400"/);
    assert.match(created, / LanNetworks="192\.168\.1\.0\/24"/);

    writeFileSync(
      prefs,
      '<?xml version="1.0" encoding="utf-8"?>\n<Preferences MachineIdentifier="abc" customConnections="http://old:32400" PlexOnlineToken="tok" FriendlyName="nas"/>\n',
    );
    run("https://192.168.1.250:32400");
    const updated = readFileSync(prefs, "utf8");
    assert.match(updated, / customConnections="https:\/\/192\.168\.1\.250:32400"/);
    assert.equal(updated.match(/customConnections=/g)?.length, 1, "replaced, not added twice");
    assert.match(updated, / LanNetworks="192\.168\.1\.0\/24"/);
    for (const kept of ['MachineIdentifier="abc"', 'PlexOnlineToken="tok"', 'FriendlyName="nas"']) {
      assert.ok(updated.includes(kept), `keeps ${kept}`);
    }
    assert.match(updated, /\/>\n$/);

    // Nothing left to advertise (LAN IP unset, tailnet off): the old values go, the rest stays.
    run("", "");
    const cleared = readFileSync(prefs, "utf8");
    assert.doesNotMatch(cleared, /customConnections=|LanNetworks=/);
    for (const kept of ['MachineIdentifier="abc"', 'PlexOnlineToken="tok"', 'FriendlyName="nas"']) {
      assert.ok(cleared.includes(kept), `keeps ${kept}`);
    }
    assert.match(
      cleared,
      /^<\?xml version="1.0" encoding="utf-8"\?>\n<Preferences MachineIdentifier="abc" PlexOnlineToken="tok" FriendlyName="nas"\/>\n$/,
    );
  });

  it("refuses a lanIp or tailnet name for apps behind a gateway, one a gateway already has, or one outside the MetalLB pool", async () => {
    await assertConfigError(
      planCore({ "charmarr:apps.radarr.lanIp": "192.168.1.244" }),
      "charmarr:apps.radarr.lanIp",
      "radarr is served by its gateway",
    );
    await assertConfigError(
      planCore({ "charmarr:apps.plex.lanIp": "192.168.1.241" }),
      "charmarr:apps.plex.lanIp",
      "is also the media gateway's LAN IP",
    );
    await assertConfigError(
      planCore({ "charmarr:apps.plex.lanIp": "10.0.0.5" }),
      "charmarr:apps.plex.lanIp",
      "outside lanCidr 192.168.1.0/24",
    );
    await assertConfigError(
      planCore({ "charmarr:apps.plex.tailnetHostname": "charmarr-media" }),
      "charmarr:apps.plex.tailnetHostname",
      "also the media gateway's tailnet name",
    );
    await assertConfigError(
      planCore({ ...PLATFORM_ALL_ON, "charmarr:apps.plex.lanIp": "192.168.1.249" }, ["tailscale:oauthClientSecret"]),
      "charmarr:apps.plex.lanIp",
      "outside the MetalLB pool",
    );
  });

  it("stays off the tailnet when the media gateway is, and publishes the LAN address only", async () => {
    const lanOnly = await planCore({ "charmarr:gateways.media.tailscale.expose": false });
    assert.equal(
      (manifestOf(lanOnly, "Service", "plex-lan").metadata.annotations as Record<string, string>)[
        "tailscale.com/expose"
      ],
      undefined,
    );
    const plex = manifestOf(lanOnly, "StatefulSet", "plex");
    const init = (
      plex.spec as { template: { spec: { initContainers: Container[] } } }
    ).template.spec.initContainers.find((c) => c.name === "plex-settings");
    assert.equal(init?.env?.find((e) => e.name === "PLEX_CUSTOM_CONNECTIONS")?.value, "https://192.168.1.243:32400");
  });

  it("leaves Jellyfin behind the media gateway (its clients speak plain HTTP to it)", async () => {
    const jellyfin = await planCore({ "charmarr:mediaServer": "jellyfin" });
    assert.deepEqual(
      (manifestOf(jellyfin, "Gateway", "media").spec as { listeners: { port: number }[] }).listeners.map((l) => l.port),
      [80, 5055, 8096],
    );
    assert.deepEqual(
      manifestsOf(jellyfin, "Service").filter((s) => (s.spec as { type?: string }).type === "LoadBalancer"),
      [],
    );
  });
});
