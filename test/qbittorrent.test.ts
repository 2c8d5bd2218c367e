/**
 * The relations against a real qBittorrent. Debian's qbittorrent-nox is 4.5.2 (bookworm); the program
 * pins 5.1.4 (lscr.io/linuxserver/qbittorrent 5.1.4-r3-ls453). Everything these tests exercise is the
 * same code in both (qBittorrent sources at release-4.5.2 and release-5.1.4):
 * - the Host and CSRF checks before any session: src/webui/webapplication.cpp `processRequest`
 *   4.5.2 L538-541, 5.1.4 L618-622; `validateHostHeader` 4.5.2 L728-742, 5.1.4 L837-851;
 * - the login's `Ok.`/`Fails.` and the `SID` cookie: src/webui/api/authcontroller.cpp 4.5.2 L79/L86,
 *   5.1.4 L85/L92; webapplication.cpp 4.5.2 L66, 5.1.4 L73;
 * - the category methods: src/webui/api/torrentscontroller.cpp 4.5.2 L1222-1290 and 5.1.4
 *   L1408-1476, identical but for Qt's string-literal suffix;
 * - the save-path settings, their keys and defaults: src/base/bittorrent/sessionimpl.cpp 4.5.2
 *   L486-491, 5.1.4 L511-516; a torrent added with neither autoTMM nor a save path is Automatic
 *   unless DisableAutoTMMByDefault (4.5.2 L2487, 5.1.4 L2705-2706) and then saved in its category's
 *   path (4.5.2 L2581, 5.1.4 L2817);
 * - the first start's copy of the image's old-style save paths: src/app/upgrade.cpp
 *   `migrateSettingKeys` 4.5.2 L262/L300, 5.1.4 L263/L301, run on a configuration that is not new
 *   (src/app/application.cpp 4.5.2 L175-178: legal notice accepted; 5.1.4 L294-302: not empty).
 * What differs is not used here: the WebAPI version (2.8.19 and 2.11.4, src/webui/webapplication.h),
 * `torrents/add`'s start flag (`paused`, `stopped` since 5.0: the test sends neither) and a missing
 * password (4.5.2 falls back to adminadmin, 5.1 makes a temporary one: the seed always sets one).
 */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StackPlan } from "../plan/evaluate";
import { isSecretValue } from "../plan/runtime";
import { qbittorrentLogin } from "../lib/relations/downloadClients";
import { HttpClient, httpClient, isNamedError } from "../lib/relations/http";
import { Connect, RelationInputs, RelationState, relationLifecycle } from "../lib/relations/lifecycle";
import { relayedClient } from "../lib/relations/portForward";
import type { RelationSpec } from "../lib/relations/reconcile";
import { planDownloads } from "./support/plan";
import {
  Relay,
  RunningQbittorrent,
  mapPaths,
  plannedQbittorrentSeed,
  qbittorrentNox,
  startQbittorrent,
  startRelay,
} from "./support/qbittorrent";

type QbittorrentSpec = Extract<RelationSpec, { kind: "qbittorrentCategories" }>;

/** Bencoding (BEP 3): what a .torrent file is made of; dictionary keys sorted as raw strings. */
function bencode(value: number | string | Buffer | Record<string, unknown>): Buffer {
  if (typeof value === "number") {
    return Buffer.from(`i${value}e`);
  }
  if (typeof value === "string" || Buffer.isBuffer(value)) {
    const bytes = Buffer.from(value);
    return Buffer.concat([Buffer.from(`${bytes.length}:`), bytes]);
  }
  const entries = Object.keys(value)
    .sort()
    .map((key) => Buffer.concat([bencode(key), bencode(value[key] as Record<string, unknown>)]));
  return Buffer.concat([Buffer.from("d"), ...entries, Buffer.from("e")]);
}

/** A one-file torrent with no tracker, made here: nothing is fetched from a network. */
function tinyTorrent(): { file: Buffer; hash: string } {
  const content = Buffer.from("charmarr: a torrent made by the test suite\n");
  const info = {
    length: content.length,
    name: "charmarr-test-movie.txt",
    "piece length": 16384,
    pieces: createHash("sha1").update(content).digest(),
  };
  return { file: bencode({ info }), hash: createHash("sha1").update(bencode(info)).digest("hex") };
}

