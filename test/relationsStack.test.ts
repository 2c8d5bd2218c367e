import { strict as assert } from "node:assert";
import type { StackPlan } from "../plan/evaluate";
import { isSecretValue } from "../plan/runtime";
import { AuthorizationModel } from "./support/authz";
import { assertConfigError, manifestOf, manifestsOf, planCore, planDownloads } from "./support/plan";
import { httpClient } from "../lib/relations/http";
import { relationLifecycle } from "../lib/relations/lifecycle";
import type { Reach } from "../lib/relations/plan";
import type { RelationSpec } from "../lib/relations/reconcile";
import { FakeServarr } from "./support/fakeApps";

/** Generous: a stand-in that tests what it saves calls other stand-ins, slow on a loaded machine. */
const CLIENT_TIMEOUT_MS = 10_000;
const DYNAMIC = "pulumi-nodejs:dynamic:Resource";
const relationsOf = (plan: StackPlan) => plan.rawResources.filter((r) => r.type === DYNAMIC);
const relationNames = (plan: StackPlan) =>
  relationsOf(plan)
    .map((r) => r.name)
    .sort();
const principalOf = (namespace: string, app: string) => `cluster.local/ns/${namespace}/sa/${app}`;

describe("relations in the stacks: what each stack wires, and where the secrets go", () => {
  let core: StackPlan;
  let downloads: StackPlan;
  before(async () => {
    core = await planCore();
    downloads = await planDownloads();
  });

  it("core wires the root folders, Prowlarr's applications and FlareSolverr, and Seerr's services, and says so in its relations output", () => {
    assert.deepEqual(relationNames(core), [
      "relations-lidarr-root-folder",
      "relations-prowlarr-applications",
      "relations-prowlarr-indexer-proxies",
      "relations-radarr-root-folder",
      "relations-seerr-services",
      "relations-sonarr-root-folder",
    ]);
    assert.deepEqual(core.outputs.relations, {
      prowlarr: ["radarr", "sonarr", "lidarr", "flaresolverr"],
      seerr: ["radarr", "sonarr"],
    });
  });

  it("adds FlareSolverr to Prowlarr as a tagged indexer proxy at its in-cluster address, and drops it when disabled", async () => {
    const spec = (
      relationsOf(core).find((r) => r.name === "relations-prowlarr-indexer-proxies")?.inputs.spec as {
        value: RelationSpec;
      }
    ).value;
    assert.deepEqual(spec, {
      kind: "providers",
      collection: "indexerproxy",
      target: { app: "prowlarr", basePath: "/prowlarr", apiKey: spec.kind === "providers" ? spec.target.apiKey : "" },
      entries: [
        {
          name: "FlareSolverr (Charmarr)",
          implementation: "FlareSolverr",
          configContract: "FlareSolverrSettings",
          properties: {},
          fields: { host: "http://flaresolverr.charmarr-core.svc.cluster.local:8191", requestTimeout: 60 },
          secretFields: [],
          tags: ["flaresolverr"],
          refusedHelp: spec.kind === "providers" ? spec.entries[0].refusedHelp : undefined,
        },
      ],
    });
    // The log a refused proxy points at is the planned FlareSolverr's.
    const help = spec.kind === "providers" ? (spec.entries[0].refusedHelp ?? "") : "";
    assert.ok(help.includes("`kubectl -n charmarr-core logs statefulset/flaresolverr -c flaresolverr`"), help);
    const statefulSet = manifestOf(core, "StatefulSet", "flaresolverr");
    assert.equal(statefulSet.metadata.namespace, "charmarr-core");
    const podSpec = (statefulSet.spec as { template: { spec: { containers: { name: string }[] } } }).template.spec;
    assert.ok(podSpec.containers.some((c) => c.name === "flaresolverr"));
    const without = await planCore({ "charmarr:apps.flaresolverr.enabled": false });
    assert.ok(!relationNames(without).includes("relations-prowlarr-indexer-proxies"));
    assert.deepEqual((without.outputs.relations as Record<string, string[]>).prowlarr, ["radarr", "sonarr", "lidarr"]);
    // Prowlarr itself stays; only FlareSolverr and its proxy go.
    assert.deepEqual(manifestsOf(without, "StatefulSet", "flaresolverr"), []);
    assert.equal(manifestsOf(without, "StatefulSet", "prowlarr").length, 1);
  });

  it("downloads consumes core's offers: each arr app takes both clients, each client a category per app", () => {
    assert.deepEqual(relationNames(downloads), [
      "relations-lidarr-download-clients",
      "relations-qbittorrent-categories",
      "relations-radarr-download-clients",
      "relations-sabnzbd-categories",
      "relations-sonarr-download-clients",
    ]);
    assert.deepEqual(downloads.outputs.relations, {
      radarr: ["qbittorrent", "sabnzbd"],
      sonarr: ["qbittorrent", "sabnzbd"],
      lidarr: ["qbittorrent", "sabnzbd"],
    });
  });

  it("offers core's endpoints and API keys only as a secret output, and keeps every relation's spec secret", () => {
    assert.ok(core.secretOutputNames.includes("offers"));
    assert.equal(core.outputs.offers, "[secret]");
    const offers = core.secretOutputs.offers as Record<string, { host: string; basePath: string; apiKey: string }>;
    assert.deepEqual(Object.keys(offers), ["radarr", "sonarr", "lidarr"]);
    assert.deepEqual(
      [offers.radarr.host, offers.radarr.basePath],
      ["radarr.charmarr-core.svc.cluster.local", "/radarr"],
    );
    for (const relation of [...relationsOf(core), ...relationsOf(downloads)]) {
      assert.ok(isSecretValue(relation.inputs.spec), `${relation.name}: spec is a secret`);
    }
    const rendered = JSON.stringify([
      core.resources,
      downloads.resources,
      core.outputs,
      downloads.outputs,
      core.manifests,
      downloads.manifests,
    ]);
    for (const key of Object.values(offers).map((offer) => offer.apiKey)) {
      assert.ok(!rendered.includes(key), "no API key in the rendered plans");
    }
    const sabSpec = (
      relationsOf(downloads).find((r) => r.name === "relations-radarr-download-clients")?.inputs.spec as {
        value: { entries: { name: string; fields: Record<string, unknown> }[] };
      }
    ).value;
    assert.deepEqual(
      sabSpec.entries.map((entry) => [entry.name, entry.fields.host]),
      [
        ["qBittorrent (Charmarr)", "qbittorrent.charmarr-downloads.svc.cluster.local"],
        ["SABnzbd (Charmarr)", "sabnzbd.charmarr-downloads.svc.cluster.local"],
      ],
    );
    assert.ok(
      !rendered.includes(String(sabSpec.entries[0].fields.password)),
      "no qBittorrent password in the rendered plans",
    );
  });

  it("serializes the relation provider, as Pulumi's dynamic provider host loads it", () => {
    for (const relation of [...relationsOf(core), ...relationsOf(downloads)]) {
      const provider = relation.inputs.__provider;
      assert.equal(typeof provider, "string", relation.name);
      assert.match(provider as string, /exports\.handler/);
      assert.match(
        provider as string,
        /@kubernetes\/client-node/,
        "the Kubernetes client is required at run time, not inlined",
      );
    }
  });

  it("runs each relation after the workloads of its stack (so destroy removes the entries before the apps) and after the relations it needs", () => {
    for (const plan of [core, downloads]) {
      for (const relation of relationsOf(plan)) {
        assert.ok(
          relation.dependencies.some((urn) => urn.includes("StatefulSet")),
          relation.name,
        );
      }
    }
    const after = (plan: StackPlan, name: string) =>
      (relationsOf(plan).find((r) => r.name === name)?.dependencies ?? [])
        .filter((urn) => urn.includes(DYNAMIC))
        .map((urn) => urn.slice(urn.lastIndexOf("::") + 2))
        .sort();
    // SABnzbd refuses a download client whose category is missing (Radarr v6.0.3.10276 Sabnzbd.cs TestCategory L455-481).
    assert.deepEqual(after(downloads, "relations-radarr-download-clients"), [
      "relations-qbittorrent-categories",
      "relations-sabnzbd-categories",
    ]);
    assert.deepEqual(after(core, "relations-seerr-services"), [
      "relations-radarr-root-folder",
      "relations-sonarr-root-folder",
    ]);
  });

  it("every call a wired relation makes at run time is one the mesh allows (the provider itself comes in over port-forward, on loopback)", () => {
    const model = new AuthorizationModel([...core.manifests, ...downloads.manifests]);
    const namespaceOf = (app: string) =>
      ["qbittorrent", "sabnzbd"].includes(app) ? "charmarr-downloads" : "charmarr-core";
    const workload = (app: string) => {
      const statefulSet = [...core.manifests, ...downloads.manifests].find(
        (m) => m.kind === "StatefulSet" && m.metadata.name === app,
      );
      const template = (
        statefulSet?.spec as {
          template: {
            metadata: { labels: Record<string, string> };
            spec: { containers: { name: string; ports?: { name: string; containerPort: number }[] }[] };
          };
        }
      ).template;
      return {
        namespace: namespaceOf(app),
        labels: template.metadata.labels,
        port: template.spec.containers.find((c) => c.name === app)?.ports?.[0].containerPort as number,
      };
    };
    // Who calls whom for each wired relation: the consumer calls the related app; Prowlarr's applications
    // also call back (the arr app searches through Prowlarr's indexer feed); FlareSolverr only answers.
    const calls: [string, string][] = [];
    for (const graph of [core.outputs.relations, downloads.outputs.relations] as Record<string, string[]>[]) {
      for (const [consumer, related] of Object.entries(graph)) {
        for (const app of related) {
          calls.push([consumer, app]);
          if (consumer === "prowlarr" && app !== "flaresolverr") {
            calls.push([app, consumer]);
          }
        }
      }
    }
    const denied = calls.filter(([from, to]) => {
      const destination = workload(to);
      return !model.allows({ principal: principalOf(namespaceOf(from), from), destination, port: destination.port });
    });
    assert.deepEqual(denied, []);
    assert.equal(
      calls.length,
      15,
      "prowlarr ⇄ 3 arr apps, prowlarr → flaresolverr, seerr → radarr and sonarr, 3 arr apps → 2 clients",
    );
  });
});

