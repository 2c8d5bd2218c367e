/**
 * Every config key the program reads, as data: which stack role reads it, how its raw value is
 * parsed, whether it must be a Pulumi secret, and the example used in suggested fixes. The loader,
 * the Pulumi.yaml declarations and the configuration reference (docs/configuration.md) are all checked against this table.
 */

import { APP_EXAMPLES } from "../apps/settings";
import { CLUSTER_EXAMPLES } from "../cluster/settings";
import { GATEWAY_EXAMPLES } from "../ingress/settings";
import { PLATFORM_EXAMPLES } from "../platform/settings";
import { RELATION_EXAMPLES } from "../relations/settings";
import { RECYCLARR_EXAMPLES } from "../recyclarr/settings";
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
  /** What the key is, for the configuration reference and the stack-file schema. */
  readonly description: string;
  /** The default in words, where the schema cannot state it (it depends on the stack). */
  readonly defaultText?: string;
}

export const CONFIG_KEYS = {
  role: {
    roles: ROLES,
    value: "string",
    description: "Which program the stack runs: core or downloads.",
    defaultText: "the stack's name",
  },
  namespace: { roles: ROLES, value: "string", description: "Namespace of the stack's apps, enrolled in the mesh." },
  cluster: {
    roles: ["core"],
    value: "json",
    description: "The cluster's ranges, kube-dns address and DNS domain; downloads reads them from core's outputs.",
  },
  gateways: {
    roles: ["core"],
    value: "json",
    description: "The arr, media and admin ingress gateways: whether each runs, its LAN IP and its tailnet exposure.",
  },
  platform: {
    roles: ["core"],
    value: "json",
    description:
      "Cluster add-ons to install (Gateway API CRDs, Istio ambient, MetalLB, the Tailscale operator) and the generated tailnet policy.",
  },
  apps: {
    roles: ROLES,
    value: "json",
    description:
      "Per app (core: radarr, sonarr, lidarr, prowlarr, flaresolverr, seerr, plex, jellyfin; downloads: qbittorrent, sabnzbd, and prowlarr with flaresolverr with charmarr:indexers.routeThroughVpn): enable, disable, re-image or resize it.",
  },
  mediaServer: { roles: ["core"], value: "string", description: "The media server core runs: plex or jellyfin." },
  storage: {
    roles: ["core"],
    value: "json",
    description:
      "The apps' /config claims and the media library every app of both stacks mounts (nfs or hostPath, exactly one).",
  },
  appEnvironment: {
    roles: ["core"],
    value: "json",
    description: "File ownership and time zone of every app of both stacks.",
  },
  coreStack: {
    roles: ["downloads"],
    value: "string",
    description: "The core stack to read cluster facts, gateways and identities from.",
    defaultText: "<organization>/charmarr/core",
  },
  vpn: {
    roles: ["downloads"],
    value: "json",
    description:
      "The VPN gateway (gluetun + pod-gateway) and the kill switch; gluetun's provider rules are checked before anything is deployed.",
  },
  indexers: {
    roles: ["downloads"],
    value: "json",
    description:
      "Prowlarr's searches through the VPN: routeThroughVpn runs Prowlarr in this stack, routed with the download clients' kill switch, instead of in core.",
  },
  vpnPrivateKey: { roles: ["downloads"], value: "string", secret: true, description: "WireGuard private key." },
  vpnPresharedKey: {
    roles: ["downloads"],
    value: "string",
    secret: true,
    description: "WireGuard preshared key (airvpn requires one).",
  },
  vpnUser: { roles: ["downloads"], value: "string", secret: true, description: "OpenVPN user name." },
  vpnPassword: { roles: ["downloads"], value: "string", secret: true, description: "OpenVPN password." },
  relations: {
    roles: ROLES,
    value: "json",
    description:
      "The relations the stack wires between the apps on pulumi up (docs/relations.md): core's root folders, Prowlarr and Seerr; downloads' download clients.",
  },
  recyclarr: {
    roles: ["core"],
    value: "json",
    description:
      "Quality profiles and custom formats as code: a Recyclarr CronJob that syncs TRaSH Guides templates into Radarr and Sonarr (docs/recyclarr.md).",
  },
  plexToken: {
    roles: ["core"],
    value: "string",
    secret: true,
    description:
      "A Plex account token: the program signs Seerr in with it (Seerr's first admin) and links the in-cluster Plex; without it, signing in to Seerr with Plex is the one manual step.",
  },
  plexClaim: {
    roles: ["core"],
    value: "string",
    secret: true,
    description:
      "A Plex claim token from https://plex.tv/claim (valid 4 minutes), passed to Plex as PLEX_CLAIM: a Plex server not claimed yet is claimed for that account when its pod starts, so Seerr can link it; ignored once the server is claimed.",
  },
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
  ...RELATION_EXAMPLES,
  ...RECYCLARR_EXAMPLES,
};
