import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { HttpClient, httpClient } from "../lib/relations/http";
import { RelationState, relationLifecycle } from "../lib/relations/lifecycle";
import { KeyedEndpoint, PlannedRelation, coreRelations } from "../lib/relations/plan";
import { coreRelationsSchema } from "../lib/relations/settings";
import { API_DOCUMENTS } from "./support/apiDocuments";
import { FakeApp, FakeServarr } from "./support/fakeApps";
import { FakeNetwork } from "./support/fakeNetwork";
import { FakeJellyfin, FakeSeerr } from "./support/fakeSeerr";

// What Seerr keeps of the servers the relation gives it (lib/relations/seerr.ts), read from the
// Seerr stand-in, which tests each new server against the Radarr and Sonarr stand-ins as Seerr does
// (test/support/fakeSeerr.ts). Seerr here was set up by hand (an admin signed in, setup finished):
// the sign-in paths are test/seerr.test.ts's.
const RETRY = { attempts: 3, intervalMs: 20 };
const SEERR_KEY = "seerr-key-00";
const NS = "charmarr-core";
const host = (app: string) => `${app}.${NS}.svc.cluster.local`;
const keyed = (app: string, port: number, basePath: string, apiKey = `${app}-key-0000`): KeyedEndpoint => ({
  namespace: NS,
  host: host(app),
  port,
  basePath,
  apiKey,
});

/** The values Radarr takes for a movie's `minimumAvailability` (`MovieStatusType`, Radarr's published API document). */
function radarrMinimumAvailabilities(): string[] {
  const document = JSON.parse(readFileSync(join(API_DOCUMENTS, "radarr-v3.6.0.3.10276.openapi.json"), "utf8")) as {
    components: { schemas: Record<string, { enum?: string[] }> };
  };
  return document.components.schemas.MovieStatusType.enum ?? [];
}

function noViolations(...apps: FakeApp[]): void {
  assert.deepEqual(
    apps.flatMap((app) => app.violations.map((violation) => `${app.name}: ${violation}`)),
    [],
  );
}

