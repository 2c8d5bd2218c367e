import type { GatewayDomain } from "../domains";
import {
  APP_CATALOG,
  AppDefinition,
  AppName,
  MEDIA_SERVERS,
  MediaServer,
  PathStyle,
  ResourceSettings,
  RoutingGroup,
  StackName,
  appsOfStack,
  defaultPath,
} from "./catalog";
import type { AppOverride, AppsSettings } from "./settings";

/** One enabled app: catalog defaults with the stack's `charmarr:apps` overrides applied. */
export type ResolvedApp = ResolvedBase & (ResolvedServed | ResolvedUnserved) & (ResolvedStateful | ResolvedStateless);

/** An app its security domain's gateway serves. */
interface ResolvedServed {
  readonly domain: GatewayDomain;
  readonly pathStyle: PathStyle;
}

/** An app with no UI, which only other apps call (FlareSolverr): no gateway, no route, no URL. */
interface ResolvedUnserved {
  readonly domain?: undefined;
  readonly pathStyle?: undefined;
}

/** An app with a config volume claim. */
interface ResolvedStateful {
  /** Where the config volume is mounted (`/config`, Seerr's `/app/config`). */
  readonly configPath: string;
  readonly configSize: string;
}

/** An app that keeps nothing (FlareSolverr). */
interface ResolvedStateless {
  readonly configPath?: undefined;
  readonly configSize?: undefined;
}

/** An enabled app a gateway serves. */
export type ServedApp = ResolvedApp & ResolvedServed;

/** Whether a gateway serves the app (it has a UI); FlareSolverr's callers reach it inside the cluster only. */
export function isServed(app: ResolvedApp): app is ServedApp {
  return app.domain !== undefined;
}

interface ResolvedBase {
  readonly name: AppName;
  /** `repository:tag`, always pinned. */
  readonly image: string;
  readonly port: number;
  readonly healthPath: string;
  /** Path prefix on the gateway's port 80; undefined for apps served at `/` of their own listener, and unserved apps. */
  readonly path?: string;
  readonly servarrApiKey: boolean;
  /** Whether the pod mounts the media library (every app but FlareSolverr). */
  readonly mountsLibrary: boolean;
  /** Unrouted, its egress is the internet only (FlareSolverr's browser): see `browsesUntrustedPages`. */
  readonly internetOnlyWhenUnrouted: boolean;
  /** The fixed user an image that does not take PUID/PGID runs as (Seerr). */
  readonly runAs?: { readonly uid: number; readonly gid: number };
  /** The environment variable the app reads its generated API key from (Seerr's `API_KEY`). */
  readonly apiKeyEnv?: string;
  readonly inboundPeerPorts: readonly number[];
  /**
   * The app's peers arrive on the VPN's forwarded port, which the provider picks and changes at run
   * time (`charmarr:vpn.portForwarding`), instead of on `inboundPeerPorts`: the mesh takes
   * plaintext on every port but `port` (lib/mesh/policies.ts). Set by the downloads stack.
   */
  readonly peerPortFollowsVpn?: true;
  readonly resources: ResourceSettings;
  /** Host names configured beyond the ones the program derives (gateway, Services). */
  readonly extraHostnames: readonly string[];
  /** Served by a LoadBalancer Service of its own (Plex), with these addresses; absent for gateway-served apps. */
  readonly ownLoadBalancer?: {
    /** The LAN IP MetalLB gives it, when pinned. */
    readonly lanIp?: string;
    /** Its machine name on the tailnet, when its domain's gateway is on the tailnet. */
    readonly tailnetHostname: string;
  };
}

/**
 * The enabled apps of a stack, in catalog order. In core, the media server is the one
 * `charmarr:mediaServer` names (unless it is disabled); the other one never runs. `routed` names the
 * groups the downloads stack routes through the VPN (./catalog.ts `stackOf`).
 */
export function resolveApps(
  stack: StackName,
  overrides: AppsSettings,
  mediaServer?: MediaServer,
  routed: readonly RoutingGroup[] = [],
): ResolvedApp[] {
  return appsOfStack(stack, routed)
    .filter((name) => isEnabled(name, overrides, mediaServer))
    .map((name) => resolveApp(name, APP_CATALOG[name], overrides[name] ?? {}));
}

/**
 * Whether the app runs: its `enabled` override, else on, but an app placed with another (FlareSolverr
 * with Prowlarr) follows that app's own default.
 */
