/** The apps' rules between settings: the chosen media server, gateways to serve them, a path each. */
import type { GatewayDomain } from "../domains";
import type { SettingsIssue } from "../settings";
import { MEDIA_SERVERS, MediaServer } from "./catalog";
import { ResolvedApp, pathConflicts, resolveApps } from "./resolve";
import type { AppsSettings } from "./settings";

/** The rules between `charmarr:apps`, `charmarr:mediaServer` and `charmarr:gateways` of the core stack. */
export function coreAppIssues(core: {
    apps: AppsSettings;
    mediaServer: MediaServer;
    gateways: Readonly<Record<GatewayDomain, { enabled: boolean }>>;
}): SettingsIssue[] {
    const issues: SettingsIssue[] = [];
    for (const server of MEDIA_SERVERS) {
        if (server !== core.mediaServer && core.apps[server]?.enabled === true) {
            issues.push({
                path: ["apps", server, "enabled"],
                message: `${server} is not the chosen media server (charmarr:mediaServer is ${core.mediaServer}); one media server runs at a time`,
                params: { fix: `pulumi config set charmarr:mediaServer ${server} && pulumi config rm --path 'charmarr:apps.${server}.enabled'` },
            });
        }
    }
    return [...issues, ...appIssues(resolveApps("core", core.apps, core.mediaServer), core.gateways)];
}

/**
 * Every enabled app needs its domain's gateway (checked when `gateways` is known), and a path of its
 * own on it. `taken` lists paths already used on each gateway by the other stack
 * (`"<domain> <path>"` → app).
 */
export function appIssues(
    apps: readonly ResolvedApp[],
    gateways: Readonly<Partial<Record<GatewayDomain, { enabled: boolean }>>> | undefined,
    taken: ReadonlyMap<string, string> = new Map(),
): SettingsIssue[] {
    const issues: SettingsIssue[] = [];
    for (const app of apps) {
        if (gateways && !gateways[app.domain]?.enabled) {
            issues.push({
                path: ["apps", app.name],
                message: `${app.name} is enabled but no gateway serves it: it belongs to the ${app.domain} domain and charmarr:gateways.${app.domain}.enabled is false on the core stack`,
                params: {
                    fix: `pulumi config set --path 'charmarr:apps.${app.name}.enabled' false  (or, on the core stack: pulumi config set --path 'charmarr:gateways.${app.domain}.enabled' true)`,
                },
            });
        }
    }
    for (const { app, holder, freePath } of pathConflicts(apps, taken)) {
        issues.push({
            path: ["apps", app.name, "path"],
            message: `${app.name} would be served at ${app.path} on the ${app.domain} gateway, which ${holder} already uses; each app needs a path of its own`,
            params: { suggest: freePath },
        });
    }
    return issues;
}
