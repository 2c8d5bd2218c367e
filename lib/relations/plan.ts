import type { AppName } from "../apps/catalog";
import type { ResolvedApp } from "../apps/resolve";
import type { DownloadFolders } from "../apps/workload";
import type { Category } from "./downloadClients";
import type { RelationSpec } from "./reconcile";
import type { ProviderEntry, ServarrApp, ServarrTarget } from "./servarr";
import type { JellyfinAdmin } from "./jellyfin";
import type { SeerrMediaServer } from "./seerr";
import { CoreRelationsSettings, DownloadsRelationsSettings, libraryPath } from "./settings";

/** The arr apps that take download clients and a root folder. */
export const ARR_APPS = ["radarr", "sonarr", "lidarr"] as const satisfies readonly ServarrApp[];
export type ArrApp = (typeof ARR_APPS)[number];

/** The download clients, which the downloads stack runs. */
export const DOWNLOAD_CLIENTS = ["qbittorrent", "sabnzbd"] as const satisfies readonly AppName[];
export type DownloadClient = (typeof DOWNLOAD_CLIENTS)[number];

export function isDownloadClient(app: string): app is DownloadClient {
  return (DOWNLOAD_CLIENTS as readonly string[]).includes(app);
}

/** Apps Seerr sends requests to (Seerr manages movies and series only). */
const SEERR_SERVICES = ["radarr", "sonarr"] as const satisfies readonly ArrApp[];

/** The download clients' settings field names differ by arr app (Radarr v6.0.3.10276, Sonarr v4.0.19.2979, Lidarr v2.14.5.4836 src/NzbDrone.Core/Download/Clients/<Client>/<Client>Settings.cs). */
const CATEGORY_FIELD: Readonly<Record<ArrApp, string>> = {
  radarr: "movieCategory",
  sonarr: "tvCategory",
  lidarr: "musicCategory",
};
/** Prowlarr's application implementations (Prowlarr v2.3.5.5327 src/NzbDrone.Core/Applications/<App>/). */
const PROWLARR_IMPLEMENTATION: Readonly<Record<ArrApp, string>> = {
  radarr: "Radarr",
  sonarr: "Sonarr",
  lidarr: "Lidarr",
};
/** Lidarr's root folders carry a name. */
const ROOT_FOLDER_NAME: Readonly<Record<ArrApp, string>> = { radarr: "Movies", sonarr: "TV", lidarr: "Music" };

/**
 * What the arr apps' own UI sets on a new download client: a boolean the API body omits
 * deserializes as false, but the model's defaults are true (Radarr v6.0.3.10276
 * src/NzbDrone.Core/Download/DownloadClientDefinition.cs L16-17 `RemoveCompletedDownloads`,
 * `RemoveFailedDownloads`). Sent on create only: afterwards they are the user's.
 */
const NEW_DOWNLOAD_CLIENT = { removeCompletedDownloads: true, removeFailedDownloads: true } as const;

/** Display name of each entry the relations own: the name is how a relation finds its entry again. */
const ENTRY_NAME: Readonly<Record<"qbittorrent" | "sabnzbd" | "flaresolverr" | ArrApp, string>> = {
  qbittorrent: "qBittorrent (Charmarr)",
  sabnzbd: "SABnzbd (Charmarr)",
  flaresolverr: "FlareSolverr (Charmarr)",
  radarr: "Radarr (Charmarr)",
  sonarr: "Sonarr (Charmarr)",
  lidarr: "Lidarr (Charmarr)",
};

/**
 * The tag that sends an indexer's requests through FlareSolverr: Prowlarr uses an indexer proxy only
 * for indexers sharing one of its tags (Prowlarr v2.3.5.5327 src/NzbDrone.Core/Indexers/IndexerHttpClient.cs
 * L55-79), and a proxy without tags is not even enabled (IndexerProxies/IndexerProxyDefinition.cs L8).
 * Users give it to their Cloudflare-protected indexers (docs/relations.md).
 */
export const FLARESOLVERR_TAG = "flaresolverr";

/**
 * How long FlareSolverr may take to solve a page, in seconds: Prowlarr's own default
 * (FlareSolverrSettings.cs L20-24), sent as FlareSolverr's `maxTimeout` (FlareSolverr.cs L103).
 */
