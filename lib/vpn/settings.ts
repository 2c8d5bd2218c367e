import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { parseIpv4 } from "../net";
import { charmarrNamespace } from "../platform/settings";
import { integer, interfaceAddress, ipv4Address, pinnedImage, port } from "../settings";

/**
 * VPN service providers this program knows gluetun's requirements for (gluetun v3.41.1
 * internal/configuration/settings, docs/upstream.md#gluetun; the rules are in ./providers.ts).
 */
export const VPN_PROVIDERS = [
  "mullvad",
  "protonvpn",
  "nordvpn",
  "surfshark",
  "ivpn",
  "windscribe",
  "airvpn",
  "private internet access",
  "custom",
] as const;
export type VpnProviderName = (typeof VPN_PROVIDERS)[number];

export const VPN_TYPES = ["wireguard", "openvpn"] as const;
export type VpnType = (typeof VPN_TYPES)[number];

const WIREGUARD_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw480]=$/;

/**
 * The largest tunnel MTU: WireGuard over a 1500-byte link carries at most 1420 bytes (80 bytes of
 * IPv6, UDP and WireGuard headers). Too large an MTU hangs TLS while ping and DNS still work.
 */
export const VPN_MTU_MAX = 1420;

const vpnMtu = integer(1280, 65535).pipe(
  z.number().max(VPN_MTU_MAX, {
    message: `must be at most ${VPN_MTU_MAX}: WireGuard over a 1500-byte link leaves ${VPN_MTU_MAX} bytes for the tunnel, and a larger MTU hangs TLS connections while ping and DNS still work (unset, the program picks the largest value the pod network's MTU allows)`,
  }),
);

/** The VPN gateway's namespace unless `vpn.namespace` names another. */
export const VPN_DEFAULT_NAMESPACE = "charmarr-vpn";

/** `charmarr:vpn`: the VPN gateway (gluetun + pod-gateway) of the downloads stack. */
export const vpnSchema = z.strictObject({
  namespace: charmarrNamespace(VPN_DEFAULT_NAMESPACE)
    .default(VPN_DEFAULT_NAMESPACE)
    .describe("The VPN gateway's own namespace, never in the mesh."),
  provider: z.enum(VPN_PROVIDERS).describe("Your VPN provider, as gluetun names it (required)."),
  type: z.enum(VPN_TYPES).default("wireguard").describe("VPN protocol: wireguard (device wg0) or openvpn (tun0)."),
  addresses: z
    .array(interfaceAddress)
    .default([])
    .describe("WireGuard interface addresses your provider assigned (the provider's default where it has one)."),
  serverCountries: z
    .array(z.string().min(1))
    .default([])
    .describe("gluetun SERVER_COUNTRIES; gluetun checks the names at start."),
  serverCities: z.array(z.string().min(1)).default([]).describe("gluetun SERVER_CITIES."),
  serverRegions: z
    .array(z.string().min(1))
    .default([])
    .describe("gluetun SERVER_REGIONS (e.g. Private Internet Access, Surfshark)."),
  serverHostnames: z.array(z.string().min(1)).default([]).describe("gluetun SERVER_HOSTNAMES."),
  endpointIp: ipv4Address
    .optional()
    .describe("WireGuard server address, where the provider allows or needs it (custom)."),
  endpointPort: port.optional().describe("WireGuard server port, where the provider allows or needs it."),
  publicKey: z
    .string()
    .regex(WIREGUARD_KEY, { message: "is not a WireGuard public key (44 characters of base64 ending in '=')" })
    .optional()
    .describe("WireGuard server public key (custom provider)."),
  vxlanId: integer(1, 16777215).default(42).describe("VXLAN id between the routed clients and the gateway."),
  vxlanNetwork: z
    .string()
    // parseIpv4 takes only four decimal octets, each 0 to 255 without leading zeros (ipaddr.js v2.5.0
    // lib/ipaddr.js `IPv4.isValidFourPartDecimal`): with ".0" added, exactly three such octets pass.
    .refine((value) => parseIpv4(`${value}.0`) !== undefined, {
      error: (issue) => `"${String(issue.input)}" is not the first three octets of an IPv4 /24 (e.g. 172.16.0)`,
    })
    .default("172.16.0")
    .describe("The overlay /24 as three octets; must not overlap pod, Service or LAN ranges."),
  /** Tunnel and vxlan0 MTU; unset: the largest the pod network allows (./mtu.ts). */
  mtu: vpnMtu
    .optional()
    .describe(
      "Tunnel and vxlan0 MTU, shared by gluetun and pod-gateway (1280 to 1420); unset: the largest that fits, cluster.podMtu minus the larger of VXLAN's 50 bytes and the tunnel's 80 (WireGuard) or 100 (OpenVPN).",
    ),
  /** The resolver gluetun and the gateway's dnsmasq send internet lookups to, through the tunnel only. */
  dnsAddress: ipv4Address
    .default("1.1.1.1")
    .describe(
      "The resolver for internet names (gluetun DNS_ADDRESS, the gateway's dnsmasq), reached only through the tunnel; not a cluster, LAN or overlay address.",
    ),
  /** Ask the provider for a forwarded port and hand it to qBittorrent (./portForward.ts). */
  portForwarding: z
    .boolean()
    .default(false)
    .describe(
      "Ask the VPN provider for an incoming port (gluetun VPN_PORT_FORWARDING), forward it from the tunnel to qBittorrent and keep qBittorrent's listen port on it; protonvpn and private internet access only.",
    ),
  /** Container images of the gateway and the routing containers, pinned (docs/upstream.md#gluetun). */
  images: z
    .strictObject({
      gluetun: pinnedImage
        .default("ghcr.io/qdm12/gluetun:v3.41.1")
        .describe("gluetun image with a pinned tag; latest is refused."),
      podGateway: pinnedImage
        .default("ghcr.io/angelnu/pod-gateway:v1.13.0")
        .describe("pod-gateway image with a pinned tag, for the gateway and the routed clients."),
    })
    .prefault({}),
  killSwitch: z
    .strictObject({
      allowLan: z
        .boolean()
        .default(false)
        .describe("Let routed clients reach cluster.lanCidr directly (not through the VPN)."),
      gatewayEgressPolicy: z
        .boolean()
        .default(true)
        .describe("The gateway pod's own egress NetworkPolicy: out only to the VPN server port, the cluster and DNS."),
      unsafeDisable: z
        .boolean()
        .default(false)
        .describe(
          "UNSAFE: routed clients without their egress NetworkPolicy; a routing failure then leaks the real IP.",
        ),
    })
    .prefault({}),
});

