import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { qbittorrentLogin } from "../lib/relations/downloadClients";
import { httpClient } from "../lib/relations/http";
import type { RelationSpec } from "../lib/relations/reconcile";
import { isSecretValue } from "../plan/runtime";
import packageJson from "../package.json";
import { DynamicProviderHost, HostError, relationProviderText } from "./support/dynamicProviderHost";
import { FakeKubernetesApi } from "./support/fakeKubernetesApi";
import { FakeServarr } from "./support/fakeApps";
import { FakeFlareSolverr } from "./support/fakeFlareSolverr";
import { FakeNetwork } from "./support/fakeNetwork";
import { MUTATION_RUN } from "./support/mutationCoverage";
import { indexerProxyRelation } from "../lib/relations/plan";
import { planDownloads } from "./support/plan";
import { RunningQbittorrent, mapPaths, plannedQbittorrentSeed, startQbittorrent } from "./support/qbittorrent";

// The relations as `pulumi up` runs them: the provider text Pulumi's closure serializer writes,
// loaded and called by Pulumi's own dynamic provider host (test/support/dynamicProviderHost.ts),
// reaching a real qBittorrent (Debian's qbittorrent-nox, seeded by the planned init script:
// test/support/qbittorrent.ts) through a port-forward of the fake Kubernetes API.
// docs/development.md, "What the relations' provider may capture", is the rule the text is held to.
type QbittorrentSpec = Extract<RelationSpec, { kind: "qbittorrentCategories" }>;
const trimSlash = (path: string) => path.replace(/\/+$/, "");

