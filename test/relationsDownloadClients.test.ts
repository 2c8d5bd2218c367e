import { strict as assert } from "node:assert";
import { HttpClient, HttpRequest, httpClient } from "../lib/relations/http";
import {
  qbittorrentLogin,
  reconcileQbittorrentCategories,
  reconcileSabnzbdCategories,
  sabnzbdReady,
} from "../lib/relations/downloadClients";
import { FakeQbittorrent, FakeSabnzbd } from "./support/fakeApps";

// The download clients' categories against the qBittorrent and SABnzbd stand-ins: what each app
// receives, what the relation reports, and what it leaves alone.
const QBIT = { username: "charmarr", password: "generated-password" };
const SAB = { basePath: "/sabnzbd", apiKey: "0123456789abcdef0123456789abcdef" };
const category = (name: string, savePath = `/data/downloads/${name}`) => ({ name, savePath });

/** A client that records each request it sends. */
function recording(base: string, host?: string): { http: HttpClient; sent: HttpRequest[] } {
  const sent: HttpRequest[] = [];
  const inner = httpClient(base, 5000, host);
  return {
    sent,
    http: {
      send: (request) => {
        sent.push(request);
        return inner.send(request);
      },
    },
  };
}

describe("relations: qBittorrent's categories", () => {
  let qbittorrent: FakeQbittorrent;
  beforeEach(async () => {
    qbittorrent = await new FakeQbittorrent(QBIT.username, QBIT.password, "5.2").start();
  });
  afterEach(() => qbittorrent.stop());

  it("sends back the session cookie alone, never its attributes", async () => {
    const { http, sent } = recording(qbittorrent.url);
    await reconcileQbittorrentCategories(http, QBIT, { desired: [category("radarr")], owned: [] });
    assert.deepEqual(
      sent.map((request) => [request.path, request.headers?.Cookie]),
      [
        ["/api/v2/auth/login", undefined],
        ["/api/v2/torrents/categories", "QBT_SID_8080=sid1"],
        ["/api/v2/torrents/createCategory", "QBT_SID_8080=sid1"],
      ],
    );
  });

  it("a login qBittorrent accepts without a session cookie fails, saying so", async () => {
    const answer = { status: 200, headers: {}, text: "Ok." };
    await assert.rejects(
      qbittorrentLogin({ send: async () => answer }, QBIT),
      /^RelationError: qbittorrent accepted the login \(POST \/api\/v2\/auth\/login\) but set no session cookie$/,
    );
  });

  it("a 401 to the login, then no answer to the check that tells a refused request from wrong credentials: says which request failed", async () => {
    const answers: Record<string, { status: number; headers: Record<string, string>; text: string }> = {
      "/api/v2/auth/login": { status: 401, headers: {}, text: "" },
      "/api/v2/app/webapiVersion": { status: 500, headers: {}, text: "Internal Server Error" },
    };
    await assert.rejects(
      qbittorrentLogin({ send: async (request) => answers[request.path] }, QBIT),
      /^RelationError: qbittorrent refused GET \/api\/v2\/app\/webapiVersion with HTTP 500: Internal Server Error$/,
    );
  });

  it("a save path that differs only by trailing slashes is the same folder: nothing is written", async () => {
    qbittorrent.categories.set("radarr", "/data/downloads/radarr/");
    qbittorrent.categories.set("sonarr", "/data/downloads/sonarr//");
    const changes = await reconcileQbittorrentCategories(httpClient(qbittorrent.url, 5000), QBIT, {
      desired: [category("radarr"), category("sonarr")],
      owned: ["radarr", "sonarr"],
    });
    assert.deepEqual(
      changes.map((change) => `${change.action} ${change.name}`),
      ["unchanged radarr", "unchanged sonarr"],
    );
    assert.equal(qbittorrent.mutations, 0);
  });

  it("moves an owned category to its new folder, reporting it updated", async () => {
    qbittorrent.categories.set("radarr", "/data/old/radarr");
    const changes = await reconcileQbittorrentCategories(httpClient(qbittorrent.url, 5000), QBIT, {
      desired: [category("radarr")],
      owned: ["radarr"],
    });
    assert.deepEqual(changes, [{ app: "qbittorrent", collection: "category", name: "radarr", action: "updated" }]);
    assert.equal(qbittorrent.categories.get("radarr"), "/data/downloads/radarr");
    assert.ok(qbittorrent.log.includes("POST /api/v2/torrents/editCategory 200"), qbittorrent.log.join("\n"));
  });

  it("an owned category the user removed by hand is not removed again, nor reported removed", async () => {
    qbittorrent.categories.set("radarr", "/data/downloads/radarr");
    const changes = await reconcileQbittorrentCategories(httpClient(qbittorrent.url, 5000), QBIT, {
      desired: [],
      owned: ["radarr", "sonarr"],
    });
    assert.deepEqual(changes, [{ app: "qbittorrent", collection: "category", name: "radarr", action: "deleted" }]);
    assert.deepEqual(
      qbittorrent.log.filter((line) => line.includes("removeCategories")),
      ["POST /api/v2/torrents/removeCategories 200"],
    );
    assert.deepEqual([...qbittorrent.categories.keys()], []);
  });
});

