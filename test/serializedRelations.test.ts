import { strict as assert } from "node:assert";
import { builtinModules } from "node:module";
import { DownloadClients, KeyedEndpoint, downloadsRelations } from "../lib/relations/plan";
import { downloadsRelationsSchema } from "../lib/relations/settings";
import { DynamicProviderHost, HostError, relationProviderText } from "./support/dynamicProviderHost";
import { FakeQbittorrent } from "./support/fakeApps";
import { FakeKubernetesApi } from "./support/fakeKubernetesApi";
import packageJson from "../package.json";

// The relations as `pulumi up` runs them: the provider text Pulumi's closure serializer writes,
// loaded and called by Pulumi's own dynamic provider host (test/support/dynamicProviderHost.ts),
// reaching qBittorrent through a port-forward of the fake Kubernetes API. docs/development.md,
// "What the relations' provider may capture", is the rule these tests hold the text to.
const QBIT = { username: "charmarr", password: "generated-password" };
const POD = { namespace: "charmarr-downloads", pod: "qbittorrent-0", port: 8080 };

const endpoint = (app: string, port: number, basePath: string): KeyedEndpoint => ({
  namespace: "charmarr-core",
  host: `${app}.charmarr-core.svc.cluster.local`,
  port,
  basePath,
  apiKey: `${app}-key-0000`,
});
const clients = (password = QBIT.password): DownloadClients => ({
  qbittorrent: {
    namespace: POD.namespace,
    host: "qbittorrent.charmarr-downloads.svc.cluster.local",
    port: POD.port,
    basePath: "",
    username: QBIT.username,
    password,
  },
});

/** The qBittorrent relation the downloads stack plans, with `settings` (`charmarr:relations`) and these arr apps. */
function qbittorrentCategories(settings: object, apps = ["radarr", "sonarr", "lidarr"], password = QBIT.password) {
  const all = {
    radarr: endpoint("radarr", 7878, "/radarr"),
    sonarr: endpoint("sonarr", 8989, "/sonarr"),
    lidarr: endpoint("lidarr", 8686, "/lidarr"),
  };
  const relation = downloadsRelations({
    arr: Object.fromEntries(Object.entries(all).filter(([app]) => apps.includes(app))),
    clients: clients(password),
    mountPath: "/data",
    settings: downloadsRelationsSchema.parse(settings),
  }).find((planned) => planned.name === "qbittorrent-categories");
  assert.ok(relation);
  return relation;
}

