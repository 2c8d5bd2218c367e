import { strict as assert } from "node:assert";
import type { StackPlan } from "../plan/evaluate";
import { httpClient } from "../lib/relations/http";
import { relationLifecycle } from "../lib/relations/lifecycle";
import {
  AppEndpoint,
  CoreRelationsInput,
  KeyedEndpoint,
  PlannedRelation,
  Reach,
  coreGraph,
  coreRelations,
  downloadsGraph,
  downloadsRelations,
} from "../lib/relations/plan";
import type { RelationSpec } from "../lib/relations/reconcile";
import { coreRelationsSchema, downloadsRelationsSchema } from "../lib/relations/settings";
import { FakeApp, FakeQbittorrent, FakeSabnzbd, FakeServarr } from "./support/fakeApps";
import { FakeNetwork } from "./support/fakeNetwork";
import { planDownloads } from "./support/plan";

// Which relations lib/relations/plan.ts plans, and with which fields: the planned specs are run
// against the stand-ins (test/support/fakeApps.ts), which refuse what the apps refuse and test a
// download client or a Prowlarr application before they save it, as the apps do.
const RETRY = { attempts: 1, intervalMs: 0 };
const CLIENT_TIMEOUT_MS = 10_000;
const DYNAMIC = "pulumi-nodejs:dynamic:Resource";

function noViolations(...apps: FakeApp[]): void {
  assert.deepEqual(
    apps.flatMap((app) => app.violations.map((violation) => `${app.name}: ${violation}`)),
    [],
  );
}

const endpoint = (app: string, port: number, basePath: string, namespace = "charmarr-core"): KeyedEndpoint => ({
  namespace,
  host: `${app}.${namespace}.svc.cluster.local`,
  port,
  basePath,
  apiKey: `${app}-key-0000`,
});
const plex: AppEndpoint = {
  namespace: "charmarr-core",
  host: "plex.charmarr-core.svc.cluster.local",
  port: 32400,
  basePath: "",
};
const coreInput = (overrides: Partial<CoreRelationsInput> = {}): CoreRelationsInput => ({
  arr: {
    radarr: endpoint("radarr", 7878, "/radarr"),
    sonarr: endpoint("sonarr", 8989, "/sonarr"),
    lidarr: endpoint("lidarr", 8686, "/lidarr"),
  },
  prowlarr: endpoint("prowlarr", 9696, "/prowlarr"),
  seerr: endpoint("seerr", 5055, ""),
  plex,
  mountPath: "/data",
  settings: coreRelationsSchema.parse({}),
  ...overrides,
});
const names = (relations: readonly PlannedRelation[]) => relations.map((relation) => relation.name);

describe("relations planned by the downloads stack, run against the apps' stand-ins", function () {
  this.timeout(30000);
  let plan: StackPlan;
  before(async () => {
    plan = await planDownloads();
  });

  it("each arr app takes qBittorrent at its root and SABnzbd under its URL base, both enabled, after testing each as the app does", async () => {
    const relations = plan.rawResources
      .filter((resource) => resource.type === DYNAMIC)
      .map((resource) => ({
        name: resource.name.replace(/^relations-/, ""),
        reach: resource.inputs.reach as Reach,
        spec: (resource.inputs.spec as { value: RelationSpec }).value,
      }));
    const specOf = (name: string) => relations.find((relation) => relation.name === name)?.spec;
    const qbit = specOf("qbittorrent-categories");
    const sab = specOf("sabnzbd-categories");
    assert.ok(qbit?.kind === "qbittorrentCategories" && sab?.kind === "sabnzbdCategories");
    // The clients as the downloads stack runs them: qBittorrent's WebUI at / in its pod (the gateway
    // strips /qbittorrent), SABnzbd under url_base /sabnzbd; each with the credentials the stack made.
    const qbittorrent = await new FakeQbittorrent(qbit.target.username, qbit.target.password).start();
    const sabnzbd = await new FakeSabnzbd("/sabnzbd", sab.target.apiKey).start();
    const network = new FakeNetwork()
      .serve("qbittorrent.charmarr-downloads.svc.cluster.local", 8080, qbittorrent)
      .serve("sabnzbd.charmarr-downloads.svc.cluster.local", 8080, sabnzbd);
    const arr: Record<string, FakeServarr> = {};
    for (const app of ["radarr", "sonarr", "lidarr"] as const) {
      const spec = specOf(`${app}-download-clients`);
      assert.ok(spec?.kind === "providers");
      arr[app] = await FakeServarr.create(app, spec.target.basePath, spec.target.apiKey, { network });
    }
    const pods: Record<string, FakeApp> = {
      "qbittorrent-0": qbittorrent,
      "sabnzbd-0": sabnzbd,
      ...Object.fromEntries(Object.entries(arr).map(([app, fake]) => [`${app}-0`, fake])),
    };
    try {
      const lifecycle = relationLifecycle((reach, _connection, use) =>
        use(httpClient(pods[reach.pod].url, CLIENT_TIMEOUT_MS)),
      );
      for (const relation of relations) {
        await lifecycle.create({ reach: relation.reach, spec: relation.spec, retry: RETRY });
      }
      for (const app of Object.values(arr)) {
        for (const client of ["qBittorrent (Charmarr)", "SABnzbd (Charmarr)"]) {
          assert.equal(app.entry("downloadclient", client)?.enable, true, `${app.name} ${client}: enabled`);
        }
        assert.equal(app.fieldOf("downloadclient", "qBittorrent (Charmarr)", "urlBase"), "");
        assert.equal(app.fieldOf("downloadclient", "SABnzbd (Charmarr)", "urlBase"), "/sabnzbd");
      }
      noViolations(qbittorrent, sabnzbd, ...Object.values(arr));
    } finally {
      await Promise.all(Object.values(pods).map((app) => app.stop()));
    }
  });
});

