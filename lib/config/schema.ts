import { isIP } from "node:net";
import { z } from "zod";
import { PRIVATE_RANGES, canonicalCidr, cidrContains, cidrsOverlap, isCanonicalCidr, isPrivateCidr, parseCidr, parseIpv4 } from "../net";
import { VPN_PROVIDERS, VPN_TYPES } from "../vpn/providers";
import { firstPoolAddress, parsePoolAddress, poolContains, rangeInsideCidr } from "../platform/addresses";
import { ISTIO_PLATFORM_NAMES } from "../platform/istio";
import { trustDomainSchema } from "../mesh/settings";
import { PLATFORM_NAMESPACES } from "../platform/plan";
import { DEFAULT_VERSIONS } from "../platform/versions";
import { OPERATOR_TAG, PROXY_TAG } from "../tailnet/tags";
import { onTailnet } from "../tailnet/exposure";
import { configSetCommand } from "./errors";
import { CONFIG_NAMESPACE } from "./keys";
import { APP_CATALOG, APP_NAMES, AppName, MEDIA_SERVERS, MediaServer, isAppName } from "../apps/catalog";
import { ResolvedApp, pathConflicts, resolveApps } from "../apps/resolve";
import { closest } from "./errors";

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

/** Namespaces that belong to Kubernetes or to the add-ons the core stack may install. */
const RESERVED_NAMESPACES: Readonly<Record<string, string>> = {
    default: "Kubernetes' default namespace",
    "kube-system": "Kubernetes' own components",
    "kube-public": "Kubernetes' public cluster information",
    "kube-node-lease": "Kubernetes' node heartbeats",
    ...Object.fromEntries(Object.keys(PLATFORM_NAMESPACES).map((name) => [name, "a platform add-on (charmarr:platform)"])),
};

/**
 * A namespace Charmarr creates and owns: a valid name, and none that belongs to Kubernetes or an
 * add-on (enrolling kube-system in the mesh, or creating `tailscale` twice, breaks the cluster).
 */
export function namespaceName(suggestion: string) {
    return z
        .string()
        .max(63, { message: "is longer than 63 characters, the limit for a Kubernetes namespace name" })
        .regex(DNS_LABEL, {
            message: "is not a valid Kubernetes namespace name (lower-case letters, digits and '-', starting and ending with a letter or digit)",
        })
        .superRefine((name, ctx) => {
            const owner = RESERVED_NAMESPACES[name];
            if (owner !== undefined) {
                ctx.addIssue({
                    code: "custom",
                    message: `"${name}" is reserved for ${owner}; Charmarr needs a namespace of its own`,
                    params: { suggest: suggestion } satisfies IssueParams,
                });
            }
        });
}

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
        // Traffic to these ranges never enters the tunnel (clients route them on eth0, the gateway
        // forwards to them unencrypted), so a public range here would reach the internet unprotected.
        for (const [name, block] of [["podCidr", pods], ["serviceCidr", services], ["lanCidr", lan]] as const) {
            if (block && !isPrivateCidr(block)) {
                ctx.addIssue({
                    code: "custom",
                    path: [name],
                    message: `${cluster[name]} is not private address space (${PRIVATE_RANGES.join(", ")}); traffic to the cluster's ranges bypasses the VPN, so a public range here would leave with your real IP`,
                });
            }
        }
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

/** An image reference pinned to a version tag or a digest; `latest` and untagged are refused. */
export const pinnedImage = z.string().superRefine((value, ctx) => {
    const [reference, digest, ...rest] = value.split("@");
    const lastSegment = reference.slice(reference.lastIndexOf("/") + 1);
    const tag = lastSegment.includes(":") ? lastSegment.slice(lastSegment.indexOf(":") + 1) : undefined;
    if (rest.length > 0 || !/^[a-z0-9]+([._/:-][a-z0-9]+)*$/.test(reference.replace(/:[^/]*$/, "")) || (digest !== undefined && !/^sha256:[a-f0-9]{64}$/.test(digest))) {
        ctx.addIssue({ code: "custom", message: `"${value}" is not an image reference (registry/repository:tag)` });
    } else if (digest === undefined && (tag === undefined || tag === "" || tag === "latest")) {
        ctx.addIssue({
            code: "custom",
            message: `"${value}" is not pinned to a version; use a version tag such as ${reference.replace(/:[^/]*$/, "")}:<version>, never latest, so an upgrade is always a config change`,
        });
    }
});

