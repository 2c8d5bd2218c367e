import { strict as assert } from "node:assert";
import type { Manifest, StackPlan } from "../plan/evaluate";
import { isServed, resolveApps } from "../lib/apps/resolve";
import { buildGateway, gatewayServiceAnnotations } from "../lib/ingress/gateways";
import type { IGateway } from "../lib/k8s/gatewayApi";
import { parse } from "yaml";
import { buildHttpRoute, listenerFor } from "../lib/ingress/routes";
import { gatewaysSchema } from "../lib/ingress/settings";
import { RouteTable } from "./support/routes";
import { assertConfigError, manifestOf, manifestsOf, planCore, planDownloads } from "./support/plan";

/** What a user types: LAN and tailnet URLs of every app, from the gateways' annotations and the routes. */
function appUrls(manifests: readonly Manifest[]): Record<string, string[]> {
  const table = new RouteTable(manifests);
  const urls: Record<string, string[]> = {};
  for (const gateway of manifests.filter((m) => m.kind === "Gateway")) {
    const annotations = ((gateway.spec as { infrastructure?: { annotations?: Record<string, string> } }).infrastructure
      ?.annotations ?? {}) as Record<string, string>;
    const hosts = [
      annotations["metallb.io/loadBalancerIPs"],
      annotations["tailscale.com/expose"] === "true" ? annotations["tailscale.com/hostname"] : undefined,
    ];
    for (const { port } of table.listeners().filter((listener) => listener.gateway === gateway.metadata.name)) {
      for (const route of table.attachedRoutes(gateway.metadata.name as string, port)) {
        for (const rule of (
          route.spec as { rules: { matches: { path: { value: string } }[]; backendRefs?: { name: string }[] }[] }
        ).rules) {
          const backend = rule.backendRefs?.[0]?.name;
          if (!backend) {
            continue;
          }
          for (const host of hosts.filter((h): h is string => h !== undefined)) {
            urls[backend] = [
              ...(urls[backend] ?? []),
              `http://${host}${port === 80 ? "" : `:${port}`}${rule.matches[0].path.value}`,
            ];
          }
        }
      }
    }
  }
  return urls;
}

/** The app each (gateway, port, path) must reach, per the security domains of the design. */
interface ExpectedApp {
  readonly app: string;
  readonly namespace: string;
  readonly gateway: string;
  readonly port: number;
  /** Path prefix on the shared listener; undefined for an app owning its listener. */
  readonly prefix?: string;
  readonly servicePort: number;
}

const DEFAULT_APPS: readonly ExpectedApp[] = [
  { app: "radarr", namespace: "charmarr-core", gateway: "arr", port: 80, prefix: "/radarr", servicePort: 7878 },
  { app: "sonarr", namespace: "charmarr-core", gateway: "arr", port: 80, prefix: "/sonarr", servicePort: 8989 },
  { app: "lidarr", namespace: "charmarr-core", gateway: "arr", port: 80, prefix: "/lidarr", servicePort: 8686 },
  { app: "prowlarr", namespace: "charmarr-core", gateway: "arr", port: 80, prefix: "/prowlarr", servicePort: 9696 },
  { app: "seerr", namespace: "charmarr-core", gateway: "media", port: 5055, servicePort: 5055 },
  {
    app: "qbittorrent",
    namespace: "charmarr-downloads",
    gateway: "admin",
    port: 80,
    prefix: "/qbittorrent",
    servicePort: 8080,
  },
  {
    app: "sabnzbd",
    namespace: "charmarr-downloads",
    gateway: "admin",
    port: 80,
    prefix: "/sabnzbd",
    servicePort: 8080,
  },
];

function expectedAt(
  apps: readonly ExpectedApp[],
  gateway: string,
  port: number,
  path: string,
): ExpectedApp | undefined {
  return apps.find(
    (app) =>
      app.gateway === gateway &&
      app.port === port &&
      (app.prefix === undefined || path === app.prefix || path.startsWith(`${app.prefix}/`)),
  );
}

