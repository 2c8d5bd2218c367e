import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";

type ISecurityContext = pulumi.Unwrap<k8s.types.input.core.v1.SecurityContext>;

/** A Linux capability as Kubernetes names it (without `CAP_`). */
export type Capability = "CHOWN" | "DAC_OVERRIDE" | "KILL" | "SETGID" | "SETUID";

/**
 * What an image's own start-up does as root before it runs the app as the PUID/PGID user, each
 * capability with the upstream step that needs it. Everything else the runtime grants by default
 * (containerd: NET_RAW, MKNOD, SETFCAP, SETPCAP, SYS_CHROOT, FSETID, FOWNER, NET_BIND_SERVICE,
 * AUDIT_WRITE) is dropped: no app here opens raw sockets, binds a port below 1024 or changes file
 * modes it does not own. NET_RAW above all: raw frames bypass the pod's routes and netfilter.
 */
export interface ImagePrivileges {
  /** Where the rule comes from, for the reader. */
  readonly image: string;
  /** The image starts as root (and drops to PUID/PGID itself). */
  readonly startsAsRoot: boolean;
  /** The app container's capabilities, with why each is needed. */
  readonly app: Readonly<Partial<Record<Capability, string>>>;
}

/**
 * The LinuxServer images (linuxserver/docker-baseimage-alpine 3.22 and -ubuntu noble, s6-overlay
 * v3.2.1.0; every app of the catalog but a non-LinuxServer Seerr) start as root and drop to `abc`:
 */
const LINUXSERVER: ImagePrivileges = {
  image: "LinuxServer (s6-overlay v3.2.1.0, docker-baseimage-alpine 3.22 / -ubuntu noble)",
  startsAsRoot: true,
  app: {
    // init-adduser/run and the apps' init-*-config/run: `lsiown [-R] abc:abc /config ...`
    // (docker-mods mod-scripts lsiown.v1: find ... -exec chown); s6-overlay libexec/preinit:
    // `s6-chown -U -- /run` when /run is not root's.
    CHOWN: "lsiown and s6-overlay's preinit give /config, /app, /defaults and /run to abc or root",
    // lsiown.v1's `find` descends into /config folders the app (uid PUID) made, mode 0700 among
    // them; init-*-config/run `mkdir -p`/`cp` into folders PUID owns (docker-qbittorrent
    // init-qbittorrent-config, docker-jellyfin init-jellyfin-config, docker-plex init-plex-chown
    // `rm -f` of the pid file): root without DAC_OVERRIDE is an ordinary user for files it does not own.
    DAC_OVERRIDE: "the init scripts read, create and remove files in /config folders owned by PUID",
    // init-adduser/run `groupmod -o -g PGID abc`; every svc-*/run `s6-setuidgid abc` calls
    // setgroups() and setgid() (s6 s6-applyuidgid).
    SETGID: "s6-setuidgid abc sets the app's groups (setgroups, setgid)",
    // every svc-*/run `s6-setuidgid abc`: setuid() to PUID.
    SETUID: "s6-setuidgid abc runs the app as PUID (setuid)",
    // s6-supervise (root) sends SIGTERM to the app (uid PUID) on stop, docker-plex
    // init-plex-claim/run `kill $PID` of its first start: kill(2) across uids needs CAP_KILL.
    KILL: "s6-supervise (root) stops the app, which runs as PUID, with a signal",
  },
};

/**
 * Seerr's image (seerr-team/seerr v3.1.0 Dockerfile: `USER node:node`) starts as the unprivileged
 * `node` user and never changes it: it needs no capability at all.
 */
const UNPRIVILEGED_USER: ImagePrivileges = {
  image: "seerr-team/seerr (USER node:node)",
  startsAsRoot: false,
  app: {},
};

/**
 * FlareSolverr's image (FlareSolverr v3.5.0 Dockerfile L39, L54: `USER flaresolverr`) starts as that
 * user and never changes it. Its Chromium needs no capability either: FlareSolverr starts it with
 * `--no-sandbox`, `--disable-setuid-sandbox` and `--no-zygote` (src/utils.py L138-145), so the
 * browser makes no user or PID namespaces (the sandbox would need CAP_SYS_ADMIN or unprivileged user
 * namespaces, which the RuntimeDefault seccomp profile refuses), and with `--disable-dev-shm-usage`
 * (L143) it keeps its shared memory under /tmp, not in the pod's small /dev/shm.
 */
const FLARESOLVERR: ImagePrivileges = {
  image: "flaresolverr/flaresolverr (USER flaresolverr; Chromium without its sandbox)",
  startsAsRoot: false,
  app: {},
};

/** Image repositories by prefix; anything else is taken to start as root and drop to PUID as s6-overlay does. */
const KNOWN_IMAGES: readonly (readonly [string, ImagePrivileges])[] = [
  ["lscr.io/linuxserver/", LINUXSERVER],
  ["ghcr.io/linuxserver/", LINUXSERVER],
  ["linuxserver/", LINUXSERVER],
  ["ghcr.io/seerr-team/seerr", UNPRIVILEGED_USER],
  ["seerr-team/seerr", UNPRIVILEGED_USER],
  ["ghcr.io/flaresolverr/flaresolverr", FLARESOLVERR],
  ["flaresolverr/flaresolverr", FLARESOLVERR],
];

/** The start-up privileges of an image (`repository:tag`); an image not in the table gets the s6-overlay ones (hotio's images start that way too). */
export function imagePrivileges(image: string): ImagePrivileges {
  return KNOWN_IMAGES.find(([prefix]) => image.startsWith(prefix))?.[1] ?? LINUXSERVER;
}

function dropAllBut(capabilities: readonly Capability[]): ISecurityContext {
  return {
    // Nothing the app runs may gain privileges through a setuid binary or file capabilities.
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"], ...(capabilities.length > 0 ? { add: [...capabilities].sort() } : {}) },
    // The syscall filter the images are built and tested under (Docker's default profile).
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** The app container's securityContext: every capability dropped but those its image's start-up needs. */
export function appSecurityContext(image: string): ISecurityContext {
  return dropAllBut(Object.keys(imagePrivileges(image).app) as Capability[]);
}

/**
 * An init step that runs a shell script as the image's user before the app (the settings seeds, the
 * library folders). As root (LinuxServer), it writes into folders PUID owns (DAC_OVERRIDE) and gives
 * what it makes back to PUID:PGID (CHOWN: `chown`, and `sed -i`'s fchown that keeps a rewritten
 * file's owner); it starts no process as another user. As an unprivileged image user, nothing.
 */
export function initStepSecurityContext(image: string): ISecurityContext {
  return dropAllBut(imagePrivileges(image).startsAsRoot ? ["CHOWN", "DAC_OVERRIDE"] : []);
}
