import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StackPlan } from "../plan/evaluate";
import { isSecretValue } from "../plan/runtime";
import { APP_CATALOG, APP_NAMES } from "../lib/apps/catalog";
import { resolveApps } from "../lib/apps/resolve";
import { appIssues } from "../lib/apps/rules";
import { assertConfigError, manifestOf, manifestsOf, planCore, planDownloads } from "./support/plan";
import { assertSelects } from "./support/selectors";

interface Container {
  name: string;
  image: string;
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  volumeMounts?: { name: string; mountPath: string }[];
  readinessProbe?: { httpGet: { path: string; port: number } };
  livenessProbe?: { httpGet: { path: string; port: number } };
  resources?: { requests: Record<string, string>; limits: Record<string, string> };
}
interface PodSpec {
  serviceAccountName: string;
  automountServiceAccountToken: boolean;
  containers: Container[];
  initContainers?: Container[];
  volumes: Record<string, unknown>[];
}
interface StatefulSetSpec {
  replicas: number;
  selector: { matchLabels: Record<string, string> };
  template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  volumeClaimTemplates?: {
    metadata: { name: string };
    spec: { storageClassName?: string; resources: { requests: { storage: string } } };
  }[];
}

const specOf = (plan: StackPlan, app: string) => manifestOf(plan, "StatefulSet", app).spec as StatefulSetSpec;
const containerOf = (plan: StackPlan, app: string) =>
  specOf(plan, app).template.spec.containers.find((c) => c.name === app) as Container;
const envOf = (plan: StackPlan, app: string) =>
  Object.fromEntries((containerOf(plan, app).env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));

/** Each app's port, as the apps' images listen by default (written out here, not read from the catalog under test). */
const APP_PORTS: Readonly<Record<string, number>> = {
  radarr: 7878,
  sonarr: 8989,
  lidarr: 8686,
  prowlarr: 9696,
  seerr: 5055,
  plex: 32400,
  qbittorrent: 8080,
  sabnzbd: 8080,
  flaresolverr: 8191,
};

