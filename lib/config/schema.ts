import { isIP } from "node:net";
import { z } from "zod";
import { canonicalCidr, cidrContains, cidrsOverlap, isCanonicalCidr, parseCidr, parseIpv4 } from "../net";
import { VPN_PROVIDERS, VPN_TYPES } from "../vpn/providers";

/**
 * `params` of a custom issue: `suggest` is a value to put in the suggested `pulumi config set`,
 * `fix` a complete fix text that replaces the generated one.
 */
export interface IssueParams {
    suggest?: string;
    fix?: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const namespaceName = z
    .string()
    .max(63, { message: "is longer than 63 characters, the limit for a Kubernetes namespace name" })
    .regex(DNS_LABEL, {
        message: "is not a valid Kubernetes namespace name (lower-case letters, digits and '-', starting and ending with a letter or digit)",
    });

export const ipv4Cidr = z.string().superRefine((value, ctx) => {
    if (parseCidr(value) === undefined) {
        ctx.addIssue({ code: "custom", message: `"${value}" is not an IPv4 CIDR block (a.b.c.d/n with n from 0 to 32)` });
    } else if (!isCanonicalCidr(value)) {
        const network = canonicalCidr(value) as string;
        ctx.addIssue({
            code: "custom",
            message: `"${value}" has host bits set; the block it names is ${network}`,
            params: { suggest: network } satisfies IssueParams,
        });
    }
});

export const ipv4Address = z.string().refine((value) => parseIpv4(value) !== undefined, {
    error: (issue) => `"${String(issue.input)}" is not an IPv4 address (a.b.c.d)`,
});

/** An interface address with prefix as VPN providers hand them out: `10.64.0.2/32`, `fc00::2/128`. */
export const interfaceAddress = z.string().refine(
    (value) => {
        const [address, prefix, ...rest] = value.split("/");
        const family = isIP(address ?? "");
        const bits = family === 4 ? 32 : 128;
        return rest.length === 0 && family !== 0 && /^\d{1,3}$/.test(prefix ?? "") && Number(prefix) <= bits;
    },
    { error: (issue) => `"${String(issue.input)}" is not an interface address with prefix length (e.g. 10.64.0.2/32)` },
);

/** Accepts numbers and all-digit strings, since YAML users quote numbers as often as not. */
export function integer(min: number, max: number) {
    return z
        .union([z.number(), z.string().regex(/^\d+$/).transform(Number)], {
            error: (issue) => `"${String(issue.input)}" is not a whole number`,
        })
        .pipe(
            z
                .number()
                .int({ message: "must be a whole number" })
                .min(min, { message: `must be at least ${min}` })
                .max(max, { message: `must be at most ${max}` }),
        );
}

export const port = integer(1, 65535);

const WIREGUARD_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw480]=$/;

export const clusterSchema = z
    .strictObject({
        podCidr: ipv4Cidr,
        serviceCidr: ipv4Cidr,
        lanCidr: ipv4Cidr.optional(),
        dnsServiceIp: ipv4Address,
        domain: z
            .string()
            .regex(DNS_SUBDOMAIN, { message: "is not a DNS domain (e.g. cluster.local)" })
            .default("cluster.local"),
    })
    .superRefine((cluster, ctx) => {
        const pods = parseCidr(cluster.podCidr);
        const services = parseCidr(cluster.serviceCidr);
        const lan = cluster.lanCidr === undefined ? undefined : parseCidr(cluster.lanCidr);
        const dns = parseIpv4(cluster.dnsServiceIp);
        if (!pods || !services || dns === undefined) {
            return;
        }
        if (!cidrContains(services, dns)) {
            ctx.addIssue({
                code: "custom",
                path: ["dnsServiceIp"],
                message: `${cluster.dnsServiceIp} is not inside serviceCidr ${cluster.serviceCidr}; it must be the ClusterIP of the kube-dns Service (kubectl -n kube-system get svc kube-dns)`,
            });
        }
        if (cidrsOverlap(pods, services)) {
            ctx.addIssue({
                code: "custom",
                path: ["serviceCidr"],
                message: `serviceCidr ${cluster.serviceCidr} overlaps podCidr ${cluster.podCidr}; copy both from your cluster's settings (k3s: --cluster-cidr and --service-cidr)`,
            });
        }
        for (const [name, block] of [["podCidr", pods], ["serviceCidr", services]] as const) {
            if (lan && cidrsOverlap(lan, block)) {
                ctx.addIssue({
                    code: "custom",
                    path: ["lanCidr"],
                    message: `lanCidr ${cluster.lanCidr} overlaps ${name} ${cluster[name]}; lanCidr is your home network, outside the cluster's own ranges`,
                });
            }
        }
    });