describe("relations: SABnzbd's categories", () => {
  let sabnzbd: FakeSabnzbd;
  beforeEach(async () => {
    sabnzbd = await new FakeSabnzbd(SAB.basePath, SAB.apiKey).start();
  });
  afterEach(() => sabnzbd.stop());
  const http = () => httpClient(sabnzbd.url, 5000);

  it("moves an owned category to its new folder, reporting it updated; one whose folder differs only by trailing slashes stays", async () => {
    sabnzbd.categories.set("radarr", "/data/old/radarr");
    sabnzbd.categories.set("sonarr", "/data/downloads/sonarr//");
    const changes = await reconcileSabnzbdCategories(http(), SAB, {
      desired: [category("radarr"), category("sonarr")],
      owned: ["radarr", "sonarr"],
    });
    assert.deepEqual(changes, [
      { app: "sabnzbd", collection: "category", name: "radarr", action: "updated" },
      { app: "sabnzbd", collection: "category", name: "sonarr", action: "unchanged" },
    ]);
    assert.equal(sabnzbd.categories.get("radarr"), "/data/downloads/radarr");
    assert.equal(sabnzbd.log.length, 2, "its categories read, radarr's set: sonarr is not written");
  });

  it("a category of the same name the user made first is theirs: not moved, not owned", async () => {
    sabnzbd.categories.set("radarr", "/mnt/usenet/films");
    const changes = await reconcileSabnzbdCategories(http(), SAB, { desired: [category("radarr")], owned: [] });
    assert.deepEqual(changes, [{ app: "sabnzbd", collection: "category", name: "radarr", action: "unmanaged" }]);
    assert.equal(sabnzbd.categories.get("radarr"), "/mnt/usenet/films");
    assert.equal(sabnzbd.log.length, 1, "read only");
  });

  it("an owned category the user removed by hand is not removed again, nor reported removed", async () => {
    sabnzbd.categories.set("radarr", "/data/downloads/radarr");
    const changes = await reconcileSabnzbdCategories(http(), SAB, { desired: [], owned: ["radarr", "sonarr"] });
    assert.deepEqual(changes, [{ app: "sabnzbd", collection: "category", name: "radarr", action: "deleted" }]);
    assert.deepEqual(sabnzbd.violations, []);
  });

  it("a request SABnzbd refuses for its Host name fails at once with SABnzbd's words, not as a wrong key", async () => {
    const { http: named } = recording(sabnzbd.url, "sabnzbd.example.org:8080");
    await assert.rejects(sabnzbdReady(named, SAB), (error: Error) => {
      assert.equal(
        `${error.name}: ${error.message}`,
        'CredentialsRefusedError: sabnzbd refused the relation\'s request (mode=get_config answered HTTP 403 "Access denied - Hostname verification failed: https://sabnzbd.org/hostname-check")',
      );
      return true;
    });
  });
});
