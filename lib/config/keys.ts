/**
 * Every config key the program reads, as data: which stack role reads it, how its raw value is
 * parsed, whether it must be a Pulumi secret, and the example used in suggested fixes. The loader,
 * the Pulumi.yaml declarations and the configuration reference (docs/configuration.md) are all checked against this table.
 */

export const CONFIG_NAMESPACE = "charmarr";

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
 * Example values for fields, by dotted path without list indexes. Used to suggest a concrete
 * `pulumi config set` when a value is missing or malformed.
 */
export const CONFIG_EXAMPLES: Readonly<Record<string, string>> = {
    role: "core",
    namespace: "charmarr-core",
    "cluster.podCidr": "10.42.0.0/16",
    "cluster.serviceCidr": "10.43.0.0/16",
    "cluster.lanCidr": "192.168.1.0/24",
    "cluster.dnsServiceIp": "10.43.0.10",
    "cluster.domain": "cluster.local",
    "gateways.arr.lanIp": "192.168.1.240",
    "gateways.media.lanIp": "192.168.1.241",
    "gateways.admin.lanIp": "192.168.1.242",
    "gateways.admin.tailscale.expose": "true",
    "gateways.arr.tailscale.hostname": "charmarr-arr",
    "gateways.arr.tailscale.tags": "tag:charmarr-arr",
    "platform.gatewayApi.install": "true",
    "platform.gatewayApi.version": "v1.3.0",
    "platform.istio.install": "true",
    "platform.istio.version": "1.27.3",
    "platform.istio.platform": "k3s",
    "platform.istio.trustDomain": "cluster.local",
    "platform.metallb.install": "true",
    "platform.metallb.version": "0.15.2",
    "platform.metallb.addresses": "192.168.1.240/28",
    "platform.tailscale.operator.install": "true",
    "platform.tailscale.operator.version": "1.86.4",
    "platform.tailscale.acl.manage": "true",
    "platform.tailscale.acl.groups.family.members": "alice@example.com",
    "platform.tailscale.acl.groups.family.domains": "media",
    "apps.radarr.enabled": "false",
    "apps.radarr.tag": "5.27.5.10198-ls283",
    "apps.radarr.image": "lscr.io/linuxserver/radarr",
    "apps.radarr.path": "/radarr",
    "apps.radarr.configSize": "2Gi",
    "apps.radarr.resources.requests.cpu": "100m",
    "apps.radarr.resources.requests.memory": "512Mi",
    "apps.radarr.resources.limits.memory": "2Gi",
    mediaServer: "plex",
    "storage.className": "local-path",
    "storage.library.nfs.server": "192.168.1.10",
    "storage.library.nfs.path": "/export/media",
    "storage.library.hostPath.path": "/srv/media",
    "storage.library.mountPath": "/data",
    "appEnvironment.puid": "1000",
    "appEnvironment.pgid": "1000",
    "appEnvironment.timezone": "Europe/Amsterdam",
    coreStack: "organization/charmarr/core",
    "vpn.namespace": "charmarr-vpn",
    "vpn.provider": "mullvad",
    "vpn.type": "wireguard",
    "vpn.addresses": "10.64.0.2/32",
    "vpn.serverCountries": "Netherlands",
    "vpn.serverCities": "Amsterdam",
    "vpn.serverRegions": "Europe",
    "vpn.serverHostnames": "nl-ams-wg-001",
    "vpn.endpointIp": "203.0.113.10",
    "vpn.endpointPort": "51820",
    "vpn.publicKey": "<server public key>",
    "vpn.vxlanId": "42",
    "vpn.vxlanNetwork": "172.16.0",
    "vpn.mtu": "1320",
    "vpn.images.gluetun": "ghcr.io/qdm12/gluetun:v3.41.1",
    "vpn.images.podGateway": "ghcr.io/angelnu/pod-gateway:v1.13.0",
    "vpn.killSwitch.allowLan": "true",
    "vpn.killSwitch.gatewayEgressPolicy": "true",
    "vpn.killSwitch.unsafeDisable": "false",
    vpnPrivateKey: "<private key>",
    vpnPresharedKey: "<preshared key>",
    vpnUser: "<user>",
    vpnPassword: "<password>",
};