describe("relations: the Radarr and Sonarr servers Seerr keeps", function () {
  this.timeout(30000);
  let radarr: FakeServarr, sonarr: FakeServarr, seerr: FakeSeerr;
  let network: FakeNetwork;
  /** Seerr's HTTP client for the relation; a test may wrap it (an answer that never comes). */
  let client: (http: HttpClient) => HttpClient;
  const state = new Map<string, RelationState>();
  const lifecycle = relationLifecycle((_reach, _connection, use) => use(client(httpClient(seerr.url, 5000))));
  const relation = (arr: { radarr?: KeyedEndpoint; sonarr?: KeyedEndpoint } = {}): PlannedRelation =>
    coreRelations({
      arr: { radarr: keyed("radarr", 7878, "/radarr"), sonarr: keyed("sonarr", 8989, "/sonarr"), ...arr },
      seerr: keyed("seerr", 5055, "", SEERR_KEY),
      mountPath: "/data",
      settings: coreRelationsSchema.parse({}),
    }).find((planned) => planned.name === "seerr-services") as PlannedRelation;
  /** `pulumi up` of the Seerr relation: the changes it reported. */
  const up = async (planned: PlannedRelation): Promise<readonly string[]> => {
    const inputs = { reach: planned.reach, spec: planned.spec, retry: RETRY };
    const old = state.get(planned.name);
    const next = old === undefined ? await lifecycle.create(inputs) : await lifecycle.update(old, inputs);
    state.set(planned.name, next);
    return next.changes;
  };

  before(async () => {
    client = (http) => http;
    radarr = await FakeServarr.create("radarr", "/radarr", "radarr-key-0000");
    sonarr = await FakeServarr.create("sonarr", "/sonarr", "sonarr-key-0000");
    // Profiles as a user may have arranged them: the first one listed is what a new server starts with.
    radarr.profiles.qualityprofile.splice(0, 1, { id: 6, name: "HD-1080p" }, { id: 4, name: "Ultra-HD" });
    network = new FakeNetwork().serve(host("radarr"), 7878, radarr).serve(host("sonarr"), 8989, sonarr);
    seerr = await FakeSeerr.create(SEERR_KEY, { network });
    seerr.signInByHand("owner@example.org");
    seerr.initialized = true;
  });
  after(() => Promise.all([radarr, sonarr, seerr].map((app) => app?.stop())));

  it("a new server: Seerr sends its requests with the arr app's first quality profile, movies once released, series in season folders", async () => {
    assert.deepEqual(await up(relation()), [
      "created seerr radarr Radarr (Charmarr)",
      "created seerr sonarr Sonarr (Charmarr)",
    ]);
    const [movies] = seerr.services.radarr;
    assert.deepEqual(
      [movies.activeProfileId, movies.activeProfileName],
      [6, "HD-1080p"],
      "the profile Seerr requests movies with (seerr v3.1.0 server/subscriber/MediaRequestSubscriber.ts L242, L366-367) and shows in its settings (src/components/Settings/SettingsServices.tsx L381)",
    );
    // Seerr adds each requested movie with this value (MediaRequestSubscriber.ts L369,
    // server/api/servarr/radarr.ts L208): one Radarr does not take would refuse every request.
    assert.equal(movies.minimumAvailability, "released");
    assert.ok(radarrMinimumAvailabilities().includes(String(movies.minimumAvailability)));
    assert.deepEqual([movies.useSsl, movies.is4k], [false, false], "plain HTTP inside the cluster; not the 4K server");
    const [series] = seerr.services.sonarr;
    assert.deepEqual(
      [series.activeProfileId, series.activeProfileName, series.useSsl, series.is4k],
      [3, "Standard", false, false],
    );
    // Seerr adds each requested series with `seasonFolder` set from it (MediaRequestSubscriber.ts L692,
    // server/api/servarr/sonarr.ts L270).
    assert.equal(series.enableSeasonFolders, true);
    noViolations(radarr, sonarr, seerr);
  });

  it("Radarr on another port, then under another host name: the same entry is updated in place, the user's settings in it kept", async () => {
    const [before] = seerr.services.radarr;
    before.preventSearch = true;
    network.serve(host("radarr"), 7879, radarr);
    assert.deepEqual(await up(relation({ radarr: keyed("radarr", 7879, "/radarr") })), [
      "updated seerr radarr Radarr (Charmarr)",
    ]);
    assert.deepEqual(
      seerr.services.radarr.map((entry) => [entry.id, entry.hostname, entry.port, entry.preventSearch]),
      [[before.id, host("radarr"), 7879, true]],
    );
    network.serve("movies.charmarr-core.svc.cluster.local", 7879, radarr);
    const moved = { ...keyed("radarr", 7879, "/radarr"), host: "movies.charmarr-core.svc.cluster.local" };
    assert.deepEqual(await up(relation({ radarr: moved })), ["updated seerr radarr Radarr (Charmarr)"]);
    assert.deepEqual(
      seerr.services.radarr.map((entry) => [entry.id, entry.hostname, entry.port, entry.preventSearch]),
      [[before.id, "movies.charmarr-core.svc.cluster.local", 7879, true]],
    );
    noViolations(radarr, sonarr, seerr);
  });

  it("a rotated Sonarr key reaches Seerr, which would otherwise be refused by Sonarr", async () => {
    const moved = { ...keyed("radarr", 7879, "/radarr"), host: "movies.charmarr-core.svc.cluster.local" };
    assert.deepEqual(
      await up(relation({ radarr: moved, sonarr: keyed("sonarr", 8989, "/sonarr", "sonarr-key-0001") })),
      ["updated seerr sonarr Sonarr (Charmarr)"],
    );
    assert.equal(seerr.services.sonarr[0].apiKey, "sonarr-key-0001");
    noViolations(radarr, sonarr, seerr);
  });

  it("removing the relation removes the servers it made; one the user already deleted by hand is not asked for again", async () => {
    const [ours] = seerr.services.radarr.splice(0, 1);
    assert.equal(ours.name, "Radarr (Charmarr)");
    await lifecycle.delete(state.get("seerr-services") as RelationState);
    assert.deepEqual([seerr.services.radarr, seerr.services.sonarr], [[], []]);
    assert.deepEqual(
      seerr.log.filter((line) => line.startsWith("DELETE ")).map((line) => line.replace(/\d+ 200$/, "<id> 200")),
      ["DELETE /api/v1/settings/sonarr/<id> 200"],
    );
    noViolations(radarr, sonarr, seerr);
  });
});

