import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { createHash } from "node:crypto";
import { ResolvedApp, isServed } from "../lib/apps/resolve";
import {
  API_KEY_SECRET_KEY,
  CREDENTIAL_KEYS,
  credentialsSecretName,
  secretEnvName,
  AppWorkloadInput,
  apiKeySecretName,
  appLabels,
  appSelector,
  buildPodTemplate,
  buildService,
  buildServiceAccount,
  buildSettingsConfigMap,
  buildStatefulSet,
  DownloadFolders,
} from "../lib/apps/workload";
import type { AppEnvironment, MediaLibrary } from "../lib/apps/settings";
import type { ListenerRef } from "../lib/ingress/gateways";
import { buildHttpRoute } from "../lib/ingress/routes";
import { buildOwnService } from "../lib/ingress/ownService";
import type { GatewaySettings } from "../lib/ingress/settings";
import { APP_LABEL } from "../lib/k8s/labels";
import type { ClusterFacts } from "../lib/cluster/settings";
import { internetOnlyEgressSpec } from "../lib/vpn/killSwitch";
import { principal } from "../lib/mesh/policies";
import type { AppName } from "../lib/apps/catalog";
import { QBITTORRENT_PBKDF2, QBITTORRENT_USERNAME, qbittorrentPasswordHash } from "../lib/relations/credentials";

export type PodTemplate = k8s.types.input.core.v1.PodTemplateSpec;

/** The pod annotation carrying the digest of the app's secret environment. */
export const SECRET_ENV_DIGEST = "charmarr.io/secret-env-sha256";

export interface MediaAppArgs {
  /** The app: catalog defaults with `charmarr:apps` overrides applied. */
  app: ResolvedApp;
  /** The app's namespace (core or downloads); it must exist first (pass the Namespace in `dependsOn`). */
  namespace: string;
  /** Labels for every object of the app (e.g. `charmarrLabels("core")`); the app label is added. */
  labels: Record<string, string>;
  /** StorageClass of the /config claim; unset uses the cluster default. */
  storageClassName?: string;
  /** The shared media library, mounted at the same path in every app of both stacks. */
  library: MediaLibrary;
  /** PUID, PGID and TZ. */
  environment: AppEnvironment;
  /** The mesh's trust domain, the first part of the app's principal. */
  trustDomain: string;
  /** Host names the app is reached by; SABnzbd lists them in `host_whitelist`. */
  hostnames?: string[];
  /**
   * Secret values the app reads from its environment, by variable name (Plex's `PLEX_CLAIM`): kept
   * in a Secret of their own, read by reference; a new value restarts the pod, which reads them at start.
   */
  secretEnv?: Record<string, pulumi.Input<string>>;
  /** Library folders the app's relations point at, made before it starts. */
  libraryFolders?: string[];
  /** A download client's own folders in the library (required for qBittorrent and SABnzbd). */
  downloadFolders?: DownloadFolders;
  /** The gateway listener to attach the app's HTTPRoute to; no route when unset, nor for an app with no UI. */
  listener?: ListenerRef;
  /**
   * Rewrites the pod template before the StatefulSet is created, e.g. `VpnEgress.routePodTemplate`
   * to send the app's traffic through the VPN gateway.
   */
  podTemplate?: (template: PodTemplate) => pulumi.Input<PodTemplate>;
  /** Extra resources the StatefulSet waits for, e.g. `VpnEgress.routedDependencies`. */
  workloadDependencies?: pulumi.Resource[];
  /**
   * Fence the app's egress to the internet and kube-dns (`<app>-egress`, made before the workload):
   * the cluster facts name the ranges kept out. For an unrouted app that calls nothing in the
   * cluster or the LAN (FlareSolverr in core).
   */
  internetOnlyEgress?: ClusterFacts;
  /** Resources installing the Gateway API CRDs (and the Gateway itself); the HTTPRoute waits for them. */
  crdDependencies?: pulumi.Resource[];
  /**
   * For an app served by a LoadBalancer Service of its own (Plex): that Service's LAN and tailnet
   * exposure, and what the app publishes to its clients.
   */
  ownService?: {
    exposure: GatewaySettings;
    advertised: { urls: string[]; lanNetworks: string[] };
    /** What the Service waits for: the Tailscale operator, whose finalizer an exposed Service carries. */
    dependencies: pulumi.Resource[];
  };
}

/**
 * One app of the media stack: a single-replica StatefulSet with its own ServiceAccount (its mesh
 * identity), a Service, a /config claim, the shared library, probes on its health endpoint, a
 * generated API key for Servarr apps and its HTTPRoute on its gateway.
 */