const trimSlash = (path: string) => path.replace(/\/+$/, "");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("qBittorrent for real (Debian's qbittorrent-nox), seeded by the planned init script, reached through a relay as through the port-forward", function () {
  this.timeout(20000);
  let library: string;
  let plan: StackPlan;
  let qbittorrent: RunningQbittorrent;
  let relay: Relay;
  let inputs: RelationInputs;
  let created: RelationState;
  const requests: string[] = [];

  /** What the relation provider does, with the port-forward replaced by the relay; records what it sends. */
  const throughRelay: Connect = (reach, _connection, use) => {
    const client = relayedClient(relay.port, reach.port, 5000);
    const recording: HttpClient = {
      send: (request) => {
        requests.push(`${request.method} ${request.path}`);
        return client.send(request);
      },
    };
    return use(recording);
  };
  const lifecycle = relationLifecycle(throughRelay);
  const spec = () => inputs.spec as QbittorrentSpec;
  const direct = () => httpClient(`http://127.0.0.1:${qbittorrent.port}`, 5000);
  const get = async <T>(path: string, cookie: string, query?: Record<string, string>): Promise<T> => {
    const response = await direct().send({ method: "GET", path, query, headers: { Cookie: cookie } });
    assert.equal(response.status, 200, `GET ${path}: ${response.text}`);
    return JSON.parse(response.text) as T;
  };
  const login = () => qbittorrentLogin(direct(), spec().target);
  const categories = async () =>
    Object.fromEntries(
      Object.values(
        await get<Record<string, { name: string; savePath: string }>>("/api/v2/torrents/categories", await login()),
      ).map((category) => [category.name, trimSlash(category.savePath)]),
    );

  before(async function () {
    this.timeout(60000);
    qbittorrentNox();
    library = mkdtempSync(join(tmpdir(), "qbittorrent-library-"));
    plan = await planDownloads();
    const volumes = { "/data": library };
    qbittorrent = await startQbittorrent(plannedQbittorrentSeed(plan), volumes);
    relay = await startRelay(qbittorrent.port);
    const planned = plan.rawResources.find((resource) => resource.name === "relations-qbittorrent-categories");
    assert.ok(planned, "the downloads plan relates qBittorrent");
    const plannedSpec = planned.inputs.spec;
    inputs = {
      // In the pod qBittorrent listens on the planned port (8080); here on an ephemeral one.
      reach: { ...(planned.inputs.reach as RelationInputs["reach"]), port: qbittorrent.port },
      // The planned save paths are under the pod's /data, the library here.
      spec: JSON.parse(
        mapPaths(JSON.stringify(isSecretValue(plannedSpec) ? plannedSpec.value : plannedSpec), volumes),
      ) as RelationSpec,
      retry: { attempts: 3, intervalMs: 200 },
      kubeconfig: undefined,
      context: undefined,
    };
    created = await lifecycle.create(inputs);
  });

  after(async () => {
    await relay?.close();
    await qbittorrent?.stop();
    if (library !== undefined) {
      rmSync(library, { recursive: true, force: true });
    }
  });

  it(`logs in through the relay with the planned credentials; a Host naming the relay's port is refused before any login, and the error says so`, async () => {
    assert.match(qbittorrent.version, /^qBittorrent v\d+\.\d+\.\d+/);
    assert.match(await qbittorrentLogin(relayedClient(relay.port, qbittorrent.port), spec().target), /^SID=./);
    await assert.rejects(
      qbittorrentLogin(httpClient(`http://127.0.0.1:${relay.port}`, 5000), spec().target),
      (error: Error) => {
        assert.ok(isNamedError(error, "RelationError"), String(error));
        assert.match(error.message, /refused the request itself, before any login/);
        assert.match(error.message, /host-header validation refuses a Host naming another port/);
        assert.match(error.message, /the credentials were never checked/);
        return true;
      },
    );
    const log = readFileSync(join(qbittorrent.config, "qBittorrent", "logs", "qbittorrent.log"), "utf8");
    assert.match(log, new RegExp(`Invalid Host header, port mismatch.*127\\.0\\.0\\.1:${relay.port}`));
  });

  it("creates each arr app's category, saving in its folder of the library", async () => {
    assert.deepEqual(created.owned, ["radarr", "sonarr", "lidarr"]);
    assert.deepEqual(await categories(), {
      radarr: `${library}/downloads/radarr`,
      sonarr: `${library}/downloads/sonarr`,
      lidarr: `${library}/downloads/lidarr`,
    });
  });

  it("saves a torrent added as Radarr adds it (category only) in the category's save path on the library", async () => {
    const cookie = await login();
    const torrent = tinyTorrent();
    const form = new FormData();
    form.append("torrents", new Blob([torrent.file]), "charmarr-test-movie.torrent");
    form.append("category", "radarr");
    const added = await fetch(`http://127.0.0.1:${qbittorrent.port}/api/v2/torrents/add`, {
      method: "POST",
      body: form,
      headers: { Cookie: cookie },
    });
    assert.equal(`${added.status} ${await added.text()}`, "200 Ok.");
    let info: { category: string; save_path: string; auto_tmm: boolean }[] = [];
    for (let attempt = 0; attempt < 50 && info.length === 0; attempt++) {
      info = await get("/api/v2/torrents/info", cookie, { hashes: torrent.hash });
      if (info.length === 0) {
        await sleep(100);
      }
    }
    assert.equal(info.length, 1, "qBittorrent lists the torrent");
    assert.deepEqual(
      { category: info[0].category, savePath: trimSlash(info[0].save_path), automatic: info[0].auto_tmm },
      { category: "radarr", savePath: `${library}/downloads/radarr`, automatic: true },
    );
  });

  it("keeps its global and temporary save paths on the library", async () => {
    const preferences = await get<{ save_path: string; temp_path: string; auto_tmm_enabled: boolean }>(
      "/api/v2/app/preferences",
      await login(),
    );
    assert.deepEqual(
      {
        savePath: trimSlash(preferences.save_path),
        tempPath: trimSlash(preferences.temp_path),
        automatic: preferences.auto_tmm_enabled,
      },
      {
        savePath: `${library}/downloads/qbittorrent`,
        tempPath: `${library}/downloads/incomplete/qbittorrent`,
        automatic: true,
      },
    );
  });

  it("re-runs without a write, moves an edited category, removes a dropped one and leaves the user's own alone", async () => {
    const cookie = await login();
    const mine = await direct().send({
      method: "POST",
      path: "/api/v2/torrents/createCategory",
      headers: { Cookie: cookie },
      form: { category: "mine", savePath: `${library}/mine` },
    });
    assert.equal(mine.status, 200);
    const categoriesFile = join(qbittorrent.config, "qBittorrent", "categories.json");
    const before = statSync(categoriesFile).mtimeMs;
    requests.length = 0;
    const rerun = await lifecycle.update(created, inputs);
    assert.deepEqual(rerun.changes, []);
    assert.deepEqual(
      [...new Set(requests)],
      ["POST /api/v2/auth/login", "GET /api/v2/torrents/categories"],
      "reads only",
    );
    assert.equal(statSync(categoriesFile).mtimeMs, before, "categories.json is not rewritten");

    const edited: RelationInputs = {
      ...inputs,
      spec: {
        ...spec(),
        categories: [
          { name: "radarr", savePath: `${library}/downloads/films` },
          spec().categories.find((category) => category.name === "sonarr") as QbittorrentSpec["categories"][number],
        ],
      },
    };
    const updated = await lifecycle.update(rerun, edited);
    assert.deepEqual(updated.changes, ["updated qbittorrent category radarr", "deleted qbittorrent category lidarr"]);
    assert.deepEqual(updated.owned, ["radarr", "sonarr"]);
    assert.deepEqual(await categories(), {
      radarr: `${library}/downloads/films`,
      sonarr: `${library}/downloads/sonarr`,
      mine: `${library}/mine`,
    });
  });
});