describe("relations: a Seerr relation that cannot finish says why", function () {
  this.timeout(30000);
  let radarr: FakeServarr, seerr: FakeSeerr;
  before(async () => {
    radarr = await FakeServarr.create("radarr", "/radarr", "radarr-key-0000");
    seerr = await FakeSeerr.create(SEERR_KEY, { network: new FakeNetwork().serve(host("radarr"), 7878, radarr) });
    seerr.signInByHand("owner@example.org");
    seerr.initialized = true;
  });
  after(() => Promise.all([radarr, seerr].map((app) => app?.stop())));
  const onlyRadarr = () =>
    coreRelations({
      arr: { radarr: keyed("radarr", 7878, "/radarr") },
      seerr: keyed("seerr", 5055, "", SEERR_KEY),
      mountPath: "/data",
      settings: coreRelationsSchema.parse({}),
    }).find((planned) => planned.name === "seerr-services") as PlannedRelation;
  const create = (client: HttpClient) =>
    relationLifecycle((_reach, _connection, use) => use(client)).create({
      reach: onlyRadarr().reach,
      spec: onlyRadarr().spec,
      retry: RETRY,
    });

  it("a Radarr with no quality profile left (a user may delete them all): fails naming Radarr and what it lacks, and adds nothing", async () => {
    const profiles = radarr.profiles.qualityprofile.splice(0);
    try {
      await assert.rejects(
        create(httpClient(seerr.url, 5000)),
        /^RelationError: seerr reached radarr \(POST \/api\/v1\/settings\/radarr\/test\) but radarr lists no quality profile$/,
      );
      assert.deepEqual(seerr.services.radarr, []);
    } finally {
      radarr.profiles.qualityprofile.push(...profiles);
    }
    noViolations(radarr, seerr);
  });

  it("a Seerr that stops answering part-way (restarted): fails naming the request it did not answer", async () => {
    // A port nothing listens on any more: the connection is refused, as while Seerr's pod restarts.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const http = httpClient(seerr.url, 5000);
    const gone = httpClient(`http://127.0.0.1:${port}`, 5000);
    await assert.rejects(
      create({
        send: (request) =>
          (request.method === "POST" && request.path === "/api/v1/settings/radarr" ? gone : http).send(request),
      }),
      /^RelationError: seerr did not answer POST \/api\/v1\/settings\/radarr: .*ECONNREFUSED/,
    );
    assert.deepEqual(seerr.services.radarr, []);
    noViolations(radarr, seerr);
  });
});

