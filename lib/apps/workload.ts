import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { AppEnvironment, MediaLibrary } from "./settings";
import { APP_LABEL } from "../k8s/labels";
import { PRIVATE_RANGES } from "../net";
import type { AppName } from "./catalog";
import type { ResolvedApp } from "./resolve";
import { appSecurityContext, initStepSecurityContext } from "./privileges";

// Plain (already resolved) Kubernetes shapes: the Pulumi input types, so a built pod template can
// pass through a `PodTemplateSpec` hook such as VpnEgress.routePodTemplate unchanged.
type IStatefulSet = pulumi.Unwrap<k8s.types.input.apps.v1.StatefulSet>;
type IConfigMap = pulumi.Unwrap<k8s.types.input.core.v1.ConfigMap>;
type IContainer = pulumi.Unwrap<k8s.types.input.core.v1.Container>;
type IEnvVar = pulumi.Unwrap<k8s.types.input.core.v1.EnvVar>;
export type IPodTemplateSpec = pulumi.Unwrap<k8s.types.input.core.v1.PodTemplateSpec>;
type IService = pulumi.Unwrap<k8s.types.input.core.v1.Service>;
type IServiceAccount = pulumi.Unwrap<k8s.types.input.core.v1.ServiceAccount>;
type IVolume = pulumi.Unwrap<k8s.types.input.core.v1.Volume>;

/** Everything the workload builders need about one app's deployment. */
export interface AppWorkloadInput {
  readonly app: ResolvedApp;
  readonly namespace: string;
  /** Labels every object of the app carries (stack, part-of, ...); the app label is added. */
  readonly labels: Readonly<Record<string, string>>;
  /** StorageClass of the /config claim; unset uses the cluster default. */
  readonly storageClassName?: string;
  readonly library: MediaLibrary;
  readonly environment: AppEnvironment;
  /** Host names the app is reached by (SABnzbd refuses others): gateway LAN IP, tailnet name, Service names. */
  readonly hostnames: readonly string[];
  /**
   * Folders of the library the app's relations point at (a root folder, download save paths): made
   * before the app starts, owned by PUID:PGID. Servarr refuses a root folder that does not exist.
   */
  readonly libraryFolders?: readonly string[];
  /** A download client's own folders in the library (qBittorrent, SABnzbd; required for them). */
  readonly downloadFolders?: DownloadFolders;
  /**
   * What an app with a Service of its own (Plex) publishes to its clients: the URLs it answers at
   * and the networks whose clients are local.
   */
  readonly advertised?: { readonly urls: readonly string[]; readonly lanNetworks: readonly string[] };
  /**
   * Names of secret environment variables the app reads (Plex's `PLEX_CLAIM`), each a key of the
   * app's {@link secretEnvName} Secret, read by reference only.
   */
  readonly secretEnv?: readonly string[];
}

/**
 * Where a download client saves outside its categories, on the library: what no category claims
 * (`complete`) and what is still downloading (`incomplete`). Left to the apps, both would land on a
 * path the pod does not mount or on its small /config volume.
 */
export interface DownloadFolders {
  readonly complete: string;
  readonly incomplete: string;
}

export const API_KEY_SECRET_KEY = "apiKey";
const CONFIG_VOLUME = "config";
const LIBRARY_VOLUME = "media";
const SETTINGS_VOLUME = "settings";

export function apiKeySecretName(app: ResolvedApp): string {
  return `${app.name}-api-key`;
}

export function settingsConfigMapName(app: ResolvedApp): string {
  return `${app.name}-settings`;
}

const STACK_LABEL = "charmarr.io/stack";

/** The labels that select the app's pods: its name, and its stack when labelled with one. */
export function appSelector(input: Pick<AppWorkloadInput, "app" | "labels">): Record<string, string> {
  const stack = input.labels[STACK_LABEL];
  return { [APP_LABEL]: input.app.name, ...(stack !== undefined ? { [STACK_LABEL]: stack } : {}) };
}

/** Labels of every object of the app: the stack's, and the app label. */
export function appLabels(input: AppWorkloadInput): Record<string, string> {
  return { ...input.labels, [APP_LABEL]: input.app.name };
}

