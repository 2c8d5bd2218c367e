import * as k8s from "@pulumi/kubernetes";
import { AppUrls, appUrls } from "../lib/ingress/urls";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterFacts } from "../lib/cluster/settings";
import { DownloadsConfig, coreNamespaceRename, problemsAgainstCore, throwIfProblems } from "../lib/config";
import { configSetCommand } from "../lib/settings";
import { downloadFolderProblems } from "../lib/relations/settings";
import { CoreStackOutputs, GatewayReference, readCoreOutputs } from "../lib/contract";
import { MediaApp } from "../components/mediaApp";
import { MeshEnrollment, RemoteCallerPolicies } from "../components/meshEnrollment";
import { APP_CATALOG, domainsOfStack, isAppName } from "../lib/apps/catalog";
import { appSelector } from "../lib/apps/workload";
import { isServed } from "../lib/apps/resolve";
import { routeAccessLabels } from "../lib/ingress/gateways";
import { MeshNamespace, OutOfMeshNamespace, meshEnrollmentProblems, meshNamespaceLabels } from "../lib/mesh/enrollment";
import { HBONE_PORT, RemoteCallerPolicyInput, calleesOf, gatewayPrincipals } from "../lib/mesh/policies";
import { APP_LABEL } from "../lib/k8s/labels";
import { charmarrLabels } from "../lib/k8s/labels";
import { KillSwitch } from "../components/killSwitch";
import { VpnEgress } from "../components/vpnEgress";
import { ClusterCallee, calleeEgressRules, killSwitchWarnings } from "../lib/vpn/killSwitch";
import { routedGroups } from "../lib/vpn/routing";
import { Relations } from "../components/relations";
import type { KubernetesConnection } from "../lib/platform/kubeConnection";
import {
  ARR_APPS,
  AppEndpoint,
  downloadPath,
  ArrApp,
  DownloadClients,
  KeyedEndpoint,
  PLANNING_SECRET,
  RelationGraph,
  appEndpoint,
  clientDownloadFolders,
  downloadsGraph,
  isDownloadClient,
  downloadsRelations,
  specsByName,
} from "../lib/relations/plan";
import type { AppName } from "../lib/apps/catalog";
import { ROUTED_NAMESPACE_POD_SECURITY } from "../lib/vpn/client";
import type { VpnCredentialName } from "../lib/vpn/providers";
import { AdmissionPolicies } from "../components/admissionPolicies";
import { vpnNamespacePolicies } from "../lib/admission/vpn";
import { CREDENTIAL_KEYS, credentialsSecretName, libraryHostPath } from "../lib/apps/workload";
import type { ResolvedApp } from "../lib/apps/resolve";
import { PORT_FORWARDING_APP } from "../lib/vpn/portForward";

export interface DownloadsStackExports {
  /** The core stack this stack was deployed against. */
  coreStack: string;
  /** Cluster facts as read from the core stack. */
  cluster: ClusterFacts;
  /** The core stack's namespace, as read from it. */
  coreNamespace: string;
  /** Namespace of the download clients. */
  namespace: pulumi.Input<string>;
  /** FQDN of the VPN gateway's headless Service, which routed clients resolve. */
  vpnGateway: string;
  /** Each app's LAN and tailnet URL on core's gateways (Prowlarr's too when indexers are routed). */
  urls: Record<string, AppUrls>;
  /**
   * What this stack wired: `{ "<arr app>": ["qbittorrent", "sabnzbd"] }`, and
   * `"prowlarr": [<arr apps>]` when Prowlarr runs here.
   */
  relations: RelationGraph;
  /** Generated Servarr API keys of this stack's apps (Prowlarr's, when it runs here), a secret. */
  apiKeys: pulumi.Output<Record<string, string>>;
}

/**
 * The stack's enabled apps; with `vpn.portForwarding`, qBittorrent's peers arrive on the VPN's
 * forwarded port, which changes at run time.
 */
function routedApps(config: DownloadsConfig): ResolvedApp[] {
  return config.apps.map((app) =>
    config.vpn.portForwarding && app.name === PORT_FORWARDING_APP ? { ...app, peerPortFollowsVpn: true } : app,
  );
}

/**
 * The routed apps — the download clients, and Prowlarr when indexers are routed: each routed through
 * the VPN gateway with its kill switch, served on core's gateway of its domain, in the mesh with L4
 * authorization, reaching inside the cluster only the apps it calls.
 */