describe("relations: Seerr beside servers and users it did not make", function () {
  this.timeout(30000);
  const ADMIN = { username: "charmarr", password: "generated-jellyfin-password" };
  let radarr: FakeServarr, jellyfin: FakeJellyfin;
  let network: FakeNetwork;
  before(async () => {
    radarr = await FakeServarr.create("radarr", "/radarr", "radarr-key-0000");
    jellyfin = await FakeJellyfin.create();
    network = new FakeNetwork().serve(host("radarr"), 7878, radarr).serve(host("jellyfin"), 8096, jellyfin);
  });
  after(() => Promise.all([radarr, jellyfin].map((app) => app?.stop())));
  const create = async (seerr: FakeSeerr, withJellyfin: boolean) => {
    const planned = coreRelations({
      arr: { radarr: keyed("radarr", 7878, "/radarr") },
      seerr: keyed("seerr", 5055, "", SEERR_KEY),
      ...(withJellyfin
        ? { jellyfin: { namespace: NS, host: host("jellyfin"), port: 8096, basePath: "", admin: ADMIN } }
        : {}),
      mountPath: "/data",
      settings: coreRelationsSchema.parse({}),
    }).find((relation) => relation.name === "seerr-services") as PlannedRelation;
    const lifecycle = relationLifecycle((_reach, _connection, use) => use(httpClient(seerr.url, 5000)));
    return (await lifecycle.create({ reach: planned.reach, spec: planned.spec, retry: RETRY })).changes;
  };

  it("a user whose only Radarr is their 4K one: the relation's Radarr becomes the default for regular requests, theirs stays the 4K default", async () => {
    const seerr = await FakeSeerr.create(SEERR_KEY, { network });
    try {
      seerr.signInByHand("owner@example.org");
      seerr.initialized = true;
      seerr.services.radarr.push({
        id: 0,
        name: "My 4K Radarr",
        hostname: "nas",
        port: 7878,
        apiKey: "x",
        activeDirectory: "/movies-4k",
        is4k: true,
        isDefault: true,
      });
      assert.deepEqual(await create(seerr, false), ["created seerr radarr Radarr (Charmarr)"]);
      // Seerr sends a regular request to the default non-4K server, a 4K one to the default 4K server
      // (seerr v3.1.0 server/subscriber/MediaRequestSubscriber.ts L203-205): without a default
      // non-4K server, a regular movie request reaches no Radarr (L225-239).
      assert.deepEqual(
        seerr.services.radarr.map((entry) => [entry.name, entry.is4k, entry.isDefault]),
        [
          ["My 4K Radarr", true, true],
          ["Radarr (Charmarr)", false, true],
        ],
      );
      noViolations(radarr, seerr);
    } finally {
      await seerr.stop();
    }
  });

  it("the program's Jellyfin administrator no longer an administrator: Seerr is left alone, and the relation says to sign in with an administrator of the user's", async () => {
    const seerr = await FakeSeerr.create(SEERR_KEY, { network });
    try {
      jellyfin.finishWizardByHand("me", "my-password");
      jellyfin.users.push({ id: "program-admin", name: ADMIN.username, password: ADMIN.password, admin: false });
      const [waiting] = await create(seerr, true);
      assert.match(
        waiting,
        /^waiting seerr radarr Radarr \(Charmarr\): Jellyfin refuses the administrator the program made \(POST \/api\/v1\/auth\/jellyfin answered HTTP 403: \{"message":"NOT_ADMIN"\}\), which is no longer an administrator in Jellyfin: sign in to Seerr once with a Jellyfin administrator of yours; the next pulumi up adds Radarr and Sonarr once Seerr is set up/,
      );
      assert.deepEqual([seerr.users, seerr.services.radarr, seerr.initialized], [[], [], false]);
      noViolations(radarr, seerr, jellyfin);
    } finally {
      await seerr.stop();
    }
  });

  it("a server of the relation's name the user made first is theirs: left exactly as it is, reported unmanaged", async () => {
    const seerr = await FakeSeerr.create(SEERR_KEY, { network });
    try {
      seerr.signInByHand("owner@example.org");
      seerr.initialized = true;
      const theirs = {
        id: 0,
        name: "radarr (charmarr)",
        hostname: "nas",
        port: 7878,
        apiKey: "x",
        activeDirectory: "/movies",
        is4k: false,
        isDefault: true,
      };
      seerr.services.radarr.push({ ...theirs });
      assert.deepEqual(await create(seerr, false), [
        "unmanaged seerr radarr Radarr (Charmarr) (it existed before the relation: left as it is, never removed)",
      ]);
      assert.deepEqual(seerr.services.radarr, [theirs]);
      assert.equal(seerr.mutations, 0);
      noViolations(radarr, seerr);
    } finally {
      await seerr.stop();
    }
  });

  it("a Jellyfin Seerr cannot reach at its first sign-in: fails naming Jellyfin's address and Seerr's answer", async () => {
    const seerr = await FakeSeerr.create(SEERR_KEY, { network: new FakeNetwork().serve(host("radarr"), 7878, radarr) });
    try {
      await assert.rejects(
        create(seerr, true),
        /^RelationError: seerr could not sign in through Jellyfin at jellyfin\.charmarr-core\.svc\.cluster\.local:8096 \(POST \/api\/v1\/auth\/jellyfin answered HTTP 404: \{"message":"INVALID_URL"\}\)$/,
      );
      assert.deepEqual([seerr.users, seerr.initialized], [[], false]);
      noViolations(radarr, seerr);
    } finally {
      await seerr.stop();
    }
  });
});
