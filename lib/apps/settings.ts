import { z } from "zod";
import { DNS_LABEL, DNS_SUBDOMAIN, IssueParams, closest, integer, ipv4Address, quantity } from "../settings";
import {
  APP_CATALOG,
  APP_NAMES,
  AppName,
  MEDIA_SERVERS,
  StackName,
  isAppName,
  routingGroupOf,
  stackOf,
} from "./catalog";

const absolutePath = z.string().regex(/^\/[^\0]*$/, { message: "is not an absolute path (e.g. /data)" });

const appOverrideSchema = z.strictObject({
  /** false removes the app (and its route and policy); the media server is chosen with charmarr:mediaServer. */
  enabled: z
    .boolean()
    .optional()
    .describe(
      "false removes the app with its route and policy (default: every app on; flaresolverr follows prowlarr, which it serves alone).",
    ),
  /** Image repository without tag, e.g. ghcr.io/hotio/radarr. */
  image: z
    .string()
    .regex(/^[a-z0-9]+([._/:-][a-z0-9]+)*$/, {
      message: "is not an image repository (e.g. lscr.io/linuxserver/radarr), without a tag",
    })
    .optional()
    .describe("Image repository without tag (default: the catalog's)."),
  /** Pinned image tag; `latest` is refused so an upgrade is always a config change. */
  tag: z
    .string()
    .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, { message: "is not an image tag (letters, digits, '.', '_', '-')" })
    .refine((tag) => tag !== "latest", {
      message: "is a moving tag; pin a version so upgrades happen only when you change it",
    })
    .optional()
    .describe("Pinned image tag; latest is refused (default: the catalog's)."),
  /** Path prefix the app is served under on its gateway's port 80, e.g. /movies. */
  path: z
    .string()
    .regex(/^\/[a-z0-9][a-z0-9._-]*$/, { message: "is not a one-segment path prefix (e.g. /radarr)" })
    .optional()
    .describe("Path prefix the app is served under on its gateway (default /<app>)."),
  /**
   * More host names the app is reached by. Only SABnzbd keeps a list of them (it refuses any Host
   * header not in its host_whitelist): add e.g. the admin gateway's MagicDNS name
   * `charmarr-admin.<tailnet>.ts.net` or a LAN DNS name. qBittorrent checks only the Host's port:
   * with the image's `WebUI\ServerDomains=*` it takes any name (qBittorrent release-5.1.4
   * src/webui/webapplication.cpp `validateHostHeader` L842-865).
   */
  hostnames: z
    .array(
      z.string().regex(DNS_SUBDOMAIN, {
        message: "is not a host name (lower-case DNS name, e.g. charmarr-admin.tail1234.ts.net)",
      }),
    )
    .optional()
    .describe("More host names the app is reached by; only SABnzbd keeps a list of them (host_whitelist)."),
  /** Plex only: the LAN IP of its own LoadBalancer Service. */
  lanIp: ipv4Address
    .optional()
    .describe(
      "Plex only: LAN IP MetalLB gives Plex's own TCP LoadBalancer Service on 32400, published to Plex clients as its local address (unset: MetalLB picks, and Plex publishes no LAN address).",
    ),
  /** Plex only: its machine name on the tailnet. */
  tailnetHostname: z
    .string()
    .max(63, { message: "is longer than 63 characters, the limit for a tailnet machine name" })
    .regex(DNS_LABEL, { message: "is not a tailnet machine name (lower-case letters, digits and '-')" })
    .optional()
    .describe(
      "Plex only: its machine name on the tailnet, where it is exposed with the media gateway's tags when that gateway is on the tailnet (default charmarr-plex).",
    ),
  /** Size of the app's /config volume claim. */
  configSize: quantity.optional().describe("Size of the app's /config volume claim (default: the catalog's)."),
  resources: z
    .strictObject({
      requests: z
        .strictObject({
          cpu: quantity.optional().describe("CPU request, e.g. 100m (default: the catalog's)."),
          memory: quantity.optional().describe("Memory request, e.g. 256Mi (default: the catalog's)."),
        })
        .optional(),
      limits: z
        .strictObject({ memory: quantity.optional().describe("Memory limit, e.g. 1Gi (default: the catalog's).") })
        .optional(),
    })
    .optional(),
});

export type AppOverride = z.output<typeof appOverrideSchema>;
export type AppsSettings = Partial<Record<AppName, AppOverride>>;