describe("apps: the default plans", () => {
  let core: StackPlan;
  let downloads: StackPlan;
  before(async () => {
    core = await planCore();
    downloads = await planDownloads();
  });
  const everyApp = () => [
    ...["radarr", "sonarr", "lidarr", "prowlarr", "seerr", "plex"].map((app) => ({
      plan: core,
      app,
      namespace: "charmarr-core",
    })),
    ...["qbittorrent", "sabnzbd"].map((app) => ({ plan: downloads, app, namespace: "charmarr-downloads" })),
  ];

  it("runs the arr apps, Seerr and Plex in core, the download clients in downloads", () => {
    const names = (plan: StackPlan) =>
      manifestsOf(plan, "StatefulSet")
        .map((m) => m.metadata.name)
        .sort();
    assert.deepEqual(names(core), ["flaresolverr", "lidarr", "plex", "prowlarr", "radarr", "seerr", "sonarr"]);
    assert.deepEqual(names(downloads), ["qbittorrent", "sabnzbd"]);
  });

  it("gives every app one replica, its own ServiceAccount, a Service, a /config claim and the library at /data", () => {
    for (const { plan, app, namespace } of everyApp()) {
      const spec = specOf(plan, app);
      assert.equal(spec.replicas, 1, app);
      assert.equal(spec.template.spec.serviceAccountName, app);
      const account = manifestOf(plan, "ServiceAccount", app);
      assert.equal(account.metadata.namespace, namespace);
      assert.equal(account.automountServiceAccountToken, false);
      const service = manifestOf(plan, "Service", app).spec as {
        selector: Record<string, string>;
        ports: { port: number }[];
      };
      assert.deepEqual(service.selector, spec.selector.matchLabels);
      assert.deepEqual(
        service.ports.map((p) => p.port),
        [APP_PORTS[app]],
      );
      assertSelects(spec.selector.matchLabels, spec.template.metadata.labels, `${app}: the StatefulSet's selector`);
      assertSelects(service.selector, spec.template.metadata.labels, `${app}: its Service`);
      assert.deepEqual(
        (spec.volumeClaimTemplates ?? []).map((t) => [t.metadata.name, t.spec.storageClassName]),
        [["config", undefined]],
      );
      const mounts = Object.fromEntries((containerOf(plan, app).volumeMounts ?? []).map((m) => [m.mountPath, m.name]));
      // Seerr keeps its settings in /app/config (seerr v3.1.0 Dockerfile L46-53, server/lib/settings/index.ts L370-372).
      assert.equal(mounts[app === "seerr" ? "/app/config" : "/config"], "config", app);
      assert.equal(mounts["/data"], "media");
      assert.deepEqual(
        spec.template.spec.volumes.find((v) => v.name === "media"),
        { name: "media", nfs: { server: "192.168.1.10", path: "/export/media" } },
        `${app}: the same library in both stacks`,
      );
    }
  });

  it("pins every image and sets PUID, PGID and TZ, or runs Seerr as its image's user 1000", () => {
    for (const { plan, app } of everyApp()) {
      const image = containerOf(plan, app).image;
      assert.match(image, /^[a-z0-9./-]+:[A-Za-z0-9_.-]+$/, app);
      assert.ok(!image.endsWith(":latest"), app);
      const env = envOf(plan, app);
      const pod = specOf(plan, app).template.spec as { securityContext?: Record<string, unknown> };
      if (app === "seerr") {
        // `USER node:node` (seerr v3.1.0 Dockerfile L44); PUID/PGID appear nowhere in Seerr's source.
        assert.deepEqual([env.PUID, env.PGID, env.TZ], [undefined, undefined, "Etc/UTC"], app);
        assert.deepEqual(pod.securityContext, {
          runAsUser: 1000,
          runAsGroup: 1000,
          runAsNonRoot: true,
          fsGroup: 1000,
          fsGroupChangePolicy: "OnRootMismatch",
        });
      } else {
        assert.deepEqual([env.PUID, env.PGID, env.TZ], ["1000", "1000", "Etc/UTC"], app);
        assert.equal(pod.securityContext?.runAsUser, undefined, `${app}: the LinuxServer init starts as root`);
      }
    }
  });

  it("probes every app on its own health endpoint, under its base path", () => {
    const expected: Record<string, string> = {
      radarr: "/radarr/ping",
      sonarr: "/sonarr/ping",
      lidarr: "/lidarr/ping",
      prowlarr: "/prowlarr/ping",
      seerr: "/api/v1/status",
      plex: "/identity",
      qbittorrent: "/",
      sabnzbd: "/sabnzbd/api?mode=version",
    };
    for (const { plan, app } of everyApp()) {
      const container = containerOf(plan, app);
      assert.equal(container.readinessProbe?.httpGet.path, expected[app], app);
      assert.equal(container.livenessProbe?.httpGet.path, expected[app], app);
    }
  });

  it("serves each Servarr app under its path and hands it a generated API key from a Secret", () => {
    for (const app of ["radarr", "sonarr", "lidarr", "prowlarr"]) {
      const prefix = app.toUpperCase();
      const env = envOf(core, app);
      assert.equal(env[`${prefix}__SERVER__URLBASE`], `/${app}`);
      assert.deepEqual(env[`${prefix}__AUTH__APIKEY`], { secretKeyRef: { name: `${app}-api-key`, key: "apiKey" } });
      const secret = core.rawResources.find(
        (r) => r.type === "kubernetes:core/v1:Secret" && r.name === `${app}-api-key`,
      );
      assert.ok(secret && isSecretValue(secret.inputs.stringData), `${app}: the key stays a Pulumi secret`);
    }
    assert.equal(envOf(core, "seerr").SEERR__AUTH__APIKEY, undefined);
  });

  it("exports the API keys as a secret output", () => {
    assert.ok(core.secretOutputNames.includes("apiKeys"));
    assert.equal(core.outputs.apiKeys, "[secret]");
  });

  it("sets SABnzbd's url_base and host_whitelist before it starts", () => {
    const init = specOf(downloads, "sabnzbd").template.spec.initContainers?.find((c) => c.name === "sabnzbd-settings");
    assert.ok(init, "an init container manages sabnzbd.ini");
    const env = Object.fromEntries((init.env ?? []).map((e) => [e.name, e.value]));
    assert.equal(env.SABNZBD_URL_BASE, "/sabnzbd");
    const names = (env.SABNZBD_HOST_WHITELIST as string).split(", ");
    assert.ok(names.includes("192.168.1.242"), "the admin gateway's LAN IP");
    assert.ok(names.includes("sabnzbd.charmarr-downloads.svc.cluster.local"), "the Service name the arr apps call");
    // SABnzbd 5 refuses a request whose X-Forwarded-For holds an address outside local_ranges (or,
    // unset, outside the private ranges): a tailnet client's 100.x address through the admin gateway.
    assert.deepEqual((env.SABNZBD_LOCAL_RANGES as string).split(", "), [
      "10.0.0.0/8",
      "172.16.0.0/12",
      "192.168.0.0/16",
      "100.64.0.0/10",
    ]);
  });

  it("writes url_base, host_whitelist and the generated api_key into sabnzbd.ini, keeping every other setting", () => {
    const script = (manifestOf(downloads, "ConfigMap", "sabnzbd-settings").data as Record<string, string>)[
      "settings.sh"
    ];
    const dir = mkdtempSync(join(tmpdir(), "sabnzbd-"));
    const scriptFile = join(dir, "settings.sh");
    writeFileSync(scriptFile, script.replace(/\/config\/sabnzbd\.ini/g, join(dir, "sabnzbd.ini")));
    const run = () =>
      execFileSync("sh", [scriptFile], {
        env: {
          PATH: process.env.PATH,
          SABNZBD_URL_BASE: "/sabnzbd",
          SABNZBD_HOST_WHITELIST: "charmarr-admin, sabnzbd",
          SABNZBD_LOCAL_RANGES: "10.0.0.0/8, 100.64.0.0/10",
          SABNZBD_API_KEY: "0123456789abcdef0123456789abcdef",
          SABNZBD_DOWNLOAD_DIR: "/data/downloads/incomplete/sabnzbd",
          SABNZBD_COMPLETE_DIR: "/data/downloads/sabnzbd",
        },
      });
    run();
    assert.equal(
      readFileSync(join(dir, "sabnzbd.ini"), "utf8"),
      "[misc]\ncomplete_dir = /data/downloads/sabnzbd\ndownload_dir = /data/downloads/incomplete/sabnzbd\napi_key = 0123456789abcdef0123456789abcdef\nlocal_ranges = 10.0.0.0/8, 100.64.0.0/10\nhost_whitelist = charmarr-admin, sabnzbd\nurl_base = /sabnzbd\n",
      "a first start",
    );
    writeFileSync(join(dir, "sabnzbd.ini"), "[misc]\napi_key = abc\nurl_base = /old\n[servers]\nhost = news.example\n");
    run();
    const ini = readFileSync(join(dir, "sabnzbd.ini"), "utf8");
    assert.match(ini, /^url_base = \/sabnzbd$/m);
    assert.match(ini, /^host_whitelist = charmarr-admin, sabnzbd$/m);
    assert.match(ini, /^api_key = 0123456789abcdef0123456789abcdef$/m, "the generated key replaces SABnzbd's own");
    assert.equal(ini.match(/api_key/g)?.length, 1);
    assert.match(ini, /\[servers\]\nhost = news\.example/, "other sections stay");
    assert.equal(ini.match(/url_base/g)?.length, 1, "replaced, not appended");
  });

  it("adds configured host names to SABnzbd's whitelist, and refuses them for apps that keep no list of names", async () => {
    const plan = await planDownloads({
      "charmarr:apps": { sabnzbd: { hostnames: ["charmarr-admin.tail1234.ts.net", "sab.home.lan"] } },
    });
    const init = specOf(plan, "sabnzbd").template.spec.initContainers?.find((c) => c.name === "sabnzbd-settings");
    const whitelist = (init?.env?.find((e) => e.name === "SABNZBD_HOST_WHITELIST")?.value ?? "").split(", ");
    assert.ok(
      whitelist.includes("charmarr-admin.tail1234.ts.net") && whitelist.includes("sab.home.lan"),
      whitelist.join(", "),
    );
    await assertConfigError(
      planDownloads({ "charmarr:apps": { qbittorrent: { hostnames: ["qb.home.lan"] } } }),
      "charmarr:apps.qbittorrent.hostnames",
      "qbittorrent takes no host names: only sabnzbd keeps a list of the names it answers to (host_whitelist)",
    );
  });

  it("routes the download clients through the VPN gateway behind a kill switch", () => {
    for (const app of ["qbittorrent", "sabnzbd"]) {
      const spec = specOf(downloads, app);
      assert.equal(
        spec.template.spec.initContainers?.[0].name,
        "vpn-route-init",
        `${app}: routed before anything else starts`,
      );
      assert.ok(spec.template.spec.containers.some((c) => c.name === "vpn-route-sidecar"));
      const killSwitch = manifestsOf(downloads, "NetworkPolicy").find(
        (policy) =>
          JSON.stringify((policy.spec as { podSelector: { matchLabels: unknown } }).podSelector.matchLabels) ===
          JSON.stringify(spec.selector.matchLabels),
      );
      assert.ok(killSwitch, `${app}: a kill switch selects exactly its pods`);
      const statefulSet = downloads.resources.find(
        (r) => r.type === "kubernetes:apps/v1:StatefulSet" && r.name === `${app}-statefulset`,
      );
      const gateway = downloads.resources.find(
        (r) =>
          r.type === "kubernetes:apps/v1:Deployment" && (r.inputs.metadata as { name: string }).name === "vpn-gateway",
      );
      assert.ok(
        statefulSet && gateway && statefulSet.dependencies.includes(gateway.urn),
        `${app}: created only after the VPN gateway`,
      );
    }
  });

  it("exports the media library and environment for the downloads stack", () => {
    assert.deepEqual(core.outputs.media, {
      library: { nfs: { server: "192.168.1.10", path: "/export/media" }, mountPath: "/data" },
      environment: { puid: 1000, pgid: 1000, timezone: "Etc/UTC" },
    });
  });
});

