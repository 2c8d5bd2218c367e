import { strict as assert } from "node:assert";
import { HttpClient, httpClient } from "../lib/relations/http";
import { RelationSpec, runRelation } from "../lib/relations/reconcile";
import { FakeApp, FakeQbittorrent, FakeSabnzbd, FakeServarr } from "./support/fakeApps";
import { FakeJellyfin, FakeSeerr } from "./support/fakeSeerr";

// What each kind of relation waits on before it touches its app, against stand-ins that answer 503
// (an app still starting): the user reads which app is not ready and which request went unanswered.
const KEYS = { radarr: "radarr-key-0000", sabnzbd: "0123456789abcdef0123456789abcdef", seerr: "seerr-key-00" };
const QBIT = { username: "charmarr", password: "generated-password" };
const ADMIN = { username: "charmarr", password: "generated-jellyfin-password" };
const WAIT = { attempts: 2, intervalMs: 1 };

describe("relations: each kind waits for its own app, and says which request went unanswered", function () {
  this.timeout(30000);
  let radarr: FakeServarr, qbittorrent: FakeQbittorrent, sabnzbd: FakeSabnzbd, seerr: FakeSeerr, jellyfin: FakeJellyfin;
  before(async () => {
    [radarr, qbittorrent, sabnzbd, seerr, jellyfin] = await Promise.all([
      FakeServarr.create("radarr", "/radarr", KEYS.radarr),
      new FakeQbittorrent(QBIT.username, QBIT.password).start(),
      new FakeSabnzbd("/sabnzbd", KEYS.sabnzbd).start(),
      FakeSeerr.create(KEYS.seerr),
      FakeJellyfin.create(),
    ]);
  });
  after(() => Promise.all([radarr, qbittorrent, sabnzbd, seerr, jellyfin].map((app) => app?.stop())));

  const radarrTarget = { app: "radarr" as const, basePath: "/radarr", apiKey: KEYS.radarr };
  const cases: [string, () => FakeApp, RelationSpec, string][] = [
    [
      "radarr",
      () => radarr,
      { kind: "rootFolder", target: radarrTarget, path: "/data/movies", name: "Movies" },
      "GET /radarr/api/v3/system/status",
    ],
    [
      "radarr",
      () => radarr,
      { kind: "providers", collection: "downloadclient", target: radarrTarget, entries: [] },
      "GET /radarr/api/v3/system/status",
    ],
    [
      "qbittorrent",
      () => qbittorrent,
      { kind: "qbittorrentCategories", target: QBIT, categories: [] },
      "POST /api/v2/auth/login",
    ],
    [
      "sabnzbd",
      () => sabnzbd,
      { kind: "sabnzbdCategories", target: { basePath: "/sabnzbd", apiKey: KEYS.sabnzbd }, categories: [] },
      "GET /sabnzbd/api?mode=get_config",
    ],
    ["seerr", () => seerr, { kind: "seerr", target: { apiKey: KEYS.seerr }, services: [] }, "GET /api/v1/status"],
    ["jellyfin", () => jellyfin, { kind: "jellyfinAdmin", admin: ADMIN }, "GET /System/Info/Public"],
  ];
  for (const [app, fake, spec, probe] of cases) {
    it(`${spec.kind}: ${app} still starting fails after the wait, naming ${app} and ${probe}, and writes nothing`, async () => {
      const stand = fake();
      stand.ready = false;
      const before = stand.mutations;
      try {
        await assert.rejects(
          runRelation(httpClient(stand.url, 5000), spec, { owned: [], rotateSecrets: false, retry: WAIT }),
          (error: Error) => {
            const path = probe.split(" ")[1].split("?")[0];
            assert.match(
              error.message,
              new RegExp(
                `^${app} is not ready: ${escape(probe)} did not answer after 2 attempts over 0\\.001 s \\(last: ${app} refused ${probe.split(" ")[0]} ${escape(path)} with HTTP 503`,
              ),
            );
            return true;
          },
        );
        assert.equal(stand.log.filter((line) => line.endsWith(" 503")).length >= 2, true, stand.log.join("\n"));
        assert.equal(stand.mutations, before);
      } finally {
        stand.ready = true;
        stand.log.length = 0;
      }
    });
  }

  it("jellyfinAdmin: a Jellyfin that answers on the second try gets its administrator (the wait rides out a start)", async () => {
    jellyfin.ready = false;
    const http: HttpClient = {
      send: async (request) => {
        const response = await httpClient(jellyfin.url, 5000).send(request);
        jellyfin.ready = true;
        return response;
      },
    };
    const changes = await runRelation(
      http,
      { kind: "jellyfinAdmin", admin: ADMIN },
      { owned: [], rotateSecrets: false, retry: { attempts: 2, intervalMs: 1 } },
    );
    assert.deepEqual(changes, [{ app: "jellyfin", collection: "administrator", name: "charmarr", action: "created" }]);
    assert.deepEqual(jellyfin.log.slice(0, 2), ["GET /System/Info/Public 503", "GET /System/Info/Public 200"]);
  });
});

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