describe("relations: which relations a stack plans, for the apps it runs", () => {
  const downloadsSettings = downloadsRelationsSchema.parse({});
  const clients = {
    qbittorrent: {
      ...endpoint("qbittorrent", 8080, "", "charmarr-downloads"),
      username: "charmarr",
      password: "generated",
    },
    sabnzbd: endpoint("sabnzbd", 8080, "/sabnzbd", "charmarr-downloads"),
  };
  const downloads = (overrides: Partial<Parameters<typeof downloadsRelations>[0]> = {}) =>
    downloadsRelations({
      arr: coreInput().arr,
      clients,
      mountPath: "/data",
      settings: downloadsSettings,
      ...overrides,
    });

  it("each relation comes after the relations it names, and those are planned: a download client after its category, Seerr after the root folders and Jellyfin's administrator", () => {
    // The Relations component drops a name it does not know (components/relations.ts), so a wrong
    // name would lose the order silently: SABnzbd then refuses a client whose category is not made yet.
    const plans = [
      downloads(),
      downloads({ clients: { qbittorrent: clients.qbittorrent } }),
      downloads({ clients: { sabnzbd: clients.sabnzbd } }),
      coreRelations(coreInput()),
      coreRelations(
        coreInput({
          plex: undefined,
          jellyfin: { ...plex, host: "jellyfin", port: 8096, admin: { username: "a", password: "p" } },
        }),
      ),
    ];
    for (const planned of plans) {
      planned.forEach((relation, index) => {
        const before = names(planned.slice(0, index));
        for (const name of relation.after ?? []) {
          assert.ok(before.includes(name), `${relation.name} comes after ${name}, which is not planned before it`);
        }
      });
    }
    const [both, onlyQbit, onlySab, core, jellyfin] = plans;
    const afterOf = (planned: PlannedRelation[], name: string) => planned.find((r) => r.name === name)?.after;
    assert.deepEqual(afterOf(both, "radarr-download-clients"), ["qbittorrent-categories", "sabnzbd-categories"]);
    assert.deepEqual(afterOf(onlyQbit, "sonarr-download-clients"), ["qbittorrent-categories"]);
    assert.deepEqual(afterOf(onlySab, "lidarr-download-clients"), ["sabnzbd-categories"]);
    assert.deepEqual(afterOf(core, "seerr-services"), ["radarr-root-folder", "sonarr-root-folder"]);
    assert.deepEqual(afterOf(jellyfin, "seerr-services"), [
      "radarr-root-folder",
      "sonarr-root-folder",
      "jellyfin-admin",
    ]);
  });

  it("relations turned off: neither stack plans a relation nor reports one in its relations output", () => {
    const off = { enabled: false };
    assert.deepEqual(coreGraph(["radarr", "sonarr", "prowlarr", "seerr", "plex"], off, true), {});
    assert.deepEqual(downloadsGraph(["radarr"], ["qbittorrent", "prowlarr"], off), {});
    assert.deepEqual(coreRelations(coreInput({ settings: coreRelationsSchema.parse({ enabled: false }) })), []);
  });

  it("Seerr is wired to the media apps that run, and not at all when none runs or Seerr itself is off", () => {
    const on = { enabled: true };
    assert.deepEqual(coreGraph(["radarr", "seerr", "prowlarr"], on, false), {
      prowlarr: ["radarr"],
      seerr: ["radarr"],
    });
    const withoutSonarr = coreRelations(coreInput({ arr: { radarr: coreInput().arr.radarr } }));
    const seerr = withoutSonarr.find((relation) => relation.name === "seerr-services");
    assert.ok(seerr?.spec.kind === "seerr");
    assert.deepEqual(
      seerr.spec.services.map((service) => [service.kind, service.hostname]),
      [["radarr", "radarr.charmarr-core.svc.cluster.local"]],
    );
    assert.deepEqual(coreGraph(["radarr", "sonarr", "prowlarr"], on, false), { prowlarr: ["radarr", "sonarr"] });
    // Seerr with nothing to send requests to, nor a media server to sign in through: nothing to do.
    assert.deepEqual(coreGraph(["lidarr", "seerr", "prowlarr"], on, false), { prowlarr: ["lidarr"] });
    assert.deepEqual(names(coreRelations(coreInput({ arr: { lidarr: coreInput().arr.lidarr }, plex: undefined }))), [
      "lidarr-root-folder",
      "prowlarr-applications",
    ]);
  });

  it("Seerr beside Plex alone: with a Plex token the relation signs Seerr in and links Plex; without one it has nothing to do", () => {
    const tokenGiven = coreRelations(coreInput({ arr: {}, prowlarr: undefined, plexToken: "plex-account-token" }));
    assert.deepEqual(names(tokenGiven), ["seerr-services"]);
    assert.deepEqual(tokenGiven[0].spec.kind === "seerr" && tokenGiven[0].spec.mediaServer, {
      kind: "plex",
      hostname: "plex.charmarr-core.svc.cluster.local",
      port: 32400,
      token: "plex-account-token",
      claimGiven: false,
    });
    assert.deepEqual(names(coreRelations(coreInput({ arr: {}, prowlarr: undefined }))), []);
  });

  it("Prowlarr is wired only when it runs and has an arr app or FlareSolverr to serve", () => {
    const on = { enabled: true };
    assert.deepEqual(coreGraph(["prowlarr", "seerr", "plex"], on, true), { seerr: ["plex"] });
    assert.deepEqual(coreGraph(["radarr", "flaresolverr"], on, false), {});
    assert.deepEqual(coreGraph(["prowlarr", "flaresolverr"], on, false), { prowlarr: ["flaresolverr"] });
  });

  it("the downloads stack without download clients, Prowlarr routed there: only Prowlarr's relations, no arr app wired to a client", () => {
    const prowlarr = endpoint("prowlarr", 9696, "/prowlarr", "charmarr-downloads");
    assert.deepEqual(downloadsGraph(["radarr", "sonarr"], ["prowlarr"], { enabled: true }), {
      prowlarr: ["radarr", "sonarr"],
    });
    assert.deepEqual(names(downloads({ clients: {}, prowlarr })), ["prowlarr-applications"]);
  });
});