describe("apps: configuration", () => {
  it("re-images, resizes and re-resources an app", async () => {
    const core = await planCore({
      "charmarr:apps.radarr.image": "ghcr.io/hotio/radarr",
      "charmarr:apps.radarr.tag": "release-5.27.5.10198",
      "charmarr:apps.radarr.configSize": "5Gi",
      "charmarr:apps.radarr.resources.requests.cpu": "250m",
      "charmarr:storage.className": "longhorn",
    });
    const container = containerOf(core, "radarr");
    assert.equal(container.image, "ghcr.io/hotio/radarr:release-5.27.5.10198");
    assert.equal(container.resources?.requests.cpu, "250m");
    assert.equal(container.resources?.requests.memory, "512Mi", "unset fields keep the catalog's values");
    const claim = specOf(core, "radarr").volumeClaimTemplates?.[0].spec as NonNullable<
      StatefulSetSpec["volumeClaimTemplates"]
    >[number]["spec"];
    assert.deepEqual([claim.storageClassName, claim.resources.requests.storage], ["longhorn", "5Gi"]);
    assert.equal(
      containerOf(core, "sonarr").image,
      "lscr.io/linuxserver/sonarr:4.0.19.2979-ls316",
      "unchanged apps keep theirs",
    );
  });

  it("disables an app entirely", async () => {
    const core = await planCore({ "charmarr:apps.lidarr.enabled": false });
    for (const kind of ["StatefulSet", "Service", "ServiceAccount", "HTTPRoute", "AuthorizationPolicy"]) {
      assert.equal(manifestsOf(core, kind, "lidarr").length, 0, kind);
    }
    assert.equal((core.outputs.identities as Record<string, string>).lidarr, undefined);
  });

  it("shares a hostPath library and the app environment with the downloads stack", async () => {
    const coreChanges = {
      "charmarr:storage.library": { hostPath: { path: "/srv/media" }, mountPath: "/media" },
      "charmarr:appEnvironment.puid": 1001,
      "charmarr:appEnvironment.timezone": "Europe/Amsterdam",
    };
    const downloads = await planDownloads({}, coreChanges);
    const core = await planCore(coreChanges);
    for (const [plan, app] of [
      [core, "radarr"],
      [downloads, "qbittorrent"],
    ] as const) {
      assert.deepEqual(
        specOf(plan, app).template.spec.volumes.find((v) => v.name === "media"),
        { name: "media", hostPath: { path: "/srv/media", type: "Directory" } },
      );
      assert.ok(
        (containerOf(plan, app).volumeMounts ?? []).some((m) => m.mountPath === "/media" && m.name === "media"),
      );
      assert.equal(envOf(plan, app).PUID, "1001");
      assert.equal(envOf(plan, app).TZ, "Europe/Amsterdam");
    }
  });

  it("refuses an unknown app, suggesting the closest name", async () => {
    await assertConfigError(
      planCore({ "charmarr:apps.radar.enabled": false }),
      "charmarr:apps.radar",
      "is not an app Charmarr runs (did you mean radarr?)",
      "pulumi config rm --path 'charmarr:apps.radar'",
    );
  });

  it("refuses an Overseerr override with what replaced it, and keeps Seerr's own", async () => {
    const error = await assertConfigError(
      planCore({ "charmarr:apps.overseerr.tag": "v1.34.0-ls157" }),
      "charmarr:apps.overseerr",
      "Overseerr was replaced by Seerr",
      "docs/relations.md#from-overseerr-to-seerr",
      "pulumi config rm --path 'charmarr:apps.overseerr'",
      "charmarr:apps.seerr",
    );
    assert.equal(error.problems.length, 1, "one problem, not also an unknown app");
    const plan = await planCore({ "charmarr:apps.seerr.configSize": "2Gi" });
    assert.equal(specOf(plan, "seerr").volumeClaimTemplates?.[0].spec.resources.requests.storage, "2Gi");
  });

  it("runs Seerr from its own image at a v3 release, Radarr 6, Prowlarr 2, Sonarr 4.0.19, Lidarr 2.14, SABnzbd 5, Plex 1.43, Jellyfin 10.11, qBittorrent 5.1", async () => {
    const [core, jellyfin, downloads] = await Promise.all([
      planCore(),
      planCore({ "charmarr:mediaServer": "jellyfin" }),
      planDownloads(),
    ]);
    const images = Object.fromEntries(
      [
        ...["radarr", "sonarr", "lidarr", "prowlarr", "seerr", "plex"].map((app) => [app, core] as const),
        ["jellyfin", jellyfin] as const,
        ...["qbittorrent", "sabnzbd"].map((app) => [app, downloads] as const),
      ].map(([app, plan]) => [app, containerOf(plan, app).image]),
    );
    assert.deepEqual(images, {
      radarr: "lscr.io/linuxserver/radarr:6.0.4.10291-ls296",
      sonarr: "lscr.io/linuxserver/sonarr:4.0.19.2979-ls316",
      lidarr: "lscr.io/linuxserver/lidarr:2.14.5.4836-ls9",
      prowlarr: "lscr.io/linuxserver/prowlarr:2.3.5.5327-ls148",
      seerr: "ghcr.io/seerr-team/seerr:v3.1.0",
      plex: "lscr.io/linuxserver/plex:1.43.3.10828-00f62d37d-ls315",
      jellyfin: "lscr.io/linuxserver/jellyfin:10.11.11ubu2404-ls42",
      // 5.2 answers a login with 204 and no body; Lidarr 2.14.5 still wants "Ok." (Lidarr v2.14.5.4836
      // src/NzbDrone.Core/Download/Clients/QBittorrent/QBittorrentProxyV2.cs L441).
      qbittorrent: "lscr.io/linuxserver/qbittorrent:5.1.4-r3-ls453",
      sabnzbd: "lscr.io/linuxserver/sabnzbd:5.0.1-ls253",
    });
  });

  it("refuses an app on the other stack", async () => {
    await assertConfigError(
      planCore({ "charmarr:apps.qbittorrent.tag": "5.1.2-r4-ls426" }),
      "charmarr:apps.qbittorrent",
      "runs in the downloads stack",
    );
    await assertConfigError(
      planDownloads({ "charmarr:apps.radarr.enabled": false }),
      "charmarr:apps.radarr",
      "runs in the core stack",
    );
  });

  it("refuses a moving tag and an unknown override field", async () => {
    await assertConfigError(
      planCore({ "charmarr:apps.sonarr.tag": "latest" }),
      "charmarr:apps.sonarr.tag",
      "pin a version",
    );
    await assertConfigError(
      planCore({ "charmarr:apps.sonarr.imag": "x" }),
      "charmarr:apps.sonarr.imag",
      "did you mean image?",
    );
  });

  it("refuses enabling the media server that was not chosen", async () => {
    await assertConfigError(
      planCore({ "charmarr:apps.jellyfin.enabled": true }),
      "charmarr:apps.jellyfin.enabled",
      "not the chosen media server",
      "pulumi config set charmarr:mediaServer jellyfin",
    );
    await assertConfigError(planCore({ "charmarr:mediaServer": "emby" }), "charmarr:mediaServer", "is not one of");
  });

  it("refuses a media library that is neither or both of NFS and hostPath", async () => {
    await assertConfigError(
      planCore({ "charmarr:storage.library.nfs": undefined }),
      "charmarr:storage.library",
      "exactly one of nfs or hostPath (it has neither)",
    );
    await assertConfigError(
      planCore({ "charmarr:storage.library.hostPath": { path: "/srv/media" } }),
      "charmarr:storage.library",
      "(it has both)",
    );
    await assertConfigError(planCore({ "charmarr:storage": undefined }), "charmarr:storage", "required");
  });
});

