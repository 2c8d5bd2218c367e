/**
 * VpnEgress: the VPN gateway (gluetun + pod-gateway) that routed apps (the download clients, a routed Prowlarr) reach the
 * internet through, over VXLAN (pod-gateway v1.13.0, docs/upstream.md#pod-gateway).
 *
 * How to route a workload (e.g. a StatefulSet in the downloads namespace):
 *
 *     const template = egress.routePodTemplate({ metadata: { labels }, spec: { containers: [...] } });
 *     new k8s.apps.v1.StatefulSet("qbittorrent", { ..., spec: { ..., template } },
 *         { dependsOn: egress.routedDependencies });
 *     new KillSwitch("qbittorrent", { namespace, podSelector: labels, gateway: egress.gatewayPeer,
 *         cluster, allowLan: vpn.killSwitch.allowLan }, { dependsOn: egress.routedDependencies });
 *
 * The workload must live in `clientNamespace` (it mounts the client ConfigMap from there), must
 * `dependsOn` {@link VpnEgress.routedDependencies} (client init crash-loops until the gateway is
 * ready) and must get a {@link KillSwitch} unless `vpn.killSwitch.unsafeDisable` is set.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { ClusterFacts } from "../lib/cluster/settings";
import type { VpnSecrets, VpnSettings } from "../lib/vpn/settings";
import {
  ClientRoute,
  PodTemplateSpec,
  ROUTED_NAMESPACE_POD_SECURITY,
  clientRoute,
  clientSettingsFiles,
  followForwardedPort,
  routePodTemplate,
} from "../lib/vpn/client";
import {
  CONTROL_SERVER_API_KEY,
  CONTROL_SERVER_PORT,
  CONTROL_SERVER_ROLE_KEY,
  GATEWAY_SETTINGS_HASH_ANNOTATION,
  GatewayNames,
  controlServerRole,
  gatewayFqdn,
  gatewayNames,
  gatewayPodLabels,
  gatewayPodSpec,
  gatewaySettingsFiles,
  gatewaySettingsHash,
  gluetunIptablesFiles,
} from "../lib/vpn/gateway";
import {
  CONTROL_AUTH_FILE,
  PORT_FOLLOWER_API_KEY,
  PORT_FORWARD_PATH,
  portFollowerAuthFile,
} from "../lib/vpn/portForward";
import { VXLAN_PORT } from "../lib/vpn/overlay";
import { VpnGatewayPeer, gatewayEgressSpec, gatewayIngressSpec } from "../lib/vpn/killSwitch";
import { VPN_SETTINGS, VpnCredentialName, vpnServerPort } from "../lib/vpn/providers";

export interface VpnEgressArgs {
  /** Validated VPN settings (`charmarr:vpn`); the gateway namespace is `vpn.namespace`. */
  vpn: VpnSettings;
  /** VPN credentials from the secret config keys; only those present are stored and referenced. */
  credentials: VpnSecrets;
  /** Cluster facts from the core stack: CIDRs, kube-dns IP, domain. */
  cluster: ClusterFacts;
  /**
   * Namespace of the routed workloads. The client ConfigMap is created there, since a pod can
   * mount only ConfigMaps of its own namespace.
   */
  clientNamespace: pulumi.Input<string>;
  /** Labels for every object (e.g. `charmarrLabels("downloads", "vpn")`). */
  labels?: Record<string, string>;
  /**
   * With `vpn.portForwarding`: qBittorrent's WebUI port, the one port the gateway never forwards
   * to it. Required then.
   */
  webUiPort?: number;
}

/** The app that takes the forwarded port, for {@link VpnEgress.routePodTemplate}. */
export interface ForwardedPortApp {
  /** The app's image, whose `sh` and `curl` the port follower runs. */
  image: string;
  /** The app's WebUI port. */
  webUiPort: number;
  /** The Secret with the app's WebUI credentials, and their keys. */
  credentials: { secret: string; usernameKey: string; passwordKey: string };
}

/** The gateway, its namespace, Secrets and settings, and what routed workloads need from it. */
export class VpnEgress extends pulumi.ComponentResource {
  /** The gateway's own namespace: privileged Pod Security, never enrolled in the mesh. */
  readonly namespace: k8s.core.v1.Namespace;
  /** The gateway workload: one replica, `Recreate`, ready only once the tunnel is up. */
  readonly gateway: k8s.apps.v1.Deployment;
  /** Headless Service clients resolve to the gateway pod's IP. */
  readonly service: k8s.core.v1.Service;
  /** Client `settings.sh`, in `clientNamespace`, mounted by every routed pod. */
  readonly clientSettings: k8s.core.v1.ConfigMap;
  /** Secret with gluetun's control-server API key (key `api-key`), for checking by hand. */
  readonly controlServerSecret: k8s.core.v1.Secret;
  /** FQDN of the headless Service, e.g. `vpn-gateway.charmarr-vpn.svc.cluster.local`. */
  readonly gatewayFqdn: string;
  /** How kill switches select the gateway pod; pass it as `gateway` to a KillSwitch. */
  readonly gatewayPeer: VpnGatewayPeer;
  /** What a routed workload (and its kill switch) must `dependsOn`: the client ConfigMap and the gateway. */
  readonly routedDependencies: pulumi.Resource[];
  /** The gateway's own egress NetworkPolicy, unless `vpn.killSwitch.gatewayEgressPolicy` is false. */
  readonly gatewayEgressPolicy?: k8s.networking.v1.NetworkPolicy;
  /** The gateway's ingress NetworkPolicy: only routed pods of `clientNamespace` reach it. */
  readonly gatewayIngressPolicy: k8s.networking.v1.NetworkPolicy;