/**
 * Apps the program ran before and runs no more, with what replaced them. Their overrides are refused
 * rather than moved silently: an image or tag of the old app means nothing for its successor.
 */
const RETIRED_APPS: Readonly<Record<string, { message: string; fix: (remove: string) => string }>> = {
  overseerr: {
    message:
      "Overseerr was replaced by Seerr, its successor (Overseerr is archived; the LinuxServer image is no longer built); Seerr takes its place and migrates an Overseerr config folder on its first start (docs/relations.md#from-overseerr-to-seerr says how to keep its data)",
    fix: (remove) =>
      `${remove}, then give charmarr:apps.seerr the enabled, configSize or resources you still want (an Overseerr image or tag does not apply to Seerr)`,
  },
};

/** The app a placed-with app (FlareSolverr) serves, when it is enabled by hand while that app is disabled. */
function placedWithDisabled(name: AppName, apps: Readonly<Record<string, AppOverride>>): AppName | undefined {
  const { stack } = APP_CATALOG[name];
  return typeof stack !== "string" && apps[name].enabled === true && apps[stack.with]?.enabled === false
    ? stack.with
    : undefined;
}

/**
 * `charmarr:apps`: per app, enable/disable and image/tag/path/resource overrides. Only the apps the
 * stack runs are accepted; anything else is named as unknown or as the other stack's.
 */
export function appsSchema(stack: StackName) {
  return z
    .record(z.string(), appOverrideSchema)
    .superRefine((apps, ctx) => {
      for (const name of Object.keys(apps)) {
        const remove = (field?: string) => `pulumi config rm --path 'charmarr:apps.${name}${field ? `.${field}` : ""}'`;
        const successor = RETIRED_APPS[name];
        if (successor !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: [name],
            message: successor.message,
            params: { fix: successor.fix(remove()) } satisfies IssueParams,
          });
        } else if (!isAppName(name)) {
          const guess = closest(name, APP_NAMES);
          ctx.addIssue({
            code: "custom",
            path: [name],
            message: `is not an app Charmarr runs${guess ? ` (did you mean ${guess}?)` : ""}; the apps are ${APP_NAMES.join(", ")}`,
            params: {
              fix: `${remove()}${guess ? ` and set charmarr:apps.${guess} instead` : ""}`,
            } satisfies IssueParams,
          });
        } else if (placedWithDisabled(name, apps) !== undefined) {
          const host = placedWithDisabled(name, apps) as AppName;
          ctx.addIssue({
            code: "custom",
            path: [name, "enabled"],
            message: `${name} serves ${host} alone and runs beside it, but charmarr:apps.${host}.enabled is false`,
            params: {
              fix: `${remove("enabled")}  (or pulumi config rm --path 'charmarr:apps.${host}.enabled')`,
            } satisfies IssueParams,
          });
        } else if (
          stackOf(name) !== stack &&
          // The downloads stack takes a core app it can route (Prowlarr, and FlareSolverr beside it); its
          // rules refuse one it does not.
          !(stack === "downloads" && routingGroupOf(name) !== undefined)
        ) {
          ctx.addIssue({
            code: "custom",
            path: [name],
            message: `${name} runs in the ${stackOf(name)} stack, not in this ${stack} stack`,
            params: { fix: `${remove()} and set it on the ${stackOf(name)} stack` } satisfies IssueParams,
          });
        } else if (APP_CATALOG[name].pathStyle !== "sabnzbd" && apps[name].hostnames !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: [name, "hostnames"],
            message: `${name} takes no host names: only sabnzbd keeps a list of the names it answers to (host_whitelist)`,
            params: { fix: remove("hostnames") } satisfies IssueParams,
          });
        } else if (
          !APP_CATALOG[name].ownLoadBalancer &&
          (apps[name].lanIp !== undefined || apps[name].tailnetHostname !== undefined)
        ) {
          const field = apps[name].lanIp !== undefined ? "lanIp" : "tailnetHostname";
          ctx.addIssue({
            code: "custom",
            path: [name, field],
            message: `${name} ${APP_CATALOG[name].domain === undefined ? "has no UI and no Service outside the cluster" : "is served by its gateway"}, so it takes no ${field} of its own (only plex, which has a LoadBalancer Service of its own, does)`,
            params: { fix: remove(field) } satisfies IssueParams,
          });
        } else if (APP_CATALOG[name].domain === undefined && apps[name].path !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: [name, "path"],
            message: `${name} has no UI: no gateway serves it (only other apps call it, inside the cluster), so it takes no path`,
            params: { fix: remove("path") } satisfies IssueParams,
          });
        } else if (APP_CATALOG[name].pathStyle === "root" && apps[name].path !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: [name, "path"],
            message: `${name} can only serve at "/" of a listener of its own, so it takes no path`,
            params: { fix: remove("path") } satisfies IssueParams,
          });
        } else if (APP_CATALOG[name].configPath === undefined && apps[name].configSize !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: [name, "configSize"],
            message: `${name} keeps nothing between starts, so it has no config volume to size`,
            params: { fix: remove("configSize") } satisfies IssueParams,
          });
        }
      }
    })
    .prefault({})
    .transform((apps) => apps as AppsSettings);
}

