import { strict as assert } from "node:assert";
import { Connect, RelationState, relationLifecycle } from "../lib/relations/lifecycle";
import { CoreRelationsInput, KeyedEndpoint, PlannedRelation, coreRelations } from "../lib/relations/plan";
import { portForwardConnect } from "../lib/relations/portForward";
import { coreRelationsSchema } from "../lib/relations/settings";
import { FakeApp, FakeServarr } from "./support/fakeApps";
import { FakeKubernetesApi } from "./support/fakeKubernetesApi";
import { FakeNetwork } from "./support/fakeNetwork";
import { FakeJellyfin, FakePlex, FakeSeerr } from "./support/fakeSeerr";

// Seerr's relation against the Seerr stand-in, which asks the Radarr, Sonarr, Plex and Jellyfin
// stand-ins as Seerr asks the real apps (test/support/fakeSeerr.ts). Readiness retries are allowed
// (3 × 20 ms): a test that says "at once" counts the requests that were made.
const RETRY = { attempts: 3, intervalMs: 20 };
const KEYS = { radarr: "radarr-key-0000", sonarr: "sonarr-key-0000", seerr: "seerr-key-00" };
const PLEX_TOKEN = "plex-account-token";
const PLEX_ACCOUNT = { id: 7, email: "owner@example.org", username: "owner", authToken: PLEX_TOKEN };
const ADMIN = { username: "charmarr", password: "generated-jellyfin-password" };
const NS = "charmarr-core";
const host = (app: string) => `${app}.${NS}.svc.cluster.local`;
const keyed = (app: keyof typeof KEYS, port: number, basePath: string): KeyedEndpoint => ({
  namespace: NS,
  host: host(app),
  port,
  basePath,
  apiKey: KEYS[app],
});

function noViolations(...apps: FakeApp[]): void {
  assert.deepEqual(
    apps.flatMap((app) => app.violations.map((violation) => `${app.name}: ${violation}`)),
    [],
  );
}

/**
 * A core stack's apps as stand-ins, reached by Service (from Seerr) and by pod: the relations cross
 * the relation provider's port-forward, served by a fake Kubernetes API whose pods `seerr-0` and
 * `jellyfin-0` in charmarr-core serve the ports their StatefulSets declare (5055, 8096), so a
 * relation aimed at another pod, port or namespace fails.
 */
class Core {
  readonly state = new Map<string, RelationState>();
  private constructor(
    readonly radarr: FakeServarr,
    readonly sonarr: FakeServarr,
    readonly seerr: FakeSeerr,
    readonly media: FakePlex | FakeJellyfin,
    readonly cluster: FakeKubernetesApi,
  ) {}

  static async start(media: "plex" | "jellyfin", seerrKey = KEYS.seerr): Promise<Core> {
    const radarr = await FakeServarr.create("radarr", "/radarr", KEYS.radarr);
    const sonarr = await FakeServarr.create("sonarr", "/sonarr", KEYS.sonarr);
    const server = media === "plex" ? await FakePlex.create() : await FakeJellyfin.create();
    const network = new FakeNetwork()
      .serve(host("radarr"), 7878, radarr)
      .serve(host("sonarr"), 8989, sonarr)
      .serve(host(media), media === "plex" ? 32400 : 8096, server);
    const seerr = await FakeSeerr.create(seerrKey, { plexTv: [PLEX_ACCOUNT], network });
    const cluster = await FakeKubernetesApi.start();
    const localPort = (app: FakeApp) => Number(new URL(app.url).port);
    cluster.addPod(NS, "seerr-0", { 5055: localPort(seerr) });
    if (server instanceof FakeJellyfin) {
      cluster.addPod(NS, "jellyfin-0", { 8096: localPort(server) });
    }
    return new Core(radarr, sonarr, seerr, server, cluster);
  }

  get apps(): FakeApp[] {
    return [this.radarr, this.sonarr, this.seerr, this.media];
  }

