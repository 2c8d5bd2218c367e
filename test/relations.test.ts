import { strict as assert } from "node:assert";
import { httpClient } from "../lib/relations/http";
import { Connect, RelationInputs, RelationState, relationLifecycle } from "../lib/relations/lifecycle";
import {
  AppEndpoint,
  CoreRelationsInput,
  DownloadClients,
  KeyedEndpoint,
  PlannedRelation,
  coreRelations,
  downloadsRelations,
} from "../lib/relations/plan";
import { portForwardConnect } from "../lib/relations/portForward";
import { coreRelationsSchema, downloadsRelationsSchema } from "../lib/relations/settings";
import { FakeApp, FakeQbittorrent, FakeSabnzbd, FakeServarr, Field } from "./support/fakeApps";
import { FakeKubernetesApi } from "./support/fakeKubernetesApi";
import { FakeNetwork } from "./support/fakeNetwork";
import { FakePlex, FakeSeerr } from "./support/fakeSeerr";
import { FakeFlareSolverr } from "./support/fakeFlareSolverr";

// Every request below goes to an in-process stand-in on 127.0.0.1 that checks it against the app's
// published API and refuses anything else; each test asserts the stand-ins refused nothing.
/** Generous: a stand-in that tests what it saves calls other stand-ins, slow on a loaded machine. */
const CLIENT_TIMEOUT_MS = 10_000;
const RETRY = { attempts: 3, intervalMs: 20 };
const KEYS = {
  radarr: "radarr-key-0000",
  sonarr: "sonarr-key-0000",
  lidarr: "lidarr-key-0000",
  prowlarr: "prowlarr-key-000",
  sabnzbd: "0123456789abcdef0123456789abcdef",
  seerr: "seerr-key-00",
};
const QBIT = { username: "charmarr", password: "generated-password" };
const PLEX_TOKEN = "plex-account-token";
const PLEX_ACCOUNT = { id: 7, email: "owner@example.org", username: "owner", authToken: PLEX_TOKEN };

const core = (app: keyof typeof KEYS, port: number, basePath: string, namespace = "charmarr-core"): KeyedEndpoint => ({
  namespace,
  host: `${app}.${namespace}.svc.cluster.local`,
  port,
  basePath,
  apiKey: KEYS[app],
});

/** The downloads stack's qBittorrent as the arr apps reach it (its Service, no URL base). */
const QBITTORRENT = {
  namespace: "charmarr-downloads",
  host: "qbittorrent.charmarr-downloads.svc.cluster.local",
  port: 8080,
  basePath: "",
  ...QBIT,
};

/** Radarr's download-client relations with qBittorrent alone. */
const radarrToQbittorrent = () =>
  downloadsRelations({
    arr: { radarr: core("radarr", 7878, "/radarr") },
    clients: { qbittorrent: QBITTORRENT },
    mountPath: "/data",
    settings: downloadsRelationsSchema.parse({}),
  });

/** A Radarr stand-in that reaches a qBittorrent stand-in by its Service name, with /data/movies on its disk. */
async function radarrAndQbittorrent(): Promise<{ radarr: FakeServarr; qbittorrent: FakeQbittorrent }> {
  const qbittorrent = await new FakeQbittorrent(QBIT.username, QBIT.password).start();
  const radarr = await FakeServarr.create("radarr", "/radarr", KEYS.radarr, {
    network: new FakeNetwork().serve(QBITTORRENT.host, QBITTORRENT.port, qbittorrent),
    folders: ["/data/movies"],
  });
  return { radarr, qbittorrent };
}

/** The port each app's pod serves, as the apps' StatefulSets declare it; a relation reaching another port fails. */
const POD_PORT: Readonly<Record<string, number>> = {
  radarr: 7878,
  sonarr: 8989,
  lidarr: 8686,
  prowlarr: 9696,
  seerr: 5055,
  qbittorrent: 8080,
  sabnzbd: 8080,
};
const namespaceOf = (app: string) =>
  ["qbittorrent", "sabnzbd"].includes(app) ? "charmarr-downloads" : "charmarr-core";
const localPort = (app: FakeApp) => Number(new URL(app.url).port);

/**
 * Runs relation resources the way Pulumi would: create, then diff + update, then delete; state kept
 * per resource name. Every request crosses the relation provider's port-forward, served by a fake
 * Kubernetes API whose pods are the stand-ins (`radarr-0`, or `<namespace>/radarr-0`), each serving
 * its app's port: a forward to another pod or port fails the test.
 */
class Deployment {
  readonly state = new Map<string, RelationState>();
  readonly lifecycle;
  private readonly cluster: Promise<FakeKubernetesApi>;
  constructor(apps: Record<string, FakeApp>) {
    this.cluster = FakeKubernetesApi.start().then((api) => {
      for (const [key, app] of Object.entries(apps)) {
        const [namespace, pod] = key.includes("/") ? key.split("/") : [namespaceOf(app.name), key];
        api.addPod(namespace, pod, { [POD_PORT[app.name]]: localPort(app) });
      }
      return api;
    });
    const connect: Connect = async (reach, _connection, use) => {
      const api = await this.cluster;
      return portForwardConnect(reach, { kubeconfig: api.kubeconfig(), context: "homelab" }, use);
    };
    this.lifecycle = relationLifecycle(connect);
  }

  /** The app's pod now serves `port` instead (its port was changed). */
  async serve(pod: string, port: number, app: FakeApp): Promise<void> {
    (await this.cluster).addPod(namespaceOf(app.name), pod, { [port]: localPort(app) });
  }

  /** `pulumi up` with these relations: returns the names of the resources Pulumi would create, update or delete. */
  async up(planned: readonly PlannedRelation[]): Promise<string[]> {
    const touched: string[] = [];
    for (const relation of planned) {
      const inputs: RelationInputs = { reach: relation.reach, spec: relation.spec, retry: RETRY };
      const old = this.state.get(relation.name);
      if (old === undefined) {
        this.state.set(relation.name, await this.lifecycle.create(inputs));
        touched.push(`create ${relation.name}`);
      } else {
        const diff = this.lifecycle.diff(old, inputs);
        if (diff.replaces.length > 0) {
          // Pulumi's default replacement: create the new one, then delete the old one with its own state.
          this.state.set(relation.name, await this.lifecycle.create(inputs));
          await this.lifecycle.delete(old);
          touched.push(`replace ${relation.name}`);
        } else if (diff.changes) {
          this.state.set(relation.name, await this.lifecycle.update(old, inputs));
          touched.push(`update ${relation.name}`);
        }
      }
    }
    const wanted = new Set(planned.map((relation) => relation.name));
    for (const [name, old] of [...this.state].reverse()) {
      if (!wanted.has(name)) {
        await this.lifecycle.delete(old);
        this.state.delete(name);
        touched.push(`delete ${name}`);
      }
    }
    return touched;
  }
}

function noViolations(...apps: FakeApp[]): void {
  assert.deepEqual(
    apps.flatMap((app) => app.violations.map((violation) => `${app.name}: ${violation}`)),
    [],
  );
}

const mutations = (...apps: FakeApp[]) => apps.reduce((sum, app) => sum + app.mutations, 0);

