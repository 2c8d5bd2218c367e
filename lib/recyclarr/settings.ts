import { z } from "zod";
import { IssueParams, SettingsIssue, closest, configRemoveCommand, configSetCommand, pinnedImage } from "../settings";
import { CONFIG_TEMPLATES, RECYCLARR_APPS, RecyclarrApp } from "./templates";

/**
 * Recyclarr's image: the project's own, a stable version tag without a `v` (recyclarr v8.7.1
 * .github/workflows/reusable-docker.yml L33-49; no `latest` since 8.4.0, CHANGELOG.md).
 */
export const RECYCLARR_IMAGE = "ghcr.io/recyclarr/recyclarr:8.7.1";

/**
 * A Kubernetes CronJob schedule: five fields, or one of the descriptors robfig/cron's standard
 * parser takes (kubernetes pkg/apis/batch/validation/validation.go validates with
 * `cron.ParseStandard`); `TZ=`/`CRON_TZ=` prefixes are refused by the API server, use `timeZone`.
 */
const CRON_FIELD = /^(\*|\?|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(\/[0-9]+)?(,(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(\/[0-9]+)?)*$/;
const CRON_DESCRIPTORS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

const schedule = z.string().superRefine((value, ctx) => {
  const fields = value.trim().split(/\s+/);
  const valid = CRON_DESCRIPTORS.includes(value.trim())
    ? true
    : !/^(CRON_)?TZ=/.test(value) && fields.length === 5 && fields.every((field) => CRON_FIELD.test(field));
  if (!valid) {
    ctx.addIssue({
      code: "custom",
      message: `"${value}" is not a CronJob schedule: five cron fields (minute hour day-of-month month day-of-week, e.g. "30 4 * * *") or one of ${CRON_DESCRIPTORS.join(", ")}`,
      params: { fix: configSetCommand("charmarr:recyclarr.schedule", "30 4 * * *") } satisfies IssueParams,
    });
  }
});

/** One app's templates: ids from config-templates' `templates.json`, each once. */
function templateList(app: RecyclarrApp) {
  const known = Object.keys(CONFIG_TEMPLATES[app]);
  return z
    .array(z.string())
    .default([])
    .superRefine((ids, ctx) => {
      ids.forEach((id, index) => {
        if (!known.includes(id)) {
          const guess = closest(id, known);
          ctx.addIssue({
            code: "custom",
            path: [index],
            message: `"${id}" is not a Recyclarr ${app} template${guess ? ` (did you mean ${guess}?)` : ""}; the ids are those of \`recyclarr config list templates\` (docs/recyclarr.md lists them)`,
            params: {
              fix: configSetCommand(`charmarr:recyclarr.templates.${app}[${index}]`, guess ?? known[0]),
            } satisfies IssueParams,
          });
        } else if (ids.indexOf(id) !== index) {
          ctx.addIssue({
            code: "custom",
            path: [index],
            message: `"${id}" is listed twice`,
            params: { fix: configRemoveCommand(`charmarr:recyclarr.templates.${app}[${index}]`) } satisfies IssueParams,
          });
        }
      });
    })
    .describe(
      `TRaSH Guides templates for ${app === "radarr" ? "Radarr" : "Sonarr"} (ids of \`recyclarr config list templates\`), merged into one ${app === "radarr" ? "Radarr" : "Sonarr"} instance.`,
    );
}

/** `charmarr:recyclarr` of the core stack: quality profiles and custom formats as code. */
export const recyclarrSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(false)
      .describe(
        "Run Recyclarr on a schedule: it syncs the chosen TRaSH Guides templates' quality profiles and custom formats into Radarr and Sonarr.",
      ),
    schedule: schedule
      .default("@daily")
      .describe("When the CronJob syncs: five cron fields or a descriptor such as @daily (the cluster's time zone)."),
    image: pinnedImage.default(RECYCLARR_IMAGE).describe("Recyclarr's image, pinned to a version."),
    templates: z
      .strictObject(
        Object.fromEntries(RECYCLARR_APPS.map((app) => [app, templateList(app)])) as {
          [A in RecyclarrApp]: ReturnType<typeof templateList>;
        },
      )
      .prefault({})
      .describe("Which templates Recyclarr syncs, per app."),
  })
  .prefault({});

export type RecyclarrSettings = z.output<typeof recyclarrSchema>;

/** Example values for `pulumi config set` suggestions, by dotted path. */
export const RECYCLARR_EXAMPLES: Readonly<Record<string, string>> = {
  "recyclarr.enabled": "true",
  "recyclarr.schedule": "@daily",
  "recyclarr.image": RECYCLARR_IMAGE,
  "recyclarr.templates.radarr": "hd-bluray-web",
  "recyclarr.templates.sonarr": "web-1080p",
};

/** The apps the settings name templates for. */
export function syncedApps(settings: RecyclarrSettings): RecyclarrApp[] {
  return RECYCLARR_APPS.filter((app) => settings.templates[app].length > 0);
}

/**
 * Recyclarr's rules against `charmarr:apps`: enabled, it needs at least one template, and every app
 * it has templates for must run in this stack (it syncs into that app's API).
 */
export function recyclarrIssues(recyclarr: RecyclarrSettings, enabledApps: readonly string[]): SettingsIssue[] {
  if (!recyclarr.enabled) {
    return [];
  }
  const configured = syncedApps(recyclarr);
  if (configured.length === 0) {
    return [
      {
        path: ["recyclarr", "templates"],
        message: "names no template, so Recyclarr would have nothing to sync",
        params: { fix: configSetCommand("charmarr:recyclarr.templates.radarr[0]", "hd-bluray-web") },
      },
    ];
  }
  return configured
    .filter((app) => !enabledApps.includes(app))
    .map((app) => ({
      path: ["recyclarr", "templates", app],
      message: `lists ${app} templates, but ${app} is not enabled on this stack; Recyclarr syncs into ${app}'s API`,
      params: {
        fix: `${configSetCommand(`charmarr:apps.${app}.enabled`, "true")}  (or: ${configRemoveCommand(`charmarr:recyclarr.templates.${app}`)})`,
      },
    }));
}