  stop(): Promise<unknown> {
    return Promise.all([...this.apps.map((app) => app.stop()), this.cluster.close()]);
  }

  relations(overrides: Partial<CoreRelationsInput> = {}): PlannedRelation[] {
    const media =
      this.media instanceof FakePlex
        ? { plex: { namespace: NS, host: host("plex"), port: 32400, basePath: "" } }
        : { jellyfin: { namespace: NS, host: host("jellyfin"), port: 8096, basePath: "", admin: ADMIN } };
    // The Seerr relation and what it needs; the root folders are another test's.
    return coreRelations({
      arr: { radarr: keyed("radarr", 7878, "/radarr"), sonarr: keyed("sonarr", 8989, "/sonarr") },
      seerr: keyed("seerr", 5055, ""),
      ...media,
      mountPath: "/data",
      settings: coreRelationsSchema.parse({}),
      ...overrides,
    }).filter((relation) => relation.name === "seerr-services" || relation.name === "jellyfin-admin");
  }

  /** `pulumi up`: create or update each relation, in order; the changes each reported. */
  async up(planned: readonly PlannedRelation[]): Promise<Record<string, readonly string[]>> {
    const connection = { kubeconfig: this.cluster.kubeconfig(), context: "homelab" };
    const connect: Connect = (reach, _connection, use) => portForwardConnect(reach, connection, use);
    const lifecycle = relationLifecycle(connect);
    const reported: Record<string, readonly string[]> = {};
    for (const relation of planned) {
      const inputs = { reach: relation.reach, spec: relation.spec, retry: RETRY };
      const old = this.state.get(relation.name);
      const state = old === undefined ? await lifecycle.create(inputs) : await lifecycle.update(old, inputs);
      this.state.set(relation.name, state);
      reported[relation.name] = state.changes;
    }
    return reported;
  }
}

