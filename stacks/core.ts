import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IngressGateways } from "../components/ingressGateways";
import { MediaApp, MediaAppArgs } from "../components/mediaApp";
import { MeshEnrollment } from "../components/meshEnrollment";
import { Platform } from "../components/platform";
import { Tailnet } from "../components/tailnet";
import { ResolvedApp, ServedApp, isServed } from "../lib/apps/resolve";
import type { CoreConfig } from "../lib/config";
import type { KubernetesConnection } from "../lib/platform/kubeConnection";
import { GATEWAY_DOMAINS, GatewayDomain } from "../lib/ingress/settings";
import { CORE_CONTRACT_VERSION, CoreStackExports } from "../lib/contract";
import { gatewayListeners, routeAccessLabels } from "../lib/ingress/gateways";
import { listenerFor } from "../lib/ingress/routes";
import { AppUrls, appUrls } from "../lib/ingress/urls";
import { ownServiceAdvertised, ownServiceExposure } from "../lib/ingress/ownService";
import { charmarrLabels } from "../lib/k8s/labels";
import { meshNamespaceLabels } from "../lib/mesh/enrollment";
import { gatewayPrincipals } from "../lib/mesh/policies";
import { buildTailnetPolicy, policyFileJson } from "../lib/tailnet";
import { Relations } from "../components/relations";
import { Recyclarr } from "../components/recyclarr";
import { API_KEY_SECRET_KEY, apiKeySecretName } from "../lib/apps/workload";
import { syncedApps } from "../lib/recyclarr/settings";
import {
  ARR_APPS,
  ArrApp,
  KeyedEndpoint,
  isArrApp,
  rootFolderPath,
  PLANNING_SECRET,
  RelationGraph,
  appEndpoint,
  coreGraph,
  endpointUrl,
  coreRelations,
  specsByName,
} from "../lib/relations/plan";
import type { Offer } from "../lib/contract";

/** The core stack: arr apps, the media server and the three ingress gateways, in one namespace. */
export function coreProgram(
  config: CoreConfig,
  connection: KubernetesConnection,
): CoreStackExports & CorePlatformOutputs & CoreAppOutputs {
  // First the cluster add-ons: everything that needs their CRDs or controllers (Gateways,
  // HTTPRoutes, AuthorizationPolicies, PeerAuthentication) depends on what its kind needs of them.
  const platform = installPlatform(config);

  const namespace = new k8s.core.v1.Namespace(
    "core-namespace",
    {
      // In the ambient mesh, and allowed to attach routes to all three gateways.
      metadata: {
        name: config.namespace,
        labels: { ...charmarrLabels("core"), ...meshNamespaceLabels(), ...routeAccessLabels(GATEWAY_DOMAINS) },
      },
    },
    // After the Tailscale operator when this stack installs it, so that `pulumi destroy` empties
    // the namespace, tailnet-exposed Services and their finalizers included, before the operator goes.
    { dependsOn: platform.dependencies.exposedNamespace },
  );
  const apps = deployCoreApps(config, namespace, platform.dependencies, connection);

  return {
    contractVersion: CORE_CONTRACT_VERSION,
    cluster: config.cluster,
    mesh: { trustDomain: config.platform.istio.trustDomain },
    namespace: namespace.metadata.name,
    tailnetPolicy: platform.tailnetPolicy,
    ...apps,
  };
}

/** Core outputs about the apps: the contract's gateway, identity, media and offer fields, plus the API keys and relations. */
type CoreAppOutputs = Pick<CoreStackExports, "gateways" | "identities" | "media" | "offers"> & {
  /** Generated Servarr API keys by app (secret), for whatever the relations do not wire. */
  apiKeys: pulumi.Output<Record<string, string>>;
  /** Each core app's LAN and tailnet URL (`pulumi stack output urls`). */
  urls: Record<string, AppUrls>;
  /** What this stack wired: `{ "<app>": ["<related app>", ...] }`. */
  relations: RelationGraph;
  /** Recyclarr's CronJob and the command that runs a sync now, when `charmarr:recyclarr.enabled`. */
  recyclarr?: { cronJob: pulumi.Output<string>; schedule: string; manualRun: string };
};