/** Asserts every probe on every listener lands on exactly the app the table says, or nowhere. */
function assertRoutesMatch(table: RouteTable, apps: readonly ExpectedApp[]): void {
  const probePaths = [
    "/",
    "/x",
    "/api",
    ...apps.flatMap((app) =>
      app.prefix ? [app.prefix, `${app.prefix}/`, `${app.prefix}/api/v3/system`, `${app.prefix}x`] : [],
    ),
  ];
  const listeners = table.listeners();
  for (const app of apps) {
    assert.ok(
      listeners.some((l) => l.gateway === app.gateway && l.port === app.port),
      `${app.app}: no listener ${app.gateway}:${app.port}`,
    );
  }
  for (const { gateway, port } of listeners) {
    for (const path of probePaths) {
      const expected = expectedAt(apps, gateway, port, path);
      const resolved = table.resolve(gateway, port, path);
      const where = `${gateway}:${port}${path}`;
      if (!expected) {
        assert.equal(resolved, undefined, `${where} must reach nothing, reaches ${JSON.stringify(resolved)}`);
      } else if (expected.app === "qbittorrent" && path === "/qbittorrent") {
        assert.deepEqual(
          resolved && {
            kind: resolved.kind,
            status: resolved.kind === "redirect" ? resolved.status : 0,
            location: resolved.kind === "redirect" ? resolved.location : "",
          },
          {
            kind: "redirect",
            status: 301,
            location: "/qbittorrent/",
          },
        );
      } else {
        assert.ok(
          resolved?.kind === "backend",
          `${where} must reach ${expected.app}, reaches ${JSON.stringify(resolved)}`,
        );
        assert.deepEqual(
          { namespace: resolved.namespace, service: resolved.service, port: resolved.port },
          { namespace: expected.namespace, service: expected.app, port: expected.servicePort },
          where,
        );
      }
    }
  }
}