/** `charmarr:mediaServer`: the one media server the core stack runs. */
export const mediaServerSchema = z.enum(MEDIA_SERVERS).default("plex");

/** `charmarr:storage`: the /config claims' class and the media library every app mounts. */
export const storageSchema = z.strictObject({
  /** StorageClass of the apps' /config claims; unset uses the cluster default. */
  className: z
    .string()
    .regex(DNS_SUBDOMAIN, { message: "is not a StorageClass name" })
    .optional()
    .describe("StorageClass of every app's /config claim, both stacks; unset uses the cluster default."),
  library: z
    .strictObject({
      nfs: z
        .strictObject({
          server: z
            .string()
            .min(1, { message: "is empty; give the NFS server's address" })
            .describe("NFS server of the media library."),
          path: absolutePath.describe("Exported path of the media library."),
        })
        .optional(),
      hostPath: z.strictObject({ path: absolutePath.describe("Node directory of the media library.") }).optional(),
      /** Where every app of both stacks sees the library, so paths match between them. */
      mountPath: absolutePath
        .default("/data")
        .describe("Where every app of both stacks mounts the library, so paths match between them."),
    })
    .superRefine((library, ctx) => {
      if ((library.nfs === undefined) === (library.hostPath === undefined)) {
        ctx.addIssue({
          code: "custom",
          message: `needs exactly one of nfs or hostPath (it has ${library.nfs && library.hostPath ? "both" : "neither"}); every app of both stacks mounts it`,
          params: {
            fix: "pulumi config set --path 'charmarr:storage.library.nfs.server' 192.168.1.10 && pulumi config set --path 'charmarr:storage.library.nfs.path' /export/media",
          } satisfies IssueParams,
        });
      }
    }),
});

export type StorageSettings = z.output<typeof storageSchema>;
export type MediaLibrary = StorageSettings["library"];

/** `charmarr:appEnvironment`: file ownership and time zone of every app, so both stacks agree on the library. */
export const appEnvironmentSchema = z
  .strictObject({
    puid: integer(0, 2147483647).default(1000).describe("PUID of every app of both stacks (LinuxServer images)."),
    pgid: integer(0, 2147483647).default(1000).describe("PGID of every app of both stacks."),
    timezone: z
      .string()
      .regex(/^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/, { message: "is not a tz database name (e.g. Europe/Amsterdam)" })
      .default("Etc/UTC")
      .describe("TZ of every app of both stacks, a tz database name."),
  })
  .prefault({});

export type AppEnvironment = z.output<typeof appEnvironmentSchema>;

/** Example values, by path, for suggested fixes. */
export const APP_EXAMPLES: Readonly<Record<string, string>> = {
  "apps.radarr.enabled": "false",
  "apps.radarr.tag": APP_CATALOG.radarr.tag,
  "apps.radarr.image": APP_CATALOG.radarr.image,
  "apps.radarr.path": "/radarr",
  "apps.radarr.configSize": "2Gi",
  "apps.radarr.resources.requests.cpu": "100m",
  "apps.radarr.resources.requests.memory": "512Mi",
  "apps.radarr.resources.limits.memory": "2Gi",
  mediaServer: "plex",
  "storage.className": "local-path",
  "storage.library.nfs.server": "192.168.1.10",
  "storage.library.nfs.path": "/export/media",
  "storage.library.hostPath.path": "/srv/media",
  "storage.library.mountPath": "/data",
  "appEnvironment.puid": "1000",
  "appEnvironment.pgid": "1000",
  "appEnvironment.timezone": "Europe/Amsterdam",
};