const FLARESOLVERR_REQUEST_TIMEOUT = 60;

export function isArrApp(app: string): app is ArrApp {
  return (ARR_APPS as readonly string[]).includes(app);
}

/** How an app is reached: in the cluster by its Service, and by the relation provider through its pod. */
export interface AppEndpoint {
  readonly namespace: string;
  /** `radarr.charmarr-core.svc.cluster.local`. */
  readonly host: string;
  readonly port: number;
  /** The app's URL base (`/radarr`), or "" when it serves at `/`. */
  readonly basePath: string;
}

/** An endpoint with the credential another app needs to call it. */
export interface KeyedEndpoint extends AppEndpoint {
  readonly apiKey: string;
}

/** Where the relation provider connects: the app's pod (a single-replica StatefulSet's `<app>-0`) and port. */
export interface Reach {
  readonly namespace: string;
  readonly pod: string;
  readonly port: number;
}

export interface PlannedRelation {
  /** Resource name: `<configured app>-<what>`. */
  readonly name: string;
  readonly reach: Reach;
  readonly spec: RelationSpec;
  /** Relations of the same stack that must be in place first (created before, deleted after this one). */
  readonly after?: readonly string[];
}

/** How other apps reach an enabled app: its Service, port and URL base (none for apps served at `/`). */
export function appEndpoint(app: ResolvedApp, namespace: string, clusterDomain: string): AppEndpoint {
  const servesUnderPath = app.pathStyle === "servarr" || app.pathStyle === "sabnzbd";
  return {
    namespace,
    host: `${app.name}.${namespace}.svc.${clusterDomain}`,
    port: app.port,
    basePath: servesUnderPath ? (app.path ?? "") : "",
  };
}

/** A stand-in for every secret while planning which relations exist: their number and names never depend on a secret's value. */
export const PLANNING_SECRET = "<secret>";

/** The relation specs by relation name, for {@link Relations} to apply once the secrets resolve. */
export function specsByName(relations: readonly PlannedRelation[]): Record<string, RelationSpec> {
  return Object.fromEntries(relations.map((relation) => [relation.name, relation.spec]));
}

export function reachOf(app: AppName, endpoint: AppEndpoint): Reach {
  return { namespace: endpoint.namespace, pod: `${app}-0`, port: endpoint.port };
}

/** `http://radarr.charmarr-core.svc.cluster.local:7878/radarr`. */
export function endpointUrl(endpoint: AppEndpoint): string {
  return `http://${endpoint.host}:${endpoint.port}${endpoint.basePath}`;
}

function servarrTarget(app: ServarrApp, endpoint: KeyedEndpoint): ServarrTarget {
  return { app, basePath: endpoint.basePath, apiKey: endpoint.apiKey };
}

/** The relations graph a stack wires, `{ "<app>": ["<related app>", ...] }`: also its `relations` output. */
export type RelationGraph = Partial<Record<AppName, AppName[]>>;

/**
 * The downloads stack: each enabled arr app of core takes each enabled download client, and Prowlarr,
 * when this stack runs it (routed through the VPN), syncs its indexers to them.
 */
export function downloadsGraph(
  arrApps: readonly AppName[],
  apps: readonly AppName[],
  settings: { readonly enabled: boolean },
): RelationGraph {
  if (!settings.enabled) {
    return {};
  }
  const clients = apps.filter(isDownloadClient);
  const arr = ARR_APPS.filter((app) => arrApps.includes(app));
  return {
    ...(clients.length > 0 ? Object.fromEntries(arr.map((app) => [app, [...clients]])) : {}),
    ...indexerGraph(apps, arr),
  };
}

/**
 * Prowlarr, wherever it runs, syncs its indexers to every enabled arr app and sends its tagged
 * indexers' Cloudflare-protected requests through FlareSolverr, which runs beside it.
 */
function indexerGraph(apps: readonly AppName[], arr: readonly ArrApp[]): RelationGraph {
  const targets: AppName[] = [...arr, ...(apps.includes("flaresolverr") ? (["flaresolverr"] as const) : [])];
  return apps.includes("prowlarr") && targets.length > 0 ? { prowlarr: targets } : {};
}