  /** With `vpn.portForwarding`: the port follower's API key, in the clients' namespace. */
  readonly portFollowerSecret?: k8s.core.v1.Secret;

  private readonly route: pulumi.Output<ClientRoute>;
  private readonly portForwarding: boolean;
  private readonly portFollowerSecretName: string;

  constructor(name: string, args: VpnEgressArgs, opts?: pulumi.ComponentResourceOptions) {
    super("charmarr:vpn:VpnEgress", name, {}, opts);
    const { vpn, cluster } = args;
    const labels = args.labels ?? {};
    const names: GatewayNames = gatewayNames(vpn.namespace);
    const credentials = (
      Object.entries(args.credentials) as [VpnCredentialName, pulumi.Output<string> | undefined][]
    ).filter((entry): entry is [VpnCredentialName, pulumi.Output<string>] => entry[1] !== undefined);
    const credentialNames = new Set(credentials.map(([credential]) => credential));
    const podInputs = { vpn, cluster, credentials: credentialNames, names };
    if (vpn.portForwarding && args.webUiPort === undefined) {
      throw new Error("vpn.portForwarding needs the WebUI port of the app the port goes to (webUiPort)");
    }
    const webUiPort = args.webUiPort ?? 0;
    this.portForwarding = vpn.portForwarding;
    this.portFollowerSecretName = names.portFollowerSecret;
    const podLabels = gatewayPodLabels(names);

    this.namespace = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      {
        metadata: {
          name: vpn.namespace,
          // No istio.io/dataplane-mode label: the gateway must never be in the mesh.
          // Its init containers are privileged, which only the privileged level admits.
          labels: { ...labels, ...ROUTED_NAMESPACE_POD_SECURITY },
        },
      },
      { parent: this },
    );
    const namespace = this.namespace.metadata.name;

    const credentialsSecret = new k8s.core.v1.Secret(
      `${name}-credentials`,
      {
        metadata: { name: names.credentialsSecret, namespace, labels },
        type: "Opaque",
        stringData: Object.fromEntries(
          credentials.map(([credential, value]) => [VPN_SETTINGS[credential].secretKey, pulumi.secret(value)]),
        ),
      },
      { parent: this },
    );

    const apiKey = new random.RandomPassword(
      `${name}-control-api-key`,
      { length: 40, special: false },
      { parent: this },
    );
    this.controlServerSecret = new k8s.core.v1.Secret(
      `${name}-control-server`,
      {
        metadata: { name: names.controlServerSecret, namespace, labels },
        type: "Opaque",
        stringData: {
          [CONTROL_SERVER_API_KEY]: pulumi.secret(apiKey.result),
          [CONTROL_SERVER_ROLE_KEY]: pulumi.secret(apiKey.result.apply(controlServerRole)),
        },
      },
      { parent: this },
    );

    // The port follower's own control-server key: gluetun gives it one route, GET /v1/portforward.
    const followerKey = vpn.portForwarding
      ? new random.RandomPassword(`${name}-port-follower-api-key`, { length: 40, special: false }, { parent: this })
      : undefined;
    const followerAuth = followerKey
      ? new k8s.core.v1.Secret(
          `${name}-port-follower-auth`,
          {
            metadata: { name: names.portFollowerSecret, namespace, labels },
            type: "Opaque",
            stringData: { [CONTROL_AUTH_FILE]: pulumi.secret(followerKey.result.apply(portFollowerAuthFile)) },
          },
          { parent: this },
        )
      : undefined;

    const settings = new k8s.core.v1.ConfigMap(
      `${name}-settings`,
      { metadata: { name: names.settingsConfigMap, namespace, labels }, data: gatewaySettingsFiles(vpn, cluster) },
      { parent: this },
    );
    const postRules = new k8s.core.v1.ConfigMap(
      `${name}-post-rules`,
      {
        metadata: { name: names.postRulesConfigMap, namespace, labels },
        data: gluetunIptablesFiles(vpn, cluster, webUiPort),
      },
      { parent: this },
    );