describe("relations: downloads stack (arr apps → qBittorrent and SABnzbd)", function () {
  this.timeout(30000);
  let radarr: FakeServarr, sonarr: FakeServarr, lidarr: FakeServarr, qbittorrent: FakeQbittorrent, sabnzbd: FakeSabnzbd;
  let deployment: Deployment;
  const settings = downloadsRelationsSchema.parse({});
  const clients = (sabPath = "/sabnzbd", qbitPort = 8080): DownloadClients => ({
    qbittorrent: { ...QBITTORRENT, port: qbitPort },
    sabnzbd: { ...core("sabnzbd", 8080, sabPath, "charmarr-downloads") },
  });
  const arr = () => ({
    radarr: core("radarr", 7878, "/radarr"),
    sonarr: core("sonarr", 8989, "/sonarr"),
    lidarr: core("lidarr", 8686, "/lidarr"),
  });
  const plan = (overrides: Partial<Parameters<typeof downloadsRelations>[0]> = {}) =>
    downloadsRelations({ arr: arr(), clients: clients(), mountPath: "/data", settings, ...overrides });
  const all = () => [radarr, sonarr, lidarr, qbittorrent, sabnzbd];
  /** Radarr's download-client relation run again against what Radarr holds now, as the next `pulumi up` runs it. */
  const updateRadarrClients = () => {
    const relation = plan().find((r) => r.name === "radarr-download-clients") as PlannedRelation;
    return deployment.lifecycle.update(deployment.state.get(relation.name) as RelationState, {
      reach: relation.reach,
      spec: relation.spec,
      retry: RETRY,
    });
  };

  before(async () => {
    qbittorrent = await new FakeQbittorrent(QBIT.username, QBIT.password).start();
    sabnzbd = await new FakeSabnzbd("/sabnzbd", KEYS.sabnzbd).start();
    // The arr apps test each client before they save it, by its Service name (qBittorrent also on the
    // port a later test moves it to).
    const network = new FakeNetwork()
      .serve("qbittorrent.charmarr-downloads.svc.cluster.local", 8080, qbittorrent)
      .serve("qbittorrent.charmarr-downloads.svc.cluster.local", 8081, qbittorrent)
      .serve("sabnzbd.charmarr-downloads.svc.cluster.local", 8080, sabnzbd);
    radarr = await FakeServarr.create("radarr", "/radarr", KEYS.radarr, { network });
    sonarr = await FakeServarr.create("sonarr", "/sonarr", KEYS.sonarr, { network });
    lidarr = await FakeServarr.create("lidarr", "/lidarr", KEYS.lidarr, { network });
    deployment = new Deployment({
      "radarr-0": radarr,
      "sonarr-0": sonarr,
      "lidarr-0": lidarr,
      "qbittorrent-0": qbittorrent,
      "sabnzbd-0": sabnzbd,
    });
    // Entries a user made by hand, which no relation owns.
    radarr.add("downloadclient", {
      name: "My NZBGet",
      implementation: "Nzbget",
      configContract: "NzbgetSettings",
      enable: true,
      priority: 2,
      fields: [{ name: "host", value: "nas" }],
    });
    qbittorrent.categories.set("manual", "/data/other");
  });
  after(() => Promise.all(all().map((app) => app?.stop())));

  it("create: each arr app takes both clients, one category per app, saving under the shared library", async () => {
    const touched = await deployment.up(plan());
    assert.deepEqual(touched, [
      "create qbittorrent-categories",
      "create sabnzbd-categories",
      "create radarr-download-clients",
      "create sonarr-download-clients",
      "create lidarr-download-clients",
    ]);
    assert.deepEqual(
      [...qbittorrent.categories],
      [
        ["manual", "/data/other"],
        ["radarr", "/data/downloads/radarr"],
        ["sonarr", "/data/downloads/sonarr"],
        ["lidarr", "/data/downloads/lidarr"],
      ],
    );
    assert.equal(
      sabnzbd.categories.get("lidarr"),
      "/data/downloads/lidarr",
      "SABnzbd has no music category of its own: the relation makes one",
    );
    for (const [app, field] of [
      [radarr, "movieCategory"],
      [sonarr, "tvCategory"],
      [lidarr, "musicCategory"],
    ] as const) {
      assert.equal(
        app.fieldOf("downloadclient", "qBittorrent (Charmarr)", "host"),
        "qbittorrent.charmarr-downloads.svc.cluster.local",
      );
      assert.equal(app.fieldOf("downloadclient", "qBittorrent (Charmarr)", "password"), QBIT.password);
      assert.equal(app.fieldOf("downloadclient", "qBittorrent (Charmarr)", field), app.name);
      assert.equal(app.fieldOf("downloadclient", "SABnzbd (Charmarr)", field), app.name, "SABnzbd's category");
      assert.equal(app.fieldOf("downloadclient", "SABnzbd (Charmarr)", "urlBase"), "/sabnzbd");
      assert.equal(app.fieldOf("downloadclient", "SABnzbd (Charmarr)", "apiKey"), KEYS.sabnzbd);
      assert.equal(app.entry("downloadclient", "SABnzbd (Charmarr)")?.enable, true);
      for (const client of ["qBittorrent (Charmarr)", "SABnzbd (Charmarr)"]) {
        const entry = app.entry("downloadclient", client);
        assert.deepEqual(
          [entry?.removeCompletedDownloads, entry?.removeFailedDownloads],
          [true, true],
          `${app.name} ${client}: the apps' own defaults for a new client`,
        );
      }
    }
    assert.ok(radarr.entry("downloadclient", "My NZBGet"));
    noViolations(...all());
  });

  it("re-run: the same plan changes nothing (no resource updated, no request that writes)", async () => {
    const before = mutations(...all());
    assert.deepEqual(await deployment.up(plan()), []);
    // Even a forced reconcile of every relation writes nothing: the apps already hold the entries.
    for (const relation of plan()) {
      const state = deployment.state.get(relation.name) as RelationState;
      const after = await deployment.lifecycle.update(state, {
        reach: relation.reach,
        spec: relation.spec,
        retry: RETRY,
      });
      assert.deepEqual(after.changes, [], relation.name);
    }
    assert.equal(mutations(...all()), before);
    noViolations(...all());
  });

  // An entry of the relation's name that a user made another client by hand, through Radarr's UI or
  // API, as Radarr answers it: the stored implementation and settings class, and that class's fields
  // (test/support/servarrSettings.ts).
  const SABNZBD = "SABnzbd (Charmarr)";
  const QBITTORRENT_ENTRY = "qBittorrent (Charmarr)";
  const replacements: {
    what: string;
    name: string;
    protocol: string;
    implementation: string;
    configContract: string;
    fields: (made: Field[]) => Field[];
    /** The stored settings are the relation's class: the user's choices in them stay. */
    keepsFields?: true;
  }[] = [
    {
      what: "NZBGet with its own settings, none of which is the relation's",
      name: SABNZBD,
      protocol: "usenet",
      implementation: "Nzbget",
      configContract: "NzbgetSettings",
      fields: () => [
        { name: "host", value: "nas" },
        { name: "port", value: 6789 },
        { name: "useSsl", value: false },
        { name: "urlBase", value: null },
        { name: "username", value: "nzbget" },
        { name: "password", value: "tegbzn6789" },
        { name: "movieCategory", value: "Movies" },
        { name: "recentMoviePriority", value: 0 },
        { name: "olderMoviePriority", value: 0 },
        { name: "addPaused", value: true },
      ],
    },
    {
      what: "NZBGet over the SABnzbd's own settings, one of them the user's choice",
      name: SABNZBD,
      protocol: "usenet",
      implementation: "Nzbget",
      configContract: "SabnzbdSettings",
      // SabnzbdPriority.High (src/NzbDrone.Core/Download/Clients/Sabnzbd/SabnzbdPriority.cs).
      fields: (made) => made.map((field) => (field.name === "olderMoviePriority" ? { ...field, value: 1 } : field)),
      keepsFields: true,
    },
    {
      what: "qBittorrent over Transmission's settings, holding the relation's values",
      name: QBITTORRENT_ENTRY,
      protocol: "torrent",
      implementation: "QBittorrent",
      configContract: "TransmissionSettings",
      fields: (made) => [
        ...["host", "port", "useSsl", "urlBase", "username", "password", "movieCategory"].map((name) => ({
          name,
          value: made.find((field) => field.name === name)?.value,
        })),
        { name: "movieImportedCategory", value: null },
        { name: "movieDirectory", value: null },
        { name: "recentMoviePriority", value: 0 },
        { name: "olderMoviePriority", value: 0 },
        { name: "addPaused", value: false },
      ],
    },
  ];
  for (const replacement of replacements) {
    it(`its entry made another client by hand under its name (${replacement.what}) is its own again, in place: the relation's settings and their class's defaults, the user's other choices kept`, async () => {
      const { name } = replacement;
      const made = structuredClone(radarr.entry("downloadclient", name)) as Record<string, unknown>;
      const clients = radarr.collections.downloadclient;
      clients.splice(clients.indexOf(radarr.entry("downloadclient", name) as (typeof clients)[number]), 1);
      radarr.add("downloadclient", {
        name,
        implementation: replacement.implementation,
        configContract: replacement.configContract,
        enable: true,
        protocol: replacement.protocol,
        priority: 1,
        removeCompletedDownloads: false,
        tags: [],
        fields: replacement.fields(made.fields as Field[]),
      });
      const replaced = radarr.entry("downloadclient", name)?.id;
      const state = await updateRadarrClients();
      assert.deepEqual(state.changes, [`updated radarr downloadclient ${name}`]);
      const entry = radarr.entry("downloadclient", name);
      assert.deepEqual(
        [entry?.id, entry?.implementation, entry?.configContract, entry?.fields, entry?.removeCompletedDownloads],
        [
          replaced,
          made.implementation,
          made.configContract,
          replacement.keepsFields ? replacement.fields(made.fields as Field[]) : made.fields,
          false,
        ],
      );
      noViolations(...all());
    });
  }

  it("keeps what the user changed in fields the relation does not own, and restores the ones it owns", async () => {
    radarr.editField("downloadclient", "qBittorrent (Charmarr)", "sequentialOrder", true);
    radarr.editField("downloadclient", "qBittorrent (Charmarr)", "host", "typo");
    (radarr.entry("downloadclient", "qBittorrent (Charmarr)") as Record<string, unknown>).removeCompletedDownloads =
      false;
    const state = await updateRadarrClients();
    assert.deepEqual(state.changes, ["updated radarr downloadclient qBittorrent (Charmarr)"]);
    assert.equal(
      radarr.fieldOf("downloadclient", "qBittorrent (Charmarr)", "host"),
      "qbittorrent.charmarr-downloads.svc.cluster.local",
    );
    assert.equal(radarr.fieldOf("downloadclient", "qBittorrent (Charmarr)", "sequentialOrder"), true);
    assert.equal(
      radarr.entry("downloadclient", "qBittorrent (Charmarr)")?.removeCompletedDownloads,
      false,
      "set on create only: the user's choice stays",
    );
    assert.equal(
      radarr.fieldOf("downloadclient", "qBittorrent (Charmarr)", "password"),
      QBIT.password,
      "the masked password sent back keeps the stored one",
    );
    noViolations(...all());
  });

  it("a client of its own the user disabled is enabled again: the relation owns enable, as it owns the settings", async () => {
    const entry = () => radarr.entry("downloadclient", "qBittorrent (Charmarr)") as Record<string, unknown>;
    entry().enable = false;
    const state = await updateRadarrClients();
    assert.deepEqual(state.changes, ["updated radarr downloadclient qBittorrent (Charmarr)"]);
    assert.equal(entry().enable, true);
    noViolations(...all());
  });

  it("change: a new SABnzbd path and qBittorrent port reach every arr app's entry", async () => {
    sabnzbd.basePath = "/usenet";
    await deployment.serve("qbittorrent-0", 8081, qbittorrent);
    const touched = await deployment.up(plan({ clients: clients("/usenet", 8081) }));
    assert.deepEqual(touched, [
      "update qbittorrent-categories",
      "update sabnzbd-categories",
      "update radarr-download-clients",
      "update sonarr-download-clients",
      "update lidarr-download-clients",
    ]);
    for (const app of [radarr, sonarr, lidarr]) {
      assert.equal(app.fieldOf("downloadclient", "SABnzbd (Charmarr)", "urlBase"), "/usenet");
      assert.equal(app.fieldOf("downloadclient", "qBittorrent (Charmarr)", "port"), 8081);
    }
    assert.deepEqual(
      await deployment.up(plan({ clients: clients("/usenet", 8081) })),
      [],
      "and a re-run after the change is quiet",
    );
    noViolations(...all());
  });

  it("removal: disabling SABnzbd removes its entries; destroying the stack removes everything it wired, and nothing else", async () => {
    const onlyQbit = plan({ clients: { qbittorrent: clients("/usenet", 8081).qbittorrent } });
    const touched = await deployment.up(onlyQbit);
    assert.deepEqual(touched, [
      "update radarr-download-clients",
      "update sonarr-download-clients",
      "update lidarr-download-clients",
      "delete sabnzbd-categories",
    ]);
    for (const app of [radarr, sonarr, lidarr]) {
      assert.equal(app.entry("downloadclient", "SABnzbd (Charmarr)"), undefined);
      assert.ok(app.entry("downloadclient", "qBittorrent (Charmarr)"));
    }
    assert.deepEqual(
      [...sabnzbd.categories.keys()],
      ["*", "movies", "tv", "audio", "software"],
      "SABnzbd's own categories stay",
    );

    await deployment.up([]);
    for (const app of [radarr, sonarr, lidarr]) {
      assert.deepEqual(
        app.collections.downloadclient.map((entry) => entry.name),
        app === radarr ? ["My NZBGet"] : [],
      );
    }
    assert.deepEqual([...qbittorrent.categories.keys()], ["manual"]);
    noViolations(...all());
  });

  it("an app that never becomes ready fails after a bounded wait, naming the app and what did not answer", async () => {
    radarr.ready = false;
    const started = Date.now();
    const fresh = new Deployment({ "radarr-0": radarr });
    const relation = plan().filter((r) => r.name === "radarr-download-clients");
    await assert.rejects(
      fresh.up(relation),
      /^RelationError: radarr is not ready: GET \/radarr\/api\/v3\/system\/status did not answer after 3 attempts over 0\.04 s \(last: radarr refused GET \/radarr\/api\/v3\/system\/status with HTTP 503/,
    );
    assert.ok(Date.now() - started < 2000);
    radarr.ready = true;
    assert.equal(radarr.collections.downloadclient.length, 1, "nothing written");
  });

  it("an app that is not there at all (port-forward finds no pod) fails create with the connection's message, and delete has nothing to remove", async () => {
    const empty = new Deployment({});
    await assert.rejects(empty.up(plan().slice(0, 1)), /namespace charmarr-downloads does not exist/);
    const state = {
      reach: { namespace: "charmarr-downloads", pod: "qbittorrent-0", port: 8080 },
      spec: plan()[0].spec,
      retry: RETRY,
      owned: ["radarr"],
      waiting: false,
      changes: [],
    };
    await empty.lifecycle.delete(state);
  });
});

describe("relations: core stack (root folders, Prowlarr → arr apps, Seerr → Radarr, Sonarr, Plex)", function () {
  this.timeout(30000);
  let radarr: FakeServarr, sonarr: FakeServarr, lidarr: FakeServarr, prowlarr: FakeServarr, seerr: FakeSeerr;
  let plex: FakePlex;
  let deployment: Deployment;
  const settings = coreRelationsSchema.parse({});
  const input = (overrides: Partial<CoreRelationsInput> = {}): CoreRelationsInput => ({
    arr: {
      radarr: core("radarr", 7878, "/radarr"),
      sonarr: core("sonarr", 8989, "/sonarr"),
      lidarr: core("lidarr", 8686, "/lidarr"),
    },
    prowlarr: core("prowlarr", 9696, "/prowlarr"),
    seerr: core("seerr", 5055, ""),
    plex: { namespace: "charmarr-core", host: "plex.charmarr-core.svc.cluster.local", port: 32400, basePath: "" },
    mountPath: "/data",
    settings,
    ...overrides,
  });
  const all = () => [radarr, sonarr, lidarr, prowlarr, seerr, plex];

  before(async () => {
    // The library as the core stack's init containers leave it: each arr app's root folder (and the
    // one a later test moves Radarr's to), plus one a user added by hand.
    const folders = ["/data/movies", "/data/films", "/data/tv", "/data/music", "/data/old-movies"];
    const network = new FakeNetwork();
    radarr = await FakeServarr.create("radarr", "/radarr", KEYS.radarr, { network, folders });
    sonarr = await FakeServarr.create("sonarr", "/sonarr", KEYS.sonarr, { network, folders });
    lidarr = await FakeServarr.create("lidarr", "/lidarr", KEYS.lidarr, { network, folders });
    prowlarr = await FakeServarr.create("prowlarr", "/prowlarr", KEYS.prowlarr, { network });
    // Prowlarr tests each application by calling it, and the app's indexer test reaches back to Prowlarr.
    network
      .serve("radarr.charmarr-core.svc.cluster.local", 7878, radarr)
      .serve("sonarr.charmarr-core.svc.cluster.local", 8989, sonarr)
      .serve("lidarr.charmarr-core.svc.cluster.local", 8686, lidarr)
      .serve("prowlarr.charmarr-core.svc.cluster.local", 9696, prowlarr);
    // Seerr reaches the arr apps and Plex by the in-cluster addresses the relation gives it.
    plex = await FakePlex.create();
    network.serve("plex.charmarr-core.svc.cluster.local", 32400, plex);
    seerr = await FakeSeerr.create(KEYS.seerr, { plexTv: [PLEX_ACCOUNT], network });
    deployment = new Deployment({
      "radarr-0": radarr,
      "sonarr-0": sonarr,
      "lidarr-0": lidarr,
      "prowlarr-0": prowlarr,
      "seerr-0": seerr,
    });
    prowlarr.add("applications", {
      name: "Readarr",
      implementation: "Readarr",
      configContract: "ReadarrSettings",
      syncLevel: "addOnly",
      fields: [],
    });
    radarr.add("rootfolder", { path: "/data/old-movies" });
  });
  after(() => Promise.all(all().map((app) => app?.stop())));

  it("create: root folders in the library, Prowlarr syncs all three apps, Seerr waits for its setup without a Plex token", async () => {
    const touched = await deployment.up(coreRelations(input()));
    assert.deepEqual(touched, [
      "create radarr-root-folder",
      "create sonarr-root-folder",
      "create lidarr-root-folder",
      "create prowlarr-applications",
      "create seerr-services",
    ]);
    assert.deepEqual(
      radarr.collections.rootfolder.map((f) => f.path),
      ["/data/old-movies", "/data/movies"],
    );
    assert.deepEqual(
      sonarr.collections.rootfolder.map((f) => f.path),
      ["/data/tv"],
    );
    assert.deepEqual(
      lidarr.collections.rootfolder.map((f) => [f.path, f.name, f.defaultQualityProfileId]),
      [["/data/music", "Music", 3]],
    );
    assert.deepEqual(
      prowlarr.collections.applications.map((a) => [a.name, a.syncLevel]),
      [
        ["Readarr", "addOnly"],
        ["Radarr (Charmarr)", "fullSync"],
        ["Sonarr (Charmarr)", "fullSync"],
        ["Lidarr (Charmarr)", "fullSync"],
      ],
    );
    assert.equal(
      prowlarr.fieldOf("applications", "Radarr (Charmarr)", "baseUrl"),
      "http://radarr.charmarr-core.svc.cluster.local:7878/radarr",
    );
    assert.equal(
      prowlarr.fieldOf("applications", "Radarr (Charmarr)", "prowlarrUrl"),
      "http://prowlarr.charmarr-core.svc.cluster.local:9696/prowlarr",
    );
    assert.equal(prowlarr.fieldOf("applications", "Sonarr (Charmarr)", "apiKey"), KEYS.sonarr);
    assert.equal(seerr.services.radarr.length, 0, "Seerr has no user yet: nothing is written");
    assert.equal(deployment.state.get("seerr-services")?.waiting, true);
    noViolations(...all());
  });

  it("re-run: nothing changes, except the Seerr relation that waits on the user tries again", async () => {
    const before = mutations(...all());
    assert.deepEqual(await deployment.up(coreRelations(input())), ["update seerr-services"]);
    assert.equal(mutations(...all()), before);
    noViolations(...all());
  });

  it("with a Plex token and a claimed Plex: signs Seerr in, links the in-cluster Plex, then adds Radarr and Sonarr with their root folders", async () => {
    plex.claimFor(PLEX_TOKEN);
    assert.deepEqual(await deployment.up(coreRelations(input({ plexToken: PLEX_TOKEN }))), ["update seerr-services"]);
    assert.equal(seerr.initialized, true);
    assert.deepEqual(
      [seerr.plex.ip, seerr.plex.port, seerr.plex.useSsl, seerr.plex.name, seerr.plex.machineId],
      ["plex.charmarr-core.svc.cluster.local", 32400, false, "charmarr-plex", plex.machineIdentifier],
      "Seerr read the name and machine id from the Plex stand-in",
    );
    const [entry] = seerr.services.radarr;
    assert.deepEqual(
      [
        entry.name,
        entry.hostname,
        entry.port,
        entry.baseUrl,
        entry.activeDirectory,
        entry.activeProfileId,
        entry.apiKey,
      ],
      // Quality profile 3 is the Radarr stand-in's "Standard", which Seerr's test of the server listed.
      ["Radarr (Charmarr)", "radarr.charmarr-core.svc.cluster.local", 7878, "/radarr", "/data/movies", 3, KEYS.radarr],
    );
    assert.equal(seerr.services.sonarr[0].activeDirectory, "/data/tv");
    assert.deepEqual(await deployment.up(coreRelations(input({ plexToken: PLEX_TOKEN }))), [], "then quiet");
    noViolations(...all());
  });

  it("change: Radarr's new path and root folder reach Prowlarr and Seerr; the old root folder it added goes, the user's stays", async () => {
    radarr.basePath = "/movies";
    const changed = input({
      plexToken: PLEX_TOKEN,
      arr: { ...input().arr, radarr: core("radarr", 7878, "/movies") },
      settings: coreRelationsSchema.parse({ rootFolders: { radarr: "films" } }),
    });
    const touched = await deployment.up(coreRelations(changed));
    assert.deepEqual(touched, ["update radarr-root-folder", "update prowlarr-applications", "update seerr-services"]);
    assert.deepEqual(
      radarr.collections.rootfolder.map((f) => f.path),
      ["/data/old-movies", "/data/films"],
    );
    assert.equal(
      prowlarr.fieldOf("applications", "Radarr (Charmarr)", "baseUrl"),
      "http://radarr.charmarr-core.svc.cluster.local:7878/movies",
    );
    assert.deepEqual(
      [seerr.services.radarr[0].baseUrl, seerr.services.radarr[0].activeDirectory],
      ["/movies", "/data/films"],
    );
    assert.deepEqual(await deployment.up(coreRelations(changed)), []);
    noViolations(...all());
  });

  it("removal: disabling Lidarr removes its Prowlarr application; turning relations off removes every entry, the user's stay", async () => {
    const base = input({
      plexToken: PLEX_TOKEN,
      arr: { ...input().arr, radarr: core("radarr", 7878, "/movies") },
      settings: coreRelationsSchema.parse({ rootFolders: { radarr: "films" } }),
    });
    const withoutLidarr = coreRelations({ ...base, arr: { radarr: base.arr.radarr, sonarr: base.arr.sonarr } });
    assert.deepEqual(await deployment.up(withoutLidarr), ["update prowlarr-applications", "delete lidarr-root-folder"]);
    assert.equal(prowlarr.entry("applications", "Lidarr (Charmarr)"), undefined);
    assert.deepEqual(lidarr.collections.rootfolder, []);

    assert.deepEqual(coreRelations({ ...base, settings: coreRelationsSchema.parse({ enabled: false }) }), []);
    await deployment.up([]);
    assert.deepEqual(
      prowlarr.collections.applications.map((a) => a.name),
      ["Readarr"],
    );
    assert.deepEqual(
      radarr.collections.rootfolder.map((f) => f.path),
      ["/data/old-movies"],
    );
    assert.deepEqual([seerr.services.radarr, seerr.services.sonarr], [[], []]);
    noViolations(...all());
  });
});

describe("relations: entries the user made first are never the relation's", function () {
  this.timeout(30000);
  it("a pre-existing qBittorrent `radarr` category and `/data/movies` root folder are left unmanaged: not edited on create or re-run, not removed on destroy", async () => {
    const { radarr, qbittorrent } = await radarrAndQbittorrent();
    try {
      qbittorrent.categories.set("radarr", "/mnt/nas/films");
      radarr.add("rootfolder", { path: "/data/movies" });
      const deployment = new Deployment({ "radarr-0": radarr, "qbittorrent-0": qbittorrent });
      const relations = [
        ...coreRelations({
          arr: { radarr: core("radarr", 7878, "/radarr") },
          mountPath: "/data",
          settings: coreRelationsSchema.parse({}),
        }),
        ...radarrToQbittorrent(),
      ];
      assert.deepEqual(await deployment.up(relations), [
        "create radarr-root-folder",
        "create qbittorrent-categories",
        "create radarr-download-clients",
      ]);
      assert.deepEqual(
        [...qbittorrent.categories],
        [["radarr", "/mnt/nas/films"]],
        "the user's save path is kept, not moved to the library",
      );
      assert.deepEqual(deployment.state.get("qbittorrent-categories")?.owned, []);
      assert.deepEqual(deployment.state.get("radarr-root-folder")?.owned, []);
      assert.deepEqual(deployment.state.get("radarr-root-folder")?.changes, [
        "unmanaged radarr rootfolder /data/movies (it existed before the relation: left as it is, never removed)",
      ]);
      assert.deepEqual(deployment.state.get("qbittorrent-categories")?.changes, [
        "unmanaged qbittorrent category radarr (it existed before the relation: left as it is, never removed)",
      ]);
      assert.deepEqual(deployment.state.get("radarr-download-clients")?.owned, ["qBittorrent (Charmarr)"]);

      const relation = relations.find((r) => r.name === "qbittorrent-categories") as PlannedRelation;
      const rerun = await deployment.lifecycle.update(deployment.state.get(relation.name) as RelationState, {
        reach: relation.reach,
        spec: relation.spec,
        retry: RETRY,
      });
      assert.deepEqual(rerun.owned, []);
      assert.deepEqual([...qbittorrent.categories], [["radarr", "/mnt/nas/films"]]);

      await deployment.up([]);
      assert.deepEqual(
        [...qbittorrent.categories],
        [["radarr", "/mnt/nas/films"]],
        "destroy leaves the user's category",
      );
      assert.deepEqual(
        radarr.collections.rootfolder.map((f) => f.path),
        ["/data/movies"],
        "destroy leaves the user's root folder",
      );
      assert.deepEqual(radarr.collections.downloadclient, [], "and removes the entry the relation created");
      assert.ok(
        !qbittorrent.log.some((line) => /editCategory|removeCategories/.test(line)),
        qbittorrent.log.join("\n"),
      );
      assert.ok(!radarr.log.some((line) => /^DELETE \/radarr\/api\/v3\/rootfolder/.test(line)), radarr.log.join("\n"));
      noViolations(radarr, qbittorrent);
    } finally {
      await Promise.all([radarr.stop(), qbittorrent.stop()]);
    }
  });

  it("a download client of the relation's name the user made first is theirs: left exactly as it is on create and destroy, reported unmanaged, never owned", async () => {
    const { radarr, qbittorrent } = await radarrAndQbittorrent();
    try {
      const theirs = {
        name: "qBittorrent (Charmarr)",
        implementation: "QBittorrent",
        configContract: "QBittorrentSettings",
        enable: false,
        protocol: "torrent",
        priority: 7,
        fields: [{ name: "host", value: "192.168.1.20" }],
        tags: [],
      };
      radarr.add("downloadclient", theirs);
      const before = JSON.stringify(radarr.collections.downloadclient);
      const deployment = new Deployment({ "radarr-0": radarr, "qbittorrent-0": qbittorrent });
      await deployment.up(radarrToQbittorrent());
      assert.equal(JSON.stringify(radarr.collections.downloadclient), before, "the user's client is not edited");
      assert.deepEqual(deployment.state.get("radarr-download-clients")?.owned, []);
      assert.ok(
        deployment.state
          .get("radarr-download-clients")
          ?.changes.some((change) => change.startsWith("unmanaged radarr downloadclient qBittorrent (Charmarr)")),
        JSON.stringify(deployment.state.get("radarr-download-clients")?.changes),
      );
      await deployment.up([]);
      assert.equal(JSON.stringify(radarr.collections.downloadclient), before, "destroy leaves the user's client");
    } finally {
      await Promise.all([radarr.stop(), qbittorrent.stop()]);
    }
  });
});

describe("relations: SABnzbd's refusals", function () {
  this.timeout(30000);
  it('a {"status": false} answer to set_config or del_config fails the relation, naming the request and SABnzbd\'s reason', async () => {
    const sabnzbd = await new FakeSabnzbd("/sabnzbd", KEYS.sabnzbd).start();
    try {
      const lifecycle = relationLifecycle((_reach, _connection, use) =>
        use(httpClient(sabnzbd.url, CLIENT_TIMEOUT_MS)),
      );
      const target = { basePath: "/sabnzbd", apiKey: KEYS.sabnzbd };
      const inputs = (names: string[]): RelationInputs => ({
        reach: { namespace: "charmarr-downloads", pod: "sabnzbd-0", port: 8080 },
        spec: {
          kind: "sabnzbdCategories",
          target,
          categories: names.map((name) => ({ name, savePath: `/data/downloads/${name}` })),
        },
        retry: RETRY,
      });
      sabnzbd.refuseWrites = { error: "Cannot write the configuration" };
      await assert.rejects(
        lifecycle.create(inputs(["radarr"])),
        /^RelationError: sabnzbd refused mode=set_config section=categories name=radarr dir=\/data\/downloads\/radarr: Cannot write the configuration$/,
      );
      sabnzbd.refuseWrites = undefined;
      const state = await lifecycle.create(inputs(["radarr"]));
      sabnzbd.refuseWrites = { error: "Cannot write the configuration" };
      await assert.rejects(
        lifecycle.delete(state),
        /^RelationError: sabnzbd refused mode=del_config section=categories keyword=radarr: Cannot write the configuration$/,
      );
      assert.equal(sabnzbd.categories.get("radarr"), "/data/downloads/radarr");
      noViolations(sabnzbd);
    } finally {
      await sabnzbd.stop();
    }
  });

  it("a run that fails part-way removes what it created, so the next run creates and owns it (not adopts it as the user's)", async () => {
    const sabnzbd = await new FakeSabnzbd("/sabnzbd", KEYS.sabnzbd).start();
    try {
      const lifecycle = relationLifecycle((_reach, _connection, use) =>
        use(httpClient(sabnzbd.url, CLIENT_TIMEOUT_MS)),
      );
      const inputs: RelationInputs = {
        reach: { namespace: "charmarr-downloads", pod: "sabnzbd-0", port: 8080 },
        spec: {
          kind: "sabnzbdCategories",
          target: { basePath: "/sabnzbd", apiKey: KEYS.sabnzbd },
          categories: ["radarr", "sonarr"].map((name) => ({ name, savePath: `/data/downloads/${name}` })),
        },
        retry: RETRY,
      };
      sabnzbd.refuseWrites = { error: "Cannot write the configuration", name: "sonarr" };
      await assert.rejects(lifecycle.create(inputs), /sabnzbd refused mode=set_config section=categories name=sonarr/);
      assert.equal(sabnzbd.categories.has("radarr"), false, "the category the failed run made is gone again");
      sabnzbd.refuseWrites = undefined;
      const state = await lifecycle.create(inputs);
      assert.deepEqual(state.owned, ["radarr", "sonarr"]);
      await lifecycle.delete(state);
      assert.deepEqual([...sabnzbd.categories.keys()], ["*", "movies", "tv", "audio", "software"]);
      noViolations(sabnzbd);
    } finally {
      await sabnzbd.stop();
    }
  });
});

describe("relations: an app that moves", function () {
  this.timeout(30000);
  it("a new namespace for Radarr replaces its relation: the entries go from the old Radarr and are made in the new one", async () => {
    const sabnzbd = await new FakeSabnzbd("/sabnzbd", KEYS.sabnzbd).start();
    const network = new FakeNetwork().serve("sabnzbd.charmarr-downloads.svc.cluster.local", 8080, sabnzbd);
    const before = await FakeServarr.create("radarr", "/radarr", KEYS.radarr, { network });
    const moved = await FakeServarr.create("radarr", "/radarr", KEYS.radarr, { network });
    try {
      const deployment = new Deployment({
        "charmarr-core/radarr-0": before,
        "media/radarr-0": moved,
        "sabnzbd-0": sabnzbd,
      });
      const plan = (namespace: string) =>
        downloadsRelations({
          arr: { radarr: core("radarr", 7878, "/radarr", namespace) },
          clients: { sabnzbd: core("sabnzbd", 8080, "/sabnzbd", "charmarr-downloads") },
          mountPath: "/data",
          settings: downloadsRelationsSchema.parse({}),
        });
      await deployment.up(plan("charmarr-core"));
      assert.ok(before.entry("downloadclient", "SABnzbd (Charmarr)"));
      assert.deepEqual(await deployment.up(plan("media")), ["replace radarr-download-clients"]);
      assert.deepEqual(before.collections.downloadclient, [], "the old Radarr keeps nothing of the relation");
      assert.ok(moved.entry("downloadclient", "SABnzbd (Charmarr)"));
      assert.deepEqual(await deployment.up(plan("media")), []);
      noViolations(before, moved, sabnzbd);
    } finally {
      await Promise.all([before.stop(), moved.stop(), sabnzbd.stop()]);
    }
  });
});

describe("relations: qBittorrent's two login styles", () => {
  for (const style of ["5.1", "5.2"] as const) {
    it(`logs in to qBittorrent ${style} and keeps its categories; wrong credentials or a ban fail at once, as wrong credentials`, async () => {
      const good = await new FakeQbittorrent(QBIT.username, QBIT.password, style).start();
      const wrong = await new FakeQbittorrent(QBIT.username, "another-password", style).start();
      try {
        const spec = {
          kind: "qbittorrentCategories" as const,
          target: QBIT,
          categories: [{ name: "radarr", savePath: "/data/downloads/radarr" }],
        };
        const lifecycle = relationLifecycle((reach, _connection, use) =>
          use(httpClient((reach.pod === "good-0" ? good : wrong).url, CLIENT_TIMEOUT_MS)),
        );
        await lifecycle.create({ reach: { namespace: "n", pod: "good-0", port: 8080 }, spec, retry: RETRY });
        assert.deepEqual([...good.categories], [["radarr", "/data/downloads/radarr"]]);
        await assert.rejects(
          lifecycle.create({ reach: { namespace: "n", pod: "wrong-0", port: 8080 }, spec, retry: RETRY }),
          new RegExp(
            `^CredentialsRefusedError: qbittorrent refused the generated WebUI credentials \\(POST /api/v2/auth/login answered ${style === "5.1" ? '"Fails\\."' : "HTTP 401"}\\): wrong credentials`,
          ),
        );
        assert.equal(wrong.failedLogins, 1, "no retry: each wrong login counts toward qBittorrent's ban");

        wrong.failedLogins = 5;
        await assert.rejects(
          lifecycle.create({ reach: { namespace: "n", pod: "wrong-0", port: 8080 }, spec, retry: RETRY }),
          /^CredentialsRefusedError: qbittorrent has banned the relation's address after too many failed logins \(POST \/api\/v2\/auth\/login answered HTTP 403\): wrong WebUI credentials/,
        );
        assert.equal(
          wrong.log.filter((line) => line.startsWith("POST /api/v2/auth/login")).length,
          2,
          "one login per run, banned or not",
        );
        noViolations(good);
      } finally {
        await Promise.all([good.stop(), wrong.stop()]);
      }
    });
  }
});

describe("relations: the stand-ins refuse what the published APIs do not allow", () => {
  it("refuses a property outside the document, an unknown operation, a missing key, a bad path id, a wrong method, no session, the nzb key", async () => {
    const radarr = await FakeServarr.create("radarr", "/radarr", KEYS.radarr);
    const qbittorrent = await new FakeQbittorrent(QBIT.username, QBIT.password).start();
    const sabnzbd = await new FakeSabnzbd("/sabnzbd", KEYS.sabnzbd).start();
    try {
      const http = httpClient(radarr.url, CLIENT_TIMEOUT_MS);
      const key = { "X-Api-Key": KEYS.radarr };
      assert.equal(
        (
          await http.send({
            method: "POST",
            path: "/radarr/api/v3/downloadclient",
            headers: key,
            json: { name: "x", colour: "red" },
          })
        ).status,
        400,
      );
      assert.equal(
        (await http.send({ method: "POST", path: "/radarr/api/v3/downloadclients", headers: key, json: {} })).status,
        400,
      );
      assert.equal((await http.send({ method: "GET", path: "/radarr/api/v3/rootfolder" })).status, 401);
      assert.equal(
        (await http.send({ method: "DELETE", path: "/radarr/api/v3/rootfolder/abc", headers: key })).status,
        400,
      );
      assert.equal(
        (
          await httpClient(qbittorrent.url, CLIENT_TIMEOUT_MS).send({
            method: "GET",
            path: "/api/v2/torrents/createCategory",
            query: { category: "x" },
          })
        ).status,
        405,
      );
      assert.equal(
        (
          await httpClient(qbittorrent.url, CLIENT_TIMEOUT_MS).send({
            method: "GET",
            path: "/api/v2/torrents/categories",
          })
        ).status,
        403,
      );
      assert.equal(
        (
          await httpClient(sabnzbd.url, CLIENT_TIMEOUT_MS).send({
            method: "GET",
            path: "/sabnzbd/api",
            query: { mode: "get_config", apikey: "nzb-key", output: "json" },
          })
        ).status,
        403,
      );
      assert.deepEqual([radarr.violations.length, qbittorrent.violations.length, sabnzbd.violations.length], [4, 2, 1]);
      assert.match(radarr.violations[0], /must NOT have additional properties/);
    } finally {
      await Promise.all([radarr.stop(), qbittorrent.stop(), sabnzbd.stop()]);
    }
  });
});

describe("relations: a wrong key fails at once, naming the key, without waiting out the readiness budget", function () {
  this.timeout(30000);
  // A budget of 100 attempts a second apart: a relation that retried a refused key would take 99 s.
  const PATIENT = { attempts: 100, intervalMs: 1000 };

  for (const [app, version] of [
    ["radarr", "v3"],
    ["sonarr", "v3"],
    ["lidarr", "v1"],
    ["prowlarr", "v1"],
  ] as const) {
    it(`${app}: HTTP 401 to the status probe is the generated API key refused`, async () => {
      const fake = await FakeServarr.create(app, `/${app}`, "the-key-the-pod-runs-with");
      try {
        const lifecycle = relationLifecycle((_reach, _connection, use) => use(httpClient(fake.url, CLIENT_TIMEOUT_MS)));
        const started = Date.now();
        await assert.rejects(
          lifecycle.create({
            reach: { namespace: "charmarr-core", pod: `${app}-0`, port: 80 },
            spec: {
              kind: "rootFolder",
              target: { app, basePath: `/${app}`, apiKey: KEYS[app] },
              path: "/data/x",
              name: "X",
            },
            retry: PATIENT,
          }),
          new RegExp(
            `^CredentialsRefusedError: ${app} refused the generated API key \\(GET /${app}/api/${version}/system/status answered HTTP 401\\): the pod does not run with the key in the stack's Secret \\(${app.toUpperCase()}__AUTH__APIKEY is read at start\\)`,
          ),
        );
        assert.ok(Date.now() - started < 2000, `failed after ${Date.now() - started} ms`);
        assert.deepEqual(fake.log, [`GET /${app}/api/${version}/system/status 401`], "asked once, wrote nothing");
      } finally {
        await fake.stop();
      }
    });
  }

  for (const [given, answer] of [
    ["a-key-sabnzbd-does-not-hold-0000", "API Key Incorrect"],
    ["", "API Key Required"],
  ] as const) {
    it(`sabnzbd: its plain-text HTTP 403 "${answer}" is the generated api_key refused`, async () => {
      const sabnzbd = await new FakeSabnzbd("/sabnzbd", KEYS.sabnzbd).start();
      try {
        const lifecycle = relationLifecycle((_reach, _connection, use) =>
          use(httpClient(sabnzbd.url, CLIENT_TIMEOUT_MS)),
        );
        const started = Date.now();
        await assert.rejects(
          lifecycle.create({
            reach: { namespace: "charmarr-downloads", pod: "sabnzbd-0", port: 8080 },
            spec: {
              kind: "sabnzbdCategories",
              target: { basePath: "/sabnzbd", apiKey: given },
              categories: [{ name: "radarr", savePath: "/data/downloads/radarr" }],
            },
            retry: PATIENT,
          }),
          new RegExp(
            `^CredentialsRefusedError: sabnzbd refused the generated api_key \\(mode=get_config answered HTTP 403 "${answer}"\\): sabnzbd.ini's api_key is not the stack's generated key`,
          ),
        );
        assert.ok(Date.now() - started < 2000, `failed after ${Date.now() - started} ms`);
        assert.deepEqual(sabnzbd.log, ["GET /sabnzbd/api 403"], "asked once");
        assert.equal(sabnzbd.categories.has("radarr"), false);
      } finally {
        await sabnzbd.stop();
      }
    });
  }
});

describe("relations: the Servarr stand-ins are as strict as the apps", function () {
  this.timeout(30000);
  const SAB_HOST = "sabnzbd.charmarr-downloads.svc.cluster.local";
  const sabClient = (name: string, fields: Record<string, unknown>, enable = true) => ({
    name,
    implementation: "Sabnzbd",
    configContract: "SabnzbdSettings",
    enable,
    protocol: "usenet",
    priority: 1,
    tags: [],
    fields: Object.entries({ host: SAB_HOST, port: 8080, urlBase: "/sabnzbd", apiKey: KEYS.sabnzbd, ...fields }).map(
      ([field, value]) => ({ name: field, value }),
    ),
  });
  let sabnzbd: FakeSabnzbd, lidarr: FakeServarr;
  let send: (method: "POST" | "PUT", path: string, json: unknown) => Promise<{ status: number; body: unknown }>;
  before(async () => {
    sabnzbd = await new FakeSabnzbd("/sabnzbd", KEYS.sabnzbd).start();
    lidarr = await FakeServarr.create("lidarr", "/lidarr", KEYS.lidarr, {
      network: new FakeNetwork().serve(SAB_HOST, 8080, sabnzbd),
      folders: ["/data/music"],
    });
    send = async (method, path, json) => {
      const answer = await httpClient(lidarr.url, CLIENT_TIMEOUT_MS).send({
        method,
        path: `/lidarr/api/v1/${path}`,
        query: path.startsWith("downloadclient") ? { forceSave: "true" } : undefined,
        headers: { "X-Api-Key": KEYS.lidarr },
        json,
      });
      return { status: answer.status, body: answer.text === "" ? undefined : JSON.parse(answer.text) };
    };
  });
  after(() => Promise.all([lidarr?.stop(), sabnzbd?.stop()]));

  it("an enabled download client is tested on POST and refused on an error even with forceSave; a disabled one is saved untested", async () => {
    // Lidarr's default category is `music`, which SABnzbd does not have (Lidarr v2.14.5.4836 Sabnzbd.cs L450-470).
    assert.deepEqual(await send("POST", "downloadclient", sabClient("no category", {})), {
      status: 400,
      body: [{ propertyName: "MusicCategory", errorMessage: "Category does not exist", isWarning: false }],
    });
    assert.deepEqual(
      await send("POST", "downloadclient", sabClient("wrong key", { musicCategory: "audio", apiKey: "not-the-key" })),
      { status: 400, body: [{ propertyName: "APIKey", errorMessage: "API Key Incorrect", isWarning: false }] },
    );
    assert.equal((await send("POST", "downloadclient", sabClient("disabled", {}, false))).status, 201);
    assert.equal((await send("POST", "downloadclient", sabClient("tested", { musicCategory: "audio" }))).status, 201);
    assert.deepEqual(
      lidarr.collections.downloadclient.map((entry) => entry.name),
      ["disabled", "tested"],
    );
    assert.deepEqual(
      sabnzbd.log,
      [
        "GET /sabnzbd/api 200",
        "GET /sabnzbd/api 200",
        "GET /sabnzbd/api 200",
        "GET /sabnzbd/api 403",
        "GET /sabnzbd/api 200",
        "GET /sabnzbd/api 200",
      ],
      "version and get_config for each tested POST, none for the disabled one",
    );
  });

  it("keeps the settings class's fields only, in its order, with its defaults; a PUT with forceSave is saved untested", async () => {
    const tested = lidarr.entry("downloadclient", "tested") as {
      id: number;
      fields: { name: string; value: unknown }[];
    };
    assert.deepEqual(
      tested.fields.map((f) => [f.name, f.value]),
      [
        ["host", SAB_HOST],
        ["port", 8080],
        ["useSsl", false],
        ["urlBase", "/sabnzbd"],
        ["apiKey", KEYS.sabnzbd],
        ["username", null],
        ["password", null],
        ["musicCategory", "audio"],
        ["recentMusicPriority", -100],
        ["olderMusicPriority", -100],
      ],
    );
    const before = sabnzbd.log.length;
    const moved = sabClient("tested", { musicCategory: "no-such-category", colour: "red" });
    assert.equal((await send("PUT", `downloadclient/${tested.id}`, { ...moved, id: tested.id })).status, 202);
    assert.equal(sabnzbd.log.length, before, "saved without a test");
    assert.equal(lidarr.fieldOf("downloadclient", "tested", "musicCategory"), "no-such-category");
    assert.equal(
      lidarr.fieldOf("downloadclient", "tested", "colour"),
      undefined,
      "a field Lidarr does not have is dropped",
    );
    assert.deepEqual(lidarr.violations, ["lidarr: field colour is not one of the settings' fields: the app drops it"]);
  });

  it("validates an enabled client's settings first: a missing key is an error even with forceSave, an empty category a warning forceSave passes", async () => {
    assert.deepEqual(
      await send("POST", "downloadclient", sabClient("no key", { apiKey: "", musicCategory: "audio" })),
      {
        status: 400,
        body: [
          {
            propertyName: "ApiKey",
            errorMessage: "API Key is required when username/password are not configured",
            isWarning: false,
          },
          {
            propertyName: "Username",
            errorMessage: "Username is required when API key is not configured",
            isWarning: false,
          },
          {
            propertyName: "Password",
            errorMessage: "Password is required when API key is not configured",
            isWarning: false,
          },
        ],
      },
    );
    const withoutForce = await httpClient(lidarr.url, CLIENT_TIMEOUT_MS).send({
      method: "POST",
      path: "/lidarr/api/v1/downloadclient",
      headers: { "X-Api-Key": KEYS.lidarr },
      json: sabClient("empty category", { musicCategory: "" }),
    });
    assert.deepEqual(
      [withoutForce.status, JSON.parse(withoutForce.text)],
      [400, [{ propertyName: "MusicCategory", errorMessage: "A category is recommended", isWarning: true }]],
    );
    assert.equal(
      (await send("POST", "downloadclient", sabClient("empty category", { musicCategory: "" }))).status,
      201,
    );
  });

  it("a root folder must exist: one the library does not hold is refused", async () => {
    const folder = {
      name: "Music",
      defaultQualityProfileId: 3,
      defaultMetadataProfileId: 3,
      defaultMonitorOption: "all",
    };
    assert.deepEqual(await send("POST", "rootfolder", { ...folder, path: "/data/musik" }), {
      status: 400,
      body: [{ propertyName: "Path", errorMessage: "Path '/data/musik' does not exist", isWarning: false }],
    });
    assert.equal((await send("POST", "rootfolder", { ...folder, path: "/data/music" })).status, 201);
  });
});

describe("relations: Prowlarr tests each application before it saves it", function () {
  this.timeout(30000);
  it("the arr app must take the key Prowlarr is given and reach Prowlarr back; a wrong key is refused even with forceSave", async () => {
    const network = new FakeNetwork();
    const radarr = await FakeServarr.create("radarr", "/radarr", KEYS.radarr, { network });
    const prowlarr = await FakeServarr.create("prowlarr", "/prowlarr", KEYS.prowlarr, { network });
    network
      .serve("radarr.charmarr-core.svc.cluster.local", 7878, radarr)
      .serve("prowlarr.charmarr-core.svc.cluster.local", 9696, prowlarr);
    try {
      const application = (name: string, apiKey: string, prowlarrUrl: string) => ({
        name,
        syncLevel: "fullSync",
        implementation: "Radarr",
        configContract: "RadarrSettings",
        tags: [],
        fields: [
          { name: "prowlarrUrl", value: prowlarrUrl },
          { name: "baseUrl", value: "http://radarr.charmarr-core.svc.cluster.local:7878/radarr" },
          { name: "apiKey", value: apiKey },
        ],
      });
      const post = async (json: unknown) => {
        const answer = await httpClient(prowlarr.url, CLIENT_TIMEOUT_MS).send({
          method: "POST",
          path: "/prowlarr/api/v1/applications",
          query: { forceSave: "true" },
          headers: { "X-Api-Key": KEYS.prowlarr },
          json,
        });
        return [answer.status, answer.text === "" ? undefined : JSON.parse(answer.text)];
      };
      const prowlarrUrl = "http://prowlarr.charmarr-core.svc.cluster.local:9696/prowlarr";
      assert.deepEqual(await post(application("wrong key", "not-radarrs-key", prowlarrUrl)), [
        400,
        [{ propertyName: "ApiKey", errorMessage: "API Key is invalid", isWarning: false }],
      ]);
      assert.deepEqual(await post(application("no way back", KEYS.radarr, "http://localhost:9696")), [
        400,
        [
          {
            propertyName: "ProwlarrUrl",
            errorMessage: "Prowlarr URL is invalid, the app cannot connect to Prowlarr",
            isWarning: false,
          },
        ],
      ]);
      const [status] = await post(application("Radarr", KEYS.radarr, prowlarrUrl));
      assert.equal(status, 201);
      assert.deepEqual(
        prowlarr.collections.applications.map((a) => a.name),
        ["Radarr"],
      );
      assert.deepEqual(
        radarr.log.filter((line) => line.includes("/indexer/")),
        [
          "GET /radarr/api/v3/indexer/schema 401",
          "GET /radarr/api/v3/indexer/schema 200",
          "POST /radarr/api/v3/indexer/test 400",
          "GET /radarr/api/v3/indexer/schema 200",
          "POST /radarr/api/v3/indexer/test 200",
        ],
      );
    } finally {
      await Promise.all([radarr.stop(), prowlarr.stop()]);
    }
  });
});

describe("relations: Prowlarr → FlareSolverr, a tagged indexer proxy", function () {
  this.timeout(30000);
  const FLARESOLVERR_HOST = "flaresolverr.charmarr-core.svc.cluster.local";
  const flaresolverrAt = (port: number): AppEndpoint => ({
    namespace: "charmarr-core",
    host: FLARESOLVERR_HOST,
    port,
    basePath: "",
  });
  const PROXY = "FlareSolverr (Charmarr)";
  const relations = (flaresolverr: AppEndpoint | undefined, apiKey = KEYS.prowlarr) =>
    coreRelations({
      arr: {},
      prowlarr: { ...core("prowlarr", 9696, "/prowlarr"), apiKey },
      ...(flaresolverr ? { flaresolverr } : {}),
      mountPath: "/data",
      settings: coreRelationsSchema.parse({}),
    });
  let prowlarr: FakeServarr, flaresolverr: FakeFlareSolverr, network: FakeNetwork, deployment: Deployment;
  const tagId = (label: string) => prowlarr.tags.find((tag) => tag.label === label)?.id;

  before(async () => {
    network = new FakeNetwork();
    prowlarr = await FakeServarr.create("prowlarr", "/prowlarr", KEYS.prowlarr, { network });
    // The browser reaches the internet (Prowlarr's test page among it).
    flaresolverr = await new FakeFlareSolverr(["prowlarr.servarr.com"]).start();
    network.serve(FLARESOLVERR_HOST, 8191, flaresolverr);
    deployment = new Deployment({ "prowlarr-0": prowlarr });
    // A tag the user made for other indexers before.
    prowlarr.tags.push({ id: 90, label: "private" });
  });
  after(() => Promise.all([prowlarr?.stop(), flaresolverr?.stop()]));

  it("create: makes the flaresolverr tag and the tagged proxy, which Prowlarr tests through FlareSolverr before it saves it", async () => {
    assert.deepEqual(await deployment.up(relations(flaresolverrAt(8191))), ["create prowlarr-indexer-proxies"]);
    assert.deepEqual(
      prowlarr.tags.map((tag) => tag.label),
      ["private", "flaresolverr"],
    );
    const proxy = prowlarr.entry("indexerproxy", PROXY);
    assert.deepEqual(
      [proxy?.implementation, proxy?.configContract, proxy?.tags],
      ["FlareSolverr", "FlareSolverrSettings", [tagId("flaresolverr")]],
    );
    assert.equal(prowlarr.fieldOf("indexerproxy", PROXY, "host"), `http://${FLARESOLVERR_HOST}:8191`);
    assert.equal(prowlarr.fieldOf("indexerproxy", PROXY, "requestTimeout"), 60);
    // Prowlarr's test-on-save reached FlareSolverr at that address, as Prowlarr words it.
    assert.deepEqual(flaresolverr.commands, [
      { cmd: "request.get", url: "https://prowlarr.servarr.com/v1/ping", maxTimeout: 60000, proxy: {} },
    ]);
    noViolations(prowlarr, flaresolverr);
  });

  it("re-run: nothing changes, nothing is written, FlareSolverr is not asked again", async () => {
    const before = mutations(prowlarr);
    assert.deepEqual(await deployment.up(relations(flaresolverrAt(8191))), []);
    assert.equal(mutations(prowlarr), before);
    assert.equal(flaresolverr.commands.length, 1);
    noViolations(prowlarr, flaresolverr);
  });

  it("update: a new FlareSolverr port reaches the proxy; a tag the user added to it stays, and the tag it lost comes back", async () => {
    const proxy = prowlarr.entry("indexerproxy", PROXY) as unknown as { tags: number[] };
    proxy.tags = [90];
    network.serve(FLARESOLVERR_HOST, 8192, flaresolverr);
    assert.deepEqual(await deployment.up(relations(flaresolverrAt(8192))), ["update prowlarr-indexer-proxies"]);
    assert.equal(prowlarr.fieldOf("indexerproxy", PROXY, "host"), `http://${FLARESOLVERR_HOST}:8192`);
    assert.deepEqual(prowlarr.entry("indexerproxy", PROXY)?.tags, [90, tagId("flaresolverr")]);
    assert.equal(
      prowlarr.tags.filter((tag) => tag.label === "flaresolverr").length,
      1,
      "the tag is found, not made twice",
    );
    noViolations(prowlarr, flaresolverr);
  });

  it("removal: disabling FlareSolverr removes the proxy; the tag stays, for the indexers that carry it", async () => {
    assert.deepEqual(relations(undefined), []);
    assert.deepEqual(await deployment.up(relations(undefined)), ["delete prowlarr-indexer-proxies"]);
    assert.deepEqual(prowlarr.collections.indexerproxy, []);
    assert.ok(tagId("flaresolverr") !== undefined);
    noViolations(prowlarr, flaresolverr);
  });

  it("a FlareSolverr that cannot reach the internet: Prowlarr refuses the proxy, and the relation says why, where to look and what to do, then Prowlarr's reason", async () => {
    flaresolverr.reachable = [];
    try {
      await assert.rejects(deployment.up(relations(flaresolverrAt(8191))), (error: Error) => {
        assert.match(
          error.message,
          /prowlarr refused POST \/prowlarr\/api\/v1\/indexerproxy with HTTP 400: FlareSolverr could not load Prowlarr's ping page https:\/\/prowlarr\.servarr\.com\/v1\/ping, .*FlareSolverr does not reach the internet\./,
        );
        assert.ok(
          error.message.includes("`kubectl -n charmarr-core logs statefulset/flaresolverr -c flaresolverr`"),
          error.message,
        );
        assert.ok(!error.message.includes("tunnel"), "core's FlareSolverr goes through no tunnel");
        assert.ok(
          error.message.includes("pulumi config set --path charmarr:apps.flaresolverr.enabled false"),
          error.message,
        );
        assert.ok(
          error.message.includes("prowlarr said: [{" /* Prowlarr's validation failures, after the help */) &&
            error.message.includes("Unable to connect to proxy: HTTP request failed: [500:InternalServerError]"),
          error.message,
        );
        return true;
      });
      assert.deepEqual(prowlarr.collections.indexerproxy, [], "nothing saved");
      flaresolverr.reachable = ["prowlarr.servarr.com"];
      assert.deepEqual(await deployment.up(relations(flaresolverrAt(8191))), ["create prowlarr-indexer-proxies"]);
    } finally {
      flaresolverr.reachable = ["prowlarr.servarr.com"];
    }
    noViolations(prowlarr, flaresolverr);
  });

  it("a routed FlareSolverr whose tunnel is down: the relation points at the tunnel (npm run verify, gluetun's log) and says to re-run pulumi up once it is up, or to turn FlareSolverr off", async () => {
    const host = "flaresolverr.charmarr-downloads.svc.cluster.local";
    network.serve(host, 8191, flaresolverr);
    const routed = (flaresolverrEndpoint: AppEndpoint) =>
      downloadsRelations({
        arr: {},
        clients: {},
        prowlarr: core("prowlarr", 9696, "/prowlarr", "charmarr-downloads"),
        flaresolverr: flaresolverrEndpoint,
        vpnNamespace: "charmarr-vpn",
        mountPath: "/data",
        settings: downloadsRelationsSchema.parse({}),
      });
    const endpoint = { namespace: "charmarr-downloads", host, port: 8191, basePath: "" };
    // Core's proxy goes first; Prowlarr then runs in the downloads namespace.
    await deployment.up(relations(undefined));
    assert.deepEqual(prowlarr.collections.indexerproxy, []);
    const downloads = new Deployment({ "charmarr-downloads/prowlarr-0": prowlarr });
    flaresolverr.reachable = [];
    try {
      await assert.rejects(downloads.up(routed(endpoint)), (error: Error) => {
        for (const expected of [
          "prowlarr refused POST /prowlarr/api/v1/indexerproxy with HTTP 400: FlareSolverr could not load Prowlarr's ping page https://prowlarr.servarr.com/v1/ping",
          "(Prowlarr v2.3.5.5327 src/NzbDrone.Core/IndexerProxies/FlareSolverr/FlareSolverr.cs L179-206)",
          "It goes through the VPN tunnel (charmarr:indexers.routeThroughVpn), which is likely down: `npm run verify` checks it, `kubectl -n charmarr-vpn logs deploy/vpn-gateway -c gluetun` says why it is down",
          "`kubectl -n charmarr-downloads logs statefulset/flaresolverr -c flaresolverr`",
          "Re-run `pulumi up` once the tunnel is up, or run Prowlarr without FlareSolverr: pulumi config set --path charmarr:apps.flaresolverr.enabled false",
          "Unable to connect to proxy",
        ]) {
          assert.ok(error.message.includes(expected), `${expected} in: ${error.message}`);
        }
        return true;
      });
      assert.deepEqual(prowlarr.collections.indexerproxy, [], "nothing saved");
      flaresolverr.reachable = ["prowlarr.servarr.com"];
      assert.deepEqual(await downloads.up(routed(endpoint)), ["create prowlarr-indexer-proxies"]);
    } finally {
      flaresolverr.reachable = ["prowlarr.servarr.com"];
    }
    noViolations(prowlarr, flaresolverr);
  });

  it("a wrong key fails at once, naming the key, and writes nothing", async () => {
    const { lifecycle } = deployment;
    const [relation] = relations(flaresolverrAt(8191), "not-the-key-0000");
    const before = mutations(prowlarr);
    await assert.rejects(
      lifecycle.create({ reach: relation.reach, spec: relation.spec, retry: { attempts: 50, intervalMs: 1000 } }),
      /prowlarr refused the generated API key/,
    );
    assert.equal(mutations(prowlarr), before);
    prowlarr.violations.length = 0;
  });

  it("the stand-ins refuse what the apps refuse: an untagged proxy is saved untested, a tagged one is tested even with forceSave, and on every PUT without forceSave, a timeout outside 1..180 and a bad tag label are refused; FlareSolverr refuses a command it cannot run", async () => {
    const api = (method: "POST" | "PUT" | "GET", path: string, json?: unknown, query?: Record<string, string>) =>
      httpClient(prowlarr.url, CLIENT_TIMEOUT_MS).send({
        method,
        path: `/prowlarr/api/v1/${path}`,
        headers: { "X-Api-Key": KEYS.prowlarr },
        ...(json !== undefined ? { json } : {}),
        ...(query !== undefined ? { query } : {}),
      });
    const proxy = (name: string, tags: number[], requestTimeout = 60) => ({
      name,
      implementation: "FlareSolverr",
      configContract: "FlareSolverrSettings",
      tags,
      fields: [
        { name: "host", value: "http://nowhere.charmarr-core.svc.cluster.local:8191/" },
        { name: "requestTimeout", value: requestTimeout },
      ],
    });
    const asked = flaresolverr.commands.length;
    const untagged = await api("POST", "indexerproxy", proxy("untagged", []), { forceSave: "true" });
    assert.equal(untagged.status, 201);
    // Prowlarr tests every enabled PUT without forceSave, changed or not (Prowlarr v2.3.5.5327
    // src/Prowlarr.Api.V1/ProviderControllerBase.cs L101-105); with forceSave it saves untested.
    const id = (JSON.parse(untagged.text) as { id: number }).id;
    const taggedNow = { ...proxy("untagged", [90]), id };
    assert.equal((await api("PUT", `indexerproxy/${id}`, taggedNow, { forceSave: "true" })).status, 202);
    const unchanged = await api("PUT", `indexerproxy/${id}`, taggedNow);
    assert.equal(unchanged.status, 400);
    assert.match(unchanged.text, /Unable to connect to proxy: connect ECONNREFUSED nowhere/);
    const tagged = await api("POST", "indexerproxy", proxy("tagged", [90]), { forceSave: "true" });
    assert.equal(tagged.status, 400);
    assert.match(tagged.text, /Unable to connect to proxy: connect ECONNREFUSED nowhere/);
    const slow = await api("POST", "indexerproxy", proxy("slow", [90], 181), { forceSave: "true" });
    assert.deepEqual(JSON.parse(slow.text), [
      {
        propertyName: "RequestTimeout",
        errorMessage: "'Request Timeout' must be between 1 and 180. You entered 181.",
        isWarning: false,
      },
    ]);
    assert.equal((await api("POST", "tag", { label: "Flare Solverr" })).status, 400);
    assert.equal(flaresolverr.commands.length, asked, "none of these reached FlareSolverr");
    // FlareSolverr: a body not sent as JSON has no `cmd`; a GET may not carry postData (flaresolverr_service.py L119-155).
    const v1 = (body: string, contentType: string) =>
      httpClient(flaresolverr.url, CLIENT_TIMEOUT_MS).send({
        method: "POST",
        path: "/v1",
        headers: { "content-type": contentType },
        ...(contentType === "application/json" ? { json: JSON.parse(body) as unknown } : {}),
      });
    const notJson = await v1("", "text/plain");
    assert.deepEqual(
      [notJson.status, (JSON.parse(notJson.text) as { message: string }).message],
      [500, "Error: Request parameter 'cmd' is mandatory."],
    );
    const withPost = await v1(
      JSON.stringify({ cmd: "request.get", url: "https://x.example/", postData: "a=1" }),
      "application/json",
    );
    assert.equal(withPost.status, 500);
    // `int(req.maxTimeout)` (flaresolverr_service.py L129) reads a number or a string of an integer only.
    const wordTimeout = await v1(
      JSON.stringify({ cmd: "request.get", url: "https://prowlarr.servarr.com/v1/ping", maxTimeout: "soon" }),
      "application/json",
    );
    assert.equal(wordTimeout.status, 500);
    const textTimeout = await v1(
      JSON.stringify({ cmd: "request.get", url: "https://prowlarr.servarr.com/v1/ping", maxTimeout: "60000" }),
      "application/json",
    );
    assert.equal(textTimeout.status, 200);
    assert.deepEqual(flaresolverr.violations, [
      "POST /v1: Request parameter 'cmd' is mandatory.",
      "POST /v1: Cannot use 'postBody' when sending a GET request.",
      "POST /v1: invalid literal for int() with base 10: 'soon'",
    ]);
    flaresolverr.violations.length = 0;
    prowlarr.collections.indexerproxy.splice(0);
    prowlarr.violations.length = 0;
  });
});