/**
 * The core stack: Prowlarr syncs its indexers to the arr apps and sends its tagged indexers'
 * Cloudflare-protected requests through FlareSolverr; Seerr sends requests to Radarr and Sonarr, and
 * reads Plex when a Plex token lets the program set it up.
 */
export function coreGraph(
  apps: readonly AppName[],
  settings: { readonly enabled: boolean },
  plexLinked: boolean,
): RelationGraph {
  if (!settings.enabled) {
    return {};
  }
  const graph: RelationGraph = indexerGraph(
    apps,
    ARR_APPS.filter((app) => apps.includes(app)),
  );
  const requested: AppName[] = [
    ...SEERR_SERVICES.filter((app) => apps.includes(app)),
    ...(plexLinked && apps.includes("plex") ? (["plex"] as const) : []),
    // The program makes Jellyfin's administrator itself, so Seerr signs in through Jellyfin always.
    ...(apps.includes("jellyfin") ? (["jellyfin"] as const) : []),
  ];
  if (apps.includes("seerr") && requested.length > 0) {
    graph.seerr = requested;
  }
  return graph;
}

/**
 * Why Prowlarr refused to save the FlareSolverr proxy, where to look and what to do: its test (see
 * {@link indexerProxyRelation}) failed, so FlareSolverr does not reach the internet — when it is
 * routed (`vpnNamespace` given), most likely because the VPN tunnel is down.
 */
function flaresolverrRefusedHelp(flaresolverr: AppEndpoint, vpnNamespace: string | undefined): string {
  const cause =
    "FlareSolverr could not load Prowlarr's ping page https://prowlarr.servarr.com/v1/ping, which Prowlarr has it load before it saves the proxy (Prowlarr v2.3.5.5327 src/NzbDrone.Core/IndexerProxies/FlareSolverr/FlareSolverr.cs L179-206): FlareSolverr does not reach the internet.";
  const ownLog = `\`kubectl -n ${flaresolverr.namespace} logs statefulset/flaresolverr -c flaresolverr\``;
  const without = "pulumi config set --path charmarr:apps.flaresolverr.enabled false";
  return vpnNamespace === undefined
    ? `${cause} Look at its log: ${ownLog}. Re-run \`pulumi up\` once it reaches the internet, or run Prowlarr without FlareSolverr: ${without}`
    : `${cause} It goes through the VPN tunnel (charmarr:indexers.routeThroughVpn), which is likely down: \`npm run verify\` checks it, \`kubectl -n ${vpnNamespace} logs deploy/vpn-gateway -c gluetun\` says why it is down, and FlareSolverr's own log is ${ownLog}. Re-run \`pulumi up\` once the tunnel is up, or run Prowlarr without FlareSolverr: ${without}`;
}

/**
 * FlareSolverr as Prowlarr's indexer proxy, with the {@link FLARESOLVERR_TAG} tag (Prowlarr
 * v2.3.5.5327 src/NzbDrone.Core/IndexerProxies/FlareSolverr/FlareSolverrSettings.cs L20-30: `host`,
 * `requestTimeout`). Tagged, the proxy is enabled, so Prowlarr tests it before it saves it: it asks
 * FlareSolverr to load https://prowlarr.servarr.com/v1/ping (FlareSolverr.cs L179-206), which fails
 * unless FlareSolverr runs and reaches the internet. Wherever Prowlarr runs, this relation runs with it.
 */
export function indexerProxyRelation(
  prowlarr: KeyedEndpoint,
  flaresolverr: AppEndpoint,
  vpnNamespace?: string,
): PlannedRelation {
  return {
    name: "prowlarr-indexer-proxies",
    reach: reachOf("prowlarr", prowlarr),
    spec: {
      kind: "providers",
      collection: "indexerproxy",
      target: servarrTarget("prowlarr", prowlarr),
      entries: [
        {
          name: ENTRY_NAME.flaresolverr,
          implementation: "FlareSolverr",
          configContract: "FlareSolverrSettings",
          properties: {},
          fields: { host: endpointUrl(flaresolverr), requestTimeout: FLARESOLVERR_REQUEST_TIMEOUT },
          secretFields: [],
          tags: [FLARESOLVERR_TAG],
          refusedHelp: flaresolverrRefusedHelp(flaresolverr, vpnNamespace),
        },
      ],
    },
  };
}