/** The app's own identity in the mesh: `cluster.local/ns/<ns>/sa/<app>`. */
export function buildServiceAccount(input: AppWorkloadInput): IServiceAccount {
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: input.app.name, namespace: input.namespace, labels: appLabels(input) },
    // The apps never talk to the Kubernetes API.
    automountServiceAccountToken: false,
  };
}

export function buildService(input: AppWorkloadInput): IService {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: input.app.name, namespace: input.namespace, labels: appLabels(input) },
    spec: {
      type: "ClusterIP",
      selector: appSelector(input),
      ports: [{ name: "http", port: input.app.port, targetPort: input.app.port, protocol: "TCP", appProtocol: "http" }],
    },
  };
}

/**
 * SABnzbd keeps url_base, host_whitelist, api_key and its folders in sabnzbd.ini, not env: an init
 * step sets them. Left unset, download_dir and complete_dir are `Downloads/incomplete` and
 * `Downloads/complete` (SABnzbd 4.5.1 sabnzbd/constants.py L58-59, 5.0.1 L59-60) under the ini's
 * folder (SABnzbd.py L972-977 makes it DIR_HOME, sabnzbd/cfg.py `set_root_folders` L706-709 roots
 * both there), which the LinuxServer image starts as `--config-file /config`
 * (docker-sabnzbd 4.5.1-ls223 root/etc/s6-overlay/s6-rc.d/svc-sabnzbd/run): every download would
 * fill the small /config volume.
 *
 * `local_ranges` is set to {@link PRIVATE_RANGES}: RFC 1918, as SABnzbd's default (no ranges: any
 * private address, sabnzbd 5.0.1 sabnzbd/misc.py `is_local_addr` L1155-1161), plus RFC 6598, the
 * tailnet's addresses. SABnzbd 5 checks every X-Forwarded-For address of a request too
 * (`verify_xff_header` on by default, 5.0.1 sabnzbd/cfg.py L509, interface.py `check_access`
 * L212-221), and the admin gateway forwards a tailnet client's 100.x address there (the Tailscale
 * operator's ingress proxy DNATs without SNAT: tailscale v1.102.3 cmd/containerboot/forwarding.go
 * `installIngressForwardingRule`), which Python does not count as private: without this, SABnzbd
 * answers every tailnet request 403 "External internet access denied". It is `protect=True`
 * (cfg.py L528), settable only in the ini.
 */
const SABNZBD_SETTINGS_SCRIPT = `#!/bin/sh
# Sets url_base, host_whitelist, local_ranges, api_key, download_dir and complete_dir in sabnzbd.ini before SABnzbd starts, keeping every other setting.
set -eu
ini=/config/sabnzbd.ini
[ -f "$ini" ] || printf '[misc]\\n' > "$ini"
grep -q '^\\[misc\\]' "$ini" || printf '[misc]\\n' >> "$ini"
set_misc() {
  if grep -q "^$1 *=" "$ini"; then
    sed -i "s|^$1 *=.*|$1 = $2|" "$ini"
  else
    sed -i "/^\\[misc\\]/a $1 = $2" "$ini"
  fi
}
set_misc url_base "$SABNZBD_URL_BASE"
set_misc host_whitelist "$SABNZBD_HOST_WHITELIST"
set_misc local_ranges "$SABNZBD_LOCAL_RANGES"
set_misc api_key "$SABNZBD_API_KEY"
set_misc download_dir "$SABNZBD_DOWNLOAD_DIR"
set_misc complete_dir "$SABNZBD_COMPLETE_DIR"
`;