export type VpnSettings = z.output<typeof vpnSchema>;

/**
 * `charmarr:indexers` (downloads stack): whether Prowlarr's searches leave through the VPN gateway.
 * Many indexers block home addresses or sit behind Cloudflare challenges that a VPN exit passes.
 */
export const indexersSchema = z
  .strictObject({
    routeThroughVpn: z
      .boolean()
      .default(false)
      .describe(
        "Run Prowlarr in this stack, routed through the VPN gateway with the download clients' kill switch, instead of in core (core must then set charmarr:apps.prowlarr.enabled false; docs/vpn.md#indexers-through-the-vpn).",
      ),
  })
  .prefault({});

export type IndexersSettings = z.output<typeof indexersSchema>;

/** VPN credentials, present only when configured; values stay Pulumi secrets. */
export interface VpnSecrets {
  readonly privateKey?: pulumi.Output<string>;
  readonly presharedKey?: pulumi.Output<string>;
  readonly user?: pulumi.Output<string>;
  readonly password?: pulumi.Output<string>;
}

/** The config keys (without namespace) holding the VPN credentials, and where each goes. */
export const VPN_SECRET_KEYS = {
  vpnPrivateKey: "privateKey",
  vpnPresharedKey: "presharedKey",
  vpnUser: "user",
  vpnPassword: "password",
} as const satisfies Record<string, keyof VpnSecrets>;

/** Example values, by path, for suggested fixes. */
export const VPN_EXAMPLES: Readonly<Record<string, string>> = {
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
  "vpn.dnsAddress": "1.1.1.1",
  "vpn.portForwarding": "true",
  "vpn.images.gluetun": "ghcr.io/qdm12/gluetun:v3.41.1",
  "vpn.images.podGateway": "ghcr.io/angelnu/pod-gateway:v1.13.0",
  "vpn.killSwitch.allowLan": "true",
  "vpn.killSwitch.gatewayEgressPolicy": "true",
  "vpn.killSwitch.unsafeDisable": "false",
  "indexers.routeThroughVpn": "true",
  vpnPrivateKey: "<private key>",
  vpnPresharedKey: "<preshared key>",
  vpnUser: "<user>",
  vpnPassword: "<password>",
};