describe("relations in the stacks: configuration", () => {
  it("links Seerr to Plex when a Plex token is set as a secret, and refuses it in plain text", async () => {
    const plan = await planCore({ "charmarr:plexToken": "token-of-the-plex-owner" }, ["charmarr:plexToken"]);
    assert.deepEqual(plan.outputs.relations, {
      prowlarr: ["radarr", "sonarr", "lidarr", "flaresolverr"],
      seerr: ["radarr", "sonarr", "plex"],
    });
    assert.ok(!JSON.stringify([plan.resources, plan.outputs]).includes("token-of-the-plex-owner"));
    await assertConfigError(
      planCore({ "charmarr:plexToken": "token-of-the-plex-owner" }),
      "charmarr:plexToken",
      "must be a Pulumi secret",
      "pulumi config set --secret charmarr:plexToken",
    );
  });

  it("with Jellyfin: makes Jellyfin's administrator from a generated secret first, then signs Seerr in through it", async () => {
    const plan = await planCore({ "charmarr:mediaServer": "jellyfin" });
    assert.deepEqual(plan.outputs.relations, {
      prowlarr: ["radarr", "sonarr", "lidarr", "flaresolverr"],
      seerr: ["radarr", "sonarr", "jellyfin"],
    });
    assert.ok(relationNames(plan).includes("relations-jellyfin-admin"));
    const seerr = relationsOf(plan).find((r) => r.name === "relations-seerr-services");
    assert.ok(seerr !== undefined && isSecretValue(seerr.inputs.spec), "the spec with the password is a secret");
    const secret = plan.rawResources.find(
      (r) => r.type === "kubernetes:core/v1:Secret" && r.name === "jellyfin-credentials",
    );
    assert.ok(secret && isSecretValue(secret.inputs.stringData));
    assert.deepEqual(Object.keys(secret.inputs.stringData.value as Record<string, string>).sort(), [
      "password",
      "username",
    ]);
    const password = (secret.inputs.stringData.value as Record<string, string>).password;
    assert.ok(!JSON.stringify([plan.manifests, plan.outputs]).includes(password), "never in plain text");
  });

  it("hands Plex a claim token set as a secret as PLEX_CLAIM from a Secret, restarts it on a new token, and refuses it in plain text", async () => {
    const plan = await planCore({ "charmarr:plexClaim": "claim-of-the-owner" }, ["charmarr:plexClaim"]);
    const statefulSet = manifestOf(plan, "StatefulSet", "plex").spec as {
      template: {
        metadata: { annotations?: Record<string, string> };
        spec: { containers: { name: string; env: { name: string; valueFrom?: unknown }[] }[] };
      };
    };
    const plex = statefulSet.template.spec.containers.find((container) => container.name === "plex");
    assert.deepEqual(
      plex?.env.find((env) => env.name === "PLEX_CLAIM"),
      { name: "PLEX_CLAIM", valueFrom: { secretKeyRef: { name: "plex-env", key: "PLEX_CLAIM" } } },
    );
    assert.deepEqual(manifestOf(plan, "Secret", "plex-env").stringData, { PLEX_CLAIM: "[secret]" });
    assert.ok(!JSON.stringify([plan.resources, plan.outputs]).includes("claim-of-the-owner"));
    const digest = statefulSet.template.metadata.annotations?.["charmarr.io/secret-env-sha256"];
    assert.match(digest ?? "", /^[0-9a-f]{64}$/);
    const other = await planCore({ "charmarr:plexClaim": "another-claim" }, ["charmarr:plexClaim"]);
    assert.notEqual(
      (manifestOf(other, "StatefulSet", "plex").spec as typeof statefulSet).template.metadata.annotations?.[
        "charmarr.io/secret-env-sha256"
      ],
      digest,
      "a new token is a new pod template: Plex restarts and reads it",
    );
    const without = await planCore();
    assert.equal(
      (manifestOf(without, "StatefulSet", "plex").spec as typeof statefulSet).template.spec.containers[0].env.find(
        (env) => env.name === "PLEX_CLAIM",
      ),
      undefined,
    );
    await assertConfigError(
      planCore({ "charmarr:plexClaim": "claim-of-the-owner" }),
      "charmarr:plexClaim",
      "must be a Pulumi secret",
      "pulumi config set --secret charmarr:plexClaim",
    );
  });

  it("reaches the apps through the stack's Kubernetes connection: the context as is, the kubeconfig only as a secret", async () => {
    const kubeconfig =
      "apiVersion: v1\nkind: Config\nusers: [{name: homelab, user: {token: kubeconfig-token-of-the-owner}}]\n";
    const plan = await planCore({ "kubernetes:context": "homelab", "kubernetes:kubeconfig": kubeconfig }, [
      "kubernetes:kubeconfig",
    ]);
    assert.equal(relationsOf(plan).length, 6);
    for (const relation of relationsOf(plan)) {
      assert.equal(relation.inputs.context, "homelab", relation.name);
      assert.ok(isSecretValue(relation.inputs.kubeconfig), `${relation.name}: kubeconfig is a secret`);
      assert.equal((relation.inputs.kubeconfig as { value: unknown }).value, kubeconfig);
    }
    assert.ok(!JSON.stringify([plan.resources, plan.outputs]).includes("kubeconfig-token-of-the-owner"));
  });

  it("wires nothing when relations are turned off, and drops a disabled client's entries from the plan", async () => {
    const off = await planDownloads({ "charmarr:relations.enabled": false });
    assert.deepEqual(relationsOf(off), []);
    assert.deepEqual(off.outputs.relations, {});
    const noSab = await planDownloads(
      { "charmarr:apps.sabnzbd.enabled": false },
      { "charmarr:apps.lidarr.enabled": false },
    );
    assert.deepEqual(noSab.outputs.relations, { radarr: ["qbittorrent"], sonarr: ["qbittorrent"] });
    assert.deepEqual(relationNames(noSab), [
      "relations-qbittorrent-categories",
      "relations-radarr-download-clients",
      "relations-sonarr-download-clients",
    ]);
  });

  it("refuses a root folder outside the library or overlapping another, naming the key and the fix", async () => {
    await assertConfigError(
      planCore({ "charmarr:relations.rootFolders.radarr": "../movies" }),
      "charmarr:relations.rootFolders.radarr",
      "leaves the library",
    );
    await assertConfigError(
      planCore({ "charmarr:relations.rootFolders.sonarr": "/tv" }),
      "charmarr:relations.rootFolders.sonarr",
      "is not a folder relative to the library's mount path",
    );
    await assertConfigError(
      planCore({ "charmarr:relations.rootFolders.sonarr": "movies/tv" }),
      "charmarr:relations.rootFolders.sonarr",
      `"movies/tv" overlaps radarr's "movies"`,
      "pulumi config set --path charmarr:relations.rootFolders.sonarr tv",
    );
    await assertConfigError(
      planDownloads({ "charmarr:relations.readiness.attempts": 0 }),
      "charmarr:relations.readiness.attempts",
    );
  });

  it("refuses a download folder in or around an arr app's root folder (read from core's offers), and each stack's keys on the other", async () => {
    await assertConfigError(
      planDownloads({ "charmarr:relations.downloads": "music/incoming" }),
      "charmarr:relations.downloads",
      `"music/incoming" overlaps lidarr's root folder /data/music (from the core stack)`,
      "pulumi config set --path charmarr:relations.downloads downloads",
    );
    await assertConfigError(
      planDownloads({ "charmarr:relations.rootFolders.radarr": "films" }),
      "charmarr:relations.rootFolders",
    );
    await assertConfigError(planCore({ "charmarr:relations.downloads": "incoming" }), "charmarr:relations.downloads");
  });
});

