import type { GatewayDomain } from "../domains";

/**
 * The apps Charmarr runs, as data: every per-app rule (image, port, health endpoint, security domain,
 * how it serves under a path, which stack runs it) lives in this table, not in if-chains.
 */
export const APP_NAMES = [
  "radarr",
  "sonarr",
  "lidarr",
  "prowlarr",
  "seerr",
  "plex",
  "jellyfin",
  "qbittorrent",
  "sabnzbd",
  "flaresolverr",
] as const;
export type AppName = (typeof APP_NAMES)[number];

export const MEDIA_SERVERS = ["plex", "jellyfin"] as const satisfies readonly AppName[];
export type MediaServer = (typeof MEDIA_SERVERS)[number];

/**
 * How an app is reached under its gateway:
 * - `servarr`: serves under a prefix once `<APP>__SERVER__URLBASE` is set; routed by prefix, no rewrite;
 * - `sabnzbd`: serves under `url_base` in sabnzbd.ini, and only for Host names in `host_whitelist`;
 * - `rewrite`: cannot serve under a prefix (qBittorrent): the gateway strips the prefix and
 *   redirects the bare prefix to its trailing-slash form
 *   (docs/upstream.md#servarr-apps-and-the-download-clients);
 * - `root`: needs `/` of a listener of its own (Plex, Seerr, Jellyfin's base URL lives in its
 *   UI-managed network.xml, which the program cannot set before first start).
 */
export type PathStyle = "servarr" | "sabnzbd" | "rewrite" | "root";

export interface ResourceSettings {
  /** Kubernetes quantities, e.g. `{ cpu: "100m", memory: "256Mi" }`. */
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly memory: string };
}

/**
 * Groups of core apps the downloads stack can run instead, routed through the VPN gateway, each
 * switched by the downloads stack's `charmarr:<group>.routeThroughVpn`: `indexers` is Prowlarr
 * (and whatever must run beside it).
 */
export const ROUTING_GROUPS = ["indexers"] as const;
export type RoutingGroup = (typeof ROUTING_GROUPS)[number];

export type StackName = "core" | "downloads";

/** The catalog fields every app has, whatever it serves and keeps. */
interface AppBase {
  /**
   * The stack that runs the app (unless {@link routedWith} moves it), or `{ with: <app> }`: wherever
   * that app runs, routed or not (FlareSolverr serves Prowlarr alone, so it is placed beside it);
   * {@link stackOf} resolves it.
   */
  readonly stack: StackName | { readonly with: AppName };
  /**
   * For a core app: the group whose `charmarr:<group>.routeThroughVpn` (a downloads setting) moves
   * it into the downloads stack, routed through the VPN gateway like the download clients.
   */
  readonly routedWith?: RoutingGroup;
  /** Image repository; the tag is pinned separately so a re-image is one `tag` override. */
  readonly image: string;
  readonly tag: string;
  /** The port the app's web UI and API listen on. */
  readonly port: number;
  /** Health endpoint, relative to the app's base path. */
  readonly healthPath: string;
  /** Generate a Servarr API key and deliver it as `<APP>__AUTH__APIKEY`. */
  readonly servarrApiKey: boolean;
  /**
   * The user and group an image that runs as a fixed user of its own (no PUID/PGID, no root init)
   * runs as: its config volume must be theirs. Unset for the LinuxServer images, which start as root
   * and switch to PUID:PGID themselves.
   */
  readonly runAs?: { readonly uid: number; readonly gid: number };
  /** The environment variable the app reads its API key from (the program generates the key). */
  readonly apiKeyEnv?: string;
  /** Ports that take plaintext traffic from outside the mesh (torrent peers arriving over the VPN). */
  readonly inboundPeerPorts: readonly number[];
  /**
   * The app runs a web browser on the pages indexers serve (FlareSolverr), so it gets no media library
   * (every other app mounts it at the same path) and, where it is not routed through the VPN gateway
   * (whose kill switch fences it instead), egress to the internet only: never the cluster or the LAN.
   */
  readonly browsesUntrustedPages?: true;
  readonly resources: ResourceSettings;
  /**
   * Served by a TCP LoadBalancer Service of its own instead of its gateway: Plex clients connect
   * with TLS to `https://<ip>.<hash>.plex.direct:32400` (Plex's own certificate, so no proxy may
   * terminate it) and Plex tells local from remote clients by their address, which an L7 gateway
   * would replace with its own.
   */
  readonly ownLoadBalancer?: true;
}

