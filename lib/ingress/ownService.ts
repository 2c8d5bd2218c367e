import type { IService } from "kubernetes-models/v1/Service";
import type { ResolvedApp } from "../apps/resolve";
import type { GatewaySettings } from "./settings";
import { gatewayServiceAnnotations } from "./gateways";

/** The name of an app's own LoadBalancer Service (its ClusterIP Service keeps the app's name). */
export function ownServiceName(app: ResolvedApp): string {
  return `${app.name}-lan`;
}

/**
 * The LAN and tailnet exposure of an app served by a Service of its own (Plex): its pinned LAN IP,
 * and its domain's gateway's tailnet exposure and tags under a machine name of its own, so the
 * tailnet grants of its security domain reach it.
 */
export function ownServiceExposure(app: ResolvedApp, domainGateway: GatewaySettings): GatewaySettings {
  const own = app.ownLoadBalancer;
  if (own === undefined) {
    throw new Error(`${app.name} is served by its gateway, not by a Service of its own`);
  }
  return {
    enabled: true,
    ...(own.lanIp !== undefined ? { lanIp: own.lanIp } : {}),
    tailscale: { ...domainGateway.tailscale, hostname: own.tailnetHostname },
  };
}

/**
 * A TCP LoadBalancer Service straight to the app's pods: TLS passes through untouched (Plex's
 * plex.direct certificate), `externalTrafficPolicy: Local` keeps LAN clients' own source addresses
 * (kube-proxy does not SNAT them) so Plex counts them as local, and the same MetalLB and Tailscale
 * annotations as a gateway's Service. Single-stack IPv4 like the gateways': the pinned address is IPv4.
 */
export function buildOwnService(
  app: ResolvedApp,
  namespace: string,
  exposure: GatewaySettings,
  selector: Record<string, string>,
  labels: Record<string, string>,
): IService {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: ownServiceName(app), namespace, labels, annotations: gatewayServiceAnnotations(exposure) },
    spec: {
      type: "LoadBalancer",
      externalTrafficPolicy: "Local",
      ipFamilyPolicy: "SingleStack",
      ipFamilies: ["IPv4"],
      selector,
      ports: [{ name: "tcp", port: app.port, targetPort: app.port, protocol: "TCP" }],
    },
  };
}

/**
 * What Plex publishes to plex.tv for its clients (customConnections) and which networks it counts
 * as local (LanNetworks). The LAN URL is https on the pinned IP: Plex clients reach an IP address
 * published this way through its `<ip>.<hash>.plex.direct` name, so the certificate is Plex's own
 * and valid. The tailnet URL is the MagicDNS name over http: no plex.direct name exists for it, the
 * tailnet's WireGuard encrypts it, and clients take it where they allow insecure connections.
 */
export function ownServiceAdvertised(
  app: ResolvedApp,
  exposure: GatewaySettings,
  lanCidr: string | undefined,
): { urls: string[]; lanNetworks: string[] } {
  return {
    urls: [
      ...(exposure.lanIp !== undefined ? [`https://${exposure.lanIp}:${app.port}`] : []),
      ...(exposure.tailscale.expose ? [`http://${exposure.tailscale.hostname}:${app.port}`] : []),
    ],
    lanNetworks: lanCidr !== undefined ? [lanCidr] : [],
  };
}