describe("Seerr with Plex: sign-in, claim and link", function () {
  this.timeout(30000);

  it("without a Plex token: Seerr is left alone, and the relation says at once what to do", async () => {
    const core = await Core.start("plex");
    try {
      const reported = await core.up(core.relations());
      assert.match(
        reported["seerr-services"][0],
        /^waiting seerr radarr Radarr \(Charmarr\): Seerr has no admin yet: sign in to Seerr once with the Plex account that owns the server .*pulumi config set --secret charmarr:plexToken/,
      );
      assert.deepEqual(
        core.seerr.log.map((line) => line.replace(/ \d+$/, "")),
        ["GET /api/v1/status", "GET /api/v1/settings/public"],
        "one look, no retries, no writes",
      );
      core.seerr.signInByHand("owner@example.org");
      const finish = await core.up(core.relations());
      assert.match(finish["seerr-services"][0], /: Seerr's setup is not finished: finish it in Seerr's web UI/);
      noViolations(...core.apps);
    } finally {
      await core.stop();
    }
  });

  it("with a Plex token and an unclaimed Plex: fails at once naming charmarr:plexClaim; once Plex is claimed the next up links it", async () => {
    const core = await Core.start("plex");
    const plex = core.media as FakePlex;
    try {
      await assert.rejects(core.up(core.relations({ plexToken: PLEX_TOKEN })), (error: Error) => {
        assert.equal(error.name, "RelationError");
        assert.match(
          error.message,
          /^seerr could not read the Plex server at plex\.charmarr-core\.svc\.cluster\.local:32400 with the account of charmarr:plexToken \(POST \/api\/v1\/settings\/plex answered HTTP 500: \{"message":"Unable to connect to Plex\."\}\); a new Plex server belongs to no account until it is claimed: get a claim token of that account from https:\/\/plex\.tv\/claim and run pulumi config set --secret charmarr:plexClaim <token>/,
        );
        return true;
      });
      assert.equal(
        core.seerr.log.filter((line) => line.startsWith("POST /api/v1/settings/plex")).length,
        1,
        "asked once: no waiting",
      );
      assert.deepEqual(plex.log, ["GET / 401"], "Seerr really asked Plex, with the account's token");
      assert.equal(core.seerr.initialized, false);
      await assert.rejects(
        core.up(core.relations({ plexToken: PLEX_TOKEN, plexClaimGiven: true })),
        /Plex was given charmarr:plexClaim, so the claim failed: a claim token lasts 4 minutes and must be of the same account/,
      );
      plex.claimFor(PLEX_TOKEN);
      const reported = await core.up(core.relations({ plexToken: PLEX_TOKEN, plexClaimGiven: true }));
      assert.deepEqual(reported["seerr-services"], [
        "created seerr radarr Radarr (Charmarr)",
        "created seerr sonarr Sonarr (Charmarr)",
      ]);
      assert.equal(core.seerr.initialized, true);
      assert.equal(core.seerr.plex.machineId, plex.machineIdentifier);
      assert.equal(
        core.seerr.log.filter((line) => line.startsWith("POST /api/v1/auth/plex")).length,
        1,
        "the sign-in of the first run is not repeated",
      );
      noViolations(core.radarr, core.sonarr, core.seerr);
    } finally {
      await core.stop();
    }
  });

  it("a Plex token plex.tv does not know fails at once, saying so", async () => {
    const core = await Core.start("plex");
    try {
      await assert.rejects(
        core.up(core.relations({ plexToken: "not-a-plex-token" })),
        /^RelationError: seerr could not sign in with charmarr:plexToken \(POST \/api\/v1\/auth\/plex answered HTTP 500: \{"message":"Unable to authenticate\."\}\): Seerr asks plex\.tv/,
      );
      assert.equal(core.seerr.users.length, 0);
    } finally {
      await core.stop();
    }
  });

  it("a wrong API key: Seerr answers 403 and the relation fails at once as refused credentials", async () => {
    const core = await Core.start("plex", "the-key-seerr-started-with");
    try {
      core.seerr.signInByHand("owner@example.org");
      core.seerr.initialized = true;
      await assert.rejects(core.up(core.relations()), (error: Error) => {
        assert.equal(error.name, "CredentialsRefusedError");
        assert.match(
          error.message,
          /^seerr refused the program's API key on GET \/api\/v1\/settings\/radarr \(HTTP 403: \{"status":403,"error":"You do not have permission to access this endpoint"\}\): Seerr takes its key from API_KEY/,
        );
        return true;
      });
      assert.equal(core.seerr.log.filter((line) => line.endsWith(" 403")).length, 1, "asked once");
      assert.deepEqual(core.seerr.services.radarr, []);
    } finally {
      await core.stop();
    }
  });

  it("a server the relation adds is the default only where the user has none: the user's default Radarr stays the default", async () => {
    const core = await Core.start("plex");
    const plex = core.media as FakePlex;
    try {
      plex.claimFor(PLEX_TOKEN);
      core.seerr.services.radarr.push({
        id: 90,
        name: "My Radarr",
        hostname: "nas",
        port: 7878,
        apiKey: "x",
        activeDirectory: "/movies",
        is4k: false,
        isDefault: true,
      });
      await core.up(core.relations({ plexToken: PLEX_TOKEN }));
      assert.deepEqual(
        core.seerr.services.radarr.map((s) => [s.name, s.isDefault]),
        [
          ["My Radarr", true],
          ["Radarr (Charmarr)", false],
        ],
      );
      assert.deepEqual(
        core.seerr.services.sonarr.map((s) => [s.name, s.isDefault]),
        [["Sonarr (Charmarr)", true]],
        "no Sonarr yet: the new one is the default",
      );
      noViolations(...core.apps);
    } finally {
      await core.stop();
    }
  });
});

