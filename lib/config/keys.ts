/**
 * Every config key the program reads, as data: which stack role reads it, how its raw value is
 * parsed, whether it must be a Pulumi secret, and the example used in suggested fixes. The loader,
 * the Pulumi.yaml declarations and the configuration reference (docs/configuration.md) are all checked against this table.
 */

import { APP_EXAMPLES } from "../apps/settings";
import { CLUSTER_EXAMPLES } from "../cluster/settings";
import { GATEWAY_EXAMPLES } from "../ingress/settings";
import { PLATFORM_EXAMPLES } from "../platform/settings";
import { CONFIG_NAMESPACE } from "../settings";
import { TAILNET_EXAMPLES } from "../tailnet/settings";
import { VPN_EXAMPLES } from "../vpn/settings";

export { CONFIG_NAMESPACE };

export const ROLES = ["core", "downloads"] as const;
export type Role = (typeof ROLES)[number];

export interface ConfigKeySpec {
    /** The stack roles that read this key; setting it on another role's stack is an error. */
    readonly roles: readonly Role[];
    /** `json` keys hold objects or lists (set with `--path`); `string` keys hold plain text. */
    readonly value: "string" | "json";
    /** Must be set with `pulumi config set --secret`. */
    readonly secret?: boolean;
}

export const CONFIG_KEYS = {
    role: { roles: ROLES, value: "string" },
    namespace: { roles: ROLES, value: "string" },
    cluster: { roles: ["core"], value: "json" },
    gateways: { roles: ["core"], value: "json" },
    platform: { roles: ["core"], value: "json" },
    apps: { roles: ROLES, value: "json" },
    mediaServer: { roles: ["core"], value: "string" },
    storage: { roles: ["core"], value: "json" },
    appEnvironment: { roles: ["core"], value: "json" },
    coreStack: { roles: ["downloads"], value: "string" },
    vpn: { roles: ["downloads"], value: "json" },
    vpnPrivateKey: { roles: ["downloads"], value: "string", secret: true },
    vpnPresharedKey: { roles: ["downloads"], value: "string", secret: true },
    vpnUser: { roles: ["downloads"], value: "string", secret: true },
    vpnPassword: { roles: ["downloads"], value: "string", secret: true },
} as const satisfies Record<string, ConfigKeySpec>;

export type ConfigKeyName = keyof typeof CONFIG_KEYS;

export function isConfigKeyName(name: string): name is ConfigKeyName {
    return Object.prototype.hasOwnProperty.call(CONFIG_KEYS, name);
}

/**
 * Example values for fields, by dotted path without list indexes, from each domain's table. Used to
 * suggest a concrete `pulumi config set` when a value is missing or malformed.
 */
export const CONFIG_EXAMPLES: Readonly<Record<string, string>> = {
    role: "core",
    namespace: "charmarr-core",
    coreStack: "organization/charmarr/core",
    ...CLUSTER_EXAMPLES,
    ...GATEWAY_EXAMPLES,
    ...PLATFORM_EXAMPLES,
    ...TAILNET_EXAMPLES,
    ...APP_EXAMPLES,
    ...VPN_EXAMPLES,
};
