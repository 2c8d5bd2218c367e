import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ResolvedApp } from "../lib/apps/resolve";
import type { GatewayDomain } from "../lib/ingress/settings";
import {
  buildAppPolicy,
  buildDenyByDefault,
  buildGatewayEntryPolicy,
  buildNamespacePeerAuthentication,
  buildPeerPortException,
  buildRemoteCallerPolicy,
  type Caller,
  type RemoteCallerPolicyInput,
} from "../lib/mesh/policies";

export interface MeshEnrollmentArgs {
  /** The app namespace this enrolment covers; the stack labels it with `meshNamespaceLabels()`. */
  namespace: string;
  /** Identities of the gateways that serve this namespace's apps, by domain. */
  gatewayPrincipals: Partial<Record<GatewayDomain, string>>;
  /** The enabled apps of this namespace; each gets an L4 ALLOW policy. */
  apps: readonly ResolvedApp[];
  /** Names of the Gateways whose pods run in this namespace; each is opened as an entry point. */
  gateways?: string[];
  /** Mesh identities of the enabled apps of both stacks and of the stack's other callers (Recyclarr), to allow callers by. */
  identities: Partial<Record<Caller, string>>;
  /** Labels for every policy. */
  labels?: Record<string, string>;
  /** Resources that install Istio's CRDs; the policies wait for them. */
  crdDependencies?: pulumi.Resource[];
}

/**
 * Ambient mTLS and L4 authorization for one app namespace (docs/upstream.md#istio-ambient):
 * PeerAuthentication STRICT (with a port exception only for peers arriving plaintext over the VPN), a
 * deny-by-default policy, an entry policy per gateway running in the namespace, and one ALLOW policy per app
 * for its gateway and the apps that call it.
 */
export class MeshEnrollment extends pulumi.ComponentResource {
  readonly peerAuthentications: k8s.apiextensions.CustomResource[];
  /** The deny-by-default policy first, then one per gateway, then one per app. */
  readonly authorizationPolicies: k8s.apiextensions.CustomResource[];

  constructor(name: string, args: MeshEnrollmentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("charmarr:mesh:MeshEnrollment", name, {}, opts);
    const childOpts = { parent: this, dependsOn: args.crdDependencies };

    this.peerAuthentications = [
      new k8s.apiextensions.CustomResource(
        `${name}-strict`,
        { ...buildNamespacePeerAuthentication(args.namespace, args.labels) },
        childOpts,
      ),
    ];
    for (const app of args.apps) {
      const exception = buildPeerPortException(app, args.namespace, args.labels);
      if (exception) {
        this.peerAuthentications.push(
          new k8s.apiextensions.CustomResource(`${name}-${app.name}-peers`, { ...exception }, childOpts),
        );
      }
    }

    this.authorizationPolicies = [
      new k8s.apiextensions.CustomResource(
        `${name}-deny-by-default`,
        { ...buildDenyByDefault(args.namespace, args.labels) },
        childOpts,
      ),
    ];
    for (const gateway of args.gateways ?? []) {
      const policy = buildGatewayEntryPolicy(args.namespace, gateway, args.labels);
      this.authorizationPolicies.push(
        new k8s.apiextensions.CustomResource(`${name}-${gateway}-gateway-entry`, { ...policy }, childOpts),
      );
    }
    for (const app of args.apps) {
      const policy = buildAppPolicy({
        app,
        namespace: args.namespace,
        gatewayPrincipals: args.gatewayPrincipals,
        identities: args.identities,
        labels: args.labels,
      });
      this.authorizationPolicies.push(
        new k8s.apiextensions.CustomResource(`${name}-${app.name}`, { ...policy }, childOpts),
      );
    }
    this.registerOutputs({ policies: this.authorizationPolicies.length });
  }
}

export interface RemoteCallerPoliciesArgs {
  /** One policy per app called in another namespace, with this stack's callers of it. */
  policies: RemoteCallerPolicyInput[];
}

/**
 * ALLOW policies a stack adds in another stack's namespace for its own callers there (the downloads
 * stack's routed Prowlarr calling Radarr, Sonarr and Lidarr in core): they go when this stack does.
 */
export class RemoteCallerPolicies extends pulumi.ComponentResource {
  readonly authorizationPolicies: k8s.apiextensions.CustomResource[];

  constructor(name: string, args: RemoteCallerPoliciesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("charmarr:mesh:RemoteCallerPolicies", name, {}, opts);
    this.authorizationPolicies = args.policies.map(
      (input) =>
        new k8s.apiextensions.CustomResource(
          `${name}-${input.app}`,
          { ...buildRemoteCallerPolicy(input) },
          { parent: this },
        ),
    );
    this.registerOutputs({ policies: this.authorizationPolicies.length });
  }
}