describe("ingress: gateways and routes", () => {
  let core: StackPlan;
  let downloads: StackPlan;
  before(async () => {
    core = await planCore();
    downloads = await planDownloads();
  });
  const both = () => [...core.manifests, ...downloads.manifests];

  it("serves every app at exactly its URL on its domain's gateway, and nothing anywhere else", () => {
    assertRoutesMatch(new RouteTable(both()), DEFAULT_APPS);
  });

  it("gives the example config these LAN and tailnet URLs (admin LAN-only)", () => {
    assert.deepEqual(appUrls(both()), {
      radarr: ["http://192.168.1.240/radarr", "http://charmarr-arr/radarr"],
      sonarr: ["http://192.168.1.240/sonarr", "http://charmarr-arr/sonarr"],
      lidarr: ["http://192.168.1.240/lidarr", "http://charmarr-arr/lidarr"],
      prowlarr: ["http://192.168.1.240/prowlarr", "http://charmarr-arr/prowlarr"],
      seerr: ["http://192.168.1.241:5055/", "http://charmarr-media:5055/"],
      qbittorrent: ["http://192.168.1.242/qbittorrent/"],
      sabnzbd: ["http://192.168.1.242/sabnzbd"],
    });
  });

  it("makes every gateway's Service single-stack IPv4 through Istio's parameters ConfigMap, created before the Gateway", () => {
    for (const gateway of manifestsOf(core, "Gateway")) {
      const ref = (gateway.spec as IGateway["spec"]).infrastructure?.parametersRef;
      assert.ok(ref, `${gateway.metadata.name} has no parametersRef`);
      assert.deepEqual(
        { group: ref.group, kind: ref.kind },
        { group: "", kind: "ConfigMap" },
        "Istio takes only a core/v1 ConfigMap",
      );
      const parameters = manifestOf(core, "ConfigMap", ref.name);
      assert.equal(
        parameters.metadata.namespace,
        gateway.metadata.namespace,
        "Istio looks in the Gateway's own namespace",
      );
      const overlay = parse((parameters.data as Record<string, string>).service) as { spec: Record<string, unknown> };
      assert.deepEqual(overlay, { spec: { ipFamilyPolicy: "SingleStack", ipFamilies: ["IPv4"] } });
      const gatewayResource = core.resources.find(
        (r) =>
          r.type.endsWith(":Gateway") &&
          r.inputs.metadata &&
          (r.inputs.metadata as { name: string }).name === gateway.metadata.name,
      );
      const parametersResource = core.resources.find(
        (r) => r.type === "kubernetes:core/v1:ConfigMap" && (r.inputs.metadata as { name: string }).name === ref.name,
      );
      assert.ok(
        gatewayResource?.dependencies.includes(parametersResource?.urn as string),
        `${gateway.metadata.name} is created before its parameters`,
      );
    }
  });

  it("has pulumi up wait for each Gateway until Istio reports it Programmed", () => {
    for (const gateway of manifestsOf(core, "Gateway")) {
      assert.equal(
        (gateway.metadata.annotations as Record<string, string>)["pulumi.com/waitFor"],
        "condition=Programmed",
      );
    }
  });

  it("outputs each app's LAN and tailnet URL, the very URLs the gateways and routes serve", () => {
    const outputs: Record<string, { lan?: string; tailnet?: string }> = {
      ...(core.outputs.urls as Record<string, { lan?: string; tailnet?: string }>),
      ...(downloads.outputs.urls as Record<string, { lan?: string; tailnet?: string }>),
    };
    assert.deepEqual(outputs, {
      radarr: { lan: "http://192.168.1.240/radarr", tailnet: "http://charmarr-arr/radarr" },
      sonarr: { lan: "http://192.168.1.240/sonarr", tailnet: "http://charmarr-arr/sonarr" },
      lidarr: { lan: "http://192.168.1.240/lidarr", tailnet: "http://charmarr-arr/lidarr" },
      prowlarr: { lan: "http://192.168.1.240/prowlarr", tailnet: "http://charmarr-arr/prowlarr" },
      seerr: { lan: "http://192.168.1.241:5055/", tailnet: "http://charmarr-media:5055/" },
      plex: { lan: "http://192.168.1.243:32400/web", tailnet: "http://charmarr-plex:32400/web" },
      qbittorrent: { lan: "http://192.168.1.242/qbittorrent/" },
      sabnzbd: { lan: "http://192.168.1.242/sabnzbd" },
    });
    const served = appUrls(both());
    // Plex is not behind a gateway: its URLs are its own Service's (checked in "ingress: Plex").
    for (const [app, urls] of Object.entries(outputs as Record<string, { lan?: string; tailnet?: string }>).filter(
      ([app]) => app !== "plex",
    )) {
      const { lan, tailnet } = urls;
      for (const url of [lan, tailnet].filter((u): u is string => u !== undefined)) {
        assert.ok(
          served[app]?.includes(url),
          `${app}: ${url} is not a URL the routes serve (${served[app]?.join(", ")})`,
        );
      }
    }
  });

  it("strips /qbittorrent/ before qBittorrent and redirects the bare prefix", () => {
    const table = new RouteTable(both());
    assert.deepEqual(table.resolve("admin", 80, "/qbittorrent/api/v2/app/version"), {
      kind: "backend",
      namespace: "charmarr-downloads",
      service: "qbittorrent",
      port: 8080,
      path: "/api/v2/app/version",
      route: "charmarr-downloads/qbittorrent",
    });
    assert.equal((table.resolve("admin", 80, "/qbittorrent/") as { path: string }).path, "/");
    // Servarr apps and SABnzbd serve under their prefix themselves: no rewrite.
    assert.equal((table.resolve("arr", 80, "/radarr/api/v3/movie") as { path: string }).path, "/radarr/api/v3/movie");
    assert.equal((table.resolve("admin", 80, "/sabnzbd/api") as { path: string }).path, "/sabnzbd/api");
  });

  it("attaches no route from a namespace the listener does not admit", () => {
    const manifests = both();
    const moved = (name: string, change: (route: Manifest) => Manifest) =>
      manifests.map((m) => (m.kind === "HTTPRoute" && m.metadata.name === name ? change(m) : m));
    // The VPN namespace exists in the plan, but carries no route-access label.
    const fromVpnNamespace = new RouteTable(
      moved("qbittorrent", (route) => ({ ...route, metadata: { ...route.metadata, namespace: "charmarr-vpn" } })),
    );
    assert.equal(fromVpnNamespace.resolve("admin", 80, "/qbittorrent/"), undefined);
    // The downloads namespace may attach to admin only: sabnzbd's route aimed at the arr gateway stays detached.
    const aimedAtArr = new RouteTable(
      moved("sabnzbd", (route) => {
        const spec = route.spec as { parentRefs: Record<string, unknown>[] };
        return { ...route, spec: { ...spec, parentRefs: spec.parentRefs.map((ref) => ({ ...ref, name: "arr" })) } };
      }),
    );
    assert.equal(aimedAtArr.resolve("arr", 80, "/sabnzbd"), undefined);
    assert.equal(aimedAtArr.resolve("admin", 80, "/sabnzbd"), undefined);
    // A namespace that is not in the plan at all (so carries no labels) cannot attach either.
    const unknown = new RouteTable(
      moved("radarr", (route) => ({ ...route, metadata: { ...route.metadata, namespace: "somewhere-else" } })),
    );
    assert.equal(unknown.resolve("arr", 80, "/radarr"), undefined);
  });

  it("admits routes by namespace selector, never from All", () => {
    for (const gateway of manifestsOf(core, "Gateway")) {
      for (const listener of (
        gateway.spec as { listeners: { allowedRoutes: { namespaces: { from: string; selector?: unknown } } }[] }
      ).listeners) {
        assert.equal(listener.allowedRoutes.namespaces.from, "Selector", `${gateway.metadata.name}`);
        assert.deepEqual(listener.allowedRoutes.namespaces.selector, {
          matchLabels: { [`charmarr.io/routes-to-${gateway.metadata.name}`]: "true" },
        });
      }
    }
    const coreLabels = manifestOf(core, "Namespace", "charmarr-core").metadata.labels as Record<string, string>;
    const downloadsLabels = manifestOf(downloads, "Namespace", "charmarr-downloads").metadata.labels as Record<
      string,
      string
    >;
    assert.deepEqual(
      Object.keys(coreLabels)
        .filter((key) => key.startsWith("charmarr.io/routes-to-"))
        .sort(),
      ["charmarr.io/routes-to-admin", "charmarr.io/routes-to-arr", "charmarr.io/routes-to-media"],
    );
    assert.deepEqual(
      Object.keys(downloadsLabels).filter((key) => key.startsWith("charmarr.io/routes-to-")),
      ["charmarr.io/routes-to-admin"],
    );
  });

  it("puts the LAN IP and tailnet exposure in spec.infrastructure.annotations, never spec.addresses", () => {
    const annotationsOf = (name: string) => {
      const gateway = manifestOf(core, "Gateway", name);
      const spec = gateway.spec as {
        gatewayClassName: string;
        addresses?: unknown;
        infrastructure: { annotations: Record<string, string> };
      };
      assert.equal(spec.gatewayClassName, "istio");
      assert.equal(
        spec.addresses,
        undefined,
        "spec.addresses would also set spec.loadBalancerIP, which MetalLB refuses next to its annotation",
      );
      assert.equal(gateway.metadata.namespace, "charmarr-core");
      return spec.infrastructure.annotations;
    };
    assert.deepEqual(annotationsOf("arr"), {
      "metallb.io/loadBalancerIPs": "192.168.1.240",
      "tailscale.com/expose": "true",
      "tailscale.com/hostname": "charmarr-arr",
      "tailscale.com/tags": "tag:charmarr-arr",
    });
    assert.equal(annotationsOf("media")["tailscale.com/hostname"], "charmarr-media");
    assert.deepEqual(
      annotationsOf("admin"),
      { "metallb.io/loadBalancerIPs": "192.168.1.242" },
      "admin is LAN-only by default",
    );
  });

  it("exports each gateway's reference for routes from the downloads stack", () => {
    const gateways = core.outputs.gateways as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(gateways), ["arr", "media", "admin"]);
    assert.deepEqual(gateways.admin, {
      name: "admin",
      namespace: "charmarr-core",
      sectionName: "http",
      port: 80,
      principal: "cluster.local/ns/charmarr-core/sa/admin-istio",
      lanIp: "192.168.1.242",
      paths: {},
    });
    assert.equal(gateways.arr.tailnetHostname, "charmarr-arr");
  });
});

