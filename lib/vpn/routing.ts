/**
 * Which apps run routed through the VPN gateway, as data: the download clients always (the catalog
 * places them in the downloads stack), a core app when the downloads stack routes its group
 * (`charmarr:indexers.routeThroughVpn` moves Prowlarr, ../apps/catalog.ts `routedWith`). Every app
 * the downloads stack runs is a routed client: one pod template, one kill switch, one set of
 * admission rules, whatever the app.
 */
import { APP_CATALOG, AppName, ROUTING_GROUPS, RoutingGroup, isAppName, routingGroupOf } from "../apps/catalog";
import type { AppsSettings } from "../apps/settings";
import { ConfigProblem, SettingsIssue, configKey, configRemoveCommand, configSetCommand } from "../settings";
import type { IndexersSettings } from "./settings";

/** The downloads stack's routing settings, by group: `charmarr:<group>.routeThroughVpn`. */
export type RoutingSettings = Readonly<Record<RoutingGroup, IndexersSettings>>;

/** The config key that routes a group: `charmarr:indexers.routeThroughVpn`. */
function routingKey(group: RoutingGroup): string {
  return configKey([group, "routeThroughVpn"]);
}

/** The groups the downloads stack routes. */
export function routedGroups(settings: RoutingSettings): RoutingGroup[] {
  return ROUTING_GROUPS.filter((group) => settings[group].routeThroughVpn);
}

/**
 * Overrides the downloads stack holds for a core app it does not route: they would be ignored,
 * since core runs the app (`charmarr:apps.prowlarr` without `charmarr:indexers.routeThroughVpn`).
 */
export function unroutedOverrideIssues(apps: AppsSettings, settings: RoutingSettings): SettingsIssue[] {
  return (Object.keys(apps) as AppName[]).flatMap((name) => {
    const group = isAppName(name) ? routingGroupOf(name) : undefined;
    if (group === undefined || settings[group].routeThroughVpn) {
      return [];
    }
    return [
      {
        path: ["apps", name],
        message: `${name} runs in the core stack unless ${routingKey(group)} is true, so this stack would ignore its settings`,
        params: {
          fix: `${configSetCommand(routingKey(group), "true")} to run it here, routed through the VPN (docs/vpn.md#indexers-through-the-vpn), or ${configRemoveCommand(configKey(["apps", name]))} and set it on the core stack`,
        },
      },
    ];
  });
}

/**
 * Apps this stack routes while the core stack still runs them (they are among core's mesh
 * identities): both would serve one path on the arr gateway and sync the same apps. Core cannot see
 * this stack's settings (the StackReference reads core, never the other way), so the check runs here,
 * before anything is created; the fix names core's key and the way back.
 */
export function stillInCoreProblems(
  routedApps: readonly AppName[],
  coreApps: readonly string[],
  coreStack: string,
): ConfigProblem[] {
  const stack = coreStack.slice(coreStack.lastIndexOf("/") + 1);
  return routedApps.flatMap((name) => {
    const group = APP_CATALOG[name].routedWith;
    if (group === undefined || !coreApps.includes(name)) {
      return [];
    }
    const coreKey = configKey(["apps", name, "enabled"]);
    return [
      {
        key: routingKey(group),
        problem: `is true, so this stack runs ${name} routed through the VPN, but the core stack "${coreStack}" runs ${name} too (its ${coreKey} is not false); one ${name} runs at a time`,
        fix: `on the core stack: ${configSetCommand(coreKey, "false")} --stack ${stack}, then pulumi up --stack ${stack} (to keep ${name}'s data, move its config volume: docs/vpn.md#indexers-through-the-vpn); or keep it in core: ${configRemoveCommand(routingKey(group))}`,
      },
    ];
  });
}