export class MediaApp extends pulumi.ComponentResource {
  readonly statefulSet: k8s.apps.v1.StatefulSet;
  readonly service: k8s.core.v1.Service;
  readonly serviceAccount: k8s.core.v1.ServiceAccount;
  readonly route?: k8s.apiextensions.CustomResource;
  /** The app's own LoadBalancer Service (Plex), when it is not behind its gateway. */
  readonly ownService?: k8s.core.v1.Service;
  /** The generated Servarr API key (a secret), for Servarr apps only. */
  readonly apiKey?: pulumi.Output<string>;
  /**
   * Credentials the program generated and seeded before the app's first start (a secret), for the
   * apps configured through a file: SABnzbd's and Seerr's `apiKey`, qBittorrent's `username` and `password`.
   */
  readonly credentials?: pulumi.Output<Record<string, string>>;
  /** The app's mesh identity, `<trust domain>/ns/<ns>/sa/<app>`. */
  readonly principal: string;
  /** `matchLabels` selecting exactly the app's pods. */
  readonly podSelector: Record<string, string>;

  constructor(name: string, args: MediaAppArgs, opts?: pulumi.ComponentResourceOptions) {
    super("charmarr:apps:MediaApp", name, {}, opts);
    const { app } = args;
    const input: AppWorkloadInput = {
      app,
      namespace: args.namespace,
      labels: args.labels,
      storageClassName: args.storageClassName,
      library: args.library,
      environment: args.environment,
      hostnames: args.hostnames ?? [],
      libraryFolders: args.libraryFolders ?? [],
      ...(args.downloadFolders ? { downloadFolders: args.downloadFolders } : {}),
      ...(args.ownService ? { advertised: args.ownService.advertised } : {}),
      secretEnv: Object.keys(args.secretEnv ?? {}),
    };

    this.serviceAccount = new k8s.core.v1.ServiceAccount(`${name}-service-account`, buildServiceAccount(input), {
      parent: this,
    });
    this.service = new k8s.core.v1.Service(`${name}-service`, buildService(input), { parent: this });

    // The fence exists before the workload it fences: no pod ever runs without it.
    const egress =
      args.internetOnlyEgress === undefined
        ? undefined
        : new k8s.networking.v1.NetworkPolicy(
            `${name}-egress`,
            {
              metadata: { name: `${app.name}-egress`, namespace: args.namespace, labels: appLabels(input) },
              spec: internetOnlyEgressSpec(appSelector(input), args.internetOnlyEgress),
            },
            { parent: this },
          );
    const workloadDependencies: pulumi.Resource[] = [
      this.serviceAccount,
      ...(egress ? [egress] : []),
      ...(args.workloadDependencies ?? []),
    ];
    if (app.servarrApiKey) {
      // RandomString does not mark its result secret by itself (only RandomPassword and RandomBytes do).
      const key = new random.RandomString(
        `${name}-api-key`,
        { length: 32, special: false, upper: false },
        { parent: this, additionalSecretOutputs: ["result"] },
      );
      this.apiKey = pulumi.secret(key.result);
      workloadDependencies.push(
        new k8s.core.v1.Secret(
          `${name}-api-key`,
          {
            metadata: { name: apiKeySecretName(app), namespace: args.namespace, labels: args.labels },
            type: "Opaque",
            stringData: { [API_KEY_SECRET_KEY]: this.apiKey },
          },
          { parent: this },
        ),
      );
    }
    const generate = GENERATED_CREDENTIALS[app.name];
    if (generate) {
      const { secretData, credentials } = generate(name, this);
      this.credentials = pulumi.secret(pulumi.output(credentials) as pulumi.Output<Record<string, string>>);
      workloadDependencies.push(
        new k8s.core.v1.Secret(
          `${name}-credentials`,
          {
            metadata: { name: credentialsSecretName(app), namespace: args.namespace, labels: args.labels },
            type: "Opaque",
            stringData: pulumi.secret(pulumi.output(secretData) as pulumi.Output<Record<string, string>>),
          },
          { parent: this },
        ),
      );
    }
    let secretEnvDigest: pulumi.Output<string> | undefined;
    if (args.secretEnv !== undefined && Object.keys(args.secretEnv).length > 0) {
      const values = pulumi.secret(pulumi.output(args.secretEnv) as pulumi.Output<Record<string, string>>);
      // A digest of a claim token is no secret, and left secret it would hide the whole pod template in diffs.
      secretEnvDigest = pulumi.unsecret(values.apply(digestOf));
      workloadDependencies.push(
        new k8s.core.v1.Secret(
          `${name}-env`,
          {
            metadata: { name: secretEnvName(app), namespace: args.namespace, labels: args.labels },
            type: "Opaque",
            stringData: values,
          },
          { parent: this },
        ),
      );
    }
    const settings = buildSettingsConfigMap(input);
    if (settings) {
      workloadDependencies.push(new k8s.core.v1.ConfigMap(`${name}-settings`, settings, { parent: this }));
    }

    const template = buildPodTemplate(input);
    const statefulSet = buildStatefulSet(input, template);
    this.statefulSet = new k8s.apps.v1.StatefulSet(
      `${name}-statefulset`,
      {
        ...statefulSet,
        spec: {
          ...statefulSet.spec,
          template: withSecretEnvDigest(args.podTemplate ? args.podTemplate(template) : template, secretEnvDigest),
        },
      },
      { parent: this, dependsOn: workloadDependencies },
    );

    if (args.ownService) {
      this.ownService = new k8s.core.v1.Service(
        `${name}-lan-service`,
        buildOwnService(app, args.namespace, args.ownService.exposure, appSelector(input), {
          ...args.labels,
          [APP_LABEL]: app.name,
        }),
        { parent: this, dependsOn: args.ownService.dependencies },
      );
    }
    if (args.listener && isServed(app)) {
      const route = buildHttpRoute(app, args.namespace, args.listener, args.labels);
      this.route = new k8s.apiextensions.CustomResource(
        `${name}-route`,
        { ...route },
        { parent: this, dependsOn: [this.service, ...(args.crdDependencies ?? [])] },
      );
    }

    this.principal = principal(args.trustDomain, args.namespace, app.name);
    this.podSelector = appSelector(input);
    this.registerOutputs({ service: this.service.metadata.name, principal: this.principal });
  }
}

