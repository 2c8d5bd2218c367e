import { ResolvedApp, ServedApp, isServed } from "../apps/resolve";
import type { GatewayDomain } from "./settings";
import { appListener } from "./gateways";

/** Where an app answers: on the LAN and on the tailnet, when its gateway has an address there. */
export interface AppUrls {
  /** Through the gateway's pinned LAN IP; absent when MetalLB picks the address. */
  readonly lan?: string;
  /** Through the gateway's tailnet machine (MagicDNS name); absent when the gateway is LAN-only. */
  readonly tailnet?: string;
}

/** What the URLs need of a gateway: its pinned LAN IP and tailnet name (a GatewayReference). */
export interface GatewayAddresses {
  readonly lanIp?: string;
  readonly tailnetHostname?: string;
}

/**
 * The path a user opens: the app's prefix (with the trailing slash qBittorrent's rewrite needs,
 * since the bare prefix only redirects), or `/` of an app's own listener.
 */
function entryPath(app: ServedApp): string {
  if (app.path === undefined) {
    return "/";
  }
  return app.pathStyle === "rewrite" ? `${app.path}/` : app.path;
}

/** Each served app's LAN and tailnet URL on its gateway: the stack output `urls`. An app with no UI (FlareSolverr) has none. */
export function appUrls(
  apps: readonly ResolvedApp[],
  gateways: Readonly<Partial<Record<GatewayDomain, GatewayAddresses>>>,
): Record<string, AppUrls> {
  return Object.fromEntries(
    apps.filter(isServed).map((app) => {
      const own = app.ownLoadBalancer;
      if (own !== undefined) {
        // Its own Service: Plex's web app, on its own LAN IP and tailnet machine.
        const url = (host: string) => `http://${host}:${app.port}/web`;
        const exposed = gateways[app.domain]?.tailnetHostname !== undefined;
        return [
          app.name,
          {
            ...(own.lanIp !== undefined ? { lan: url(own.lanIp) } : {}),
            ...(exposed ? { tailnet: url(own.tailnetHostname) } : {}),
          },
        ];
      }
      const gateway = gateways[app.domain];
      const { port } = appListener(app);
      const url = (host: string) => `http://${host}${port === 80 ? "" : `:${port}`}${entryPath(app)}`;
      return [
        app.name,
        {
          ...(gateway?.lanIp !== undefined ? { lan: url(gateway.lanIp) } : {}),
          ...(gateway?.tailnetHostname !== undefined ? { tailnet: url(gateway.tailnetHostname) } : {}),
        },
      ];
    }),
  );
}