describe("relations: Prowlarr's applications, planned by the core stack, against the stand-ins", function () {
  this.timeout(30000);
  it("a re-run writes nothing: the API key Prowlarr answers masked counts as unchanged", async () => {
    const network = new FakeNetwork();
    const prowlarr = await FakeServarr.create("prowlarr", "/prowlarr", "prowlarr-key-0000", { network });
    const radarr = await FakeServarr.create("radarr", "/radarr", "radarr-key-0000", { network });
    // Prowlarr tests the application by calling Radarr, whose indexer test reaches back to Prowlarr.
    network
      .serve("prowlarr.charmarr-core.svc.cluster.local", 9696, prowlarr)
      .serve("radarr.charmarr-core.svc.cluster.local", 7878, radarr);
    try {
      const relation = coreRelations(coreInput({ arr: { radarr: coreInput().arr.radarr }, seerr: undefined })).find(
        (planned) => planned.name === "prowlarr-applications",
      );
      assert.ok(relation?.spec.kind === "providers");
      const lifecycle = relationLifecycle((_reach, _connection, use) =>
        use(httpClient(prowlarr.url, CLIENT_TIMEOUT_MS)),
      );
      const inputs = { reach: relation.reach, spec: relation.spec, retry: RETRY };
      const created = await lifecycle.create(inputs);
      assert.deepEqual(created.changes, ["created prowlarr applications Radarr (Charmarr)"]);
      assert.equal(prowlarr.fieldOf("applications", "Radarr (Charmarr)", "apiKey"), "radarr-key-0000");
      const writes = prowlarr.mutations;
      // A forced reconcile of the same spec, as a re-run after the relation's own failure would make.
      assert.deepEqual((await lifecycle.update(created, inputs)).changes, []);
      assert.equal(prowlarr.mutations, writes, "nothing written");
      noViolations(prowlarr, radarr);
    } finally {
      await Promise.all([prowlarr.stop(), radarr.stop()]);
    }
  });
});