/** The gateways, every enabled core app with its route, and the namespace's mTLS and authorization. */
function deployCoreApps(
  config: CoreConfig,
  namespace: k8s.core.v1.Namespace,
  prerequisites: Platform["dependencies"],
  connection: KubernetesConnection,
): CoreAppOutputs {
  const labels = charmarrLabels("core");
  const ingress = new IngressGateways(
    "ingress",
    {
      namespace: config.namespace,
      gateways: config.gateways,
      apps: config.apps,
      labels,
      trustDomain: config.platform.istio.trustDomain,
      crdDependencies: prerequisites.gateways,
      tailnetDependencies: prerequisites.tailnetGateways,
    },
    { dependsOn: [namespace] },
  );
  const mediaApps = config.apps.map(
    (app) =>
      new MediaApp(
        app.name,
        {
          app,
          namespace: config.namespace,
          labels,
          storageClassName: config.storage.className,
          library: config.storage.library,
          environment: config.appEnvironment,
          libraryFolders: libraryFolders(config, app.name),
          // The LinuxServer image claims an unclaimed server with PLEX_CLAIM at start (docker-plex
          // root/etc/s6-overlay/s6-rc.d/init-plex-claim/run).
          ...(app.name === "plex" && config.plexClaim !== undefined
            ? { secretEnv: { PLEX_CLAIM: config.plexClaim } }
            : {}),
          trustDomain: config.platform.istio.trustDomain,
          // An app with no UI (FlareSolverr) gets neither: only other apps call it, inside the cluster.
          ...(isServed(app)
            ? app.ownLoadBalancer !== undefined
              ? { ownService: ownService(config, app, prerequisites) }
              : { listener: listenerFor(app, config.namespace) }
            : {}),
          crdDependencies: [...prerequisites.routes, ...Object.values(ingress.gateways)],
          // The core stack runs no routed app: its kill switch fences it in the downloads stack.
          ...(app.internetOnlyWhenUnrouted ? { internetOnlyEgress: config.cluster } : {}),
        },
        { dependsOn: [namespace] },
      ),
  );
  const identities = Object.fromEntries(
    mediaApps.map((mediaApp, index) => [config.apps[index].name, mediaApp.principal]),
  );
  const recyclarr = deployRecyclarr(config, namespace);
  new MeshEnrollment(
    "mesh",
    {
      namespace: config.namespace,
      gatewayPrincipals: gatewayPrincipals(ingress.references),
      gateways: Object.keys(ingress.gateways),
      apps: config.apps,
      identities: { ...identities, ...(recyclarr ? { recyclarr: recyclarr.principal } : {}) },
      labels,
      crdDependencies: prerequisites.meshPolicies,
    },
    { dependsOn: [namespace] },
  );
  const apiKeys = Object.fromEntries(
    mediaApps.flatMap((mediaApp, index) => (mediaApp.apiKey ? [[config.apps[index].name, mediaApp.apiKey]] : [])),
  );
  const apps = Object.fromEntries(mediaApps.map((mediaApp, index) => [config.apps[index].name, mediaApp]));
  const offers = relateCoreApps(config, apps, connection);
  return {
    gateways: ingress.references,
    identities,
    media: {
      ...(config.storage.className !== undefined ? { storageClassName: config.storage.className } : {}),
      library: config.storage.library,
      environment: config.appEnvironment,
    },
    apiKeys: pulumi.secret(pulumi.output(apiKeys)),
    urls: appUrls(config.apps, ingress.references),
    offers: offers.offers,
    relations: offers.graph,
    ...(recyclarr
      ? {
          recyclarr: {
            cronJob: recyclarr.cronJob.metadata.name,
            schedule: config.recyclarr.schedule,
            manualRun: recyclarr.manualRun,
          },
        }
      : {}),
  };
}

