import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { PlatformSettings } from "../lib/platform/settings";
import {
  INSTALLED_BY_ANNOTATION,
  PLATFORM_NAMESPACES,
  PLATFORM_PREREQUISITES,
  PlatformDependent,
  PlatformNamespace,
  PREFLIGHT_CRDS,
  PlatformStep,
  metallbPoolSpecs,
  platformInstallPlan,
  stackIdentity,
} from "../lib/platform";
import type { OperatorClientCredentials } from "./tailnet";

export interface PlatformArgs {
  /** What to install (`charmarr:platform`); steps switched off are assumed present in the cluster. */
  settings: PlatformSettings;
  /** The cluster's DNS domain (`charmarr:cluster.domain`), for the Istio charts. */
  clusterDomain: string;
  /** Labels for the objects this component creates directly (namespaces, pools, the OAuth Secret). */
  labels: Record<string, string>;
  /** The operator's OAuth client; required when the settings install the Tailscale operator. */
  operatorClient?: OperatorClientCredentials;
}

/**
 * The cluster add-ons Charmarr stands on, installed in dependency order: Gateway API CRDs, Istio
 * ambient (base → istiod → cni → ztunnel), MetalLB with its address pool, the Tailscale operator.
 * Charts are `helm.v3.Release`s, which Pulumi awaits until their workloads are ready.
 */
export class Platform extends pulumi.ComponentResource {
  /**
   * What each kind of resource built on the platform must `dependsOn` (see
   * PLATFORM_PREREQUISITES): `routes` for HTTPRoutes, `gateways` for Gateways, `tailnetGateways`
   * for Gateways on the tailnet, `meshPolicies` for AuthorizationPolicies and PeerAuthentication,
   * `exposedNamespace` for the namespace of tailnet-exposed Services. Empty lists when this stack
   * installs none of it.
   */
  readonly dependencies: Readonly<Record<PlatformDependent, pulumi.Resource[]>>;

  constructor(name: string, args: PlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    super("charmarr:platform:Platform", name, {}, opts);
    const plan = platformInstallPlan(args.settings, args.clusterDomain);
    const installed = new Map<PlatformStep, pulumi.Resource>();

    if (plan.gatewayApiCrds) {
      const crds = new k8s.yaml.v2.ConfigFile(
        `${name}-gateway-api-crds`,
        { file: plan.gatewayApiCrds.url },
        { parent: this },
      );
      installed.set("gateway-api-crds", crds);
      // Marks the CRD the preflight reads as this stack's, so a later `pulumi up` takes it as
      // its own and another Pulumi project's as a collision. A server-side-apply patch of
      // the one annotation: yaml.v2.ConfigFile takes no transformations.
      new k8s.apiextensions.v1.CustomResourceDefinitionPatch(
        `${name}-gateway-api-crds-owner`,
        {
          metadata: {
            name: PREFLIGHT_CRDS.gatewayApi,
            annotations: {
              [INSTALLED_BY_ANNOTATION]: stackIdentity(
                pulumi.getOrganization(),
                pulumi.getProject(),
                pulumi.getStack(),
              ),
            },
          },
        },
        { parent: this, dependsOn: [crds] },
      );
    }

    const namespaces = new Map<PlatformNamespace, k8s.core.v1.Namespace>();
    for (const namespace of plan.namespaces) {
      const level = PLATFORM_NAMESPACES[namespace];
      namespaces.set(
        namespace,
        new k8s.core.v1.Namespace(
          `${name}-${namespace}`,
          {
            metadata: {
              name: namespace,
              labels: {
                ...args.labels,
                "pod-security.kubernetes.io/enforce": level,
                "pod-security.kubernetes.io/warn": level,
              },
            },
          },
          { parent: this },
        ),
      );
    }

    const releasePrerequisites = new Map<PlatformStep, pulumi.Resource[]>();
    if (args.settings.tailscale.operator.install) {
      if (!args.operatorClient) {
        throw new Error("Platform: installing the Tailscale operator needs operatorClient credentials");
      }
      // The chart mounts this Secret while its `oauth` values keep their empty defaults
      // (tailscaleOperatorValues), keeping the client secret out of the release's stored values.
      const oauthSecret = new k8s.core.v1.Secret(
        `${name}-tailscale-operator-oauth`,
        {
          metadata: { name: "operator-oauth", namespace: "tailscale", labels: args.labels },
          stringData: { client_id: args.operatorClient.clientId, client_secret: args.operatorClient.clientSecret },
        },
        { parent: this, dependsOn: [namespaces.get("tailscale") as k8s.core.v1.Namespace] },
      );
      releasePrerequisites.set("tailscale-operator", [oauthSecret]);
    }

    for (const release of plan.releases) {
      const after = release.after
        .map((step) => installed.get(step))
        .filter((step): step is pulumi.Resource => step !== undefined);
      installed.set(
        release.step,
        new k8s.helm.v3.Release(
          `${name}-${release.step}`,
          {
            name: release.step,
            chart: release.chart,
            version: release.version,
            ...(release.repo !== undefined ? { repositoryOpts: { repo: release.repo } } : {}),
            namespace: release.namespace,
            values: release.values,
          },
          {
            parent: this,
            dependsOn: [
              namespaces.get(release.namespace) as k8s.core.v1.Namespace,
              ...after,
              ...(releasePrerequisites.get(release.step) ?? []),
            ],
          },
        ),
      );
    }

    if (plan.metallbAddresses) {
      // MetalLB validates pools with a webhook served by its controller: apply them only once
      // the release (which Pulumi awaits until the controller is ready) is up.
      const metallb = installed.get("metallb") as pulumi.Resource;
      const specs = metallbPoolSpecs("metallb-system", plan.metallbAddresses, args.labels);
      const pool = new k8s.apiextensions.CustomResource(
        `${name}-metallb-pool`,
        { ...specs.pool },
        { parent: this, dependsOn: [metallb] },
      );
      new k8s.apiextensions.CustomResource(
        `${name}-metallb-l2-advertisement`,
        { ...specs.advertisement },
        { parent: this, dependsOn: [pool] },
      );
    }

    const installedOf = (steps: readonly PlatformStep[]) =>
      steps
        .map((step) => installed.get(step))
        .filter((resource): resource is pulumi.Resource => resource !== undefined);
    this.dependencies = Object.fromEntries(
      Object.entries(PLATFORM_PREREQUISITES).map(([dependent, steps]) => [dependent, installedOf(steps)]),
    ) as Record<PlatformDependent, pulumi.Resource[]>;
    this.registerOutputs({});
  }
}