/** The save path of an arr app's downloads: `<mountPath>/<downloads>/<app>`. */
export function downloadPath(mountPath: string, settings: DownloadsRelationsSettings, app: ArrApp): string {
  return libraryPath(mountPath, `${settings.downloads}/${app}`);
}

/**
 * A download client's own folders: `<mountPath>/<downloads>/<client>` for what no category claims,
 * `<mountPath>/<downloads>/incomplete/<client>` for what is still downloading (apart from the
 * categories' folders, which the arr apps watch).
 */
export function clientDownloadFolders(
  mountPath: string,
  settings: DownloadsRelationsSettings,
  client: DownloadClient,
): DownloadFolders {
  return {
    complete: libraryPath(mountPath, `${settings.downloads}/${client}`),
    incomplete: libraryPath(mountPath, `${settings.downloads}/incomplete/${client}`),
  };
}

/** The arr app's root folder: `<mountPath>/<rootFolders.app>`. */
export function rootFolderPath(mountPath: string, settings: CoreRelationsSettings, app: ArrApp): string {
  return libraryPath(mountPath, settings.rootFolders[app]);
}

/** The download clients as the downloads stack knows them, with their generated credentials. */
export interface DownloadClients {
  readonly qbittorrent?: AppEndpoint & { readonly username: string; readonly password: string };
  readonly sabnzbd?: KeyedEndpoint;
}

function qbittorrentEntry(app: ArrApp, client: NonNullable<DownloadClients["qbittorrent"]>): ProviderEntry {
  return {
    name: ENTRY_NAME.qbittorrent,
    implementation: "QBittorrent",
    configContract: "QBittorrentSettings",
    properties: { enable: true, protocol: "torrent", priority: 1 },
    initialProperties: NEW_DOWNLOAD_CLIENT,
    fields: {
      host: client.host,
      port: client.port,
      useSsl: false,
      urlBase: client.basePath,
      username: client.username,
      password: client.password,
      [CATEGORY_FIELD[app]]: app,
    },
    secretFields: ["password"],
  };
}

function sabnzbdEntry(app: ArrApp, client: KeyedEndpoint): ProviderEntry {
  return {
    name: ENTRY_NAME.sabnzbd,
    implementation: "Sabnzbd",
    configContract: "SabnzbdSettings",
    properties: { enable: true, protocol: "usenet", priority: 1 },
    initialProperties: NEW_DOWNLOAD_CLIENT,
    fields: {
      host: client.host,
      port: client.port,
      useSsl: false,
      urlBase: client.basePath,
      apiKey: client.apiKey,
      [CATEGORY_FIELD[app]]: app,
    },
    secretFields: ["apiKey"],
  };
}

/**
 * The downloads stack's relations: each download client keeps a category per arr app (saving under
 * the library), and each arr app takes each client with that category. The categories exist first:
 * SABnzbd refuses a client whose category is missing (Radarr v6.0.3.10276 Sabnzbd.cs TestCategory L455-481, run before the client is saved).
 */