describe("relations as Pulumi runs them: the serialized provider in Pulumi's dynamic provider host, against a real qBittorrent", function () {
  // Three processes start (the serializer under ts-node, the host, qBittorrent): seconds on a busy machine.
  this.timeout(60000);
  let text: string;
  let host: DynamicProviderHost;
  let api: FakeKubernetesApi;
  let qbittorrent: RunningQbittorrent;
  let library: string;
  let spec: QbittorrentSpec;
  let pod: { namespace: string; pod: string; port: number };
  const inputs = (relationSpec: QbittorrentSpec, kubernetes = api) => ({
    reach: pod,
    spec: relationSpec,
    retry: { attempts: 2, intervalMs: 100 },
    kubeconfig: kubernetes.kubeconfig(),
    context: "homelab",
    __provider: text,
  });
  /** qBittorrent's categories, read straight from it: name to save path. */
  const categories = async () => {
    const direct = httpClient(`http://127.0.0.1:${qbittorrent.port}`, 5000);
    const cookie = await qbittorrentLogin(direct, spec.target);
    const answer = await direct.send({
      method: "GET",
      path: "/api/v2/torrents/categories",
      headers: { Cookie: cookie },
    });
    const found = JSON.parse(answer.text) as Record<string, { savePath: string }>;
    return Object.fromEntries(Object.entries(found).map(([name, category]) => [name, trimSlash(category.savePath)]));
  };

  before(async () => {
    // The host is kept as soon as it runs, so `after` stops it even when the serializer fails.
    const started = Promise.all([
      relationProviderText(),
      DynamicProviderHost.start().then((running) => (host = running)),
    ]);
    library = mkdtempSync(join(tmpdir(), "serialized-library-"));
    const plan = await planDownloads();
    qbittorrent = await startQbittorrent(plannedQbittorrentSeed(plan), { "/data": library });
    const planned = plan.rawResources.find((resource) => resource.name === "relations-qbittorrent-categories");
    assert.ok(planned, "the downloads plan relates qBittorrent");
    const plannedSpec = isSecretValue(planned.inputs.spec) ? planned.inputs.spec.value : planned.inputs.spec;
    // The planned save paths are under the pod's /data: the library here.
    spec = JSON.parse(mapPaths(JSON.stringify(plannedSpec), { "/data": library })) as QbittorrentSpec;
    // In the pod qBittorrent listens on the planned port (8080), here on an ephemeral one: the pod's
    // container port is that one, since qBittorrent checks the port a request's Host names.
    pod = { ...(planned.inputs.reach as typeof pod), port: qbittorrent.port };
    api = await FakeKubernetesApi.start();
    api.addPod(pod.namespace, pod.pod, { [pod.port]: qbittorrent.port });
    [text] = await started;
  });
  after(async () => {
    host?.stop();
    await api?.close();
    await qbittorrent?.stop();
    if (library !== undefined) {
      rmSync(library, { recursive: true, force: true });
    }
  });

  it("captures nothing the serializer cannot carry: no built-in object (`global.…`), and requires only Node's modules and the project's dependencies by name", () => {
    assert.match(text, /^exports\.handler = /);
    // Under Stryker the serialized code is its instrumented copy, whose mutant switches read Stryker's
    // own namespace, `global.__stryker__`: not the project's code, so not held to the rule.
    const captured = (text.match(/global\.[\w.]+/g) ?? []).filter(
      (name) => !(MUTATION_RUN && name === "global.__stryker__"),
    );
    assert.deepEqual(captured, [], "a Set, Map, Date, Buffer or a subclass of Error captured at module level");
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
    assert.deepEqual(await categories(), {}, "a fresh qBittorrent has no category");
    const first = inputs(spec);
    const created = await host.create(await host.check({}, first));
    assert.equal(created.id, "charmarr-downloads/qbittorrent-0/qbittorrentCategories");
    assert.deepEqual(created.properties.owned, ["radarr", "sonarr", "lidarr"]);
    assert.deepEqual(created.properties.changes, [
      "created qbittorrent category radarr",
      "created qbittorrent category sonarr",
      "created qbittorrent category lidarr",
    ]);
    assert.equal(created.properties.__provider, text, "the state keeps the provider, for delete");
    assert.deepEqual(await categories(), {
      radarr: `${library}/downloads/radarr`,
      sonarr: `${library}/downloads/sonarr`,
      lidarr: `${library}/downloads/lidarr`,
    });
    assert.ok(api.forwards.length > 0);
    assert.deepEqual(
      [
        ...new Set(
          api.forwards.map((forward) => `${forward.namespace}/${forward.pod}:${forward.port} ${forward.error}`),
        ),
      ],
      [`charmarr-downloads/qbittorrent-0:${pod.port} `],
    );
    assert.ok(api.forwards.every((forward) => forward.bytesIn > 0 && forward.bytesOut > 0));

    assert.deepEqual(await host.diff(created.id, created.properties, await host.check(created.properties, first)), {
      changes: "none",
      replaces: [],
    });

    // A new downloads folder, and Lidarr gone: two categories move, Lidarr's is removed.
    const moved: QbittorrentSpec = {
      ...spec,
      categories: spec.categories
        .filter((category) => category.name !== "lidarr")
        .map((category) => ({ ...category, savePath: category.savePath.replace("/downloads/", "/incoming/") })),
    };
    const second = await host.check(created.properties, inputs(moved));
    assert.deepEqual(await host.diff(created.id, created.properties, second), { changes: "some", replaces: [] });
    const updated = await host.update(created.id, created.properties, second);
    assert.deepEqual(updated.owned, ["radarr", "sonarr"]);
    assert.deepEqual(updated.changes, [
      "updated qbittorrent category radarr",
      "updated qbittorrent category sonarr",
      "deleted qbittorrent category lidarr",
    ]);
    assert.deepEqual(await categories(), {
      radarr: `${library}/incoming/radarr`,
      sonarr: `${library}/incoming/sonarr`,
    });

    await host.delete(created.id, updated);
    assert.deepEqual(await categories(), {});
  });

  it("a failed create or delete reaches the engine with the relation's message, not an empty one", async () => {
    const wrong = inputs({ ...spec, target: { ...spec.target, password: "not-the-password" } });
    const refused =
      /^qbittorrent refused the generated WebUI credentials \(POST \/api\/v2\/auth\/login answered "Fails\."\): wrong credentials/;
    const failure = (call: Promise<unknown>) =>
      call.then(
        () => assert.fail("a call with the wrong password succeeded"),
        (error: unknown) => {
          assert.ok(error instanceof HostError, String(error));
          return error;
        },
      );
    assert.match((await failure(host.create(await host.check({}, wrong)))).details, refused);
    // Delete fails through another path of the host (the error object itself, not grpcResponseFromError).
    const state = { ...wrong, owned: ["radarr"], waiting: false, changes: [] };
    assert.match(
      (await failure(host.delete("charmarr-downloads/qbittorrent-0/qbittorrentCategories", state))).details,
      refused,
    );
    assert.deepEqual(await categories(), {});
  });

  it("a port-forward the cluster cannot make fails with the error channel's message; delete of an app that is gone has nothing to remove", async () => {
    const elsewhere = await FakeKubernetesApi.start();
    const gone = await FakeKubernetesApi.start();
    try {
      elsewhere.addPod(pod.namespace, pod.pod, { [pod.port + 1]: qbittorrent.port });
      const error = await host.create(await host.check({}, inputs(spec, elsewhere))).then(
        () => assert.fail("create through a pod that does not serve the port succeeded"),
        (failure: unknown) => failure as HostError,
      );
      assert.match(
        error.details,
        new RegExp(
          `^qbittorrent is not ready: .* \\(last: qbittorrent did not answer POST /api/v2/auth/login: the port-forward to charmarr-downloads/qbittorrent-0 port ${pod.port} failed: error forwarding port ${pod.port} to pod qbittorrent-0`,
        ),
      );
      const state = { ...inputs(spec, gone), owned: ["radarr"], waiting: false, changes: [] };
      await host.delete("charmarr-downloads/qbittorrent-0/qbittorrentCategories", state);
      assert.deepEqual(
        gone.seen.map((request) => request.path),
        ["/api/v1/namespaces/charmarr-downloads"],
      );
    } finally {
      await elsewhere.close();
      await gone.close();
    }
  });

  it("the indexer-proxy relation through the host, against the Prowlarr and FlareSolverr stand-ins: the tag made, the proxy tested through FlareSolverr and saved, then deleted", async () => {
    const network = new FakeNetwork();
    const prowlarr = await FakeServarr.create("prowlarr", "/prowlarr", "prowlarr-key-000", { network });
    const flaresolverr = await new FakeFlareSolverr(["prowlarr.servarr.com"]).start();
    try {
      const endpoint = { namespace: "charmarr-core", port: 9696, basePath: "/prowlarr" };
      const relation = indexerProxyRelation(
        { ...endpoint, host: "prowlarr.charmarr-core.svc.cluster.local", apiKey: "prowlarr-key-000" },
        { ...endpoint, host: "flaresolverr.charmarr-core.svc.cluster.local", port: 8191, basePath: "" },
      );
      network.serve("flaresolverr.charmarr-core.svc.cluster.local", 8191, flaresolverr);
      api.addPod("charmarr-core", "prowlarr-0", { 9696: Number(new URL(prowlarr.url).port) });
      const proxyInputs = { ...inputs(spec), reach: relation.reach, spec: relation.spec };
      const created = await host.create(await host.check({}, proxyInputs));
      assert.deepEqual(created.properties.changes, ["created prowlarr indexerproxy FlareSolverr (Charmarr)"]);
      const tag = prowlarr.tags.find((candidate) => candidate.label === "flaresolverr");
      assert.deepEqual(prowlarr.entry("indexerproxy", "FlareSolverr (Charmarr)")?.tags, [tag?.id]);
      assert.equal(flaresolverr.commands.length, 1, "Prowlarr tested the proxy through FlareSolverr");
      await host.delete(created.id, created.properties);
      assert.deepEqual(prowlarr.collections.indexerproxy, []);
      assert.deepEqual([...prowlarr.violations, ...flaresolverr.violations], []);
    } finally {
      await prowlarr.stop();
      await flaresolverr.stop();
    }
  });
});