/** An app users open: its security domain's gateway serves it, under a path or at a listener of its own. */
interface ServedApp {
  /** The security domain, i.e. the ingress gateway that serves the app. */
  readonly domain: GatewayDomain;
  readonly pathStyle: PathStyle;
}

/** An app with no UI, which only other apps in the cluster call (FlareSolverr): no gateway, no route, no URL. */
interface UnservedApp {
  readonly domain?: undefined;
  readonly pathStyle?: undefined;
}

/** An app that keeps its settings on a volume claim of its own. */
interface StatefulApp {
  /**
   * Where the app keeps its settings, the mount path of its config volume: `/config` in the
   * LinuxServer images, `/app/config` in Seerr's (seerr v3.1.0 Dockerfile L46-53).
   */
  readonly configPath: string;
  /** Default size of the config volume claim. */
  readonly configSize: string;
}

/** An app that keeps nothing between starts (FlareSolverr): no config volume claim. */
interface StatelessApp {
  readonly configPath?: undefined;
  readonly configSize?: undefined;
}

export type AppDefinition = AppBase & (ServedApp | UnservedApp) & (StatefulApp | StatelessApp);

const SMALL: ResourceSettings = { requests: { cpu: "50m", memory: "256Mi" }, limits: { memory: "1Gi" } };
const MEDIUM: ResourceSettings = { requests: { cpu: "100m", memory: "512Mi" }, limits: { memory: "2Gi" } };
const LARGE: ResourceSettings = { requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "4Gi" } };

function servarr(domain: GatewayDomain, image: string, tag: string, port: number): AppBase & ServedApp & StatefulApp {
  return {
    stack: "core",
    domain,
    image,
    tag,
    port,
    healthPath: "/ping",
    pathStyle: "servarr",
    servarrApiKey: true,
    configPath: "/config",
    inboundPeerPorts: [],
    configSize: "2Gi",
    resources: MEDIUM,
  };
}

