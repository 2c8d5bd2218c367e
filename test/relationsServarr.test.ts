import { strict as assert } from "node:assert";
import { httpClient } from "../lib/relations/http";
import { relationLifecycle } from "../lib/relations/lifecycle";
import { withoutTrailingSlashes } from "../lib/relations/servarr";
import { FakeServarr } from "./support/fakeApps";

// lib/relations/servarr.ts against the Servarr stand-ins (test/support/fakeApps.ts), beyond what
// test/relations.test.ts runs: what a user sees when an app lacks what a relation needs.
const RETRY = { attempts: 1, intervalMs: 0 };

describe("relations: a Lidarr root folder needs Lidarr's profiles", function () {
  this.timeout(30000);
  let lidarr: FakeServarr;
  before(async () => {
    lidarr = await FakeServarr.create("lidarr", "/lidarr", "lidarr-key-0000", { folders: ["/data/music"] });
  });
  after(() => lidarr?.stop());
  const create = () =>
    relationLifecycle((_reach, _connection, use) => use(httpClient(lidarr.url, 5000))).create({
      reach: { namespace: "charmarr-core", pod: "lidarr-0", port: 8686 },
      spec: {
        kind: "rootFolder",
        target: { app: "lidarr", basePath: "/lidarr", apiKey: "lidarr-key-0000" },
        path: "/data/music",
        name: "Music",
      },
      retry: RETRY,
    });

  for (const resource of ["qualityprofile", "metadataprofile"] as const) {
    it(`a Lidarr without a ${resource} (a user may delete them all): fails naming what Lidarr lacks and where to make it, adds nothing`, async () => {
      const profiles = lidarr.profiles[resource].splice(0);
      try {
        await assert.rejects(
          create(),
          new RegExp(
            `^RelationError: lidarr has no ${resource}: a root folder needs one \\(create one in lidarr's settings\\)$`,
          ),
        );
        assert.deepEqual(lidarr.collections.rootfolder, []);
      } finally {
        lidarr.profiles[resource].push(...profiles);
      }
    });
  }

  it("takes Lidarr's first quality and metadata profiles as the root folder's defaults", async () => {
    lidarr.profiles.qualityprofile.unshift({ id: 8, name: "Lossless" });
    lidarr.profiles.metadataprofile.unshift({ id: 5, name: "Albums only" });
    await create();
    assert.deepEqual(
      lidarr.collections.rootfolder.map((folder) => [
        folder.path,
        folder.name,
        folder.defaultQualityProfileId,
        folder.defaultMetadataProfileId,
      ]),
      [["/data/music", "Music", 8, 5]],
    );
    assert.deepEqual(lidarr.violations, []);
  });
});

describe("relations: root folder paths", () => {
  it("are one folder with or without trailing slashes, however many", () => {
    for (const path of ["/data/movies", "/data/movies/", "/data/movies//"]) {
      assert.equal(withoutTrailingSlashes(path), "/data/movies", path);
    }
  });
});
