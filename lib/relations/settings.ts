import { z } from "zod";
import { ConfigProblem, IssueParams, configSetCommand } from "../settings";

/** A folder of the shared library, relative to its mount path: `movies`, `media/tv`. */
const libraryFolder = z
  .string()
  .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, {
    message: "is not a folder relative to the library's mount path (e.g. movies)",
  })
  .refine((folder) => !folder.split("/").includes(".."), {
    message: "leaves the library (..); give a folder inside it",
  });

/** The root folders' defaults, by arr app. */
export const DEFAULT_ROOT_FOLDERS = { radarr: "movies", sonarr: "tv", lidarr: "music" } as const;
export const DEFAULT_DOWNLOADS_FOLDER = "downloads";

/** Whether one library folder is, holds or lies in the other. */
function overlaps(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}

const common = {
  /** false: the stack wires nothing (and removes what it wired) on the next `pulumi up`. */
  enabled: z
    .boolean()
    .default(true)
    .describe("Wire the apps to each other on pulumi up; false removes what this stack wired."),
  /** How long a relation waits for its app: `attempts` tries `intervalSeconds` apart. */
  readiness: z
    .strictObject({
      attempts: z
        .number()
        .int()
        .min(1)
        .max(720)
        .default(60)
        .describe("Tries before a relation fails naming its app and the request that did not answer."),
      intervalSeconds: z.number().int().min(1).max(60).default(5).describe("Seconds between two tries."),
    })
    .prefault({})
    .describe("How long a relation waits for its app to answer."),
};

/** `charmarr:relations` of the core stack: the relations' switch, each arr app's root folder, the readiness wait. */
export const coreRelationsSchema = z
  .strictObject({
    ...common,
    /** Each arr app's root folder, under the library's mount path; the downloads stack saves beside them. */
    rootFolders: z
      .strictObject({
        radarr: libraryFolder
          .default(DEFAULT_ROOT_FOLDERS.radarr)
          .describe("Radarr's root folder, under the library's mountPath."),
        sonarr: libraryFolder
          .default(DEFAULT_ROOT_FOLDERS.sonarr)
          .describe("Sonarr's root folder, under the library's mountPath."),
        lidarr: libraryFolder
          .default(DEFAULT_ROOT_FOLDERS.lidarr)
          .describe("Lidarr's root folder, under the library's mountPath."),
      })
      .prefault({})
      .describe("Each arr app's root folder; no two may overlap."),
  })
  .superRefine((relations, ctx) => {
    const folders = Object.entries(relations.rootFolders) as [keyof typeof DEFAULT_ROOT_FOLDERS, string][];
    folders.forEach(([app, folder], index) => {
      const other = folders.slice(0, index).find(([, earlier]) => overlaps(folder, earlier));
      if (other !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["rootFolders", app],
          message: `"${folder}" overlaps ${other[0]}'s "${other[1]}"; each arr app needs a root folder of its own, or it would import the other's files`,
          params: {
            fix: configSetCommand(
              `charmarr:relations.rootFolders.${app}`,
              folder === DEFAULT_ROOT_FOLDERS[app] ? `${app}-media` : DEFAULT_ROOT_FOLDERS[app],
            ),
          } satisfies IssueParams,
        });
      }
    });
  })
  .prefault({});

/** `charmarr:relations` of the downloads stack: the relations' switch, where the download clients save, the readiness wait. */
export const downloadsRelationsSchema = z
  .strictObject({
    ...common,
    /**
     * Where the download clients save, under the library's mount path: `<downloads>/<arr app>`, and
     * each client's own `<downloads>/<client>` and `<downloads>/incomplete/<client>`.
     */
    downloads: libraryFolder
      .default(DEFAULT_DOWNLOADS_FOLDER)
      .describe(
        "Where the download clients save, under the library's mountPath: a folder per arr app, per client and incomplete/<client>; must lie beside core's root folders.",
      ),
  })
  .prefault({});

export type CoreRelationsSettings = z.output<typeof coreRelationsSchema>;
export type DownloadsRelationsSettings = z.output<typeof downloadsRelationsSchema>;

/** Example values for `pulumi config set` suggestions, by dotted path. */
export const RELATION_EXAMPLES: Readonly<Record<string, string>> = {
  "relations.enabled": "false",
  "relations.rootFolders.radarr": "movies",
  "relations.downloads": "downloads",
  "relations.readiness.attempts": "60",
  plexToken: "<Plex token>",
  plexClaim: "<claim token from https://plex.tv/claim>",
};

/** `/data` + `movies` → `/data/movies`. */
export function libraryPath(mountPath: string, folder: string): string {
  return `${mountPath.replace(/\/+$/, "")}/${folder}`;
}

/**
 * The download folder must lie beside the arr apps' root folders (core's offers), not in or around
 * one: an arr app would otherwise import unfinished downloads as library files.
 */
export function downloadFolderProblems(
  settings: DownloadsRelationsSettings,
  mountPath: string,
  rootFolders: Readonly<Record<string, string>>,
): ConfigProblem[] {
  const base = `${mountPath.replace(/\/+$/, "")}/`;
  return Object.entries(rootFolders)
    .filter(([, path]) => path.startsWith(base) && overlaps(settings.downloads, path.slice(base.length)))
    .map(([app, path]) => ({
      key: "charmarr:relations.downloads",
      problem: `"${settings.downloads}" overlaps ${app}'s root folder ${path} (from the core stack); the download clients must save beside the library folders, not in them`,
      fix: configSetCommand(
        "charmarr:relations.downloads",
        settings.downloads === DEFAULT_DOWNLOADS_FOLDER ? "incoming" : DEFAULT_DOWNLOADS_FOLDER,
      ),
    }));
}
