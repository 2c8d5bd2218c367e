import { ConfigProblem, configKey, configSetCommand } from "../settings";

/**
 * Where the Tailscale provider takes each credential from: its `tailscale:` config key, or else its
 * environment variable (@pulumi/tailscale provider.d.ts).
 */
export const TAILSCALE_CREDENTIALS = {
  apiKey: { config: "tailscale:apiKey", env: "TAILSCALE_API_KEY" },
  oauthClientId: { config: "tailscale:oauthClientId", env: "TAILSCALE_OAUTH_CLIENT_ID" },
  oauthClientSecret: { config: "tailscale:oauthClientSecret", env: "TAILSCALE_OAUTH_CLIENT_SECRET" },
  identityToken: { config: "tailscale:identityToken", env: "TAILSCALE_IDENTITY_TOKEN" },
  audience: { config: "tailscale:audience", env: "TAILSCALE_AUDIENCE" },
} as const;

type TailscaleCredential = keyof typeof TAILSCALE_CREDENTIALS;

/** The environment variables the Tailscale provider reads credentials from. */
export const TAILSCALE_CREDENTIAL_VARIABLES: readonly string[] = Object.values(TAILSCALE_CREDENTIALS).map(
  ({ env }) => env,
);

/**
 * The credential sets the provider accepts: an API key; an OAuth client's id and secret; or a
 * federated identity, the client id with an identity token or an OIDC audience to fetch one for.
 */
const TAILSCALE_CREDENTIAL_SETS: readonly (readonly TailscaleCredential[])[] = [
  ["apiKey"],
  ["oauthClientId", "oauthClientSecret"],
  ["oauthClientId", "identityToken"],
  ["oauthClientId", "audience"],
];

/** The settings that create resources through the Tailscale provider. */
export interface TailscaleFeatures {
  readonly tailscale: { readonly operator: { readonly install: boolean }; readonly acl: { readonly manage: boolean } };
}

/**
 * Tailscale features create resources through the Tailscale provider, which needs one of
 * {@link TAILSCALE_CREDENTIAL_SETS}, each credential from stack config (`values`, full keys) or
 * the environment (`env`).
 */
export function tailscaleCredentialProblems(
  platform: TailscaleFeatures,
  values: Readonly<Record<string, string>>,
  env: Readonly<Record<string, string>> = {},
): ConfigProblem[] {
  const features = [
    platform.tailscale.operator.install ? ["platform", "tailscale", "operator", "install"] : undefined,
    platform.tailscale.acl.manage ? ["platform", "tailscale", "acl", "manage"] : undefined,
  ].filter((feature): feature is string[] => feature !== undefined);
  const fromConfig = (credential: TailscaleCredential) =>
    (values[TAILSCALE_CREDENTIALS[credential].config] ?? "") !== "";
  const fromEnv = (credential: TailscaleCredential) => (env[TAILSCALE_CREDENTIALS[credential].env] ?? "") !== "";
  const has = (credential: TailscaleCredential) => fromConfig(credential) || fromEnv(credential);
  if (features.length === 0 || TAILSCALE_CREDENTIAL_SETS.some((set) => set.every(has))) {
    return [];
  }
  const { oauthClientId: id, oauthClientSecret: secret } = TAILSCALE_CREDENTIALS;
  const partial = has("oauthClientId")
    ? `: ${fromConfig("oauthClientId") ? id.config : `${id.env} (environment)`} is set but the OAuth client's secret is not (${secret.config} or ${secret.env})`
    : "";
  return features.map((feature) => {
    const key = configKey(feature);
    return {
      key,
      problem: `needs the Tailscale provider's credentials, and neither the stack config nor the environment holds a complete set${partial}. docs/platform.md lists the sets and the scopes they need`,
      fix: has("oauthClientId")
        ? `pulumi config set --secret ${secret.config} <secret>  (or: export ${secret.env}=<secret>), or turn it off: ${configSetCommand(key, "false")}`
        : `pulumi config set ${id.config} <id> && pulumi config set --secret ${secret.config} <secret>  (or: pulumi config set --secret tailscale:apiKey <key>; or export ${id.env} and ${secret.env}, or ${TAILSCALE_CREDENTIALS.apiKey.env}), or turn it off: ${configSetCommand(key, "false")}`,
    };
  });
}