describe("Seerr with Jellyfin: the program's Jellyfin administrator signs Seerr in", function () {
  this.timeout(30000);

  it("a new Jellyfin: its startup wizard is finished with the generated administrator, Seerr signs in through it and takes Radarr and Sonarr; a re-run changes nothing", async () => {
    const core = await Core.start("jellyfin");
    const jellyfin = core.media as FakeJellyfin;
    try {
      const planned = core.relations();
      assert.deepEqual(
        planned.map((relation) => [relation.name, relation.after ?? []]),
        [
          ["jellyfin-admin", []],
          ["seerr-services", ["radarr-root-folder", "sonarr-root-folder", "jellyfin-admin"]],
        ],
      );
      const reported = await core.up(planned);
      assert.deepEqual(reported, {
        "jellyfin-admin": ["created jellyfin administrator charmarr"],
        "seerr-services": ["created seerr radarr Radarr (Charmarr)", "created seerr sonarr Sonarr (Charmarr)"],
      });
      assert.equal(jellyfin.wizardCompleted, true);
      assert.deepEqual(
        jellyfin.users.map((user) => [user.name, user.password, user.admin]),
        [["charmarr", ADMIN.password, true]],
      );
      assert.equal(core.seerr.initialized, true);
      assert.equal(core.seerr.mediaServerType, 2, "Jellyfin");
      assert.deepEqual(
        [core.seerr.jellyfin.ip, core.seerr.jellyfin.port, core.seerr.jellyfin.urlBase, core.seerr.jellyfin.name],
        ["jellyfin.charmarr-core.svc.cluster.local", 8096, "", "charmarr-jellyfin"],
      );
      assert.equal(core.seerr.jellyfin.apiKey, jellyfin.apiKeys[0].AccessToken, "Seerr made its key in Jellyfin");
      assert.equal(core.seerr.services.radarr[0].activeProfileId, 3, "the Radarr stand-in's profile");
      const before = core.apps.map((app) => app.mutations);
      assert.deepEqual(await core.up(core.relations()), {
        "jellyfin-admin": [],
        "seerr-services": [],
      });
      assert.deepEqual(
        core.apps.map((app) => app.mutations),
        before,
        "nothing written again",
      );
      noViolations(...core.apps);
    } finally {
      await core.stop();
    }
  });

  it("a Jellyfin set up by hand: the program changes nothing there, and says at once to sign in to Seerr with a Jellyfin administrator", async () => {
    const core = await Core.start("jellyfin");
    const jellyfin = core.media as FakeJellyfin;
    try {
      jellyfin.finishWizardByHand("me", "my-password");
      const reported = await core.up(core.relations());
      assert.deepEqual(reported["jellyfin-admin"], [
        "unmanaged jellyfin administrator charmarr (it existed before the relation: left as it is, never removed): Jellyfin's startup wizard was finished by hand, so the program made no administrator of its own: sign in to Seerr once with a Jellyfin administrator of yours",
      ]);
      assert.match(
        reported["seerr-services"][0],
        /^waiting seerr radarr Radarr \(Charmarr\): Jellyfin refuses the administrator the program made \(POST \/api\/v1\/auth\/jellyfin answered HTTP 401: \{"message":"INVALID_CREDENTIALS"\}\), so Jellyfin's startup wizard was finished by hand: sign in to Seerr once with a Jellyfin administrator of yours/,
      );
      assert.deepEqual(
        jellyfin.users.map((user) => user.name),
        ["me"],
      );
      assert.equal(
        jellyfin.log.filter((line) => line.startsWith("POST /Startup")).length,
        0,
        "the wizard is not touched",
      );
      assert.equal(
        core.seerr.log.filter((line) => line.startsWith("POST /api/v1/auth/jellyfin")).length,
        1,
        "asked once",
      );
      assert.deepEqual(core.seerr.users, []);
      noViolations(...core.apps);
    } finally {
      await core.stop();
    }
  });
});