describe("relations as Pulumi runs them: the serialized provider in Pulumi's dynamic provider host", function () {
  // Two Node processes start (the serializer under ts-node, the host): seconds on a busy machine.
  this.timeout(60000);
  let text: string;
  let host: DynamicProviderHost;
  let api: FakeKubernetesApi;
  let qbittorrent: FakeQbittorrent;
  const inputs = (relation: ReturnType<typeof qbittorrentCategories>, kubernetes = api) => ({
    reach: relation.reach,
    spec: relation.spec,
    retry: { attempts: 2, intervalMs: 50 },
    kubeconfig: kubernetes.kubeconfig(),
    context: "homelab",
    __provider: text,
  });
  const categories = () => Object.fromEntries(qbittorrent.categories);

  before(async () => {
    [text, host] = await Promise.all([relationProviderText(), DynamicProviderHost.start()]);
    qbittorrent = await new FakeQbittorrent(QBIT.username, QBIT.password).start();
    api = await FakeKubernetesApi.start();
    api.addPod(POD.namespace, POD.pod, { [POD.port]: Number(new URL(qbittorrent.url).port) });
  });
  after(async () => {
    host?.stop();
    await api?.close();
    await qbittorrent?.stop();
  });

  it("captures nothing the serializer cannot carry: no built-in object (`global.…`), and requires only Node's modules and the project's dependencies by name", () => {
    assert.match(text, /^exports\.handler = /);
    assert.deepEqual(
      text.match(/global\.[\w.]+/g) ?? [],
      [],
      "a Set, Map, Date, Buffer or a subclass of Error captured at module level",
    );
    const required = [...text.matchAll(/\brequire\("([^"]+)"\)/g)].map((match) => match[1]);
    const dependencies = Object.keys(packageJson.dependencies);
    assert.deepEqual(
      required.filter((name) => !builtinModules.includes(name.replace(/^node:/, "")) && !dependencies.includes(name)),
      [],
      "a require of a file inside a package, or of a package the project does not depend on",
    );
    assert.ok(required.includes("@kubernetes/client-node"));
  });

  it("create, diff, update and delete through the host reach qBittorrent through the port-forward, and keep what the relation owns", async () => {
    const first = inputs(qbittorrentCategories({}));
    const created = await host.create(await host.check({}, first));
    assert.equal(created.id, "charmarr-downloads/qbittorrent-0/qbittorrentCategories");
    assert.deepEqual(created.properties.owned, ["radarr", "sonarr", "lidarr"]);
    assert.deepEqual(created.properties.changes, [
      "created qbittorrent category radarr",
      "created qbittorrent category sonarr",
      "created qbittorrent category lidarr",
    ]);
    assert.equal(created.properties.__provider, text, "the state keeps the provider, for delete");
    assert.deepEqual(categories(), {
      radarr: "/data/downloads/radarr",
      sonarr: "/data/downloads/sonarr",
      lidarr: "/data/downloads/lidarr",
    });
    assert.ok(api.forwards.length > 0);
    assert.deepEqual(
      [
        ...new Set(
          api.forwards.map((forward) => `${forward.namespace}/${forward.pod}:${forward.port} ${forward.error}`),
        ),
      ],
      ["charmarr-downloads/qbittorrent-0:8080 "],
    );
    assert.ok(api.forwards.every((forward) => forward.bytesIn > 0 && forward.bytesOut > 0));

    assert.deepEqual(await host.diff(created.id, created.properties, await host.check(created.properties, first)), {
      changes: "none",
      replaces: [],
    });

    // A new downloads folder and Lidarr gone: two categories move, Lidarr's is removed.
    const second = await host.check(
      created.properties,
      inputs(qbittorrentCategories({ downloads: "incoming" }, ["radarr", "sonarr"])),
    );
    assert.deepEqual(await host.diff(created.id, created.properties, second), { changes: "some", replaces: [] });
    const updated = await host.update(created.id, created.properties, second);
    assert.deepEqual(updated.owned, ["radarr", "sonarr"]);
    assert.deepEqual(updated.changes, [
      "updated qbittorrent category radarr",
      "updated qbittorrent category sonarr",
      "deleted qbittorrent category lidarr",
    ]);
    assert.deepEqual(categories(), { radarr: "/data/incoming/radarr", sonarr: "/data/incoming/sonarr" });

    await host.delete(created.id, updated);
    assert.deepEqual(categories(), {});
    assert.deepEqual(qbittorrent.violations, []);
  });

  it("a failed create reaches the engine with the relation's message, not an empty one", async () => {
    const wrong = inputs(qbittorrentCategories({}, ["radarr"], "not-the-password"));
    const error = await host.create(await host.check({}, wrong)).then(
      () => assert.fail("create with the wrong password succeeded"),
      (failure: unknown) => failure as HostError,
    );
    assert.ok(error instanceof HostError, String(error));
    assert.match(
      error.details,
      /^qbittorrent refused the generated WebUI credentials \(POST \/api\/v2\/auth\/login answered "Fails\."\): wrong credentials/,
    );
    assert.deepEqual(categories(), {});
  });

  it("a port-forward the cluster cannot make fails with the error channel's message; delete of an app that is gone has nothing to remove", async () => {
    const elsewhere = await FakeKubernetesApi.start();
    try {
      elsewhere.addPod(POD.namespace, POD.pod, { 8081: Number(new URL(qbittorrent.url).port) });
      const relation = qbittorrentCategories({});
      const error = await host.create(await host.check({}, inputs(relation, elsewhere))).then(
        () => assert.fail("create through a pod without port 8080 succeeded"),
        (failure: unknown) => failure as HostError,
      );
      assert.match(
        error.details,
        /qbittorrent is not ready: .* \(last: qbittorrent did not answer POST \/api\/v2\/auth\/login: the port-forward to charmarr-downloads\/qbittorrent-0 port 8080 failed: error forwarding port 8080 to pod qbittorrent-0/,
      );
      const gone = await FakeKubernetesApi.start();
      try {
        const state = { ...inputs(relation, gone), owned: ["radarr"], waiting: false, changes: [] };
        await host.delete("charmarr-downloads/qbittorrent-0/qbittorrentCategories", state);
        assert.deepEqual(
          gone.seen.map((request) => request.path),
          ["/api/v1/namespaces/charmarr-downloads"],
        );
      } finally {
        await gone.close();
      }
    } finally {
      await elsewhere.close();
    }
  });
});