function deployRoutedApps(
  config: DownloadsConfig,
  core: CoreStackOutputs,
  namespace: k8s.core.v1.Namespace,
  egress: VpnEgress,
  connection: KubernetesConnection,
): { graph: RelationGraph; apiKeys: pulumi.Output<Record<string, string>> } {
  const labels = charmarrLabels("downloads");
  const routed = routedApps(config);
  const clients = routed.map((app) => {
    // problemsAgainstCore has refused any app whose gateway core does not run; an app with no UI
    // (FlareSolverr) has none.
    const gateway = isServed(app) ? (core.gateways[app.domain] as GatewayReference) : undefined;
    const serviceNames = [
      app.name,
      `${app.name}.${config.namespace}`,
      `${app.name}.${config.namespace}.svc`,
      `${app.name}.${config.namespace}.svc.${core.cluster.domain}`,
    ];
    // The kill switch exists before the workload it guards: no client pod ever runs unfenced.
    const killSwitch = config.vpn.killSwitch.unsafeDisable
      ? undefined
      : new KillSwitch(
          app.name,
          {
            namespace: config.namespace,
            podSelector: appSelector({ app, labels }),
            gateway: egress.gatewayPeer,
            cluster: core.cluster,
            allowLan: config.vpn.killSwitch.allowLan,
            extraRules: calleeEgressRules(callees(app.name, config, core), HBONE_PORT),
            labels,
          },
          { dependsOn: [namespace, ...egress.routedDependencies] },
        );
    const downloadFolders = isDownloadClient(app.name)
      ? clientDownloadFolders(core.media.library.mountPath, config.relations, app.name)
      : undefined;
    const client = new MediaApp(
      app.name,
      {
        app,
        namespace: config.namespace,
        labels,
        storageClassName: core.media.storageClassName,
        library: core.media.library,
        environment: core.media.environment,
        // Each arr app's save path, so the arr app can read it from the first download on, and the
        // client's own folders, which it writes as PUID.
        libraryFolders: [
          ...(config.relations.enabled && downloadFolders
            ? ARR_APPS.filter((arr) => core.offers[arr]).map((arr) =>
                downloadPath(core.media.library.mountPath, config.relations, arr),
              )
            : []),
          ...(downloadFolders ? [downloadFolders.complete, downloadFolders.incomplete] : []),
        ],
        ...(downloadFolders ? { downloadFolders } : {}),
        trustDomain: core.mesh.trustDomain,
        hostnames: [gateway?.lanIp, gateway?.tailnetHostname, ...serviceNames, ...app.extraHostnames].filter(
          (name): name is string => name !== undefined,
        ),
        ...(gateway !== undefined && isServed(app)
          ? {
              listener: {
                gateway: app.domain,
                namespace: gateway.namespace,
                sectionName: gateway.sectionName,
                port: gateway.port,
              },
            }
          : {}),
        podTemplate: (template) =>
          egress.routePodTemplate(
            template,
            app.peerPortFollowsVpn
              ? {
                  image: app.image,
                  webUiPort: app.port,
                  credentials: {
                    secret: credentialsSecretName(app),
                    usernameKey: CREDENTIAL_KEYS.username,
                    passwordKey: CREDENTIAL_KEYS.password,
                  },
                }
              : undefined,
          ),
        workloadDependencies: [...egress.routedDependencies, ...(killSwitch ? [killSwitch.policy] : [])],
      },
      { dependsOn: [namespace] },
    );
    return client;
  });
  new MeshEnrollment(
    "mesh",
    {
      namespace: config.namespace,
      gatewayPrincipals: gatewayPrincipals(core.gateways),
      apps: routed,
      identities: {
        ...core.identities,
        ...Object.fromEntries(clients.map((client, index) => [routed[index].name, client.principal])),
      },
      labels,
    },
    { dependsOn: [namespace] },
  );
  const remoteCallers = remoteCallerPolicies(config, core, clients);
  if (remoteCallers.length > 0) {
    new RemoteCallerPolicies("remote-callers", { policies: remoteCallers }, { dependsOn: [namespace] });
  }
  const apps = Object.fromEntries(clients.map((client, index) => [config.apps[index].name, client]));
  return {
    graph: relateRoutedApps(config, core, apps, connection),
    apiKeys: pulumi.secret(
      pulumi.output(
        Object.fromEntries(
          Object.entries(apps).flatMap(([name, app]) => (app.apiKey ? [[name, app.apiKey] as const] : [])),
        ),
      ),
    ) as pulumi.Output<Record<string, string>>,
  };
}

/**
 * Where a routed app may reach inside the cluster besides the gateway and kube-dns: the enabled apps
 * it calls (`CALLERS`), in core's namespace or this one. Download clients call none; a routed
 * Prowlarr calls Radarr, Sonarr and Lidarr (its applications) and the download clients (manual grabs).
 */
