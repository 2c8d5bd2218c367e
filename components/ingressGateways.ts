import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ResolvedApp } from "../lib/apps/resolve";
import { GATEWAY_DOMAINS, GatewayDomain, GatewaysSettings } from "../lib/ingress/settings";
import type { GatewayReference } from "../lib/contract";
import { SHARED_LISTENER, buildGateway, buildGatewayParameters, gatewayListeners } from "../lib/ingress/gateways";
import { gatewayPrincipal } from "../lib/mesh/policies";

export interface IngressGatewaysArgs {
  /** The core namespace: the gateways run here and Istio creates `<gateway>-istio` here. */
  namespace: string;
  /** LAN IP, tailnet exposure and `enabled` per gateway (`charmarr:gateways`). */
  gateways: GatewaysSettings;
  /** The core stack's enabled apps: each root-only app gets a listener of its own on its gateway. */
  apps: readonly ResolvedApp[];
  /** Labels for every Gateway. */
  labels?: Record<string, string>;
  /** Resources that install the Gateway API CRDs and Istio; the Gateways wait for them. */
  crdDependencies?: pulumi.Resource[];
  /**
   * What a gateway on the tailnet waits for besides: the Tailscale operator release, so that
   * `pulumi destroy`, which deletes in reverse dependency order, deletes the Gateway (and with it
   * the Service the operator holds a finalizer on) while the operator still runs.
   */
  tailnetDependencies?: pulumi.Resource[];
  /** The mesh's trust domain, the first part of each gateway's principal. */
  trustDomain: string;
}

/**
 * The arr, media and admin ingress gateways, one Gateway API `Gateway` each with
 * class `istio`. Each admits routes only from namespaces labelled for it (see `routeAccessLabels`).
 */
export class IngressGateways extends pulumi.ComponentResource {
  /** The Gateway of each enabled domain. */
  readonly gateways: Partial<Record<GatewayDomain, k8s.apiextensions.CustomResource>>;
  /** What an app's route needs to attach, and what the downloads stack reads through the contract. */
  readonly references: Partial<Record<GatewayDomain, GatewayReference>>;

  constructor(name: string, args: IngressGatewaysArgs, opts?: pulumi.ComponentResourceOptions) {
    super("charmarr:ingress:IngressGateways", name, {}, opts);
    this.gateways = {};
    this.references = {};
    for (const domain of GATEWAY_DOMAINS) {
      const settings = args.gateways[domain];
      if (!settings.enabled) {
        continue;
      }
      const domainApps = args.apps.filter((app) => app.domain === domain);
      const spec = buildGateway({
        domain,
        namespace: args.namespace,
        settings,
        listeners: gatewayListeners(domain, args.apps),
        labels: args.labels,
      });
      // Istio reads the parameters when it deploys the gateway: they exist first.
      const parameters = new k8s.core.v1.ConfigMap(
        `${name}-${domain}-parameters`,
        buildGatewayParameters(domain, args.namespace, args.labels),
        { parent: this },
      );
      this.gateways[domain] = new k8s.apiextensions.CustomResource(
        `${name}-${domain}`,
        { ...spec },
        {
          parent: this,
          dependsOn: [
            parameters,
            ...(args.crdDependencies ?? []),
            ...(settings.tailscale.expose ? (args.tailnetDependencies ?? []) : []),
          ],
        },
      );
      this.references[domain] = {
        name: domain,
        namespace: args.namespace,
        sectionName: SHARED_LISTENER.name,
        port: SHARED_LISTENER.port,
        principal: gatewayPrincipal(args.trustDomain, args.namespace, domain),
        ...(settings.lanIp !== undefined ? { lanIp: settings.lanIp } : {}),
        ...(settings.tailscale.expose ? { tailnetHostname: settings.tailscale.hostname } : {}),
        paths: Object.fromEntries(domainApps.flatMap((app) => (app.path === undefined ? [] : [[app.path, app.name]]))),
      };
    }
    this.registerOutputs({ gateways: Object.keys(this.gateways) });
  }
}