/**
 * qBittorrent reads its WebUI credentials from qBittorrent.conf: `[Preferences]` `WebUI\Username` and
 * `WebUI\Password_PBKDF2="@ByteArray(<salt>:<hash>)"` (qBittorrent release-5.1.4 src/base/preferences.cpp,
 * written by QSettings' INI format). Without them it starts with a random password printed to its log.
 * The LinuxServer image copies its /defaults/qBittorrent.conf (legal notice accepted, UPnP off, save
 * paths) only when the file is missing (docker-qbittorrent
 * root/etc/s6-overlay/s6-rc.d/init-qbittorrent-config/run): a first start begins from that file too.
 *
 * Where downloads land is set here as well, in `[BitTorrent]` (qBittorrent release-5.1.4
 * src/base/bittorrent/sessionimpl.cpp L511-516, release-4.5.2 L486-491, the same keys and defaults):
 * - `Session\DisableAutoTMMByDefault=false`: the arr apps add a torrent with its category only
 *   (Radarr v6.0.3.10276 QBittorrentProxyV2.cs `AddTorrentDownloadFormParameters` L242-284), and
 *   only a torrent in Automatic mode is saved in its category's save path (sessionimpl.cpp 5.1.4
 *   `initLoadTorrentParams` L2705-2706 and L2817; 4.5.2 L2487 and L2581). The default (true) puts
 *   it in the global save path instead.
 * - `Session\DefaultSavePath` and `Session\TempPath`: the global save path and the temporary one,
 *   on the library. The image's defaults name /downloads/, which the pod does not mount.
 * - The image's legacy `[Preferences]` `Downloads\SavePath` and `Downloads\TempPath` are removed: a
 *   first start with no `Meta\MigrationVersion` copies them over the `[BitTorrent]` keys
 *   (src/app/upgrade.cpp `migrateSettingKeys`, release-5.1.4 L263 and L301, release-4.5.2 L262 and L300).
 */
const QBITTORRENT_SETTINGS_SCRIPT = String.raw`#!/bin/sh
# Sets the WebUI username and password hash and where downloads are saved in qBittorrent.conf before qBittorrent starts, keeping every other setting.
set -eu
conf=/config/qBittorrent/qBittorrent.conf
defaults=/defaults/qBittorrent.conf
mkdir -p "$(dirname "$conf")"
if [ ! -f "$conf" ]; then
  if [ -f "$defaults" ]; then cp "$defaults" "$conf"; else printf '[Preferences]\n' > "$conf"; fi
fi
awk '
  BEGIN {
    order[1] = "[Preferences]"
    order[2] = "[BitTorrent]"
    keys["[Preferences]"] = "WebUI\\Username=" ENVIRON["QBITTORRENT_USERNAME"] "\n" \
      "WebUI\\Password_PBKDF2=\"@ByteArray(" ENVIRON["QBITTORRENT_PASSWORD_PBKDF2"] ")\""
    keys["[BitTorrent]"] = "Session\\DefaultSavePath=" ENVIRON["QBITTORRENT_SAVE_PATH"] "\n" \
      "Session\\TempPath=" ENVIRON["QBITTORRENT_TEMP_PATH"] "\n" \
      "Session\\DisableAutoTMMByDefault=false"
  }
  /^\[/ { section = $0 }
  section == "[Preferences]" && /^(WebUI\\(Username|Password_PBKDF2)|Downloads\\(SavePath|TempPath))=/ { next }
  section == "[BitTorrent]" && /^Session\\(DefaultSavePath|TempPath|DisableAutoTMMByDefault)=/ { next }
  { print }
  $0 in keys { print keys[$0]; written[$0] = 1 }
  END {
    for (i = 1; i <= 2; i++) {
      if (!(order[i] in written)) { print ""; print order[i]; print keys[order[i]] }
    }
  }
' "$conf" > "$conf.new"
mv "$conf.new" "$conf"
`;

/**
 * Plex keeps its network settings as attributes of Preferences.xml; neither the LinuxServer image
 * (docker-plex root/etc/s6-overlay: only PLEX_CLAIM) nor Plex takes them from the environment (the
 * official pms-docker image's ADVERTISE_IP and ALLOWED_NETWORKS are its own first-run script, and
 * ALLOWED_NETWORKS is allowedNetworks — no sign-in needed — not LanNetworks). This sets
 * customConnections (the URLs Plex publishes to plex.tv for clients) and LanNetworks (the networks
 * whose clients are local), keeping every other preference, and removes either when the program
 * has nothing to put there (no LAN IP, tailnet off). A missing file is created as
 * pms-docker's 40-plex-first-run does, with the identifiers Plex would otherwise make on first start.
 */
