import type { IAuthorizationPolicy, IPeerAuthentication } from "../k8s/istioSecurity";
import type { AppName } from "../apps/catalog";
import { ResolvedApp, isServed } from "../apps/resolve";
import { gatewayServiceAccount } from "../ingress/gateways";
import { APP_LABEL } from "../k8s/labels";
import type { GatewayDomain } from "../ingress/settings";

/**
 * Namespace label that puts every pod of the namespace in the ambient mesh (docs/upstream.md#istio-ambient).
 */
export const AMBIENT_LABELS: Readonly<Record<string, string>> = { "istio.io/dataplane-mode": "ambient" };

/**
 * A workload's SPIFFE identity as ztunnel checks it: `<trust domain>/ns/<ns>/sa/<sa>`. The trust
 * domain is the mesh's (`charmarr:platform.istio.trustDomain`), not a constant: with any other
 * than the one Istio issues certificates for, no principal matches and every call is denied.
 */
export function principal(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

export function gatewayPrincipal(trustDomain: string, coreNamespace: string, domain: GatewayDomain): string {
  return principal(trustDomain, coreNamespace, gatewayServiceAccount(domain));
}

/** Whoever may call an app: another app, or a workload of the stack's own that has no UI. */
export type Caller = AppName | "recyclarr";

/**
 * Who calls whom inside the cluster (besides each app's own gateway). Indexers flow both ways
 * between Prowlarr and the arr apps; Seerr asks the arr apps and reads the media server's
 * library; the arr apps tell the media server to rescan after an import (their "Connect"
 * notifications), hand releases to the download clients and poll them; Prowlarr can send a
 * manual grab to a download client. Recyclarr, a workload without a UI, syncs quality profiles and
 * custom formats into Radarr and Sonarr through their APIs. FlareSolverr opens Cloudflare-protected
 * pages for Prowlarr alone (Prowlarr v2.3.5.5327 src/NzbDrone.Core/IndexerProxies/FlareSolverr/FlareSolverr.cs
 * L57, L164: `POST <host>/v1`): a browser anyone could drive would fetch any URL from inside the cluster.
 */
export const CALLERS: Readonly<Record<AppName, readonly Caller[]>> = {
  radarr: ["prowlarr", "seerr", "recyclarr"],
  sonarr: ["prowlarr", "seerr", "recyclarr"],
  lidarr: ["prowlarr"],
  prowlarr: ["radarr", "sonarr", "lidarr"],
  seerr: [],
  plex: ["seerr", "radarr", "sonarr", "lidarr"],
  jellyfin: ["seerr", "radarr", "sonarr", "lidarr"],
  qbittorrent: ["radarr", "sonarr", "lidarr", "prowlarr"],
  sabnzbd: ["radarr", "sonarr", "lidarr", "prowlarr"],
  flaresolverr: ["prowlarr"],
};

/** The apps `caller` calls, by {@link CALLERS}: where a routed app's kill switch must let it reach. */
export function calleesOf(caller: Caller): AppName[] {
  return (Object.keys(CALLERS) as AppName[]).filter((app) => CALLERS[app].includes(caller));
}

/**
 * The port ztunnel carries meshed traffic on between pods (HBONE): a meshed app's outbound
 * connection leaves its pod for the destination pod's 15008, whatever the app port (istio.io, Istio
 * 1.27 docs/ambient/architecture/hbone; docs/upstream.md#istio-ambient).
 */
export const HBONE_PORT = 15008;

/** `STRICT` mTLS for the namespace: no plaintext from outside the mesh. */
export function buildNamespacePeerAuthentication(
  namespace: string,
  labels?: Record<string, string>,
): IPeerAuthentication {
  return {
    apiVersion: "security.istio.io/v1beta1",
    kind: "PeerAuthentication",
    metadata: { name: "default", namespace, labels },
    spec: { mtls: { mode: "STRICT" } },
  };
}

/**
 * The ports of an app that take plaintext from outside the mesh, so from no mesh identity: peers a
 * VPN-routed app gets forwarded over `vxlan0` (docs/upstream.md#istio-ambient), and the port of an
 * app with a LoadBalancer Service of its own (Plex), which LAN clients and the tailnet proxy reach
 * directly. Plex authenticates every request itself (its account tokens).
 */
export function plaintextPorts(app: ResolvedApp): number[] {
  return [...app.inboundPeerPorts, ...(app.ownLoadBalancer !== undefined ? [app.port] : [])];
}

/**
 * The one exception to STRICT: the app's {@link plaintextPorts}. Undefined when the app has none.
 * An app whose peer port follows the VPN's forwarded port (`peerPortFollowsVpn`) cannot name it:
 * it takes plaintext on every port but its own `port` (the WebUI), which stays STRICT.
 */
export function buildPeerPortException(
  app: ResolvedApp,
  namespace: string,
  labels?: Record<string, string>,
): IPeerAuthentication | undefined {
  const ports = plaintextPorts(app);
  if (ports.length === 0 && !app.peerPortFollowsVpn) {
    return undefined;
  }
  return {
    apiVersion: "security.istio.io/v1beta1",
    kind: "PeerAuthentication",
    metadata: { name: `${app.name}-peers`, namespace, labels },
    spec: {
      selector: { matchLabels: { [APP_LABEL]: app.name } },
      ...(app.peerPortFollowsVpn
        ? { mtls: { mode: "PERMISSIVE" as const }, portLevelMtls: { [String(app.port)]: { mode: "STRICT" as const } } }
        : {
            mtls: { mode: "STRICT" as const },
            portLevelMtls: Object.fromEntries(ports.map((port) => [String(port), { mode: "PERMISSIVE" as const }])),
          }),
    },
  };
}

/**
 * An ALLOW policy with no rules: denies every workload of the namespace that no other policy
 * allows, so an app without a policy of its own is closed rather than open.
 */
export function buildDenyByDefault(namespace: string, labels?: Record<string, string>): IAuthorizationPolicy {
  return {
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: { name: "deny-by-default", namespace, labels },
    spec: {},
  };
}

/** The label Istio's gateway controller puts on the pods it deploys for a Gateway. */
export const GATEWAY_POD_LABEL = "gateway.networking.k8s.io/gateway-name";

/**
 * Opens one gateway's own pods to anyone. They are Envoy proxies running in the core namespace,
 * and Envoy enforces the namespace's policies too — the deny-by-default included — so without this
 * every request from the LAN or the tailnet would be refused at the gateway itself. The gateway is
 * the entry point; what it may reach behind it is each app's own policy.
 */
export function buildGatewayEntryPolicy(
  namespace: string,
  gatewayName: string,
  labels?: Record<string, string>,
): IAuthorizationPolicy {
  return {
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: { name: `${gatewayName}-gateway-entry`, namespace, labels },
    spec: { action: "ALLOW", selector: { matchLabels: { [GATEWAY_POD_LABEL]: gatewayName } }, rules: [{}] },
  };
}

/** The gateways' mesh identities by domain, from their references (IngressGateways, or core's outputs). */
export function gatewayPrincipals(
  gateways: Readonly<Partial<Record<GatewayDomain, { principal: string }>>>,
): Partial<Record<GatewayDomain, string>> {
  return Object.fromEntries(Object.entries(gateways).map(([domain, gateway]) => [domain, gateway.principal]));
}

export interface AppPolicyInput {
  readonly app: ResolvedApp;
  readonly namespace: string;
  /** Identities of the gateways by domain; the app's own gateway must be among them. */
  readonly gatewayPrincipals: Readonly<Partial<Record<GatewayDomain, string>>>;
  /** Principals of the enabled apps of both stacks and of the stack's other callers, by caller. */
  readonly identities: Readonly<Partial<Record<Caller, string>>>;
  readonly labels?: Record<string, string>;
}

/**
 * L4-only ALLOW policy for one app (ztunnel enforces it without a waypoint; L7 fields would drop
 * everything): its gateway (an app with no UI has none) and its callers, on its port. Peer ports
 * stay open to anyone, since forwarded peers have no mesh identity; when the peer port follows the
 * VPN's forwarded port, every port but the app's own.
 */
export function buildAppPolicy(input: AppPolicyInput): IAuthorizationPolicy {
  const { app } = input;
  const callers = CALLERS[app.name].flatMap((caller) => {
    const identity = input.identities[caller];
    return identity === undefined ? [] : [identity];
  });
  const gateway = isServed(app) ? input.gatewayPrincipals[app.domain] : undefined;
  if (isServed(app) && gateway === undefined) {
    // The config rules refuse an enabled app whose gateway is disabled, so this is a program error.
    throw new Error(`no ${app.domain} gateway identity for ${app.name}'s authorization policy`);
  }
  const rules: NonNullable<NonNullable<IAuthorizationPolicy["spec"]>["rules"]> = [
    {
      from: [{ source: { principals: [...(gateway !== undefined ? [gateway] : []), ...callers] } }],
      to: [{ operation: { ports: [String(app.port)] } }],
    },
  ];
  const plaintext = plaintextPorts(app);
  if (app.peerPortFollowsVpn) {
    // ztunnel matches `notPorts` (istio.io docs/ambient/usage/l4-policy, "Allowed policy attributes").
    rules.push({ to: [{ operation: { notPorts: [String(app.port)] } }] });
  } else if (plaintext.length > 0) {
    rules.push({ to: [{ operation: { ports: plaintext.map(String) } }] });
  }
  return {
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: { name: app.name, namespace: input.namespace, labels: input.labels },
    spec: { action: "ALLOW", selector: { matchLabels: { [APP_LABEL]: app.name } }, rules },
  };
}

export interface RemoteCallerPolicyInput {
  /** The app called, in another stack's namespace (Radarr in core, called by a routed Prowlarr). */
  readonly app: AppName;
  /** Its port. */
  readonly port: number;
  /** Its namespace, where the policy is created. */
  readonly namespace: string;
  /** The callers' principals, from the namespace the policy's owner runs them in. */
  readonly principals: readonly string[];
  /** The callers' namespace, which names the policy. */
  readonly callerNamespace: string;
  readonly labels?: Record<string, string>;
}

/**
 * An L4 ALLOW policy one stack adds in another stack's namespace for its own callers of an app
 * there: the downloads stack's routed Prowlarr syncing Radarr in core, whose own policy (built
 * before the downloads stack exists) names only core's callers. ztunnel allows a request any ALLOW
 * policy of the workload matches (istio.io, Istio 1.27 docs/reference/config/security/authorization-policy,
 * "the request is allowed if any ALLOW policy matches"), so this adds those principals and nothing else;
 * it goes with the stack that made it.
 */
export function buildRemoteCallerPolicy(input: RemoteCallerPolicyInput): IAuthorizationPolicy {
  return {
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: { name: `${input.app}-from-${input.callerNamespace}`, namespace: input.namespace, labels: input.labels },
    spec: {
      action: "ALLOW",
      selector: { matchLabels: { [APP_LABEL]: input.app } },
      rules: [
        {
          from: [{ source: { principals: [...input.principals] } }],
          to: [{ operation: { ports: [String(input.port)] } }],
        },
      ],
    },
  };
}
