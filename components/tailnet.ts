import * as pulumi from "@pulumi/pulumi";
import * as tailscale from "@pulumi/tailscale";
import {
  OPERATOR_OAUTH_SCOPES,
  OPERATOR_TAG,
  TailnetPolicy,
  policyFileJson,
  unmanagedTagOwnersWarning,
} from "../lib/tailnet";

export interface TailnetArgs {
  /** The generated tailnet policy (tag owners, per-domain grants, tests). */
  policy: TailnetPolicy;
  /**
   * Apply the policy with a `tailscale.Acl`. It replaces the tailnet's whole policy file, so this is
   * the user's explicit opt-in (`charmarr:platform.tailscale.acl.manage`).
   */
  managePolicy: boolean;
  /** Create the OAuth client the Tailscale operator authenticates with. */
  createOperatorClient: boolean;
}

/** Credentials of the operator's OAuth client; the secret stays a Pulumi secret. */
export interface OperatorClientCredentials {
  readonly clientId: pulumi.Output<string>;
  readonly clientSecret: pulumi.Output<string>;
}

/**
 * The tailnet side of Charmarr: the policy (applied, or only generated for the admin console) and
 * the operator's OAuth client. Uses the default Tailscale provider, configured by `tailscale:` keys.
 */
export class Tailnet extends pulumi.ComponentResource {
  /** Present when {@link TailnetArgs.createOperatorClient}. */
  readonly operatorClient?: OperatorClientCredentials;

  constructor(name: string, args: TailnetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("charmarr:tailnet:Tailnet", name, {}, opts);
    const acl = args.managePolicy
      ? new tailscale.Acl(
          `${name}-policy`,
          // Without overwriteExistingContent the provider refuses to replace a policy it did
          // not import; acl.manage is the opt-in to exactly that replacement.
          // On `pulumi destroy` the policy stays as last applied. resetAclOnDestroy would put
          // back Tailscale's default policy, which lets every device reach every other one;
          // retainOnDelete keeps Pulumi from touching the tailnet policy at all.
          { acl: policyFileJson(args.policy), overwriteExistingContent: true, resetAclOnDestroy: false },
          { parent: this, retainOnDelete: true },
        )
      : undefined;

    if (args.createOperatorClient && !acl) {
      void pulumi.log.warn(unmanagedTagOwnersWarning(args.policy), this);
    }
    if (args.createOperatorClient) {
      // Tailscale refuses a client whose tag no policy defines: with a managed policy, create
      // the client after the policy that owns the tag.
      const client = new tailscale.OauthClient(
        `${name}-operator-client`,
        { description: "charmarr tailscale operator", scopes: [...OPERATOR_OAUTH_SCOPES], tags: [OPERATOR_TAG] },
        { parent: this, dependsOn: acl ? [acl] : [] },
      );
      this.operatorClient = { clientId: client.id, clientSecret: pulumi.secret(client.key) };
    }

    this.registerOutputs({});
  }
}