function isEnabled(name: AppName, overrides: AppsSettings, mediaServer: MediaServer | undefined): boolean {
  if ((MEDIA_SERVERS as readonly AppName[]).includes(name) && name !== mediaServer) {
    return false;
  }
  const { stack } = APP_CATALOG[name];
  return overrides[name]?.enabled ?? (typeof stack === "string" || isEnabled(stack.with, overrides, mediaServer));
}

function resolveApp(name: AppName, definition: AppDefinition, override: AppOverride): ResolvedApp {
  const served: ResolvedServed | ResolvedUnserved =
    definition.domain !== undefined
      ? {
          domain: definition.domain,
          pathStyle: definition.pathStyle,
          ...(definition.pathStyle === "root" ? {} : { path: override.path ?? defaultPath(name) }),
        }
      : {};
  const config: ResolvedStateful | ResolvedStateless =
    definition.configPath !== undefined
      ? { configPath: definition.configPath, configSize: override.configSize ?? definition.configSize }
      : {};
  return {
    name,
    ...served,
    ...config,
    image: `${override.image ?? definition.image}:${override.tag ?? definition.tag}`,
    port: definition.port,
    healthPath: definition.healthPath,
    servarrApiKey: definition.servarrApiKey,
    mountsLibrary: definition.browsesUntrustedPages !== true,
    internetOnlyWhenUnrouted: definition.browsesUntrustedPages === true,
    ...(definition.runAs !== undefined ? { runAs: definition.runAs } : {}),
    ...(definition.apiKeyEnv !== undefined ? { apiKeyEnv: definition.apiKeyEnv } : {}),
    inboundPeerPorts: definition.inboundPeerPorts,
    extraHostnames: override.hostnames ?? [],
    ...(definition.ownLoadBalancer
      ? {
          ownLoadBalancer: {
            ...(override.lanIp !== undefined ? { lanIp: override.lanIp } : {}),
            tailnetHostname: override.tailnetHostname ?? `charmarr-${name}`,
          },
        }
      : {}),
    resources: {
      requests: {
        cpu: override.resources?.requests?.cpu ?? definition.resources.requests.cpu,
        memory: override.resources?.requests?.memory ?? definition.resources.requests.memory,
      },
      limits: { memory: override.resources?.limits?.memory ?? definition.resources.limits.memory },
    },
  };
}

/** An app whose path another app already holds on the same gateway, and a free path to give it. */
export interface PathConflict {
  /** The app to move: the one whose path was configured, when the other kept its default. */
  readonly app: ServedApp;
  /** Who else is served at that path: an app of this stack, or a description of the other stack's. */
  readonly holder: string;
  /** A path nobody uses on that gateway. */
  readonly freePath: string;
}

/**
 * Enabled apps that would share a path on one gateway. Of two apps of this stack, the one whose
 * path was configured is moved (the other is on its default); `taken` (`"<domain> <path>"` → who)
 * holds the other stack's paths, which this stack cannot move.
 */
export function pathConflicts(
  apps: readonly ResolvedApp[],
  taken: ReadonlyMap<string, string> = new Map(),
): PathConflict[] {
  const routed = apps.filter(isServed).filter((app) => app.path !== undefined);
  const holders = new Map<string, ServedApp | string>(taken);
  const moved: { app: ServedApp; holder: string }[] = [];
  for (const app of routed) {
    const key = `${app.domain} ${app.path}`;
    const holder = holders.get(key);
    if (holder === undefined) {
      holders.set(key, app);
    } else if (
      typeof holder !== "string" &&
      app.path === defaultPath(app.name) &&
      holder.path !== defaultPath(holder.name)
    ) {
      moved.push({ app: holder, holder: app.name });
      holders.set(key, app);
    } else {
      moved.push({ app, holder: typeof holder === "string" ? holder : holder.name });
    }
  }
  const used = new Set([...taken.keys(), ...routed.map((app) => `${app.domain} ${app.path}`)]);
  return moved.map(({ app, holder }) => {
    const candidates = [
      defaultPath(app.name),
      ...Array.from({ length: 98 }, (_, index) => `${defaultPath(app.name)}-${index + 2}`),
    ];
    const freePath = candidates.find((path) => !used.has(`${app.domain} ${path}`)) as string;
    used.add(`${app.domain} ${freePath}`);
    return { app, holder, freePath };
  });
}