const PLEX_SETTINGS_SCRIPT = String.raw`#!/bin/sh
# Sets customConnections and LanNetworks in Plex's Preferences.xml before Plex starts.
set -eu
dir="$PLEX_PREFERENCES_DIR"
prefs="$dir/Preferences.xml"
mkdir -p "$dir"
if [ ! -s "$prefs" ]; then
  serial=$(cat /proc/sys/kernel/random/uuid)
  client=$(printf '%s- Plex Media Server' "$serial" | sha1sum | cut -c1-40)
  printf '<?xml version="1.0" encoding="utf-8"?>\n<Preferences MachineIdentifier="%s" ProcessedMachineIdentifier="%s"/>\n' "$serial" "$client" > "$prefs"
fi
set_pref() {
  if grep -q " $1=\"[^\"]*\"" "$prefs"; then
    sed -i "s| $1=\"[^\"]*\"| $1=\"$2\"|" "$prefs"
  else
    sed -i "s|<Preferences\([ />]\)|<Preferences $1=\"$2\"\1|" "$prefs"
  fi
}
# An empty value removes the attribute (Plex's default: none), so a URL or network the program no
# longer advertises does not stay behind.
clear_pref() {
  sed -i "s| $1=\"[^\"]*\"||" "$prefs"
}
if [ -n "$PLEX_CUSTOM_CONNECTIONS" ]; then set_pref customConnections "$PLEX_CUSTOM_CONNECTIONS"; else clear_pref customConnections; fi
if [ -n "$PLEX_LAN_NETWORKS" ]; then set_pref LanNetworks "$PLEX_LAN_NETWORKS"; else clear_pref LanNetworks; fi
chown "$PUID:$PGID" "$dir" "$prefs"
`;

/** Where the LinuxServer Plex image keeps Preferences.xml (PLEX_MEDIA_SERVER_APPLICATION_SUPPORT_DIR). */
export const PLEX_PREFERENCES_DIR = "/config/Library/Application Support/Plex Media Server";

/** The key of each generated credential in the app's credentials Secret. */
export const CREDENTIAL_KEYS = {
  apiKey: "apiKey",
  username: "username",
  password: "password",
  passwordPbkdf2: "passwordPbkdf2",
} as const;

/** The Secret holding secret environment values given in config (Plex's claim token), one key per variable. */
export function secretEnvName(app: ResolvedApp): string {
  return `${app.name}-env`;
}

/** The Secret holding the credentials the program generates and seeds for the app. */
export function credentialsSecretName(app: ResolvedApp): string {
  return `${app.name}-credentials`;
}

function fromCredentials(app: ResolvedApp, name: string, key: string): IEnvVar {
  return { name, valueFrom: { secretKeyRef: { name: credentialsSecretName(app), key } } };
}

function downloadFoldersOf(input: AppWorkloadInput): DownloadFolders {
  if (input.downloadFolders === undefined) {
    throw new Error(`${input.app.name} is a download client: its workload needs its downloadFolders`);
  }
  return input.downloadFolders;
}

/** Apps configured through a file before they start: the script, and the env it reads (secrets by reference only). */
const SETTINGS_SEEDS: Partial<
  Record<AppName, { readonly script: string; readonly env: (input: AppWorkloadInput) => IEnvVar[] }>
> = {
  sabnzbd: {
    script: SABNZBD_SETTINGS_SCRIPT,
    env: (input) => [
      { name: "SABNZBD_URL_BASE", value: input.app.path ?? "" },
      { name: "SABNZBD_HOST_WHITELIST", value: input.hostnames.join(", ") },
      { name: "SABNZBD_LOCAL_RANGES", value: PRIVATE_RANGES.join(", ") },
      fromCredentials(input.app, "SABNZBD_API_KEY", CREDENTIAL_KEYS.apiKey),
      { name: "SABNZBD_DOWNLOAD_DIR", value: downloadFoldersOf(input).incomplete },
      { name: "SABNZBD_COMPLETE_DIR", value: downloadFoldersOf(input).complete },
    ],
  },
  qbittorrent: {
    script: QBITTORRENT_SETTINGS_SCRIPT,
    env: (input) => [
      fromCredentials(input.app, "QBITTORRENT_USERNAME", CREDENTIAL_KEYS.username),
      fromCredentials(input.app, "QBITTORRENT_PASSWORD_PBKDF2", CREDENTIAL_KEYS.passwordPbkdf2),
      { name: "QBITTORRENT_SAVE_PATH", value: downloadFoldersOf(input).complete },
      { name: "QBITTORRENT_TEMP_PATH", value: downloadFoldersOf(input).incomplete },
    ],
  },
  plex: {
    script: PLEX_SETTINGS_SCRIPT,
    env: (input) => [
      { name: "PLEX_PREFERENCES_DIR", value: PLEX_PREFERENCES_DIR },
      { name: "PLEX_CUSTOM_CONNECTIONS", value: (input.advertised?.urls ?? []).join(",") },
      { name: "PLEX_LAN_NETWORKS", value: (input.advertised?.lanNetworks ?? []).join(",") },
      { name: "PUID", value: String(input.environment.puid) },
      { name: "PGID", value: String(input.environment.pgid) },
    ],
  },
};