describe("ingress: variants", () => {
  it("puts the admin gateway on the tailnet when asked, with all its tags", async () => {
    const core = await planCore({
      "charmarr:gateways.admin.tailscale.expose": true,
      "charmarr:gateways.admin.tailscale.tags": ["tag:charmarr-admin", "tag:homelab"],
    });
    const annotations = (
      manifestOf(core, "Gateway", "admin").spec as { infrastructure: { annotations: Record<string, string> } }
    ).infrastructure.annotations;
    assert.equal(annotations["tailscale.com/expose"], "true");
    assert.equal(annotations["tailscale.com/hostname"], "charmarr-admin");
    assert.equal(annotations["tailscale.com/tags"], "tag:charmarr-admin,tag:homelab");
    const downloads = await planDownloads({}, { "charmarr:gateways.admin.tailscale.expose": true });
    assert.deepEqual(appUrls([...core.manifests, ...downloads.manifests]).sabnzbd, [
      "http://192.168.1.242/sabnzbd",
      "http://charmarr-admin/sabnzbd",
    ]);
  });

  it("leaves the IP to MetalLB when no LAN IP is pinned", () => {
    const settings = gatewaysSchema.parse({ arr: { tailscale: { expose: false } } });
    assert.deepEqual(gatewayServiceAnnotations(settings.arr), {});
  });

  it("serves Jellyfin on its own listener instead of Plex when chosen, and drops disabled apps' routes", async () => {
    const core = await planCore({ "charmarr:mediaServer": "jellyfin", "charmarr:apps.lidarr.enabled": false });
    const downloads = await planDownloads(
      { "charmarr:apps.sabnzbd.enabled": false },
      { "charmarr:mediaServer": "jellyfin", "charmarr:apps.lidarr.enabled": false },
    );
    const apps = DEFAULT_APPS.filter((app) => !["plex", "lidarr", "sabnzbd"].includes(app.app)).concat([
      { app: "jellyfin", namespace: "charmarr-core", gateway: "media", port: 8096, servicePort: 8096 },
    ]);
    const table = new RouteTable([...core.manifests, ...downloads.manifests]);
    assertRoutesMatch(table, apps);
    assert.ok(!table.listeners().some((listener) => listener.port === 32400), "no Plex listener");
    assert.equal(manifestsOf(core, "StatefulSet", "plex").length, 0);
    assert.equal(manifestsOf(downloads, "StatefulSet", "sabnzbd").length, 0);
  });

  it("serves an app at a custom path", async () => {
    const core = await planCore({ "charmarr:apps.sonarr.path": "/tv" });
    const table = new RouteTable(core.manifests);
    assert.equal((table.resolve("arr", 80, "/tv/calendar") as { service: string }).service, "sonarr");
    assert.equal(table.resolve("arr", 80, "/sonarr"), undefined);
  });

  it("creates no gateway for a disabled domain", async () => {
    const core = await planCore({ "charmarr:gateways.admin.enabled": false });
    assert.deepEqual(
      manifestsOf(core, "Gateway").map((g) => g.metadata.name),
      ["arr", "media"],
    );
    assert.deepEqual(Object.keys(core.outputs.gateways as object), ["arr", "media"]);
  });
});

