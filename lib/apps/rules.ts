/** The apps' rules between settings: the chosen media server, gateways to serve them, a path each. */
import type { GatewayDomain } from "../domains";
import type { SettingsIssue } from "../settings";
import { GATEWAY_DOMAINS, GatewaysSettings } from "../ingress/settings";
import { cidrContains, parseCidr, parseIpv4 } from "../net";
import { poolContains } from "../platform/addresses";
import { MEDIA_SERVERS, MediaServer } from "./catalog";
import { ResolvedApp, isServed, pathConflicts, resolveApps } from "./resolve";
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
        params: {
          fix: `pulumi config set charmarr:mediaServer ${server} && pulumi config rm --path 'charmarr:apps.${server}.enabled'`,
        },
      });
    }
  }
  return [...issues, ...appIssues(resolveApps("core", core.apps, core.mediaServer), core.gateways)];
}

/**
 * Every enabled app with a UI needs its domain's gateway (checked when `gateways` is known), and a path of its
 * own on it. `taken` lists paths already used on each gateway by the other stack
 * (`"<domain> <path>"` → app).
 */
export function appIssues(
  apps: readonly ResolvedApp[],
  gateways: Readonly<Partial<Record<GatewayDomain, { enabled: boolean }>>> | undefined,
  taken: ReadonlyMap<string, string> = new Map(),
): SettingsIssue[] {
  const issues: SettingsIssue[] = [];
  for (const app of apps.filter(isServed)) {
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

/**
 * An app with a LoadBalancer Service of its own (Plex) against the gateways, the cluster and the
 * MetalLB pool: its LAN IP is announced like a gateway's, so it must be a free LAN address of the
 * pool, and its tailnet name must be no gateway's.
 */
export function ownLoadBalancerIssues(
  apps: AppsSettings,
  gateways: GatewaysSettings,
  platform: { readonly metallb: { readonly install: boolean; readonly addresses: readonly string[] } },
  cluster: { readonly podCidr: string; readonly serviceCidr: string; readonly lanCidr?: string },
): SettingsIssue[] {
  return Object.entries(apps).flatMap(([name, override]) => {
    const issues: SettingsIssue[] = [];
    const lanIp = override?.lanIp;
    const address = lanIp === undefined ? undefined : parseIpv4(lanIp);
    if (lanIp !== undefined && address !== undefined) {
      const path = ["apps", name, "lanIp"];
      const gateway = GATEWAY_DOMAINS.find((domain) => gateways[domain].enabled && gateways[domain].lanIp === lanIp);
      const inCluster = (
        [
          ["podCidr", cluster.podCidr],
          ["serviceCidr", cluster.serviceCidr],
        ] as const
      ).find(([, range]) => {
        const block = parseCidr(range);
        return block !== undefined && cidrContains(block, address);
      });
      const lan = cluster.lanCidr === undefined ? undefined : parseCidr(cluster.lanCidr);
      if (gateway !== undefined) {
        issues.push({
          path,
          message: `${lanIp} is also the ${gateway} gateway's LAN IP; ${name}'s own Service needs an address of its own (MetalLB gives one Service per IP)`,
          params: { suggest: "<a free LAN address>" },
        });
      } else if (inCluster !== undefined) {
        issues.push({
          path,
          message: `${lanIp} lies in the cluster's ${inCluster[0]} ${inCluster[1]}; it must be a free address on your LAN`,
          params: { suggest: "<a free LAN address>" },
        });
      } else if (lan !== undefined && !cidrContains(lan, address)) {
        issues.push({
          path,
          message: `${lanIp} is outside lanCidr ${cluster.lanCidr}; MetalLB announces it on your LAN, so it must belong to it`,
          params: { suggest: "<a free LAN address>" },
        });
      } else if (platform.metallb.install && !poolContains(platform.metallb.addresses, lanIp)) {
        issues.push({
          path,
          message: `${lanIp} is outside the MetalLB pool (charmarr:platform.metallb.addresses = ${platform.metallb.addresses.join(", ")}), so MetalLB would never assign it`,
          params: { suggest: "<an address of the pool>" },
        });
      }
    }
    const hostname = override?.tailnetHostname;
    const taken = GATEWAY_DOMAINS.find(
      (domain) =>
        gateways[domain].enabled &&
        gateways[domain].tailscale.expose &&
        gateways[domain].tailscale.hostname === hostname,
    );
    if (hostname !== undefined && taken !== undefined) {
      issues.push({
        path: ["apps", name, "tailnetHostname"],
        message: `"${hostname}" is also the ${taken} gateway's tailnet name; each is its own tailnet machine`,
        params: { suggest: `charmarr-${name}` },
      });
    }
    return issues;
  });
}