describe("relations in the stacks: the library folders they point at exist before the apps start", () => {
  it("makes each arr app's root folder and each client's save paths, owned by PUID:PGID", async () => {
    const core = await planCore();
    const downloads = await planDownloads();
    const folders = (plan: StackPlan, app: string) => {
      const statefulSet = plan.manifests.find((m) => m.kind === "StatefulSet" && m.metadata.name === app);
      const init = (
        statefulSet?.spec as { template: { spec: { initContainers?: { name: string; command: string[] }[] } } }
      ).template.spec.initContainers?.find((c) => c.name === "library-folders");
      return init?.command.slice(4);
    };
    assert.deepEqual(folders(core, "radarr"), ["/data/movies"]);
    assert.deepEqual(folders(core, "lidarr"), ["/data/music"]);
    assert.equal(folders(core, "prowlarr"), undefined);
    assert.deepEqual(folders(downloads, "qbittorrent"), [
      "/data/downloads/radarr",
      "/data/downloads/sonarr",
      "/data/downloads/lidarr",
      "/data/downloads/qbittorrent",
      "/data/downloads/incomplete/qbittorrent",
    ]);
  });
});

describe("relations in the stacks: the root folders they ask for are the folders the stack makes", function () {
  this.timeout(20000);
  it("each arr app's planned root-folder relation, run against a stand-in whose library holds only what the app's library-folders init container makes, is accepted", async () => {
    const core = await planCore({ "charmarr:relations.rootFolders.radarr": "films" });
    const initFolders = (app: string): string[] => {
      const statefulSet = core.manifests.find((m) => m.kind === "StatefulSet" && m.metadata.name === app);
      const init = (
        statefulSet?.spec as { template: { spec: { initContainers?: { name: string; command: string[] }[] } } }
      ).template.spec.initContainers?.find((c) => c.name === "library-folders");
      assert.ok(init, `${app} has a library-folders init container`);
      // `sh -c 'mkdir -p "$@" && chown …' library-folders <folder>…`
      return init.command.slice(4);
    };
    for (const app of ["radarr", "sonarr", "lidarr"] as const) {
      const relation = relationsOf(core).find((r) => r.name === `relations-${app}-root-folder`);
      assert.ok(relation, app);
      const spec = (relation.inputs.spec as { value: RelationSpec }).value;
      assert.equal(spec.kind, "rootFolder");
      const fake = await FakeServarr.create(app, `/${app}`, (spec as { target: { apiKey: string } }).target.apiKey, {
        folders: initFolders(app),
      });
      try {
        const lifecycle = relationLifecycle((_reach, _connection, use) => use(httpClient(fake.url, CLIENT_TIMEOUT_MS)));
        await lifecycle.create({
          reach: relation.inputs.reach as Reach,
          spec,
          retry: { attempts: 1, intervalMs: 0 },
        });
        assert.deepEqual(
          fake.collections.rootfolder.map((folder) => folder.path),
          [{ radarr: "/data/films", sonarr: "/data/tv", lidarr: "/data/music" }[app]],
        );
      } finally {
        await fake.stop();
      }
    }
  });
});