describe("apps: FlareSolverr, beside Prowlarr", () => {
  let core: StackPlan;
  before(async () => {
    core = await planCore();
  });

  it("runs beside Prowlarr as its image's own user, with no capability, no volume, no route and no URL", () => {
    const spec = specOf(core, "flaresolverr");
    const container = containerOf(core, "flaresolverr");
    assert.equal(manifestOf(core, "StatefulSet", "flaresolverr").metadata.namespace, "charmarr-core");
    assert.equal(container.image, "ghcr.io/flaresolverr/flaresolverr:v3.5.0");
    // FlareSolverr v3.5.0 Dockerfile L39, L54 (`USER flaresolverr`, uid 1000); it reads no PUID/PGID.
    assert.deepEqual((spec.template.spec as { securityContext?: Record<string, unknown> }).securityContext, {
      runAsUser: 1000,
      runAsGroup: 1000,
      runAsNonRoot: true,
      fsGroup: 1000,
      fsGroupChangePolicy: "OnRootMismatch",
    });
    assert.deepEqual(envOf(core, "flaresolverr"), { TZ: "Etc/UTC" });
    assert.deepEqual((container as { securityContext?: unknown }).securityContext, {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    // Nothing kept, and a browser on indexers' pages never sees the media library.
    assert.equal(spec.volumeClaimTemplates, undefined);
    assert.deepEqual(spec.template.spec.volumes, []);
    assert.deepEqual(container.volumeMounts, []);
    assert.deepEqual(
      [container.readinessProbe?.httpGet, container.livenessProbe?.httpGet],
      [
        { path: "/health", port: 8191 },
        { path: "/health", port: 8191 },
      ],
    );
    assert.deepEqual(manifestsOf(core, "HTTPRoute", "flaresolverr"), []);
    assert.equal((core.outputs.urls as Record<string, unknown>).flaresolverr, undefined);
    assert.deepEqual(
      (manifestOf(core, "Service", "flaresolverr").spec as { ports: { port: number }[] }).ports.map((p) => p.port),
      [8191],
    );
  });

  it("follows Prowlarr: gone with it (disabled alone: test/relationsStack.test.ts); enabling it without Prowlarr is refused", async () => {
    const withoutProwlarr = await planCore({ "charmarr:apps.prowlarr.enabled": false });
    assert.deepEqual(manifestsOf(withoutProwlarr, "StatefulSet", "flaresolverr"), []);
    await assertConfigError(
      planCore({ "charmarr:apps.prowlarr.enabled": false, "charmarr:apps.flaresolverr.enabled": true }),
      "charmarr:apps.flaresolverr.enabled",
      "flaresolverr serves prowlarr alone and runs beside it, but charmarr:apps.prowlarr.enabled is false",
      "pulumi config rm --path 'charmarr:apps.flaresolverr.enabled'",
    );
  });

  it("is set on the stack that runs Prowlarr: the downloads stack refuses it unless it routes Prowlarr", async () => {
    await assertConfigError(
      planDownloads({ "charmarr:apps.flaresolverr.enabled": false }),
      "charmarr:apps.flaresolverr",
      "flaresolverr runs in the core stack unless charmarr:indexers.routeThroughVpn is true",
      "pulumi config rm --path charmarr:apps.flaresolverr",
    );
  });

  it("refuses a path (no gateway serves it) and a config size (it keeps nothing)", async () => {
    const error = await assertConfigError(
      planCore({ "charmarr:apps.flaresolverr.path": "/flaresolverr", "charmarr:apps.flaresolverr.configSize": "1Gi" }),
      "charmarr:apps.flaresolverr.path",
      "flaresolverr has no UI: no gateway serves it",
      "pulumi config rm --path 'charmarr:apps.flaresolverr.path'",
    );
    assert.equal(error.problems.length, 1, "one problem per app, the first one");
    await assertConfigError(
      planCore({ "charmarr:apps.flaresolverr.configSize": "1Gi" }),
      "charmarr:apps.flaresolverr.configSize",
      "flaresolverr keeps nothing between starts",
      "pulumi config rm --path 'charmarr:apps.flaresolverr.configSize'",
    );
  });
});

describe("apps: resolving the catalog", () => {
  it("enables every app of a stack by default, and only the chosen media server", () => {
    assert.deepEqual(
      resolveApps("core", {}, "plex").map((app) => app.name),
      ["radarr", "sonarr", "lidarr", "prowlarr", "seerr", "plex", "flaresolverr"],
    );
    assert.deepEqual(
      resolveApps("downloads", {}).map((app) => app.name),
      ["qbittorrent", "sabnzbd"],
    );
  });

  it("covers every app with a pinned image, a port and a health path", () => {
    for (const name of APP_NAMES) {
      const app = APP_CATALOG[name];
      assert.ok(app.tag && app.tag !== "latest" && app.port > 0 && app.healthPath.startsWith("/"), name);
    }
  });

  it("gives path-served apps /<name> and root-only apps no path", () => {
    const apps = Object.fromEntries(resolveApps("core", {}, "plex").map((app) => [app.name, app.path]));
    assert.deepEqual(apps, {
      radarr: "/radarr",
      sonarr: "/sonarr",
      lidarr: "/lidarr",
      prowlarr: "/prowlarr",
      seerr: undefined,
      plex: undefined,
      flaresolverr: undefined,
    });
  });

  it("refuses a download client's path that a core app already serves on the same gateway", () => {
    const issues = appIssues(
      resolveApps("downloads", {}),
      { arr: { enabled: true }, media: { enabled: true }, admin: { enabled: true } },
      new Map([["admin /sabnzbd", "someapp (core stack)"]]),
    );
    assert.deepEqual(
      issues.map((issue) => [issue.path.join("."), issue.message]),
      [
        [
          "apps.sabnzbd.path",
          "sabnzbd would be served at /sabnzbd on the admin gateway, which someapp (core stack) already uses; each app needs a path of its own",
        ],
      ],
    );
  });
});
