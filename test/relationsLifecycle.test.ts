import { strict as assert } from "node:assert";
import type { KubernetesConnection } from "../lib/platform/kubeConnection";
import { httpClient, relationError } from "../lib/relations/http";
import { Connect, RelationInputs, appGone, relationLifecycle } from "../lib/relations/lifecycle";
import type { RelationSpec } from "../lib/relations/reconcile";
import { FakeQbittorrent, FakeSabnzbd } from "./support/fakeApps";
import { FakeSeerr } from "./support/fakeSeerr";

// A relation resource's create, diff, update and delete (what Pulumi calls), against stand-ins
// reached directly: which cluster each call goes to, what a preview shows as changed or replaced,
// what the state owns afterwards, and what a failed run leaves and says.
const QBIT = { username: "charmarr", password: "generated-password" };
const SAB_KEY = "0123456789abcdef0123456789abcdef";
const RETRY = { attempts: 2, intervalMs: 1 };
const HOMELAB: KubernetesConnection = { kubeconfig: "/home/me/.kube/homelab", context: "homelab" };
const qbittorrentPod = { namespace: "charmarr-downloads", pod: "qbittorrent-0", port: 8080 };

const categories = (...names: string[]): RelationSpec => ({
  kind: "qbittorrentCategories",
  target: QBIT,
  categories: names.map((name) => ({ name, savePath: `/data/downloads/${name}` })),
});

