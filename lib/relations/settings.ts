import { z } from "zod";

/** A folder of the shared library, relative to its mount path: `movies`, `media/tv`. */
const libraryFolder = z
    .string()
    .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, { message: "is not a folder relative to the library's mount path (e.g. movies)" })
    .refine((folder) => !folder.split("/").includes(".."), { message: "leaves the library (..); give a folder inside it" });

/** The root folders' defaults, by arr app. */
export const DEFAULT_ROOT_FOLDERS = { radarr: "movies", sonarr: "tv", lidarr: "music" } as const;

/**
 * `charmarr:relations`, in both stacks: whether the program wires the apps to each other, where in the
 * shared library each arr app keeps its media and the download clients save, and how long a relation
 * waits for an app to answer.
 */
export const relationsSchema = z
    .strictObject({
        /** false: the stack wires nothing (and removes what it wired) on the next `pulumi up`. */
        enabled: z.boolean().default(true),
        /** Each arr app's root folder, under the library's mount path. */
        rootFolders: z
            .strictObject({
                radarr: libraryFolder.default(DEFAULT_ROOT_FOLDERS.radarr),
                sonarr: libraryFolder.default(DEFAULT_ROOT_FOLDERS.sonarr),
                lidarr: libraryFolder.default(DEFAULT_ROOT_FOLDERS.lidarr),
            })
            .prefault({}),
        /** Where the download clients save, under the library's mount path: `<downloads>/<arr app>`. */
        downloads: libraryFolder.default("downloads"),
        /** How long a relation waits for its app: `attempts` tries `intervalSeconds` apart. */
        readiness: z
            .strictObject({
                attempts: z.number().int().min(1).max(720).default(60),
                intervalSeconds: z.number().int().min(1).max(60).default(5),
            })
            .prefault({}),
    })
    .superRefine((relations, ctx) => {
        const folders = Object.entries(relations.rootFolders);
        for (const [app, folder] of folders as [keyof typeof DEFAULT_ROOT_FOLDERS, string][]) {
            const nested = [relations.downloads, ...folders.filter(([other]) => other !== app).map(([, path]) => path)].find(
                (other) => other === folder || other.startsWith(`${folder}/`) || folder.startsWith(`${other}/`),
            );
            if (nested !== undefined) {
                ctx.addIssue({
                    code: "custom",
                    path: ["rootFolders", app],
                    message: `"${folder}" overlaps "${nested}"; each arr app's root folder and the download folder must be apart, or an app would import another's files`,
                    params: { fix: `pulumi config set --path 'charmarr:relations.rootFolders.${app}' ${folder === DEFAULT_ROOT_FOLDERS[app] ? `${app}-media` : DEFAULT_ROOT_FOLDERS[app]}` },
                });
            }
        }
    })
    .prefault({});

export type RelationsSettings = z.output<typeof relationsSchema>;

/** `/data` + `movies` → `/data/movies`. */
export function libraryPath(mountPath: string, folder: string): string {
    return `${mountPath.replace(/\/+$/, "")}/${folder}`;
}
