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
  "overseerr",
  "plex",
  "jellyfin",
  "qbittorrent",
  "sabnzbd",
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
 * - `root`: needs `/` of a listener of its own (Plex, Overseerr, Jellyfin's base URL lives in its
 *   UI-managed network.xml, which the program cannot set before first start).
 */
export type PathStyle = "servarr" | "sabnzbd" | "rewrite" | "root";

export interface ResourceSettings {
  /** Kubernetes quantities, e.g. `{ cpu: "100m", memory: "256Mi" }`. */
  readonly requests: { readonly cpu: string; readonly memory: string };
  readonly limits: { readonly memory: string };
}

export interface AppDefinition {
  /** The stack that runs the app. */
  readonly stack: "core" | "downloads";
  /** The security domain, i.e. the ingress gateway that serves the app. */
  readonly domain: GatewayDomain;
  /** Image repository; the tag is pinned separately so a re-image is one `tag` override. */
  readonly image: string;
  readonly tag: string;
  /** The port the app's web UI and API listen on. */
  readonly port: number;
  /** Health endpoint, relative to the app's base path. */
  readonly healthPath: string;
  readonly pathStyle: PathStyle;
  /** Generate a Servarr API key and deliver it as `<APP>__AUTH__APIKEY`. */
  readonly servarrApiKey: boolean;
  /** Ports that take plaintext traffic from outside the mesh (torrent peers arriving over the VPN). */
  readonly inboundPeerPorts: readonly number[];
  /** Default size of the `/config` volume claim. */
  readonly configSize: string;
  readonly resources: ResourceSettings;
  /**
   * Served by a TCP LoadBalancer Service of its own instead of its gateway: Plex clients connect
   * with TLS to `https://<ip>.<hash>.plex.direct:32400` (Plex's own certificate, so no proxy may
   * terminate it) and Plex tells local from remote clients by their address, which an L7 gateway
   * would replace with its own.
   */
  readonly ownLoadBalancer?: true;
}

const SMALL: ResourceSettings = { requests: { cpu: "50m", memory: "256Mi" }, limits: { memory: "1Gi" } };
const MEDIUM: ResourceSettings = { requests: { cpu: "100m", memory: "512Mi" }, limits: { memory: "2Gi" } };
const LARGE: ResourceSettings = { requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "4Gi" } };

function servarr(domain: GatewayDomain, image: string, tag: string, port: number): AppDefinition {
  return {
    stack: "core",
    domain,
    image,
    tag,
    port,
    healthPath: "/ping",
    pathStyle: "servarr",
    servarrApiKey: true,
    inboundPeerPorts: [],
    configSize: "2Gi",
    resources: MEDIUM,
  };
}

export const APP_CATALOG: Readonly<Record<AppName, AppDefinition>> = {
  radarr: servarr("arr", "lscr.io/linuxserver/radarr", "5.27.5.10198-ls285", 7878),
  sonarr: servarr("arr", "lscr.io/linuxserver/sonarr", "4.0.15.2941-ls296", 8989),
  lidarr: servarr("arr", "lscr.io/linuxserver/lidarr", "2.13.3.4711-ls5", 8686),
  prowlarr: {
    ...servarr("arr", "lscr.io/linuxserver/prowlarr", "1.28.2.4885-ls98", 9696),
    configSize: "1Gi",
    resources: SMALL,
  },
  // Overseerr is where viewers request titles: it sits with the media server, not the arr tools.
  overseerr: {
    stack: "core",
    domain: "media",
    image: "lscr.io/linuxserver/overseerr",
    tag: "v1.34.0-ls157",
    port: 5055,
    healthPath: "/api/v1/status",
    pathStyle: "root",
    servarrApiKey: false,
    inboundPeerPorts: [],
    configSize: "1Gi",
    resources: SMALL,
  },
  plex: {
    stack: "core",
    domain: "media",
    image: "lscr.io/linuxserver/plex",
    tag: "1.41.7.9823-59f304c16-ls268",
    port: 32400,
    healthPath: "/identity",
    pathStyle: "root",
    servarrApiKey: false,
    inboundPeerPorts: [],
    ownLoadBalancer: true,
    configSize: "20Gi",
    resources: LARGE,
  },
  jellyfin: {
    stack: "core",
    domain: "media",
    image: "lscr.io/linuxserver/jellyfin",
    tag: "10.10.7ubu2404-ls80",
    port: 8096,
    healthPath: "/health",
    pathStyle: "root",
    servarrApiKey: false,
    inboundPeerPorts: [],
    configSize: "10Gi",
    resources: LARGE,
  },
  qbittorrent: {
    stack: "downloads",
    domain: "admin",
    image: "lscr.io/linuxserver/qbittorrent",
    tag: "5.1.2-r4-ls426",
    port: 8080,
    healthPath: "/",
    pathStyle: "rewrite",
    servarrApiKey: false,
    inboundPeerPorts: [6881],
    configSize: "1Gi",
    resources: MEDIUM,
  },
  sabnzbd: {
    stack: "downloads",
    domain: "admin",
    image: "lscr.io/linuxserver/sabnzbd",
    tag: "4.5.1-ls223",
    port: 8080,
    // `mode=version` is the one API call SABnzbd answers without an API key.
    healthPath: "/api?mode=version",
    pathStyle: "sabnzbd",
    servarrApiKey: false,
    inboundPeerPorts: [],
    configSize: "1Gi",
    resources: MEDIUM,
  },
};

export function isAppName(name: string): name is AppName {
  return (APP_NAMES as readonly string[]).includes(name);
}

export function appsOfStack(stack: "core" | "downloads"): AppName[] {
  return APP_NAMES.filter((name) => APP_CATALOG[name].stack === stack);
}

/** The default path prefix of a path-served app: `/radarr`. */
export function defaultPath(name: AppName): string {
  return `/${name}`;
}

/** The security domains of a stack's apps: the gateways its namespace may attach routes to. */
export function domainsOfStack(stack: "core" | "downloads"): GatewayDomain[] {
  return [...new Set(appsOfStack(stack).map((name) => APP_CATALOG[name].domain))];
}