/** Recyclarr's CronJob, syncing into the apps the settings name templates for, when enabled. */
function deployRecyclarr(config: CoreConfig, namespace: k8s.core.v1.Namespace): Recyclarr | undefined {
  if (!config.recyclarr.enabled) {
    return undefined;
  }
  const targets = Object.fromEntries(
    syncedApps(config.recyclarr).flatMap((name) => {
      const app = config.apps.find((candidate) => candidate.name === name);
      if (app === undefined) {
        return [];
      }
      return [
        [
          name,
          {
            url: endpointUrl(appEndpoint(app, config.namespace, config.cluster.domain)),
            apiKeySecret: { name: apiKeySecretName(app), key: API_KEY_SECRET_KEY },
          },
        ],
      ];
    }),
  );
  return new Recyclarr(
    "recyclarr",
    {
      namespace: config.namespace,
      settings: config.recyclarr,
      targets,
      trustDomain: config.platform.istio.trustDomain,
      labels: charmarrLabels("core", "recyclarr"),
    },
    { dependsOn: [namespace] },
  );
}

/** The arr app's root folder, when the relations wire it: it must exist before the app accepts it. */
function libraryFolders(config: CoreConfig, app: string): string[] {
  return config.relations.enabled && isArrApp(app)
    ? [rootFolderPath(config.storage.library.mountPath, config.relations, app)]
    : [];
}

/**
 * Core's relations (root folders, Prowlarr's applications and indexer proxy, Seerr's services) and the offers the
 * downloads stack relates to: each arr app's in-cluster address and API key, a secret output.
 */
function relateCoreApps(
  config: CoreConfig,
  apps: Record<string, MediaApp>,
  connection: KubernetesConnection,
): { offers: pulumi.Output<Record<string, Offer>>; graph: RelationGraph } {
  const endpoint = (name: string) => {
    const app = config.apps.find((candidate) => candidate.name === name);
    return app && appEndpoint(app, config.namespace, config.cluster.domain);
  };
  const keyed = (name: string, key: string | undefined): KeyedEndpoint | undefined => {
    const found = endpoint(name);
    return found && key !== undefined ? { ...found, apiKey: key } : undefined;
  };
  const keys = pulumi.output(
    Object.fromEntries(Object.entries(apps).flatMap(([name, app]) => (app.apiKey ? [[name, app.apiKey]] : []))),
  ) as pulumi.Output<Record<string, string>>;
  const seerrKey: pulumi.Output<string | undefined> =
    apps.seerr?.credentials?.apply((credentials) => credentials.apiKey) ?? pulumi.output(undefined);
  const plexToken: pulumi.Output<string | undefined> = config.plexToken ?? pulumi.output(undefined);
  const jellyfinAdmin: pulumi.Output<Record<string, string> | undefined> =
    apps.jellyfin?.credentials ?? pulumi.output(undefined);
  const relations = (
    keys: Record<string, string>,
    seerrKey: string | undefined,
    plexToken: string | undefined,
    admin: Record<string, string> | undefined,
  ) =>
    coreRelations({
      arr: Object.fromEntries(
        ARR_APPS.flatMap((name) => {
          const offered = keyed(name, keys[name]);
          return offered ? [[name, offered]] : [];
        }),
      ) as Partial<Record<ArrApp, KeyedEndpoint>>,
      prowlarr: keyed("prowlarr", keys.prowlarr),
      flaresolverr: endpoint("flaresolverr"),
      seerr: keyed("seerr", seerrKey),
      // Only the chosen media server is among the enabled apps.
      plex: endpoint("plex"),
      plexToken,
      plexClaimGiven: config.plexClaim !== undefined,
      jellyfin: ((found) =>
        found && admin ? { ...found, admin: { username: admin.username, password: admin.password } } : undefined)(
        endpoint("jellyfin"),
      ),
      mountPath: config.storage.library.mountPath,
      settings: config.relations,
    });
  const placeholder = (names: readonly string[]) => Object.fromEntries(names.map((name) => [name, PLANNING_SECRET]));
  const planned = relations(
    placeholder(Object.keys(apps).filter((name) => apps[name].apiKey)),
    apps.seerr?.credentials ? PLANNING_SECRET : undefined,
    config.plexToken ? PLANNING_SECRET : undefined,
    apps.jellyfin?.credentials ? { username: PLANNING_SECRET, password: PLANNING_SECRET } : undefined,
  );
  new Relations("relations", {
    planned,
    specs: pulumi
      .all([keys, seerrKey, plexToken, jellyfinAdmin])
      .apply(([resolvedKeys, seerr, token, admin]) => specsByName(relations(resolvedKeys, seerr, token, admin))),
    retry: {
      attempts: config.relations.readiness.attempts,
      intervalMs: config.relations.readiness.intervalSeconds * 1000,
    },
    connection,
    apps: Object.fromEntries(Object.entries(apps).map(([name, app]) => [name, app.statefulSet])),
  });
  const offers = keys.apply((resolvedKeys) =>
    Object.fromEntries(
      ARR_APPS.flatMap((name) => {
        const offered = keyed(name, resolvedKeys[name]);
        const offer: Offer | undefined = offered && {
          ...offered,
          rootFolder: rootFolderPath(config.storage.library.mountPath, config.relations, name),
        };
        return offer ? [[name, offer]] : [];
      }),
    ),
  );
  const present = config.apps.map((app) => app.name);
  return { offers: pulumi.secret(offers), graph: coreGraph(present, config.relations, config.plexToken !== undefined) };
}