describe("ingress: refused configurations", () => {
  it("refuses an app with no gateway to serve it, in core", async () => {
    await assertConfigError(
      planCore({ "charmarr:gateways.arr.enabled": false }),
      "charmarr:apps.radarr",
      "no gateway serves it",
      "pulumi config set --path 'charmarr:apps.radarr.enabled' false",
    );
  });

  it("refuses a download client whose gateway the core stack does not run", async () => {
    await assertConfigError(
      planDownloads({}, { "charmarr:gateways.admin.enabled": false }),
      "charmarr:apps.qbittorrent",
      "charmarr:apps.sabnzbd",
      "charmarr:gateways.admin.enabled is false",
    );
  });

  it("refuses two apps on the same path", async () => {
    await assertConfigError(
      planCore({ "charmarr:apps.sonarr.path": "/radarr" }),
      "charmarr:apps.sonarr.path",
      "radarr already uses",
      "pulumi config set --path charmarr:apps.sonarr.path /sonarr",
    );
    await assertConfigError(
      planDownloads({ "charmarr:apps.sabnzbd.path": "/qbittorrent" }),
      "charmarr:apps.sabnzbd.path",
      "qbittorrent already uses",
    );
  });

  it("refuses a path for an app that can only serve at /", async () => {
    await assertConfigError(
      planCore({ "charmarr:apps.plex.path": "/plex" }),
      "charmarr:apps.plex.path",
      "takes no path",
      "pulumi config rm --path 'charmarr:apps.plex.path'",
    );
  });

  it("refuses two gateways with the same LAN IP", async () => {
    await assertConfigError(
      planCore({ "charmarr:gateways.media.lanIp": "192.168.1.240" }),
      "charmarr:gateways.media.lanIp",
      "192.168.1.240 is also the arr gateway's LAN IP",
    );
  });

  it("refuses two tailnet gateways with the same hostname", async () => {
    await assertConfigError(
      planCore({ "charmarr:gateways.media.tailscale.hostname": "charmarr-arr" }),
      "charmarr:gateways.media.tailscale.hostname",
      "also the arr gateway's tailnet name",
      "pulumi config set --path charmarr:gateways.media.tailscale.hostname charmarr-media",
    );
  });

  it("refuses a tag without the tag: prefix", async () => {
    await assertConfigError(
      planCore({ "charmarr:gateways.arr.tailscale.tags": ["charmarr-arr"] }),
      "charmarr:gateways.arr.tailscale.tags[0]",
      "tags start with 'tag:'",
    );
  });
});