/**
 * The largest tunnel MTU: WireGuard over a 1500-byte link carries at most 1420 bytes (80 bytes of
 * IPv6, UDP and WireGuard headers). Too large an MTU hangs TLS while ping and DNS still work.
 */
export const VPN_MTU_MAX = 1420;

const vpnMtu = integer(1280, 65535).pipe(
    z.number().max(VPN_MTU_MAX, {
        message: `must be at most ${VPN_MTU_MAX}: WireGuard over a 1500-byte link leaves ${VPN_MTU_MAX} bytes for the tunnel, and a larger MTU hangs TLS connections while ping and DNS still work (the default 1320 also leaves room for VXLAN on a 1450-byte overlay)`,
    }),
);

export const vpnSchema = z.strictObject({
    namespace: namespaceName("charmarr-vpn").default("charmarr-vpn"),
    provider: z.enum(VPN_PROVIDERS),
    type: z.enum(VPN_TYPES).default("wireguard"),
    addresses: z.array(interfaceAddress).default([]),
    serverCountries: z.array(z.string().min(1)).default([]),
    serverCities: z.array(z.string().min(1)).default([]),
    /** gluetun SERVER_REGIONS (e.g. Private Internet Access, Surfshark); gluetun checks the names at start. */
    serverRegions: z.array(z.string().min(1)).default([]),
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
    mtu: vpnMtu.default(1320),
    /** Container images of the gateway and the routing containers, pinned (docs/upstream.md#gluetun). */
    images: z
        .strictObject({
            gluetun: pinnedImage.default("ghcr.io/qdm12/gluetun:v3.41.1"),
            podGateway: pinnedImage.default("ghcr.io/angelnu/pod-gateway:v1.13.0"),
        })
        .prefault({}),
    killSwitch: z
        .strictObject({
            /** Let routed clients reach cluster.lanCidr directly (not through the VPN). */
            allowLan: z.boolean().default(false),
            /** The gateway pod's own egress NetworkPolicy: out only to the VPN server port, the cluster and DNS. */
            gatewayEgressPolicy: z.boolean().default(true),
            /** UNSAFE: routed clients without their egress NetworkPolicy; a routing failure then leaks the real IP. */
            unsafeDisable: z.boolean().default(false),
        })
        .prefault({}),
});

/** The three security domains, one Istio ingress gateway each (design ADR-001). */
export const GATEWAY_DOMAINS = ["arr", "media", "admin"] as const;
export type GatewayDomain = (typeof GATEWAY_DOMAINS)[number];