/** Whether the app's settings are seeded by a script before it starts. */
export function hasSettingsSeed(app: ResolvedApp): boolean {
  return SETTINGS_SEEDS[app.name] !== undefined;
}

/** The settings script ConfigMap, for apps configured through a file before they start. */
export function buildSettingsConfigMap(input: AppWorkloadInput): IConfigMap | undefined {
  const seed = SETTINGS_SEEDS[input.app.name];
  if (seed === undefined) {
    return undefined;
  }
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: settingsConfigMapName(input.app), namespace: input.namespace, labels: appLabels(input) },
    data: { "settings.sh": seed.script },
  };
}

/** The env name prefix Servarr apps read: `RADARR__...`. */
function servarrPrefix(app: ResolvedApp): string {
  return app.name.toUpperCase();
}

function appEnv(input: AppWorkloadInput): IEnvVar[] {
  const { app, environment } = input;
  const env: IEnvVar[] = [
    // An image that runs as a fixed user of its own reads no PUID/PGID (Seerr: `git grep -i puid` finds nothing at v3.1.0).
    ...(app.runAs === undefined
      ? [
          { name: "PUID", value: String(environment.puid) },
          { name: "PGID", value: String(environment.pgid) },
        ]
      : []),
    { name: "TZ", value: environment.timezone },
  ];
  if (app.apiKeyEnv !== undefined) {
    env.push(fromCredentials(app, app.apiKeyEnv, CREDENTIAL_KEYS.apiKey));
  }
  for (const name of input.secretEnv ?? []) {
    env.push({ name, valueFrom: { secretKeyRef: { name: secretEnvName(app), key: name } } });
  }
  if (app.pathStyle === "servarr" && app.path !== undefined) {
    env.push({ name: `${servarrPrefix(app)}__SERVER__URLBASE`, value: app.path });
  }
  if (app.servarrApiKey) {
    env.push({
      name: `${servarrPrefix(app)}__AUTH__APIKEY`,
      valueFrom: { secretKeyRef: { name: apiKeySecretName(app), key: API_KEY_SECRET_KEY } },
    });
  }
  if (app.pathStyle === "rewrite") {
    env.push({ name: "WEBUI_PORT", value: String(app.port) });
  }
  return env;
}

/** The health URL path: under the base path for apps that serve there. */
export function healthPath(app: ResolvedApp): string {
  const servesUnderPath = app.pathStyle === "servarr" || app.pathStyle === "sabnzbd";
  return servesUnderPath && app.path !== undefined ? `${app.path}${app.healthPath}` : app.healthPath;
}

function libraryVolume(library: MediaLibrary): IVolume {
  return library.nfs
    ? { name: LIBRARY_VOLUME, nfs: { server: library.nfs.server, path: library.nfs.path } }
    : { name: LIBRARY_VOLUME, hostPath: { path: library.hostPath?.path ?? library.mountPath, type: "Directory" } };
}

/** The node directory every app mounts the library from, when it is not on NFS: the one hostPath an app pod has. */
export function libraryHostPath(library: MediaLibrary): string | undefined {
  return libraryVolume(library).hostPath?.path;
}

function settingsInitContainers(input: AppWorkloadInput): IContainer[] {
  const seed = SETTINGS_SEEDS[input.app.name];
  if (seed === undefined) {
    return [];
  }
  return [
    {
      name: `${input.app.name}-settings`,
      image: input.app.image,
      command: ["/bin/sh", "/settings/settings.sh"],
      env: seed.env(input),
      securityContext: initStepSecurityContext(input.app.image),
      volumeMounts: [
        { name: CONFIG_VOLUME, mountPath: "/config" },
        { name: SETTINGS_VOLUME, mountPath: "/settings", readOnly: true },
      ],
    },
  ];
}