export function downloadsRelations(input: {
  readonly arr: Readonly<Partial<Record<ArrApp, KeyedEndpoint>>>;
  readonly clients: DownloadClients;
  /** Prowlarr, when this stack runs it (`charmarr:indexers.routeThroughVpn`). */
  readonly prowlarr?: KeyedEndpoint;
  /** FlareSolverr, routed beside Prowlarr, when it runs. */
  readonly flaresolverr?: AppEndpoint;
  /** The VPN gateway's namespace (`charmarr:vpn.namespace`), for what a refused FlareSolverr proxy says. */
  readonly vpnNamespace?: string;
  readonly mountPath: string;
  readonly settings: DownloadsRelationsSettings;
}): PlannedRelation[] {
  const clientNames = DOWNLOAD_CLIENTS.filter((name) => input.clients[name] !== undefined);
  const graph = downloadsGraph(
    Object.keys(input.arr) as AppName[],
    [
      ...clientNames,
      ...(input.prowlarr ? (["prowlarr"] as const) : []),
      ...(input.flaresolverr ? (["flaresolverr"] as const) : []),
    ],
    input.settings,
  );
  const arrApps = ARR_APPS.filter((app) => graph[app] !== undefined);
  const categories: Category[] = arrApps.map((app) => ({
    name: app,
    savePath: downloadPath(input.mountPath, input.settings, app),
  }));
  const relations: PlannedRelation[] = [];
  const { qbittorrent, sabnzbd } = input.clients;
  const categoryRelations = [
    ...(qbittorrent ? ["qbittorrent-categories"] : []),
    ...(sabnzbd ? ["sabnzbd-categories"] : []),
  ];
  if (qbittorrent !== undefined && arrApps.length > 0) {
    relations.push({
      name: "qbittorrent-categories",
      reach: reachOf("qbittorrent", qbittorrent),
      spec: { kind: "qbittorrentCategories", target: qbittorrent, categories },
    });
  }
  if (sabnzbd !== undefined && arrApps.length > 0) {
    relations.push({
      name: "sabnzbd-categories",
      reach: reachOf("sabnzbd", sabnzbd),
      spec: { kind: "sabnzbdCategories", target: sabnzbd, categories },
    });
  }
  for (const app of arrApps) {
    const endpoint = input.arr[app] as KeyedEndpoint;
    const entries = [
      ...(qbittorrent ? [qbittorrentEntry(app, qbittorrent)] : []),
      ...(sabnzbd ? [sabnzbdEntry(app, sabnzbd)] : []),
    ];
    relations.push({
      name: `${app}-download-clients`,
      reach: reachOf(app, endpoint),
      spec: { kind: "providers", collection: "downloadclient", target: servarrTarget(app, endpoint), entries },
      after: categoryRelations,
    });
  }
  if (input.prowlarr !== undefined) {
    relations.push(...prowlarrRelations(input.prowlarr, input.arr, graph, input.flaresolverr, input.vpnNamespace));
  }
  return relations;
}

/**
 * Prowlarr's relations, planned by whichever stack runs it (core, or downloads when indexers are
 * routed through the VPN): an application per arr app the graph gives it, with full sync, and
 * FlareSolverr, beside it, as its indexer proxy. Its own URL is the one the arr apps call back on, in
 * the namespace it runs in.
 */
export function prowlarrRelations(
  prowlarr: KeyedEndpoint,
  arr: Readonly<Partial<Record<ArrApp, KeyedEndpoint>>>,
  graph: RelationGraph,
  flaresolverr: AppEndpoint | undefined,
  vpnNamespace?: string,
): PlannedRelation[] {
  const synced = graph.prowlarr?.filter(isArrApp) ?? [];
  const proxied = flaresolverr !== undefined && graph.prowlarr?.includes("flaresolverr") === true;
  const entries = synced.map((app): ProviderEntry => {
    const endpoint = arr[app] as KeyedEndpoint;
    return {
      name: ENTRY_NAME[app],
      implementation: PROWLARR_IMPLEMENTATION[app],
      configContract: `${PROWLARR_IMPLEMENTATION[app]}Settings`,
      properties: { syncLevel: "fullSync" },
      fields: { prowlarrUrl: endpointUrl(prowlarr), baseUrl: endpointUrl(endpoint), apiKey: endpoint.apiKey },
      secretFields: ["apiKey"],
    };
  });
  return [
    ...(synced.length > 0
      ? [
          {
            name: "prowlarr-applications",
            reach: reachOf("prowlarr", prowlarr),
            spec: {
              kind: "providers",
              collection: "applications",
              target: servarrTarget("prowlarr", prowlarr),
              entries,
            } satisfies RelationSpec,
          },
        ]
      : []),
    ...(proxied ? [indexerProxyRelation(prowlarr, flaresolverr, vpnNamespace)] : []),
  ];
}