export const APP_CATALOG: Readonly<Record<AppName, AppDefinition>> = {
  radarr: servarr("arr", "lscr.io/linuxserver/radarr", "6.0.4.10291-ls296", 7878),
  sonarr: servarr("arr", "lscr.io/linuxserver/sonarr", "4.0.19.2979-ls316", 8989),
  lidarr: servarr("arr", "lscr.io/linuxserver/lidarr", "2.14.5.4836-ls9", 8686),
  prowlarr: {
    ...servarr("arr", "lscr.io/linuxserver/prowlarr", "2.3.5.5327-ls148", 9696),
    // Indexers block home addresses or sit behind Cloudflare: its searches can go through the VPN.
    routedWith: "indexers",
    configSize: "1Gi",
    resources: SMALL,
  },
  // Seerr is where viewers request titles: it sits with the media server, not the arr tools. It
  // succeeds Overseerr (archived) and migrates an Overseerr config folder on its first start.
  seerr: {
    stack: "core",
    domain: "media",
    // The project's own image (seerr docs/getting-started/docker.mdx L17-21: version tags `vX.Y.Z`).
    image: "ghcr.io/seerr-team/seerr",
    tag: "v3.1.0",
    port: 5055,
    healthPath: "/api/v1/status",
    pathStyle: "root",
    servarrApiKey: false,
    configPath: "/app/config",
    // `USER node:node` (seerr v3.1.0 Dockerfile L44; node:22-alpine's node user is 1000:1000).
    runAs: { uid: 1000, gid: 1000 },
    // `process.env.API_KEY` replaces the key in settings.json at every start and is the key a
    // regenerate returns (seerr v3.1.0 server/lib/settings/index.ts L749-761, L796-805).
    apiKeyEnv: "API_KEY",
    inboundPeerPorts: [],
    configSize: "1Gi",
    resources: SMALL,
  },
  plex: {
    stack: "core",
    domain: "media",
    image: "lscr.io/linuxserver/plex",
    tag: "1.43.3.10828-00f62d37d-ls315",
    port: 32400,
    healthPath: "/identity",
    pathStyle: "root",
    servarrApiKey: false,
    configPath: "/config",
    inboundPeerPorts: [],
    ownLoadBalancer: true,
    configSize: "20Gi",
    resources: LARGE,
  },
  jellyfin: {
    stack: "core",
    domain: "media",
    image: "lscr.io/linuxserver/jellyfin",
    tag: "10.11.11ubu2404-ls42",
    port: 8096,
    healthPath: "/health",
    pathStyle: "root",
    servarrApiKey: false,
    configPath: "/config",
    inboundPeerPorts: [],
    configSize: "10Gi",
    resources: LARGE,
  },
  qbittorrent: {
    stack: "downloads",
    domain: "admin",
    image: "lscr.io/linuxserver/qbittorrent",
    tag: "5.1.4-r3-ls453",
    port: 8080,
    healthPath: "/",
    pathStyle: "rewrite",
    servarrApiKey: false,
    configPath: "/config",
    inboundPeerPorts: [6881],
    configSize: "1Gi",
    resources: MEDIUM,
  },
  sabnzbd: {
    stack: "downloads",
    domain: "admin",
    image: "lscr.io/linuxserver/sabnzbd",
    tag: "5.0.1-ls253",
    port: 8080,
    // `mode=version` is the one API call SABnzbd answers without an API key.
    healthPath: "/api?mode=version",
    pathStyle: "sabnzbd",
    servarrApiKey: false,
    configPath: "/config",
    inboundPeerPorts: [],
    configSize: "1Gi",
    resources: MEDIUM,
  },
  // FlareSolverr opens Cloudflare-protected indexer pages in a browser for Prowlarr, its only caller:
  // no UI, no gateway, no route, nothing kept (nothing under src/ reads or writes /config at v3.5.0;
  // the browser profile is a temporary directory, src/undetected_chromedriver/__init__.py L351), and no
  // media library.
  flaresolverr: {
    stack: { with: "prowlarr" },
    // FlareSolverr v3.5.0 .github/workflows/release-docker.yml L23-37: `ghcr.io/flaresolverr/flaresolverr`,
    // tags `v<version>` from the git tag.
    image: "ghcr.io/flaresolverr/flaresolverr",
    tag: "v3.5.0",
    // src/flaresolverr.py L93-94: PORT, default 8191.
    port: 8191,
    // src/flaresolverr.py L42-49: `{"status": "ok"}`, served only once the start-up browser test has
    // passed (L134-152), so it answering means Chromium started.
    healthPath: "/health",
    servarrApiKey: false,
    // Dockerfile L39 `useradd ... flaresolverr` (no --uid: the first free UID, 1000, in
    // python:3.11-slim-bookworm, whose other users are system users) and L54 `USER flaresolverr`. It
    // must run as exactly that user: its home /app, where the browser keeps its state and the
    // chromedriver is patched in place, is that user's (Dockerfile L39-41, L56).
    runAs: { uid: 1000, gid: 1000 },
    inboundPeerPorts: [],
    browsesUntrustedPages: true,
    // One Chromium per request (src/flaresolverr_service.py L246: a new webdriver unless a session is
    // used, quit after it, L253-258).
    resources: MEDIUM,
  },
};

export function isAppName(name: string): name is AppName {
  return (APP_NAMES as readonly string[]).includes(name);
}

/**
 * The apps a stack runs, with the groups the downloads stack routes (`routed`): those move from core
 * to downloads. Only the downloads stack knows its routed groups; core is told none, and the
 * downloads stack refuses to route an app core still runs.
 */
export function appsOfStack(stack: StackName, routed: readonly RoutingGroup[] = []): AppName[] {
  return APP_NAMES.filter((name) => stackOf(name, routed) === stack);
}

/**
 * The stack that runs the app, given the groups the downloads stack routes; an app placed with
 * another runs wherever that one does.
 */
export function stackOf(name: AppName, routed: readonly RoutingGroup[] = []): StackName {
  const { stack, routedWith } = APP_CATALOG[name];
  if (typeof stack !== "string") {
    return stackOf(stack.with, routed);
  }
  return routedWith !== undefined && routed.includes(routedWith) ? "downloads" : stack;
}

/** The routing group that can move the app: its own, or that of the app it is placed with. */
export function routingGroupOf(name: AppName): RoutingGroup | undefined {
  const { stack, routedWith } = APP_CATALOG[name];
  return typeof stack === "string" ? routedWith : routingGroupOf(stack.with);
}

/** The default path prefix of a path-served app: `/radarr`. */
export function defaultPath(name: AppName): string {
  return `/${name}`;
}

/** The security domains of a stack's apps: the gateways its namespace may attach routes to. */
export function domainsOfStack(stack: StackName, routed: readonly RoutingGroup[] = []): GatewayDomain[] {
  return [...new Set(appsOfStack(stack, routed).flatMap((name) => APP_CATALOG[name].domain ?? []))];
}