const TAILSCALE_TAG = /^tag:[A-Za-z0-9][A-Za-z0-9-]*$/;
const TAILSCALE_HOSTNAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function gatewaySchema(domain: GatewayDomain, onTailnetByDefault: boolean) {
    return z
        .strictObject({
            /** false: no gateway for this domain; every app of the domain must then be disabled. */
            enabled: z.boolean().default(true),
            /** LAN address MetalLB gives the gateway's Service; unset leaves the choice to MetalLB. */
            lanIp: ipv4Address.optional(),
            tailscale: z
                .strictObject({
                    expose: z.boolean().default(onTailnetByDefault),
                    hostname: z
                        .string()
                        .max(63, { message: "is longer than 63 characters, the limit for a tailnet machine name" })
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
    .superRefine((gateways, ctx) => {
        const lanIps = new Map<string, GatewayDomain>();
        const hostnames = new Map<string, GatewayDomain>();
        for (const domain of GATEWAY_DOMAINS) {
            const gateway = gateways[domain];
            if (!gateway.enabled) {
                continue;
            }
            const sameIp = gateway.lanIp === undefined ? undefined : lanIps.get(gateway.lanIp);
            if (sameIp) {
                ctx.addIssue({
                    code: "custom",
                    path: [domain, "lanIp"],
                    message: `${gateway.lanIp} is also the ${sameIp} gateway's LAN IP; each gateway needs its own address (MetalLB gives one Service per IP)`,
                    params: { suggest: "<a free LAN address>" } satisfies IssueParams,
                });
            } else if (gateway.lanIp !== undefined) {
                lanIps.set(gateway.lanIp, domain);
            }
            const sameHost = gateway.tailscale.expose ? hostnames.get(gateway.tailscale.hostname) : undefined;
            if (sameHost) {
                ctx.addIssue({
                    code: "custom",
                    path: [domain, "tailscale", "hostname"],
                    message: `"${gateway.tailscale.hostname}" is also the ${sameHost} gateway's tailnet name; each gateway is its own tailnet machine`,
                    params: { suggest: `charmarr-${domain}` } satisfies IssueParams,
                });
            } else if (gateway.tailscale.expose) {
                hostnames.set(gateway.tailscale.hostname, domain);
            }
        }
    })
    .prefault({});

export type GatewaysSettings = z.output<typeof gatewaysSchema>;

/**
 * A gateway's LAN IP is announced on the LAN (MetalLB, by ARP): it must be a LAN address when the
 * LAN is known, and never one the cluster uses for pods or Services.
 */
export function checkGatewayAddresses(config: { gateways: GatewaysSettings; cluster: ClusterFacts }, ctx: z.core.$RefinementCtx): void {
    const { gateways, cluster } = config;
    const ranges = [["podCidr", cluster.podCidr], ["serviceCidr", cluster.serviceCidr]] as const;
    const lan = cluster.lanCidr === undefined ? undefined : parseCidr(cluster.lanCidr);
    for (const domain of GATEWAY_DOMAINS) {
        const { enabled, lanIp } = gateways[domain];
        const address = lanIp === undefined ? undefined : parseIpv4(lanIp);
        if (!enabled || address === undefined) {
            continue;
        }
        const path = [domain, "lanIp"];
        const inCluster = ranges.find(([, range]) => {
            const block = parseCidr(range);
            return block !== undefined && cidrContains(block, address);
        });
        if (inCluster) {
            ctx.addIssue({
                code: "custom",
                path: ["gateways", ...path],
                message: `${lanIp} lies in the cluster's ${inCluster[0]} ${inCluster[1]}; a gateway's LAN IP must be a free address on your LAN`,
            });
        } else if (lan && !cidrContains(lan, address)) {
            ctx.addIssue({
                code: "custom",
                path: ["gateways", ...path],
                message: `${lanIp} is outside lanCidr ${cluster.lanCidr}; MetalLB announces the gateway's IP on your LAN, so it must belong to it`,
                params: {
                    fix: `pick a free address of ${cluster.lanCidr} outside your router's DHCP range: pulumi config set --path ${CONFIG_NAMESPACE}:gateways.${domain}.lanIp <address>`,
                } satisfies IssueParams,
            });
        }
    }
}
export type GatewaySettings = GatewaysSettings[GatewayDomain];

// ---- Platform add-ons and the tailnet policy ----

/**
 * A pinned version, spelled the way its upstream publishes it: Gateway API release tags carry a `v`
 * (the manifest URL 404s without it), Helm chart versions do not (Helm finds no chart with it).
 * A version with the wrong prefix is refused with the corrected spelling as the fix.
 */
/** A pinned version spelled as its upstream spells it, defaulting to the one this program was tested with. */
const pinnedVersion = (what: string, spelling: { prefix: "v" | ""; tested: string }) => {
    const pattern = new RegExp(`^${spelling.prefix}\\d+\\.\\d+\\.\\d+([-+][0-9A-Za-z.-]+)?$`);
    const rule = spelling.prefix === "v" ? 'release tags start with "v"' : 'chart versions have no "v" prefix';
    return z
        .string()
        .superRefine((value, ctx) => {
            if (pattern.test(value)) {
                return;
            }
            const respelled = spelling.prefix + value.replace(/^v/, "");
            ctx.addIssue({
                code: "custom",
                message: `is not a pinned ${what} version like ${spelling.tested} (${rule})`,
                params: { suggest: pattern.test(respelled) ? respelled : spelling.tested } satisfies IssueParams,
            });
        })
        .default(spelling.tested);
};

const poolAddress = z.string().refine((value) => parsePoolAddress(value) !== undefined, {
    error: (issue) => `"${String(issue.input)}" is not a CIDR (192.168.1.240/28) or an address range (192.168.1.240-192.168.1.250)`,
});

const GROUP_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// Tailscale logins: email addresses, and `name@github` / `name@passkey` for those identity providers.
const TAILNET_LOGIN = /^[^@\s]+@[^@\s]+$/;

const tailnetGroupSchema = z.strictObject({
    /** Tailnet logins in the group. */
    members: z.array(z.string().regex(TAILNET_LOGIN, { message: "is not a tailnet login (an email address, or name@github)" })).default([]),
    /** The gateways the group may reach. */
    domains: z.array(z.enum(GATEWAY_DOMAINS)).min(1, { message: "is empty; name the gateways the group may reach (arr, media, admin)" }),
});

/** Family reaches the arr and media gateways, viewers the media gateway, admins everything (design ADR-001). */
export function defaultTailnetGroups(): Record<string, { members: string[]; domains: GatewayDomain[] }> {
    return {
        admins: { members: [], domains: ["arr", "media", "admin"] },
        family: { members: [], domains: ["arr", "media"] },
        viewers: { members: [], domains: ["media"] },
    };
}

/** `charmarr:platform`: what this stack installs besides Charmarr itself. Everything is off by default. */
export const platformSchema = z
    .strictObject({
        gatewayApi: z
            .strictObject({
                install: z.boolean().default(false),
                version: pinnedVersion("Gateway API release", { prefix: "v", tested: DEFAULT_VERSIONS.gatewayApi }),
            })
            .prefault({}),
        istio: z
            .strictObject({
                install: z.boolean().default(false),
                version: pinnedVersion("Istio chart", { prefix: "", tested: DEFAULT_VERSIONS.istio }),
                platform: z.enum(ISTIO_PLATFORM_NAMES).default("default"),
                trustDomain: trustDomainSchema,
            })
            .prefault({}),
        metallb: z
            .strictObject({
                install: z.boolean().default(false),
                version: pinnedVersion("MetalLB chart", { prefix: "", tested: DEFAULT_VERSIONS.metallb }),
                addresses: z.array(poolAddress).default([]),
            })
            .superRefine((metallb, ctx) => {
                if (metallb.install && metallb.addresses.length === 0) {
                    ctx.addIssue({
                        code: "custom",
                        path: ["addresses"],
                        message: "is empty, so MetalLB would have no LAN addresses to give the gateways",
                        params: { fix: "pulumi config set --path 'charmarr:platform.metallb.addresses[0]' 192.168.1.240/28" } satisfies IssueParams,
                    });
                }
            })
            .prefault({}),
        tailscale: z
            .strictObject({
                operator: z
                    .strictObject({
                        install: z.boolean().default(false),
                        version: pinnedVersion("Tailscale operator chart", { prefix: "", tested: DEFAULT_VERSIONS.tailscaleOperator }),
                    })
                    .prefault({}),
                acl: z
                    .strictObject({
                        /** Apply the generated policy with a tailscale.Acl: it replaces the whole tailnet policy. */
                        manage: z.boolean().default(false),
                        groups: z
                            .record(z.string().regex(GROUP_NAME, { message: "is not a group name (lower-case letters, digits and '-')" }), tailnetGroupSchema)
                            .default(defaultTailnetGroups),
                    })
                    .superRefine((acl, ctx) => {
                        if (!acl.manage) {
                            return;
                        }
                        for (const [name, group] of Object.entries(acl.groups)) {
                            if (group.members.length === 0) {
                                ctx.addIssue({
                                    code: "custom",
                                    path: ["groups", name, "members"],
                                    message: `is empty: with acl.manage the applied policy would let nobody in group:${name} reach its gateways, and its tests would check an empty group`,
                                    params: { fix: `pulumi config set --path 'charmarr:platform.tailscale.acl.groups.${name}.members[0]' alice@example.com` } satisfies IssueParams,
                                });
                            }
                        }
                    })
                    .prefault({}),
            })
            .prefault({}),
    })
    .prefault({});

export type PlatformSettings = z.output<typeof platformSchema>;
export type TailnetGroups = PlatformSettings["tailscale"]["acl"]["groups"];

/**
 * Rules between `charmarr:gateways` and `charmarr:platform` (and the cluster's LAN): run on the
 * core stack's whole config.
 */
export function checkPlatformAgainstGateways(
    config: { gateways: GatewaysSettings; platform: PlatformSettings; cluster: { lanCidr?: string } },
    ctx: z.core.$RefinementCtx,
): void {
    const { gateways, platform, cluster } = config;
    if (platform.metallb.install) {
        const suggestion = firstPoolAddress(platform.metallb.addresses);
        for (const domain of GATEWAY_DOMAINS) {
            const { enabled, lanIp } = gateways[domain];
            if (enabled && lanIp !== undefined && !poolContains(platform.metallb.addresses, lanIp)) {
                ctx.addIssue({
                    code: "custom",
                    path: ["gateways", domain, "lanIp"],
                    message: `${lanIp} is outside the MetalLB pool (charmarr:platform.metallb.addresses = ${platform.metallb.addresses.join(", ")}), so MetalLB would never assign it`,
                    params: {
                        fix: `pick an address inside the pool (${configSetCommand(`${CONFIG_NAMESPACE}:gateways.${domain}.lanIp`, suggestion ?? "<address>")}) or add a range holding ${lanIp} to charmarr:platform.metallb.addresses`,
                    } satisfies IssueParams,
                });
            }
        }
        platform.metallb.addresses.forEach((entry, index) => {
            const range = parsePoolAddress(entry);
            if (cluster.lanCidr !== undefined && range !== undefined && !rangeInsideCidr(range, cluster.lanCidr)) {
                ctx.addIssue({
                    code: "custom",
                    path: ["platform", "metallb", "addresses", index],
                    message: `"${entry}" is not inside lanCidr ${cluster.lanCidr}; MetalLB announces pool addresses on the LAN by ARP, so they must belong to it`,
                });
            }
        });
    }
    const owners = new Map<string, GatewayDomain>();
    for (const domain of GATEWAY_DOMAINS) {
        const { enabled, tailscale } = gateways[domain];
        if (!enabled || !tailscale.expose) {
            continue;
        }
        tailscale.tags.forEach((tag, index) => {
            const path = ["gateways", domain, "tailscale", "tags", index];
            const fix = configSetCommand(`${CONFIG_NAMESPACE}:gateways.${domain}.tailscale.tags[${index}]`, `tag:charmarr-${domain}`);
            if (tag === OPERATOR_TAG) {
                ctx.addIssue({
                    code: "custom",
                    path,
                    message: `${tag} is the operator's own tag; the tailnet policy lets only admins own it, so the operator could not tag the gateway's proxy with it`,
                    params: { fix } satisfies IssueParams,
                });
            } else if (tag === PROXY_TAG) {
                ctx.addIssue({
                    code: "custom",
                    path,
                    message: `${tag} is the tag of every other proxy the operator runs; a grant to it would open them all, so the gateway needs a tag of its own`,
                    params: { fix } satisfies IssueParams,
                });
            } else if (owners.has(tag) && owners.get(tag) !== domain) {
                ctx.addIssue({
                    code: "custom",
                    path,
                    message: `${tag} is also a tag of the ${owners.get(tag)} gateway; grants go to tags, so sharing one would let the ${owners.get(tag)} gateway's users reach the ${domain} gateway`,
                    params: { fix } satisfies IssueParams,
                });
            } else {
                owners.set(tag, domain);
            }
        });
    }
    if (platform.tailscale.acl.manage) {
        checkManagedPolicyReach(gateways, platform.tailscale.acl.groups, ctx);
    }
}

/**
 * An applied policy replaces the whole tailnet policy file: with no grants every device loses all
 * access, and a group whose gateways are all off the tailnet loses access too. Both are refused
 * before a `tailscale.Acl` could apply them. Groups without members are refused by the acl schema.
 */
function checkManagedPolicyReach(gateways: GatewaysSettings, groups: TailnetGroups, ctx: z.core.$RefinementCtx): void {
    const reachable = GATEWAY_DOMAINS.filter((domain) => onTailnet(gateways[domain]));
    const key = (path: string) => `${CONFIG_NAMESPACE}:${path}`;
    const bringOnTailnet = (domain: GatewayDomain) =>
        [
            ...(gateways[domain].enabled ? [] : [configSetCommand(key(`gateways.${domain}.enabled`), "true")]),
            configSetCommand(key(`gateways.${domain}.tailscale.expose`), "true"),
        ].join(" && ");
    const stopApplying = `stop applying the policy (${configSetCommand(key("platform.tailscale.acl.manage"), "false")})`;
    const names = Object.keys(groups).sort();
    const reaches = (name: string) => groups[name].domains.some((domain) => reachable.includes(domain));

    if (!names.some(reaches)) {
        const why =
            names.length === 0
                ? "no groups are configured"
                : reachable.length === 0
                  ? "no gateway is on the tailnet"
                  : `no group may reach a gateway on the tailnet (gateways on the tailnet: ${reachable.join(", ")}; ${names.map((name) => `group:${name} (${groups[name].domains.join(", ")})`).join(", ")})`;
        const firstOff = GATEWAY_DOMAINS.find((domain) => gateways[domain].enabled && !onTailnet(gateways[domain])) ?? "arr";
        const remedy =
            reachable.length === 0
                ? `put a gateway on the tailnet (${bringOnTailnet(firstOff)})`
                : names.length === 0
                  ? `add a group (${configSetCommand(key("platform.tailscale.acl.groups.admins.members[0]"), "you@example.com")} && ${configSetCommand(key("platform.tailscale.acl.groups.admins.domains[0]"), reachable[0])})`
                  : `give a group a gateway on the tailnet (${configSetCommand(key(`platform.tailscale.acl.groups.${names[0]}.domains[${groups[names[0]].domains.length}]`), reachable[0])})`;
        ctx.addIssue({
            code: "custom",
            path: ["platform", "tailscale", "acl", "manage"],
            message: `would apply a tailnet policy with no grants: ${why}. The policy replaces the tailnet's whole policy file, so every device would lose all access`,
            params: { fix: `${remedy}, or ${stopApplying}` } satisfies IssueParams,
        });
        return;
    }
    for (const name of names) {
        const group = groups[name];
        if (group.members.length === 0 || reaches(name)) {
            continue;
        }
        const remedies = group.domains.map((domain) => bringOnTailnet(domain));
        ctx.addIssue({
            code: "custom",
            path: ["platform", "tailscale", "acl", "groups", name, "domains"],
            message: `group:${name} reaches no gateway: its domains (${group.domains.join(", ")}) are not on the tailnet (gateways on the tailnet: ${reachable.join(", ")}), so the applied policy would cut its members off`,
            params: {
                fix: `put one of its gateways on the tailnet (${remedies.join("; or ")}), give it a domain on the tailnet (${configSetCommand(key(`platform.tailscale.acl.groups.${name}.domains[${group.domains.length}]`), reachable[0])}), or ${stopApplying}`,
            } satisfies IssueParams,
        });
    }
}

export const coreStackName = z
    .string()
    .regex(/^([A-Za-z0-9_.-]+\/){0,2}[A-Za-z0-9_.-]+$/, {
        message: "is not a stack name (<stack>, or <organization>/<project>/<stack>)",
    });

export type ClusterFacts = z.output<typeof clusterSchema>;
export type VpnSettings = z.output<typeof vpnSchema>;

// ---- Apps, storage and the shared media library (MediaApp) ----

const QUANTITY = /^\d+(\.\d+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/;
export const quantity = z.string().regex(QUANTITY, { message: "is not a Kubernetes quantity (e.g. 100m, 512Mi, 2Gi)" });

const absolutePath = z.string().regex(/^\/[^\0]*$/, { message: "is not an absolute path (e.g. /data)" });

const appOverrideSchema = z.strictObject({
    /** false removes the app (and its route and policy); the media server is chosen with charmarr:mediaServer. */
    enabled: z.boolean().optional(),
    /** Image repository without tag, e.g. ghcr.io/hotio/radarr. */
    image: z
        .string()
        .regex(/^[a-z0-9]+([._/:-][a-z0-9]+)*$/, { message: "is not an image repository (e.g. lscr.io/linuxserver/radarr), without a tag" })
        .optional(),
    /** Pinned image tag; `latest` is refused so an upgrade is always a config change. */
    tag: z
        .string()
        .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, { message: "is not an image tag (letters, digits, '.', '_', '-')" })
        .refine((tag) => tag !== "latest", { message: "is a moving tag; pin a version so upgrades happen only when you change it" })
        .optional(),
    /** Path prefix the app is served under on its gateway's port 80, e.g. /movies. */
    path: z
        .string()
        .regex(/^\/[a-z0-9][a-z0-9._-]*$/, { message: "is not a one-segment path prefix (e.g. /radarr)" })
        .optional(),
    /**
     * More host names the app is reached by. Only SABnzbd checks them (it refuses any Host header
     * not in its host_whitelist): add e.g. the admin gateway's MagicDNS name
     * `charmarr-admin.<tailnet>.ts.net` or a LAN DNS name.
     */
    hostnames: z
        .array(z.string().regex(DNS_SUBDOMAIN, { message: "is not a host name (lower-case DNS name, e.g. charmarr-admin.tail1234.ts.net)" }))
        .optional(),
    /** Size of the app's /config volume claim. */
    configSize: quantity.optional(),
    resources: z
        .strictObject({
            requests: z.strictObject({ cpu: quantity.optional(), memory: quantity.optional() }).optional(),
            limits: z.strictObject({ memory: quantity.optional() }).optional(),
        })
        .optional(),
});

export type AppOverride = z.output<typeof appOverrideSchema>;

/**
 * `charmarr:apps`: per app, enable/disable and image/tag/path/resource overrides. Only the apps the
 * stack runs are accepted; anything else is named as unknown or as the other stack's.
 */
export function appsSchema(stack: "core" | "downloads") {
    return z
        .record(z.string(), appOverrideSchema)
        .superRefine((apps, ctx) => {
            for (const name of Object.keys(apps)) {
                if (!isAppName(name)) {
                    const guess = closest(name, APP_NAMES);
                    ctx.addIssue({
                        code: "custom",
                        path: [name],
                        message: `is not an app Charmarr runs${guess ? ` (did you mean ${guess}?)` : ""}; the apps are ${APP_NAMES.join(", ")}`,
                        params: { fix: `pulumi config rm --path 'charmarr:apps.${name}'${guess ? ` and set charmarr:apps.${guess} instead` : ""}` } satisfies IssueParams,
                    });
                } else if (APP_CATALOG[name].stack !== stack) {
                    ctx.addIssue({
                        code: "custom",
                        path: [name],
                        message: `${name} runs in the ${APP_CATALOG[name].stack} stack, not in this ${stack} stack`,
                        params: { fix: `pulumi config rm --path 'charmarr:apps.${name}' and set it on the ${APP_CATALOG[name].stack} stack` } satisfies IssueParams,
                    });
                } else if (APP_CATALOG[name].pathStyle !== "sabnzbd" && apps[name].hostnames !== undefined) {
                    ctx.addIssue({
                        code: "custom",
                        path: [name, "hostnames"],
                        message: `${name} does not check the Host header, so it takes no host names (only sabnzbd does)`,
                        params: { fix: `pulumi config rm --path 'charmarr:apps.${name}.hostnames'` } satisfies IssueParams,
                    });
                } else if (APP_CATALOG[name].pathStyle === "root" && apps[name].path !== undefined) {
                    ctx.addIssue({
                        code: "custom",
                        path: [name, "path"],
                        message: `${name} can only serve at "/" of a listener of its own, so it takes no path`,
                        params: { fix: `pulumi config rm --path 'charmarr:apps.${name}.path'` } satisfies IssueParams,
                    });
                }
            }
        })
        .prefault({})
        .transform((apps) => apps as Partial<Record<AppName, AppOverride>>);
}

export type AppsSettings = Partial<Record<AppName, AppOverride>>;

export const mediaServerSchema = z.enum(MEDIA_SERVERS).default("plex");

/** `charmarr:storage`: the /config claims' class and the media library every app mounts. */
export const storageSchema = z.strictObject({
    /** StorageClass of the apps' /config claims; unset uses the cluster default. */
    className: z.string().regex(DNS_SUBDOMAIN, { message: "is not a StorageClass name" }).optional(),
    library: z
        .strictObject({
            nfs: z.strictObject({ server: z.string().min(1, { message: "is empty; give the NFS server's address" }), path: absolutePath }).optional(),
            hostPath: z.strictObject({ path: absolutePath }).optional(),
            /** Where every app of both stacks sees the library, so paths match between them. */
            mountPath: absolutePath.default("/data"),
        })
        .superRefine((library, ctx) => {
            if ((library.nfs === undefined) === (library.hostPath === undefined)) {
                ctx.addIssue({
                    code: "custom",
                    message: `needs exactly one of nfs or hostPath (it has ${library.nfs && library.hostPath ? "both" : "neither"}); every app of both stacks mounts it`,
                    params: {
                        fix: "pulumi config set --path 'charmarr:storage.library.nfs.server' 192.168.1.10 && pulumi config set --path 'charmarr:storage.library.nfs.path' /export/media",
                    } satisfies IssueParams,
                });
            }
        }),
});

export type StorageSettings = z.output<typeof storageSchema>;
export type MediaLibrary = StorageSettings["library"];

/** `charmarr:appEnvironment`: file ownership and time zone of every app, so both stacks agree on the library. */
export const appEnvironmentSchema = z
    .strictObject({
        puid: integer(0, 2147483647).default(1000),
        pgid: integer(0, 2147483647).default(1000),
        timezone: z
            .string()
            .regex(/^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$/, { message: "is not a tz database name (e.g. Europe/Amsterdam)" })
            .default("Etc/UTC"),
    })
    .prefault({});

export type AppEnvironment = z.output<typeof appEnvironmentSchema>;

/** The rules between `charmarr:apps`, `charmarr:mediaServer` and `charmarr:gateways` of the core stack. */
export function refineCoreApps(
    core: { apps: AppsSettings; mediaServer: MediaServer; gateways: GatewaysSettings },
    ctx: z.core.$RefinementCtx,
): void {
    for (const server of MEDIA_SERVERS) {
        if (server !== core.mediaServer && core.apps[server]?.enabled === true) {
            ctx.addIssue({
                code: "custom",
                path: ["apps", server, "enabled"],
                message: `${server} is not the chosen media server (charmarr:mediaServer is ${core.mediaServer}); one media server runs at a time`,
                params: { fix: `pulumi config set charmarr:mediaServer ${server} && pulumi config rm --path 'charmarr:apps.${server}.enabled'` } satisfies IssueParams,
            });
        }
    }
    refineApps(resolveApps("core", core.apps, core.mediaServer), core.gateways, ctx);
}

/** A rule an app breaks, located by its path inside the stack's config. */
export interface AppIssue {
    readonly path: (string | number)[];
    readonly message: string;
    readonly params: IssueParams;
}

/**
 * Every enabled app needs its domain's gateway (checked when `gateways` is known), and a path of its
 * own on it. `taken` lists paths already used on each gateway by the other stack
 * (`"<domain> <path>"` → app).
 */
export function appIssues(
    apps: readonly ResolvedApp[],
    gateways: Readonly<Partial<Record<GatewayDomain, { enabled: boolean }>>> | undefined,
    taken: ReadonlyMap<string, string> = new Map(),
): AppIssue[] {
    const issues: AppIssue[] = [];
    for (const app of apps) {
        if (gateways && !gateways[app.domain]?.enabled) {
            issues.push({
                path: ["apps", app.name],
                message: `${app.name} is enabled but no gateway serves it: it belongs to the ${app.domain} domain and charmarr:gateways.${app.domain}.enabled is false on the core stack`,
                params: {
                    fix: `pulumi config set --path 'charmarr:apps.${app.name}.enabled' false  (or, on the core stack: pulumi config set --path 'charmarr:gateways.${app.domain}.enabled' true)`,
                },
            });
        }
    }
    for (const { app, holder } of pathConflicts(apps, taken)) {
        issues.push({
            path: ["apps", app.name, "path"],
            message: `${app.name} would be served at ${app.path} on the ${app.domain} gateway, which ${holder} already uses; each app needs a path of its own`,
            params: { suggest: `/${app.name}` },
        });
    }
    return issues;
}

export function refineApps(
    apps: readonly ResolvedApp[],
    gateways: Readonly<Record<GatewayDomain, { enabled: boolean }>> | undefined,
    ctx: z.core.$RefinementCtx,
): void {
    for (const issue of appIssues(apps, gateways)) {
        ctx.addIssue({ code: "custom", ...issue });
    }
}