/**
 * Makes the library folders the app's relations point at and gives them to PUID:PGID, unless
 * PUID:PGID can write them already. An NFS export squashes root by default (exports(5)
 * `root_squash`): root in this step is `nobody` there and can neither chown nor, mostly, create
 * folders, so folders the user made and gave to PUID:PGID are taken as they are; any other folder
 * fails the step with a message naming it and the commands that fix it. Whether PUID:PGID can write
 * a folder is read from its owner, group and mode, as the kernel checks them (POSIX ACLs and an
 * export's `all_squash` are not seen).
 */
const LIBRARY_FOLDERS_SCRIPT = `set -u
# Whether PUID:PGID may create entries in a folder: its owner's, else its group's, else everyone's
# write and search permission (the letters of ls -l).
app_can_write() {
  set -- $(stat -c '%u %g %A' "$1" 2>/dev/null)
  [ "$#" -eq 3 ] || return 1
  if [ "$1" = "$PUID" ]; then
    case "$3" in ??w[xs]*) return 0 ;; esac
  elif [ "$2" = "$PGID" ]; then
    case "$3" in ?????w[xs]*) return 0 ;; esac
  else
    case "$3" in ????????w[xt]) return 0 ;; esac
  fi
  return 1
}
unwritable=0
for folder in "$@"; do
  if ! app_can_write "$folder"; then
    # Root that is root on the library (hostPath, NFS with no_root_squash) makes and gives it.
    mkdir -p "$folder" 2>/dev/null && chown "$PUID:$PGID" "$folder" 2>/dev/null
    app_can_write "$folder" || unwritable=1
  fi
done
[ "$unwritable" -eq 0 ] && exit 0
{
  echo "library-folders: the app's user $PUID:$PGID cannot write these library folders, and this step, as root, could not make them or give them to it (an NFS export that squashes root maps root to nobody):"
  for folder in "$@"; do
    app_can_write "$folder" && continue
    if [ -d "$folder" ]; then
      echo "  $folder: owned by $(stat -c '%u:%g, %A' "$folder")"
    else
      echo "  $folder: missing, or hidden from root"
    fi
  done
  echo "Make them and give them to $PUID:$PGID $LIBRARY_SOURCE, e.g.:"
  printf '  mkdir -p'
  for folder in "$@"; do app_can_write "$folder" || printf " '%s'" "$LIBRARY_SOURCE_PATH\${folder#"$LIBRARY_MOUNT_PATH"}"; done
  printf ' && chown %s:%s' "$PUID" "$PGID"
  for folder in "$@"; do app_can_write "$folder" || printf " '%s'" "$LIBRARY_SOURCE_PATH\${folder#"$LIBRARY_MOUNT_PATH"}"; done
  echo
  echo "or set charmarr:appEnvironment.puid and charmarr:appEnvironment.pgid (core stack) to the user and group that own them."
} >&2
exit 1
`;

/** Where the library's folders are made by hand: the NFS server's export, or each node's hostPath. */
function librarySource(library: MediaLibrary): { where: string; path: string } {
  return library.nfs
    ? { where: `on the NFS server ${library.nfs.server}`, path: library.nfs.path }
    : { where: "on every node that may run the app", path: library.hostPath?.path ?? library.mountPath };
}

/** Makes the relations' library folders and gives them to PUID:PGID, before the app starts. */
function libraryFoldersInitContainers(input: AppWorkloadInput): IContainer[] {
  const folders = input.libraryFolders ?? [];
  if (folders.length === 0) {
    return [];
  }
  const source = librarySource(input.library);
  return [
    {
      name: "library-folders",
      image: input.app.image,
      command: ["/bin/sh", "-c", LIBRARY_FOLDERS_SCRIPT, "library-folders", ...folders],
      env: [
        { name: "PUID", value: String(input.environment.puid) },
        { name: "PGID", value: String(input.environment.pgid) },
        { name: "LIBRARY_MOUNT_PATH", value: input.library.mountPath.replace(/\/+$/, "") },
        { name: "LIBRARY_SOURCE", value: source.where },
        { name: "LIBRARY_SOURCE_PATH", value: source.path.replace(/\/+$/, "") },
      ],
      // A failure's message shows in the pod's status (kubectl describe), not only in its log.
      terminationMessagePolicy: "FallbackToLogsOnError",
      securityContext: initStepSecurityContext(input.app.image),
      volumeMounts: [{ name: LIBRARY_VOLUME, mountPath: input.library.mountPath }],
    },
  ];
}