/** The Service of its own an app like Plex gets: its exposure, what it publishes, what it waits for. */
function ownService(
  config: CoreConfig,
  app: ServedApp,
  prerequisites: Platform["dependencies"],
): NonNullable<MediaAppArgs["ownService"]> {
  const exposure = ownServiceExposure(app, config.gateways[app.domain]);
  return {
    exposure,
    advertised: ownServiceAdvertised(app, exposure, config.cluster.lanCidr),
    dependencies: prerequisites.exposedNamespace,
  };
}

/** Core outputs beyond the downloads contract. */
export interface CorePlatformOutputs {
  /** The generated tailnet policy file (JSON): paste it into the admin console unless acl.manage applies it. */
  tailnetPolicy: string;
}

/** The cluster add-ons `charmarr:platform` switches on, and the tailnet with its generated policy. */
function installPlatform(config: CoreConfig): { dependencies: Platform["dependencies"]; tailnetPolicy: string } {
  const { tailscale } = config.platform;
  const policy = buildTailnetPolicy({
    gateways: config.gateways,
    groups: tailscale.acl.groups,
    listenerPorts: gatewayListenerPorts(config.apps),
  });
  const tailnet =
    tailscale.acl.manage || tailscale.operator.install
      ? new Tailnet("tailnet", {
          policy,
          managePolicy: tailscale.acl.manage,
          createOperatorClient: tailscale.operator.install,
        })
      : undefined;
  const platform = new Platform("platform", {
    settings: config.platform,
    clusterDomain: config.cluster.domain,
    labels: charmarrLabels("core", "platform"),
    operatorClient: tailnet?.operatorClient,
  });
  return { dependencies: platform.dependencies, tailnetPolicy: policyFileJson(policy) };
}

/** Each gateway's listener ports, for the tailnet grants. */
function gatewayListenerPorts(apps: readonly ResolvedApp[]): Record<GatewayDomain, number[]> {
  // An app with a Service of its own (Plex) is a machine of its domain's too, under the same tags.
  return Object.fromEntries(
    GATEWAY_DOMAINS.map((domain) => [
      domain,
      [
        ...gatewayListeners(domain, apps).map((listener) => listener.port),
        ...apps.filter((app) => app.domain === domain && app.ownLoadBalancer !== undefined).map((app) => app.port),
      ],
    ]),
  ) as Record<GatewayDomain, number[]>;
}
