import type { GatewayDomain } from "../domains";
import { APP_CATALOG, AppDefinition, AppName, MEDIA_SERVERS, MediaServer, PathStyle, ResourceSettings, appsOfStack, defaultPath } from "./catalog";
import type { AppOverride, AppsSettings } from "./settings";

/** One enabled app: catalog defaults with the stack's `charmarr:apps` overrides applied. */
export interface ResolvedApp {
    readonly name: AppName;
    readonly domain: GatewayDomain;
    /** `repository:tag`, always pinned. */
    readonly image: string;
    readonly port: number;
    readonly healthPath: string;
    readonly pathStyle: PathStyle;
    /** Path prefix on the gateway's port 80; undefined for apps served at `/` of their own listener. */
    readonly path?: string;
    readonly servarrApiKey: boolean;
    readonly inboundPeerPorts: readonly number[];
    readonly configSize: string;
    readonly resources: ResourceSettings;
    /** Host names configured beyond the ones the program derives (gateway, Services). */
    readonly extraHostnames: readonly string[];
}

/**
 * The enabled apps of a stack, in catalog order. In core, the media server is the one
 * `charmarr:mediaServer` names (unless it is disabled); the other one never runs.
 */
export function resolveApps(stack: "core" | "downloads", overrides: AppsSettings, mediaServer?: MediaServer): ResolvedApp[] {
    return appsOfStack(stack)
        .filter((name) => isEnabled(name, overrides[name], mediaServer))
        .map((name) => resolveApp(name, APP_CATALOG[name], overrides[name] ?? {}));
}

function isEnabled(name: AppName, override: AppOverride | undefined, mediaServer: MediaServer | undefined): boolean {
    if ((MEDIA_SERVERS as readonly AppName[]).includes(name) && name !== mediaServer) {
        return false;
    }
    return override?.enabled ?? true;
}

function resolveApp(name: AppName, definition: AppDefinition, override: AppOverride): ResolvedApp {
    return {
        name,
        domain: definition.domain,
        image: `${override.image ?? definition.image}:${override.tag ?? definition.tag}`,
        port: definition.port,
        healthPath: definition.healthPath,
        pathStyle: definition.pathStyle,
        path: definition.pathStyle === "root" ? undefined : (override.path ?? defaultPath(name)),
        servarrApiKey: definition.servarrApiKey,
        inboundPeerPorts: definition.inboundPeerPorts,
        configSize: override.configSize ?? definition.configSize,
        extraHostnames: override.hostnames ?? [],
        resources: {
            requests: {
                cpu: override.resources?.requests?.cpu ?? definition.resources.requests.cpu,
                memory: override.resources?.requests?.memory ?? definition.resources.requests.memory,
            },
            limits: { memory: override.resources?.limits?.memory ?? definition.resources.limits.memory },
        },
    };
}

/** Pairs of enabled apps that would share a path on one gateway: the second of each pair loses. */
export function pathConflicts(apps: readonly ResolvedApp[], taken: ReadonlyMap<string, string> = new Map()): { app: ResolvedApp; holder: string }[] {
    const holders = new Map(taken);
    const conflicts: { app: ResolvedApp; holder: string }[] = [];
    for (const app of apps) {
        if (app.path === undefined) {
            continue;
        }
        const key = `${app.domain} ${app.path}`;
        const holder = holders.get(key);
        if (holder) {
            conflicts.push({ app, holder });
        } else {
            holders.set(key, app.name);
        }
    }
    return conflicts;
}