function callees(caller: AppName, config: DownloadsConfig, core: CoreStackOutputs): ClusterCallee[] {
  return calleesOf(caller).flatMap((callee): ClusterCallee[] => {
    const namespace = config.apps.some((app) => app.name === callee)
      ? config.namespace
      : core.identities[callee] !== undefined
        ? core.namespace
        : undefined;
    return namespace === undefined
      ? []
      : [{ namespace, podLabels: { [APP_LABEL]: callee }, port: APP_CATALOG[callee].port }];
  });
}

/**
 * The ALLOW policies this stack adds in core's namespace for its apps that call core's apps (a
 * routed Prowlarr syncing Radarr): core's own policies were built before this stack's principals
 * existed.
 */
function remoteCallerPolicies(
  config: DownloadsConfig,
  core: CoreStackOutputs,
  clients: readonly MediaApp[],
): RemoteCallerPolicyInput[] {
  return Object.keys(core.identities).flatMap((name): RemoteCallerPolicyInput[] => {
    if (!isAppName(name)) {
      return [];
    }
    const principals = config.apps.flatMap((app, index) =>
      calleesOf(app.name).includes(name) ? [clients[index].principal] : [],
    );
    return principals.length === 0
      ? []
      : [
          {
            app: name,
            port: APP_CATALOG[name].port,
            namespace: core.namespace,
            principals,
            callerNamespace: config.namespace,
            labels: charmarrLabels("downloads"),
          },
        ];
  });
}

/**
 * The downloads stack consumes core's offers: each arr app core runs takes each download client, and
 * each client keeps a category per arr app; a routed Prowlarr takes each arr app as an application.
 * The relations live here, so destroying this stack removes its entries from the arr apps.
 */
function relateRoutedApps(
  config: DownloadsConfig,
  core: CoreStackOutputs,
  clients: Record<string, MediaApp>,
  connection: KubernetesConnection,
): RelationGraph {
  const endpoint = (name: AppName): AppEndpoint | undefined => {
    const app = config.apps.find((candidate) => candidate.name === name);
    return app && appEndpoint(app, config.namespace, core.cluster.domain);
  };
  const arr = Object.fromEntries(
    ARR_APPS.flatMap((name) => (core.offers[name] ? [[name, core.offers[name] as KeyedEndpoint]] : [])),
  ) as Partial<Record<ArrApp, KeyedEndpoint>>;
  const relations = (credentials: Record<string, Record<string, string>>, keys: Record<string, string>) => {
    const qbittorrent = endpoint("qbittorrent");
    const prowlarr = endpoint("prowlarr");
    const sabnzbd = endpoint("sabnzbd");
    const downloadClients: DownloadClients = {
      ...(qbittorrent && credentials.qbittorrent
        ? {
            qbittorrent: {
              ...qbittorrent,
              username: credentials.qbittorrent.username,
              password: credentials.qbittorrent.password,
            },
          }
        : {}),
      ...(sabnzbd && credentials.sabnzbd ? { sabnzbd: { ...sabnzbd, apiKey: credentials.sabnzbd.apiKey } } : {}),
    };
    return downloadsRelations({
      arr,
      clients: downloadClients,
      ...(prowlarr && keys.prowlarr ? { prowlarr: { ...prowlarr, apiKey: keys.prowlarr } } : {}),
      ...(endpoint("flaresolverr") ? { flaresolverr: endpoint("flaresolverr") } : {}),
      vpnNamespace: config.vpn.namespace,
      mountPath: core.media.library.mountPath,
      settings: config.relations,
    });
  };
  const generated = Object.entries(clients).flatMap(([name, client]) =>
    client.credentials ? [[name, client.credentials] as const] : [],
  );
  const placeholders = Object.fromEntries(
    generated.map(([name]) => [
      name,
      { username: PLANNING_SECRET, password: PLANNING_SECRET, apiKey: PLANNING_SECRET },
    ]),
  );
  const credentials = pulumi.output(Object.fromEntries(generated)) as pulumi.Output<
    Record<string, Record<string, string>>
  >;
  const keyed = Object.entries(clients).flatMap(([name, client]) => (client.apiKey ? [[name, client.apiKey]] : []));
  const keys = pulumi.output(Object.fromEntries(keyed)) as pulumi.Output<Record<string, string>>;
  new Relations("relations", {
    planned: relations(placeholders, Object.fromEntries(keyed.map(([name]) => [name, PLANNING_SECRET]))),
    specs: pulumi
      .all([credentials, keys])
      .apply(([resolved, resolvedKeys]) => specsByName(relations(resolved, resolvedKeys))),
    retry: {
      attempts: config.relations.readiness.attempts,
      intervalMs: config.relations.readiness.intervalSeconds * 1000,
    },
    connection,
    apps: Object.fromEntries(Object.entries(clients).map(([name, client]) => [name, client.statefulSet])),
  });
  return downloadsGraph(Object.keys(arr) as AppName[], Object.keys(clients) as AppName[], config.relations);
}