describe("relations: the relation resource's lifecycle", function () {
  this.timeout(20000);
  let qbittorrent: FakeQbittorrent;
  /** Every connection a lifecycle opened: to which pod, through which cluster. */
  let opened: string[];
  const connect: Connect = (reach, connection, use) => {
    opened.push(`${reach.namespace}/${reach.pod} via ${connection.kubeconfig} ${connection.context}`);
    return use(httpClient(qbittorrent.url, 5000));
  };
  const inputs = (spec: RelationSpec, overrides: Partial<RelationInputs> = {}): RelationInputs => ({
    ...HOMELAB,
    reach: qbittorrentPod,
    spec,
    retry: RETRY,
    ...overrides,
  });
  beforeEach(async () => {
    qbittorrent = await new FakeQbittorrent(QBIT.username, QBIT.password).start();
    opened = [];
  });
  afterEach(() => qbittorrent.stop());

  it("create, update and delete reach the app through the cluster the stack's Kubernetes connection names", async () => {
    const lifecycle = relationLifecycle(connect);
    const created = await lifecycle.create(inputs(categories("radarr")));
    const moved = { kubeconfig: "/home/me/.kube/new", context: "new-homelab" };
    const updated = await lifecycle.update(created, inputs(categories("radarr", "sonarr"), moved));
    await lifecycle.delete(updated);
    assert.deepEqual(opened, [
      "charmarr-downloads/qbittorrent-0 via /home/me/.kube/homelab homelab",
      "charmarr-downloads/qbittorrent-0 via /home/me/.kube/new new-homelab",
      "charmarr-downloads/qbittorrent-0 via /home/me/.kube/new new-homelab",
    ]);
    assert.deepEqual([...qbittorrent.categories.keys()], []);
  });

  it("owns what it created and still wants: an entry it removed is no longer its own", async () => {
    const lifecycle = relationLifecycle(connect);
    const created = await lifecycle.create(inputs(categories("radarr", "sonarr")));
    assert.deepEqual(
      [created.owned, created.waiting, created.changes],
      [["radarr", "sonarr"], false, ["created qbittorrent category radarr", "created qbittorrent category sonarr"]],
    );
    const updated = await lifecycle.update(created, inputs(categories("radarr")));
    assert.deepEqual([updated.owned, updated.changes], [["radarr"], ["deleted qbittorrent category sonarr"]]);
  });

  it("a relation with nothing to do is not waiting: the next preview shows no change", async () => {
    const lifecycle = relationLifecycle(connect);
    const state = await lifecycle.create(inputs(categories()));
    assert.deepEqual([state.owned, state.waiting, state.changes], [[], false, []]);
    assert.deepEqual(lifecycle.diff(state, inputs(categories())), { changes: false, replaces: [] });
  });

  it("a preview: another pod or namespace replaces the relation (reach), a new port, spec, cluster or a wait updates it", async () => {
    const lifecycle = relationLifecycle(connect);
    const state = await lifecycle.create(inputs(categories("radarr")));
    const diff = (overrides: Partial<RelationInputs>, spec = categories("radarr")) =>
      lifecycle.diff(state, inputs(spec, overrides));
    assert.deepEqual(
      [
        diff({}),
        diff({ reach: { ...qbittorrentPod, pod: "qbittorrent-1" } }),
        diff({ reach: { ...qbittorrentPod, namespace: "media" } }),
        diff({ reach: { ...qbittorrentPod, port: 8081 } }),
        diff({}, categories("radarr", "sonarr")),
        diff({ context: "other" }),
        diff({ kubeconfig: "/elsewhere" }),
        lifecycle.diff({ ...state, waiting: true }, inputs(categories("radarr"))),
      ],
      [
        { changes: false, replaces: [] },
        { changes: true, replaces: ["reach"] },
        { changes: true, replaces: ["reach"] },
        { changes: true, replaces: [] },
        { changes: true, replaces: [] },
        { changes: true, replaces: [] },
        { changes: true, replaces: [] },
        { changes: true, replaces: [] },
      ],
    );
  });

  it("an app that never answers fails with the wait's message alone: nothing was made, so nothing is undone", async () => {
    qbittorrent.ready = false;
    const lifecycle = relationLifecycle(connect);
    await assert.rejects(lifecycle.create(inputs(categories("radarr"))), (error: Error) => {
      assert.equal(
        error.message,
        'qbittorrent is not ready: POST /api/v2/auth/login did not answer after 2 attempts over 0.001 s (last: qbittorrent refused POST /api/v2/auth/login with HTTP 503: {"message":"qbittorrent is starting"})',
      );
      return true;
    });
    assert.equal(opened.length, 1, "no second connection to undo anything");
  });

  it("delete: an app that is gone has nothing left to remove; any other failure fails the delete (its entries would stay)", async () => {
    const state = await relationLifecycle(connect).create(inputs(categories("radarr")));
    const failing = (error: Error) => relationLifecycle(() => Promise.reject(error));
    await failing(appGone("namespace charmarr-downloads does not exist")).delete(state);
    const refused = relationError("the port-forward to charmarr-downloads/qbittorrent-0 port 8080 failed: 403");
    await assert.rejects(failing(refused).delete(state), (error) => error === refused);
    assert.deepEqual([...qbittorrent.categories.keys()], ["radarr"]);
  });

  it("a run that fails part-way undoes only what it created: the user's own entry of a wanted name stays", async () => {
    const sabnzbd = await new FakeSabnzbd("/sabnzbd", SAB_KEY).start();
    try {
      sabnzbd.categories.set("radarr", "/mnt/usenet/films");
      sabnzbd.refuseWrites = { error: "Cannot write the configuration", name: "lidarr" };
      const lifecycle = relationLifecycle((_reach, _connection, use) => use(httpClient(sabnzbd.url, 5000)));
      const spec: RelationSpec = {
        kind: "sabnzbdCategories",
        target: { basePath: "/sabnzbd", apiKey: SAB_KEY },
        categories: ["radarr", "sonarr", "lidarr"].map((name) => ({ name, savePath: `/data/downloads/${name}` })),
      };
      await assert.rejects(
        lifecycle.create(inputs(spec)),
        /sabnzbd refused mode=set_config section=categories name=lidarr/,
      );
      assert.equal(sabnzbd.categories.get("radarr"), "/mnt/usenet/films");
      assert.equal(sabnzbd.categories.has("sonarr"), false, "the category the failed run made is gone again");
      assert.deepEqual(sabnzbd.violations, []);
    } finally {
      await sabnzbd.stop();
    }
  });

  it("a run that fails part-way and cannot undo what it made says both, naming what it made", async () => {
    const sabnzbd = await new FakeSabnzbd("/sabnzbd", SAB_KEY).start();
    try {
      sabnzbd.refuseWrites = { error: "Cannot write the configuration", name: "lidarr" };
      let connections = 0;
      const lifecycle = relationLifecycle((reach, connection, use) => {
        connections++;
        opened.push(`${reach.pod} via ${connection.context}`);
        return connections === 1
          ? use(httpClient(sabnzbd.url, 5000))
          : Promise.reject(new Error("the port-forward to charmarr-downloads/sabnzbd-0 port 8080 failed: gone"));
      });
      const spec: RelationSpec = {
        kind: "sabnzbdCategories",
        target: { basePath: "/sabnzbd", apiKey: SAB_KEY },
        categories: ["radarr", "sonarr", "lidarr"].map((name) => ({ name, savePath: `/data/downloads/${name}` })),
      };
      await assert.rejects(
        lifecycle.create(inputs(spec, { reach: { ...qbittorrentPod, pod: "sabnzbd-0" } })),
        (error: Error) => {
          assert.equal(
            `${error.name}: ${error.message}`,
            "RelationError: sabnzbd refused mode=set_config section=categories name=lidarr dir=/data/downloads/lidarr: Cannot write the configuration; removing what this run created (radarr, sonarr) failed too: the port-forward to charmarr-downloads/sabnzbd-0 port 8080 failed: gone",
          );
          return true;
        },
      );
      assert.deepEqual(opened, ["sabnzbd-0 via homelab", "sabnzbd-0 via homelab"], "the undo goes to the same cluster");
    } finally {
      await sabnzbd.stop();
    }
  });

  it("Seerr not set up yet: the entries it owned and still wants stay its own while it waits", async () => {
    const seerr = await FakeSeerr.create("seerr-key-00");
    try {
      const lifecycle = relationLifecycle((_reach, _connection, use) => use(httpClient(seerr.url, 5000)));
      const service = (name: string) => ({
        kind: "radarr" as const,
        name,
        hostname: "radarr.charmarr-core.svc.cluster.local",
        port: 7878,
        baseUrl: "/radarr",
        apiKey: "radarr-key-0000",
        activeDirectory: "/data/movies",
      });
      const seerrInputs = (...names: string[]): RelationInputs => ({
        reach: { namespace: "charmarr-core", pod: "seerr-0", port: 5055 },
        spec: { kind: "seerr", target: { apiKey: "seerr-key-00" }, services: names.map(service) },
        retry: RETRY,
      });
      const before = {
        ...seerrInputs("Radarr (Charmarr)", "Radarr 4K (Charmarr)"),
        owned: ["Radarr (Charmarr)", "Radarr 4K (Charmarr)"],
        waiting: false,
        changes: [],
      };
      const state = await lifecycle.update(before, seerrInputs("Radarr (Charmarr)"));
      assert.equal(state.waiting, true);
      assert.deepEqual(state.owned, ["Radarr (Charmarr)"]);
      assert.match(state.changes[0], /^waiting seerr radarr Radarr \(Charmarr\): Seerr has no admin yet/);
    } finally {
      await seerr.stop();
    }
  });
});