/** A digest of secret values, which tells their change without showing them. */
function digestOf(values: Record<string, string>): string {
  return createHash("sha256").update(JSON.stringify(values)).digest("hex");
}

/**
 * The pod template, annotated with the digest of its secret environment: a Secret's new value does
 * not restart a pod that read the old one (env is read at container start), a new template does.
 */
function withSecretEnvDigest(
  template: pulumi.Input<PodTemplate>,
  digest: pulumi.Output<string> | undefined,
): pulumi.Input<PodTemplate> {
  if (digest === undefined) {
    return template;
  }
  return pulumi.all([template, digest]).apply(([resolved, value]) => ({
    ...resolved,
    metadata: { ...resolved.metadata, annotations: { ...resolved.metadata?.annotations, [SECRET_ENV_DIGEST]: value } },
  }));
}

/** The name of the Jellyfin administrator the program makes. */
const JELLYFIN_ADMIN = "charmarr";

type GeneratedCredentials = (
  name: string,
  parent: pulumi.Resource,
) => {
  /** What the credentials Secret holds (the settings script reads it). */
  secretData: Record<string, pulumi.Input<string>>;
  /** What the relations use to call the app. */
  credentials: Record<string, pulumi.Input<string>>;
};

/**
 * A 32-character key of lower-case hex, the form SABnzbd generates itself (sabnzbd/config.py
 * `create_api_key`, uuid4().hex). RandomBytes keeps it secret in the state; RandomId cannot (its id
 * is the value).
 */
function hexKey(name: string, parent: pulumi.Resource): pulumi.Output<string> {
  return new random.RandomBytes(`${name}-api-key`, { length: 16 }, { parent }).hex;
}

/** The credentials generated per app, seeded into its config file before it starts. */
const GENERATED_CREDENTIALS: Partial<Record<AppName, GeneratedCredentials>> = {
  sabnzbd: (name, parent) => {
    const apiKey = hexKey(name, parent);
    return { secretData: { [CREDENTIAL_KEYS.apiKey]: apiKey }, credentials: { apiKey } };
  },
  seerr: (name, parent) => {
    const apiKey = new random.RandomString(
      `${name}-api-key`,
      { length: 32, special: false },
      { parent, additionalSecretOutputs: ["result"] },
    ).result;
    return { secretData: { [CREDENTIAL_KEYS.apiKey]: apiKey }, credentials: { apiKey } };
  },
  // Jellyfin's first administrator, which the relations make through its startup wizard so that Seerr
  // can sign in through it (lib/relations/jellyfin.ts); the user signs in to Jellyfin with it too.
  jellyfin: (name, parent) => {
    const password = new random.RandomPassword(`${name}-password`, { length: 24, special: false }, { parent }).result;
    return {
      secretData: { [CREDENTIAL_KEYS.username]: JELLYFIN_ADMIN, [CREDENTIAL_KEYS.password]: password },
      credentials: { username: JELLYFIN_ADMIN, password },
    };
  },
  qbittorrent: (name, parent) => {
    const password = new random.RandomPassword(`${name}-password`, { length: 24, special: false }, { parent }).result;
    // A stable salt, so the stored hash (and the Secret) only changes with the password.
    const salt = new random.RandomBytes(`${name}-password-salt`, { length: QBITTORRENT_PBKDF2.saltLength }, { parent })
      .base64;
    const hash = pulumi
      .all([password, salt])
      .apply(([plain, saltBase64]) => qbittorrentPasswordHash(plain, Buffer.from(saltBase64, "base64")));
    return {
      secretData: {
        [CREDENTIAL_KEYS.username]: QBITTORRENT_USERNAME,
        [CREDENTIAL_KEYS.password]: password,
        [CREDENTIAL_KEYS.passwordPbkdf2]: hash,
      },
      credentials: { username: QBITTORRENT_USERNAME, password },
    };
  },
};
