/**
 * Each stack role's settings, composed from the domains' schemas, and the rules between settings
 * of different domains, as data: a rule names the keys it needs and runs when all of them are
 * valid, so one invalid key never hides another key's problems.
 */
import { z } from "zod";
import { appIssues, coreAppIssues, ownLoadBalancerIssues } from "../apps/rules";
import { resolveApps } from "../apps/resolve";
import { appEnvironmentSchema, appsSchema, mediaServerSchema, storageSchema } from "../apps/settings";
import { clusterSchema } from "../cluster/settings";
import { coreStackName } from "../contract";
import { gatewayAddressIssues, gatewaysSchema } from "../ingress/settings";
import {
  charmarrNamespace,
  gatewayApiPairingIssues,
  metallbGatewayIssues,
  metallbLanIssues,
  platformSchema,
} from "../platform/settings";
import { ConfigProblem, SettingsIssue, configKey } from "../settings";
import { tailscaleCredentialProblems } from "../tailnet/credentials";
import { gatewayTagIssues, managedPolicyIssues } from "../tailnet/settings";
import { VpnCredentialName, credentialProblems, providerProblems } from "../vpn/providers";
import { vpnNamespaceIssues } from "../vpn/rules";
import { portForwardingProblems } from "../vpn/portForward";
import { VPN_SECRET_KEYS, indexersSchema, vpnSchema } from "../vpn/settings";
import { routedGroups, unroutedOverrideIssues } from "../vpn/routing";
import { coreRelationsSchema, downloadsRelationsSchema } from "../relations/settings";
import { recyclarrIssues, recyclarrSchema } from "../recyclarr/settings";
import type { Role } from "./keys";

/** The settings of each role: one zod schema per `charmarr:` key, defaults applied. */
export const ROLE_SCHEMAS = {
  core: z.strictObject({
    namespace: charmarrNamespace("charmarr-core").default("charmarr-core"),
    cluster: clusterSchema,
    gateways: gatewaysSchema,
    platform: platformSchema,
    apps: appsSchema("core"),
    mediaServer: mediaServerSchema,
    storage: storageSchema,
    appEnvironment: appEnvironmentSchema,
    relations: coreRelationsSchema,
    recyclarr: recyclarrSchema,
  }),
  downloads: z.strictObject({
    namespace: charmarrNamespace("charmarr-downloads").default("charmarr-downloads"),
    coreStack: coreStackName.optional(),
    vpn: vpnSchema,
    indexers: indexersSchema,
    apps: appsSchema("downloads"),
    relations: downloadsRelationsSchema,
  }),
} as const satisfies Record<Role, z.ZodObject>;

export type RoleSettings<R extends Role> = z.output<(typeof ROLE_SCHEMAS)[R]>;

/** What a rule sees besides the settings: the raw config and environment, for credentials. */
export interface RuleContext {
  /** Raw config values by full key (`charmarr:vpnPrivateKey`, `tailscale:apiKey`). */
  readonly values: Readonly<Record<string, string>>;
  /** The Tailscale provider's credential variables from the environment. */
  readonly env: Readonly<Record<string, string>>;
  /** The `charmarr:` keys as read (objects parsed from JSON), valid or not. */
  readonly input: Readonly<Record<string, unknown>>;
  /** The keys that are valid. */
  readonly valid: ReadonlySet<string>;
}

/** A rule between settings: runs when every key it `needs` is valid. */
export interface SettingsRule<R extends Role> {
  readonly needs: readonly (keyof RoleSettings<R>)[];
  check(settings: RoleSettings<R>, context: RuleContext): readonly (SettingsIssue | ConfigProblem)[];
}

/** A rule of role `R`'s settings that sees only the keys it needs. */
function rulesOf<R extends Role>() {
  return <K extends keyof RoleSettings<R>>(
    needs: readonly K[],
    check: (settings: Pick<RoleSettings<R>, K>, context: RuleContext) => readonly (SettingsIssue | ConfigProblem)[],
  ): SettingsRule<R> => ({ needs, check });
}

const coreRule = rulesOf<"core">();
const downloadsRule = rulesOf<"downloads">();

/** The VPN credentials present in the raw config. */
function vpnCredentials(values: Readonly<Record<string, string>>): Set<VpnCredentialName> {
  return new Set(
    Object.entries(VPN_SECRET_KEYS)
      .filter(([key]) => (values[configKey([key])] ?? "") !== "")
      .map(([, field]) => field),
  );
}

export const ROLE_RULES: { readonly [R in Role]: readonly SettingsRule<R>[] } = {
  core: [
    coreRule(["gateways", "cluster"], ({ gateways, cluster }) => gatewayAddressIssues(gateways, cluster)),
    coreRule(["gateways", "platform"], ({ gateways, platform }) => metallbGatewayIssues(gateways, platform)),
    coreRule(["platform", "cluster"], ({ platform, cluster }) => metallbLanIssues(platform, cluster)),
    coreRule(["platform"], ({ platform }) => gatewayApiPairingIssues(platform)),
    coreRule(["gateways"], ({ gateways }) => gatewayTagIssues(gateways)),
    coreRule(["gateways", "platform"], ({ gateways, platform }) =>
      managedPolicyIssues(gateways, platform.tailscale.acl),
    ),
    coreRule(["apps", "mediaServer", "gateways"], coreAppIssues),
    coreRule(["apps", "gateways", "platform", "cluster"], ({ apps, gateways, platform, cluster }) =>
      ownLoadBalancerIssues(apps, gateways, platform, cluster),
    ),
    coreRule(["platform"], ({ platform }, { values, env }) => tailscaleCredentialProblems(platform, values, env)),
    coreRule(["recyclarr", "apps", "mediaServer"], ({ recyclarr, apps, mediaServer }) =>
      recyclarrIssues(
        recyclarr,
        resolveApps("core", apps, mediaServer).map((app) => app.name),
      ),
    ),
  ],
  downloads: [
    downloadsRule(["apps", "indexers"], ({ apps, indexers }) => [
      ...unroutedOverrideIssues(apps, { indexers }),
      ...appIssues(resolveApps("downloads", apps, undefined, routedGroups({ indexers })), undefined),
    ]),
    downloadsRule(["vpn", "namespace"], ({ vpn, namespace }) => vpnNamespaceIssues(vpn, namespace)),
    downloadsRule(["vpn"], ({ vpn }, { values }) => providerProblems(vpn, vpnCredentials(values))),
    downloadsRule(["vpn", "apps", "indexers"], ({ vpn, apps, indexers }) =>
      portForwardingProblems(
        vpn,
        resolveApps("downloads", apps, undefined, routedGroups({ indexers })).map((app) => app.name),
      ),
    ),
    // With another field of charmarr:vpn invalid, the credentials' problems still show.
    downloadsRule([], (_settings, { values, input, valid }) => {
      if (valid.has("vpn")) {
        return [];
      }
      const vpn = typeof input.vpn === "object" && input.vpn !== null ? (input.vpn as Record<string, unknown>) : {};
      const provider = vpnSchema.shape.provider.safeParse(vpn.provider);
      const type = vpnSchema.shape.type.safeParse(vpn.type);
      return provider.success && type.success
        ? credentialProblems({ provider: provider.data, type: type.data }, vpnCredentials(values))
        : [];
    }),
  ],
};