/**
 * The pod of an image that runs as a fixed user of its own: that user, and its group owns the config
 * volume (the kubelet gives a volume to `fsGroup`, group-writable, before the pod starts), so a
 * config folder written by another UID (Overseerr's LinuxServer image ran as PUID) stays writable.
 * Checked only when the volume's root is not already the group's, so a large folder is not walked
 * at every start.
 */
function fixedUserSecurityContext(runAs: { readonly uid: number; readonly gid: number }) {
  return {
    runAsUser: runAs.uid,
    runAsGroup: runAs.gid,
    runAsNonRoot: true,
    fsGroup: runAs.gid,
    fsGroupChangePolicy: "OnRootMismatch",
  };
}

/**
 * The app's pod: one container with its config volume and the library (for the apps that have
 * them), PUID/PGID/TZ and probes on its health endpoint.
 */
export function buildPodTemplate(input: AppWorkloadInput): IPodTemplateSpec {
  const { app } = input;
  const probe = { httpGet: { path: healthPath(app), port: app.port } };
  const volumes: IVolume[] = app.mountsLibrary ? [libraryVolume(input.library)] : [];
  if (hasSettingsSeed(app)) {
    volumes.push({ name: SETTINGS_VOLUME, configMap: { name: settingsConfigMapName(app), defaultMode: 0o555 } });
  }
  return {
    metadata: { labels: appLabels(input) },
    spec: {
      serviceAccountName: app.name,
      automountServiceAccountToken: false,
      ...(app.runAs !== undefined ? { securityContext: fixedUserSecurityContext(app.runAs) } : {}),
      initContainers: [...settingsInitContainers(input), ...libraryFoldersInitContainers(input)],
      containers: [
        {
          name: app.name,
          image: app.image,
          env: appEnv(input),
          securityContext: appSecurityContext(app.image),
          ports: [
            { name: "http", containerPort: app.port, protocol: "TCP" },
            ...app.inboundPeerPorts.flatMap((port) => [
              { name: `peers-tcp-${port}`.slice(0, 15), containerPort: port, protocol: "TCP" as const },
              { name: `peers-udp-${port}`.slice(0, 15), containerPort: port, protocol: "UDP" as const },
            ]),
          ],
          resources: {
            requests: { cpu: app.resources.requests.cpu, memory: app.resources.requests.memory },
            limits: { memory: app.resources.limits.memory },
          },
          // First start migrates databases and can take minutes; the startup probe covers it.
          startupProbe: { ...probe, periodSeconds: 10, failureThreshold: 30 },
          readinessProbe: { ...probe, periodSeconds: 10, failureThreshold: 3 },
          livenessProbe: { ...probe, periodSeconds: 30, timeoutSeconds: 5, failureThreshold: 5 },
          volumeMounts: [
            ...(app.configPath !== undefined ? [{ name: CONFIG_VOLUME, mountPath: app.configPath }] : []),
            ...(app.mountsLibrary ? [{ name: LIBRARY_VOLUME, mountPath: input.library.mountPath }] : []),
          ],
        },
      ],
      volumes,
    },
  };
}

/**
 * A single-replica StatefulSet around `template`, with the config claim as a volume claim template
 * (none for an app that keeps nothing).
 */
export function buildStatefulSet(input: AppWorkloadInput, template: IPodTemplateSpec): IStatefulSet {
  const { configSize } = input.app;
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: input.app.name, namespace: input.namespace, labels: appLabels(input) },
    spec: {
      replicas: 1,
      serviceName: input.app.name,
      selector: { matchLabels: appSelector(input) },
      template,
      ...(configSize !== undefined
        ? {
            volumeClaimTemplates: [
              {
                metadata: { name: CONFIG_VOLUME, labels: appLabels(input) },
                spec: {
                  accessModes: ["ReadWriteOnce"],
                  storageClassName: input.storageClassName,
                  resources: { requests: { storage: configSize } },
                },
              },
            ],
          }
        : {}),
    },
  };
}