export const vpnSchema = z.strictObject({
    namespace: namespaceName.default("charmarr-vpn"),
    provider: z.enum(VPN_PROVIDERS),
    type: z.enum(VPN_TYPES).default("wireguard"),
    addresses: z.array(interfaceAddress).default([]),
    serverCountries: z.array(z.string().min(1)).default([]),
    serverCities: z.array(z.string().min(1)).default([]),
    serverHostnames: z.array(z.string().min(1)).default([]),
    endpointIp: ipv4Address.optional(),
    endpointPort: port.optional(),
    publicKey: z
        .string()
        .regex(WIREGUARD_KEY, { message: "is not a WireGuard public key (44 characters of base64 ending in '=')" })
        .optional(),
    vxlanId: integer(1, 16777215).default(42),
    vxlanNetwork: z
        .string()
        .refine((value) => /^\d+\.\d+\.\d+$/.test(value) && parseIpv4(`${value}.0`) !== undefined, {
            error: (issue) => `"${String(issue.input)}" is not the first three octets of an IPv4 /24 (e.g. 172.16.0)`,
        })
        .default("172.16.0"),
    mtu: integer(1280, 9000).default(1320),
});

/** The three security domains, one Istio ingress gateway each (design ADR-001). */
export const GATEWAY_DOMAINS = ["arr", "media", "admin"] as const;
export type GatewayDomain = (typeof GATEWAY_DOMAINS)[number];

const TAILSCALE_TAG = /^tag:[A-Za-z0-9][A-Za-z0-9-]*$/;
const TAILSCALE_HOSTNAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function gatewaySchema(domain: GatewayDomain, onTailnetByDefault: boolean) {
    return z
        .strictObject({
            /** LAN address MetalLB gives the gateway's Service; unset leaves the choice to MetalLB. */
            lanIp: ipv4Address.optional(),
            tailscale: z
                .strictObject({
                    expose: z.boolean().default(onTailnetByDefault),
                    hostname: z
                        .string()
                        .regex(TAILSCALE_HOSTNAME, { message: "is not a tailnet machine name (lower-case letters, digits and '-')" })
                        .default(`charmarr-${domain}`),
                    tags: z
                        .array(
                            z.string().regex(TAILSCALE_TAG, {
                                message: "is not a Tailscale tag: tags start with 'tag:' followed by letters, digits or '-'",
                            }),
                        )
                        .min(1, { message: "needs at least one tag, which the tailnet policy must own" })
                        .default([`tag:charmarr-${domain}`]),
                })
                .prefault({}),
        })
        .prefault({});
}

/** Per gateway: LAN IP and tailnet exposure. The admin gateway stays off the tailnet unless asked. */
export const gatewaysSchema = z
    .strictObject({
        arr: gatewaySchema("arr", true),
        media: gatewaySchema("media", true),
        admin: gatewaySchema("admin", false),
    })
    .prefault({});

export type GatewaysSettings = z.output<typeof gatewaysSchema>;
export type GatewaySettings = GatewaysSettings[GatewayDomain];

export const coreStackName = z
    .string()
    .regex(/^([A-Za-z0-9_.-]+\/){0,2}[A-Za-z0-9_.-]+$/, {
        message: "is not a stack name (<stack>, or <organization>/<project>/<stack>)",
    });

export type ClusterFacts = z.output<typeof clusterSchema>;
export type VpnSettings = z.output<typeof vpnSchema>;
