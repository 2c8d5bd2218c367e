import { strict as assert } from "node:assert";
import {
  coreRelationsSchema,
  downloadFolderProblems,
  downloadsRelationsSchema,
  libraryPath,
} from "../lib/relations/settings";
import { assertConfigError, planCore } from "./support/plan";

// Where the relations point the apps in the library: the root folders and download folder a user
// may set, which ones the program refuses and with which fix. Refusals go through a plan (what the
// user sees; a refused configuration stops before any resource); what is accepted is checked on the
// schema alone, since a successful plan costs far more.

/** The root-folder keys the core schema refuses, each with its message. */
function refusedRootFolders(rootFolders: Record<string, string>): string[] {
  const parsed = coreRelationsSchema.safeParse({ rootFolders });
  return parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
}

describe("relations settings: root folders, each arr app's own", () => {
  it("accepts folders that only share a prefix of their name, or a parent", () => {
    assert.deepEqual(refusedRootFolders({ radarr: "movies", sonarr: "movies2", lidarr: "media/music" }), []);
    assert.deepEqual(refusedRootFolders({ radarr: "tv-archive", sonarr: "tv" }), []);
    assert.deepEqual(refusedRootFolders({ radarr: "media/movies", sonarr: "media/tv", lidarr: "media/music" }), []);
    assert.deepEqual(refusedRootFolders({ radarr: "a..b", sonarr: ".tv", lidarr: "music.d/x_y-z" }), []);
  });

  it("refuses the same folder twice, and one inside or around another: the later app's key, the earlier app's folder", () => {
    assert.deepEqual(refusedRootFolders({ radarr: "media", sonarr: "media" }), [
      `rootFolders.sonarr: "media" overlaps radarr's "media"; each arr app needs a root folder of its own, or it would import the other's files`,
    ]);
    assert.deepEqual(refusedRootFolders({ radarr: "media/movies", sonarr: "media" }), [
      `rootFolders.sonarr: "media" overlaps radarr's "media/movies"; each arr app needs a root folder of its own, or it would import the other's files`,
    ]);
    assert.deepEqual(refusedRootFolders({ sonarr: "shows", lidarr: "shows/music" }), [
      `rootFolders.lidarr: "shows/music" overlaps sonarr's "shows"; each arr app needs a root folder of its own, or it would import the other's files`,
    ]);
  });

  it("suggests the app's default folder, or <app>-media when the app already has its default", async () => {
    await assertConfigError(
      planCore({ "charmarr:relations.rootFolders.radarr": "tv" }),
      `charmarr:relations.rootFolders.sonarr\n    "tv" overlaps radarr's "tv"`,
      "pulumi config set --path charmarr:relations.rootFolders.sonarr sonarr-media",
    );
    await assertConfigError(
      planCore({ "charmarr:relations.rootFolders.lidarr": "tv/music" }),
      `charmarr:relations.rootFolders.lidarr\n    "tv/music" overlaps sonarr's "tv"`,
      "pulumi config set --path charmarr:relations.rootFolders.lidarr music",
    );
  });

  it("refuses a folder that climbs out of the library anywhere in its path, not a name with dots", () => {
    assert.deepEqual(refusedRootFolders({ radarr: "media/../../etc" }), [
      "rootFolders.radarr: leaves the library (..); give a folder inside it",
    ]);
    assert.deepEqual(refusedRootFolders({ radarr: ".." }), [
      "rootFolders.radarr: leaves the library (..); give a folder inside it",
    ]);
  });
});

describe("relations settings: the download folder lies beside core's root folders", () => {
  const settings = (downloads: string) => downloadsRelationsSchema.parse({ downloads });
  const core = { radarr: "/data/movies", sonarr: "/data/media/tv", lidarr: "/data/music" };

  it("accepts a folder beside them, and one that only shares a prefix of a name", () => {
    assert.deepEqual(downloadFolderProblems(settings("downloads"), "/data", core), []);
    assert.deepEqual(downloadFolderProblems(settings("movies-incoming"), "/data", core), []);
    assert.deepEqual(downloadFolderProblems(settings("media/downloads"), "/data", core), []);
  });

  it("refuses one in or around a root folder, naming each app and its folder, and suggests another folder", () => {
    assert.deepEqual(downloadFolderProblems(settings("media"), "/data/", core), [
      {
        key: "charmarr:relations.downloads",
        problem:
          '"media" overlaps sonarr\'s root folder /data/media/tv (from the core stack); the download clients must save beside the library folders, not in them',
        fix: "pulumi config set --path charmarr:relations.downloads downloads",
      },
    ]);
    assert.deepEqual(
      downloadFolderProblems(settings("media"), "/data//", core),
      downloadFolderProblems(settings("media"), "/data/", core),
      "a mount path may end in any number of slashes (charmarr:storage.library.mountPath only has to be absolute)",
    );
    const aroundBoth = downloadFolderProblems(settings("downloads"), "/data", {
      radarr: "/data/downloads/movies",
      sonarr: "/data/downloads",
      lidarr: "/data/music",
    });
    assert.deepEqual(
      aroundBoth.map((problem) => [problem.problem.split(" (")[0], problem.fix]),
      [
        [
          '"downloads" overlaps radarr\'s root folder /data/downloads/movies',
          "pulumi config set --path charmarr:relations.downloads incoming",
        ],
        [
          '"downloads" overlaps sonarr\'s root folder /data/downloads',
          "pulumi config set --path charmarr:relations.downloads incoming",
        ],
      ],
    );
  });

  it("compares only root folders inside this library's mount path", () => {
    assert.deepEqual(
      downloadFolderProblems(settings("downloads"), "/data", { radarr: "/misc/downloads", sonarr: "/datadownloads" }),
      [],
    );
  });
});

describe("relations settings: paths in the library", () => {
  it("joins the mount path and a folder with one slash, whatever the mount path ends with", () => {
    assert.deepEqual(
      [
        libraryPath("/data", "movies"),
        libraryPath("/data/", "movies"),
        libraryPath("/data//", "downloads/radarr"),
        libraryPath("/", "movies"),
        libraryPath("/srv/media/library", "tv"),
      ],
      ["/data/movies", "/data/movies", "/data/downloads/radarr", "/movies", "/srv/media/library/tv"],
    );
  });
});