/** Core's apps as its relations need them: each enabled app's endpoint, the Servarr apps' and Seerr's keys. */
export interface CoreRelationsInput {
  readonly arr: Readonly<Partial<Record<ArrApp, KeyedEndpoint>>>;
  readonly prowlarr?: KeyedEndpoint;
  /** FlareSolverr beside Prowlarr, when it runs. */
  readonly flaresolverr?: AppEndpoint;
  readonly seerr?: KeyedEndpoint;
  readonly plex?: AppEndpoint;
  /** The Plex account token (secret config) that lets the program set Seerr up. */
  readonly plexToken?: string;
  /** Whether Plex was given a claim token (`charmarr:plexClaim`), for what the relation says when linking fails. */
  readonly plexClaimGiven?: boolean;
  /** Jellyfin, when it is the media server, with the administrator the program makes in it. */
  readonly jellyfin?: AppEndpoint & { readonly admin: JellyfinAdmin };
  readonly mountPath: string;
  readonly settings: CoreRelationsSettings;
}

/** The core stack's relations: root folders, Prowlarr's applications, Seerr's services. */
export function coreRelations(input: CoreRelationsInput): PlannedRelation[] {
  if (!input.settings.enabled) {
    return [];
  }
  const present = [
    ...(Object.keys(input.arr) as AppName[]),
    ...(input.prowlarr ? (["prowlarr"] as const) : []),
    ...(input.flaresolverr ? (["flaresolverr"] as const) : []),
    ...(input.seerr ? (["seerr"] as const) : []),
    ...(input.jellyfin ? (["jellyfin"] as const) : []),
    ...(input.plex ? (["plex"] as const) : []),
  ];
  const graph = coreGraph(present, input.settings, input.plexToken !== undefined);
  const relations: PlannedRelation[] = [];
  for (const app of ARR_APPS) {
    const endpoint = input.arr[app];
    if (endpoint !== undefined) {
      relations.push({
        name: `${app}-root-folder`,
        reach: reachOf(app, endpoint),
        spec: {
          kind: "rootFolder",
          target: servarrTarget(app, endpoint),
          path: rootFolderPath(input.mountPath, input.settings, app),
          name: ROOT_FOLDER_NAME[app],
        },
      });
    }
  }
  const { prowlarr, seerr, plex } = input;
  if (prowlarr !== undefined) {
    relations.push(...prowlarrRelations(prowlarr, input.arr, graph, input.flaresolverr));
  }
  if (seerr !== undefined && graph.seerr !== undefined) {
    const services = SEERR_SERVICES.filter((app) => graph.seerr?.includes(app)).map((app) => {
      const endpoint = input.arr[app] as KeyedEndpoint;
      return {
        kind: app,
        name: ENTRY_NAME[app],
        hostname: endpoint.host,
        port: endpoint.port,
        baseUrl: endpoint.basePath,
        apiKey: endpoint.apiKey,
        activeDirectory: rootFolderPath(input.mountPath, input.settings, app),
      };
    });
    const { jellyfin } = input;
    const linksJellyfin = jellyfin !== undefined && graph.seerr.includes("jellyfin");
    if (linksJellyfin) {
      relations.push({
        name: "jellyfin-admin",
        reach: reachOf("jellyfin", jellyfin),
        spec: { kind: "jellyfinAdmin", admin: jellyfin.admin },
      });
    }
    const mediaServer: SeerrMediaServer | undefined = linksJellyfin
      ? { kind: "jellyfin", hostname: jellyfin.host, port: jellyfin.port, ...jellyfin.admin }
      : plex !== undefined
        ? {
            kind: "plex",
            hostname: plex.host,
            port: plex.port,
            ...(input.plexToken !== undefined ? { token: input.plexToken } : {}),
            claimGiven: input.plexClaimGiven ?? false,
          }
        : undefined;
    relations.push({
      name: "seerr-services",
      reach: reachOf("seerr", seerr),
      spec: {
        kind: "seerr",
        target: { apiKey: seerr.apiKey },
        services,
        ...(mediaServer ? { mediaServer } : {}),
      },
      // Seerr sends its requests to the arr apps' root folders, and signs in through Jellyfin's administrator.
      after: [
        ...services.map((service) => `${service.kind}-root-folder`),
        ...(linksJellyfin ? ["jellyfin-admin"] : []),
      ],
    });
  }
  return relations;
}