function meshNamespaces(config: DownloadsConfig, core: CoreStackOutputs): MeshNamespace[] {
  return [
    {
      namespace: config.namespace,
      source: "the download clients' namespace (charmarr:namespace)",
      rename: configSetCommand("charmarr:namespace", "charmarr-downloads"),
    },
    { namespace: core.namespace, source: "the core stack's namespace", rename: coreNamespaceRename(config.coreStack) },
  ];
}

function vpnOutOfMesh(config: DownloadsConfig): OutOfMeshNamespace {
  return {
    namespace: config.vpn.namespace,
    key: "charmarr:vpn.namespace",
    suggestion: "charmarr-vpn",
    reason: "the VPN gateway's namespace must stay out of the mesh (ztunnel would capture its tunnel traffic)",
  };
}

/**
 * The downloads stack: download clients and the VPN gateway. Everything it knows about the cluster
 * comes from the core stack, read and checked before anything is created.
 */
export async function downloadsProgram(
  config: DownloadsConfig,
  connection: KubernetesConnection,
): Promise<DownloadsStackExports> {
  const coreReference = new pulumi.StackReference("core", { name: config.coreStack });
  const core = await readCoreOutputs(coreReference, config.coreStack);
  throwIfProblems(config.stack, [
    ...meshEnrollmentProblems(meshNamespaces(config, core), [vpnOutOfMesh(config)]),
    ...problemsAgainstCore(config, core),
    ...(config.relations.enabled
      ? downloadFolderProblems(
          config.relations,
          core.media.library.mountPath,
          Object.fromEntries(Object.entries(core.offers).map(([app, offer]) => [app, offer.rootFolder])),
        )
      : []),
  ]);

  // The API server checks every pod of both namespaces against what this program plans for them;
  // the policies come first, so no pod is admitted before them.
  const admission = new AdmissionPolicies("admission", {
    namespaces: vpnNamespacePolicies({
      vpn: config.vpn,
      cluster: core.cluster,
      credentials: new Set(
        (Object.keys(config.vpnSecrets) as VpnCredentialName[]).filter((key) => config.vpnSecrets[key] !== undefined),
      ),
      clientNamespace: config.namespace,
      libraryHostPath: libraryHostPath(core.media.library),
      labels: charmarrLabels("downloads"),
    }),
    labels: charmarrLabels("downloads"),
  });

  const namespace = new k8s.core.v1.Namespace(
    "downloads-namespace",
    {
      // In the ambient mesh, allowed to attach routes to the gateways of its apps' domains, and
      // Pod Security `privileged`: the download clients are routed, and their route containers
      // need NET_ADMIN and NET_RAW, which `baseline` (enforced by default on Talos and hardened
      // k3s/RKE2) refuses.
      metadata: {
        name: config.namespace,
        labels: {
          ...charmarrLabels("downloads"),
          ...meshNamespaceLabels(),
          ...routeAccessLabels(domainsOfStack("downloads", routedGroups(config))),
          ...ROUTED_NAMESPACE_POD_SECURITY,
        },
      },
    },
    { dependsOn: [admission] },
  );

  const egress = new VpnEgress(
    "vpn",
    {
      vpn: config.vpn,
      credentials: config.vpnSecrets,
      cluster: core.cluster,
      clientNamespace: namespace.metadata.name,
      labels: charmarrLabels("downloads", "vpn"),
      webUiPort: config.apps.find((app) => app.name === PORT_FORWARDING_APP)?.port,
    },
    { dependsOn: [admission] },
  );
  for (const warning of killSwitchWarnings(config.vpn.killSwitch)) {
    pulumi.log.warn(warning);
  }
  const routed = deployRoutedApps(config, core, namespace, egress, connection);

  return {
    coreStack: config.coreStack,
    cluster: core.cluster,
    coreNamespace: core.namespace,
    namespace: namespace.metadata.name,
    vpnGateway: egress.gatewayFqdn,
    urls: appUrls(config.apps, core.gateways),
    relations: routed.graph,
    apiKeys: routed.apiKeys,
  };
}