    this.gateway = new k8s.apps.v1.Deployment(
      `${name}-gateway`,
      {
        metadata: { name: names.gateway, namespace, labels: { ...labels, ...podLabels } },
        spec: {
          // Two gateway pods would be two VXLAN endpoints answering one name.
          replicas: 1,
          strategy: { type: "Recreate" },
          selector: { matchLabels: podLabels },
          template: {
            metadata: {
              labels: { ...labels, ...podLabels, "istio.io/dataplane-mode": "none" },
              annotations: { [GATEWAY_SETTINGS_HASH_ANNOTATION]: gatewaySettingsHash(podInputs, webUiPort) },
            },
            spec: gatewayPodSpec(podInputs),
          },
        },
      },
      {
        parent: this,
        dependsOn: [
          credentialsSecret,
          this.controlServerSecret,
          settings,
          postRules,
          ...(followerAuth ? [followerAuth] : []),
        ],
      },
    );

    this.service = new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: { name: names.gateway, namespace, labels },
        spec: {
          clusterIP: "None",
          selector: podLabels,
          ports: [
            { name: "vxlan", port: VXLAN_PORT, protocol: "UDP" },
            { name: "control", port: CONTROL_SERVER_PORT, protocol: "TCP" },
          ],
        },
      },
      { parent: this },
    );

    if (vpn.killSwitch.gatewayEgressPolicy) {
      this.gatewayEgressPolicy = new k8s.networking.v1.NetworkPolicy(
        `${name}-gateway-egress`,
        {
          metadata: { name: `${names.gateway}-egress`, namespace, labels },
          spec: pulumi.output(args.clientNamespace).apply((clientNamespace) =>
            gatewayEgressSpec({
              podLabels,
              cluster,
              clientNamespace,
              vpnServerPort: vpnServerPort(vpn),
              vpnServerIp: vpn.endpointIp,
              resolver: vpn.dnsAddress,
            }),
          ),
        },
        { parent: this },
      );
    }

    this.gatewayIngressPolicy = new k8s.networking.v1.NetworkPolicy(
      `${name}-gateway-ingress`,
      {
        metadata: { name: `${names.gateway}-ingress`, namespace, labels },
        spec: pulumi
          .output(args.clientNamespace)
          .apply((clientNamespace) => gatewayIngressSpec({ podLabels, clientNamespace })),
      },
      { parent: this },
    );

    this.gatewayFqdn = gatewayFqdn(names, cluster);
    const clientConfigMapName = `${names.gateway}-client`;
    this.clientSettings = new k8s.core.v1.ConfigMap(
      `${name}-client-settings`,
      {
        metadata: { name: clientConfigMapName, namespace: args.clientNamespace, labels },
        data: clientSettingsFiles(vpn, cluster),
      },
      { parent: this },
    );
    this.route = pulumi
      .output(args.clientNamespace)
      .apply((clientNamespace) => clientRoute(vpn, cluster, clientConfigMapName, this.gatewayFqdn, clientNamespace));
    if (followerKey) {
      this.portFollowerSecret = new k8s.core.v1.Secret(
        `${name}-port-follower`,
        {
          metadata: { name: names.portFollowerSecret, namespace: args.clientNamespace, labels },
          type: "Opaque",
          stringData: { [PORT_FOLLOWER_API_KEY]: pulumi.secret(followerKey.result) },
        },
        { parent: this },
      );
    }
    this.gatewayPeer = { namespace: vpn.namespace, podLabels };
    this.routedDependencies = [
      this.clientSettings,
      this.gateway,
      this.service,
      ...(this.portFollowerSecret ? [this.portFollowerSecret] : []),
    ];

    this.registerOutputs({
      namespace: namespace,
      gatewayFqdn: this.gatewayFqdn,
      clientSettings: this.clientSettings.metadata.name,
    });
  }

  /**
   * Returns `template` routed through this gateway: `vpn-route-init` (first init container) and
   * `vpn-route-sidecar`, env `gateway`, the client ConfigMap at /config, the settings-hash
   * annotation, `ambient.istio.io/dns-capture: "false"` and the label `charmarr.io/vpn-routed`.
   * The pod must run in `clientNamespace`. If any value in `template` is a secret, the whole
   * routed template becomes one; keep secrets in Secrets and use `secretKeyRef`. With
   * `vpn.portForwarding`, `forwardedPortApp` names the app that takes the forwarded port: its pod
   * also gets the port follower, which keeps the app's listen port on it.
   */
  routePodTemplate(
    template: pulumi.Input<k8s.types.input.core.v1.PodTemplateSpec>,
    forwardedPortApp?: ForwardedPortApp,
  ): pulumi.Output<PodTemplateSpec> {
    return pulumi.all([template, this.route]).apply(([plain, route]) => {
      const routed = routePodTemplate(plain as PodTemplateSpec, route);
      return this.portForwarding && forwardedPortApp
        ? followForwardedPort(routed, {
            ...forwardedPortApp,
            apiKeySecret: this.portFollowerSecretName,
            gluetunUrl: `http://${this.gatewayFqdn}:${CONTROL_SERVER_PORT}${PORT_FORWARD_PATH}`,
          })
        : routed;
    });
  }
}