describe("ingress: pure builders", () => {
  const [radarr, plex] = resolveApps("core", {}, "plex")
    .filter(isServed)
    .filter((app) => app.name === "radarr" || app.name === "plex");
  const [qbittorrent] = resolveApps("downloads", {}).filter(isServed);

  it("builds a gateway with the shared listener and one per root-only app", () => {
    const settings = gatewaysSchema.parse({}).media;
    const gateway = buildGateway({
      domain: "media",
      namespace: "ns",
      settings,
      listeners: [
        { name: "http", port: 80 },
        { name: "plex", port: 32400 },
      ],
    });
    assert.deepEqual(
      gateway.spec.listeners.map((l) => [l.name, l.port, l.protocol]),
      [
        ["http", 80, "HTTP"],
        ["plex", 32400, "HTTP"],
      ],
    );
    assert.deepEqual(gateway.spec.infrastructure?.annotations, {
      "tailscale.com/expose": "true",
      "tailscale.com/hostname": "charmarr-media",
      "tailscale.com/tags": "tag:charmarr-media",
    });
  });

  it("routes a root-only app on its own listener, a Servarr app by prefix on the shared one", () => {
    assert.deepEqual(listenerFor(plex, "core"), {
      gateway: "media",
      namespace: "core",
      sectionName: "plex",
      port: 32400,
    });
    assert.deepEqual(listenerFor(radarr, "core"), { gateway: "arr", namespace: "core", sectionName: "http", port: 80 });
    const route = buildHttpRoute(radarr, "core", listenerFor(radarr, "core"));
    assert.deepEqual(route.spec.rules, [
      {
        matches: [{ path: { type: "PathPrefix", value: "/radarr" } }],
        backendRefs: [{ kind: "Service", name: "radarr", port: 7878 }],
      },
    ]);
  });

  it("redirects /qbittorrent and rewrites /qbittorrent/ to /", () => {
    const route = buildHttpRoute(qbittorrent, "downloads", listenerFor(qbittorrent, "core"));
    assert.deepEqual(route.spec.parentRefs, [
      { group: "gateway.networking.k8s.io", kind: "Gateway", name: "admin", namespace: "core", sectionName: "http" },
    ]);
    assert.deepEqual(
      route.spec.rules?.map((rule) => [rule.matches?.[0].path, rule.filters?.[0].type]),
      [
        [{ type: "Exact", value: "/qbittorrent" }, "RequestRedirect"],
        [{ type: "PathPrefix", value: "/qbittorrent/" }, "URLRewrite"],
      ],
    );
  });
});
