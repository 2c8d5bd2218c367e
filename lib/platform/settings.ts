import { z } from "zod";
import type { ClusterFacts } from "../cluster/settings";
import { GATEWAY_DOMAINS, GatewaysSettings } from "../ingress/settings";
import { IssueParams, SettingsIssue, configKey, configSetCommand, namespaceName } from "../settings";
import { tailnetAclSchema } from "../tailnet/settings";
import { freePoolAddress, parsePoolAddress, poolContains, rangeInsideCidr } from "./addresses";
import { ISTIO_PLATFORM_NAMES } from "./istio";
import { trustDomainSchema } from "../mesh/settings";
import { PLATFORM_NAMESPACES } from "./charts";
import { DEFAULT_VERSIONS, ISTIO_MINORS, ISTIO_RELEASES, istioRelease, minorOf } from "./versions";

const PLATFORM_OWNED_NAMESPACES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.keys(PLATFORM_NAMESPACES).map((name) => [name, "a platform add-on (charmarr:platform)"]),
);

/**
 * A namespace Charmarr creates and owns: a valid name that belongs neither to Kubernetes nor to an
 * add-on the core stack may install (creating `tailscale` twice breaks the operator).
 */
export function charmarrNamespace(suggestion: string) {
  return namespaceName(suggestion, PLATFORM_OWNED_NAMESPACES);
}

/**
 * A pinned version, spelled the way its upstream publishes it: Gateway API release tags carry a `v`
 * (the manifest URL 404s without it), Helm chart versions do not (Helm finds no chart with it).
 * A version with the wrong prefix is refused with the corrected spelling as the fix; the default
 * is the version this program was tested with.
 */
function pinnedVersion(what: string, spelling: { prefix: "v" | ""; tested: string }) {
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
}

/**
 * An Istio chart version of a minor in the versions table (ISTIO_RELEASES): the program knows
 * the Gateway API bundle, the Kubernetes range and the upgrade path of no other. Another minor is
 * refused with the table's version of the nearest minor as the fix.
 */
const istioVersion = pinnedVersion("Istio chart", { prefix: "", tested: DEFAULT_VERSIONS.istio }).superRefine(
  (value, ctx) => {
    const minor = minorOf(value);
    if (minor === undefined || istioRelease(value) !== undefined || !/^\d/.test(value)) {
      return;
    }
    const newest = ISTIO_MINORS[ISTIO_MINORS.length - 1];
    ctx.addIssue({
      code: "custom",
      message: `is Istio ${minor}, which this program does not install; it knows Istio ${ISTIO_MINORS.join(", ")} (the older ones only as upgrade steps)`,
      params: { suggest: ISTIO_RELEASES[newest].version } satisfies IssueParams,
    });
  },
);

const poolAddress = z.string().refine((value) => parsePoolAddress(value) !== undefined, {
  error: (issue) =>
    `"${String(issue.input)}" is not a CIDR (192.168.1.240/28) or an address range (192.168.1.240-192.168.1.250)`,
});

/** `charmarr:platform`: what this stack installs besides Charmarr itself. Everything is off by default. */
export const platformSchema = z
  .strictObject({
    gatewayApi: z
      .strictObject({
        install: z.boolean().default(false).describe("Install the Gateway API CRDs (standard channel)."),
        version: pinnedVersion("Gateway API release", { prefix: "v", tested: DEFAULT_VERSIONS.gatewayApi }).describe(
          "Gateway API release tag, with v.",
        ),
      })
      .prefault({}),
    istio: z
      .strictObject({
        install: z.boolean().default(false).describe("Install Istio ambient: base, istiod, cni, ztunnel."),
        version: istioVersion.describe(
          "Istio chart version, without v: a minor of the versions table (docs/platform.md), upgraded one minor at a time.",
        ),
        platform: z
          .enum(ISTIO_PLATFORM_NAMES)
          .default("default")
          .describe("Kubernetes distribution whose CNI paths the istio-cni chart must use."),
        trustDomain: trustDomainSchema.describe(
          "The mesh's SPIFFE trust domain, the first part of every principal; given to an Istio installed here, and with an Istio of your own it must be the one your mesh uses.",
        ),
      })
      .prefault({}),
    metallb: z
      .strictObject({
        install: z.boolean().default(false).describe("Install MetalLB with an L2 address pool."),
        version: pinnedVersion("MetalLB chart", { prefix: "", tested: DEFAULT_VERSIONS.metallb }).describe(
          "MetalLB chart version, without v.",
        ),
        addresses: z
          .array(poolAddress)
          .default([])
          .describe("The pool: CIDRs or address ranges on your LAN, holding every gateway lanIp."),
      })
      .superRefine((metallb, ctx) => {
        if (metallb.install && metallb.addresses.length === 0) {
          ctx.addIssue({
            code: "custom",
            path: ["addresses"],
            message: "is empty, so MetalLB would have no LAN addresses to give the gateways",
            params: {
              fix: configSetCommand(configKey(["platform", "metallb", "addresses", 0]), "192.168.1.240/28"),
            } satisfies IssueParams,
          });
        }
      })
      .prefault({}),
    tailscale: z
      .strictObject({
        operator: z
          .strictObject({
            install: z
              .boolean()
              .default(false)
              .describe("Install the Tailscale Kubernetes operator (needs the Tailscale provider's credentials)."),
            version: pinnedVersion("Tailscale operator chart", {
              prefix: "",
              tested: DEFAULT_VERSIONS.tailscaleOperator,
            }).describe("Tailscale operator chart version, without v."),
          })
          .prefault({}),
        acl: tailnetAclSchema,
      })
      .prefault({}),
  })
  .prefault({});

export type PlatformSettings = z.output<typeof platformSchema>;

/**
 * With both installed here, the Gateway API release must be of the minor the chosen Istio is built
 * against (its row of the versions table): Istio is tested against that minor only, and istiod
 * ignores kinds whose CRDs are older than it needs (istio/istio
 * pkg/config/schema/gatewayapi/minimumversions.go: TLSRoute from v1.5).
 */
export function gatewayApiPairingIssues(platform: PlatformSettings): SettingsIssue[] {
  const release = istioRelease(platform.istio.version);
  if (!platform.gatewayApi.install || !platform.istio.install || release === undefined) {
    return [];
  }
  if (minorOf(platform.gatewayApi.version) === minorOf(release.gatewayApi)) {
    return [];
  }
  return [
    {
      path: ["platform", "gatewayApi", "version"],
      message: `is ${platform.gatewayApi.version}, but Istio ${minorOf(platform.istio.version)} (charmarr:platform.istio.version) is built against Gateway API ${release.gatewayApi}`,
      params: {
        fix: configSetCommand(configKey(["platform", "gatewayApi", "version"]), release.gatewayApi),
      },
    },
  ];
}

/** With MetalLB installed by this stack, each gateway's LAN IP must be in its pool, or MetalLB never assigns it. */
export function metallbGatewayIssues(gateways: GatewaysSettings, platform: PlatformSettings): SettingsIssue[] {
  const { metallb } = platform;
  if (!metallb.install) {
    return [];
  }
  const lanIps = GATEWAY_DOMAINS.flatMap((domain) =>
    gateways[domain].enabled && gateways[domain].lanIp !== undefined ? [gateways[domain].lanIp as string] : [],
  );
  return GATEWAY_DOMAINS.flatMap((domain) => {
    const { enabled, lanIp } = gateways[domain];
    if (!enabled || lanIp === undefined || poolContains(metallb.addresses, lanIp)) {
      return [];
    }
    return [
      {
        path: ["gateways", domain, "lanIp"],
        message: `${lanIp} is outside the MetalLB pool (charmarr:platform.metallb.addresses = ${metallb.addresses.join(", ")}), so MetalLB would never assign it`,
        params: {
          fix: `pick an address inside the pool (${configSetCommand(configKey(["gateways", domain, "lanIp"]), freePoolAddress(metallb.addresses, lanIps) ?? "<address>")}) or add a range holding ${lanIp} to charmarr:platform.metallb.addresses`,
        },
      },
    ];
  });
}

/** MetalLB announces its pool on the LAN by ARP, so every pool entry must lie inside lanCidr when it is known. */
export function metallbLanIssues(platform: PlatformSettings, cluster: Pick<ClusterFacts, "lanCidr">): SettingsIssue[] {
  const { metallb } = platform;
  const lanCidr = cluster.lanCidr;
  if (!metallb.install || lanCidr === undefined) {
    return [];
  }
  return metallb.addresses.flatMap((entry, index) => {
    const range = parsePoolAddress(entry);
    return range !== undefined && !rangeInsideCidr(range, lanCidr)
      ? [
          {
            path: ["platform", "metallb", "addresses", index],
            message: `"${entry}" is not inside lanCidr ${lanCidr}; MetalLB announces pool addresses on the LAN by ARP, so they must belong to it`,
          },
        ]
      : [];
  });
}

/** Example values, by path, for suggested fixes. */
export const PLATFORM_EXAMPLES: Readonly<Record<string, string>> = {
  "platform.gatewayApi.install": "true",
  "platform.gatewayApi.version": DEFAULT_VERSIONS.gatewayApi,
  "platform.istio.install": "true",
  "platform.istio.version": DEFAULT_VERSIONS.istio,
  "platform.istio.platform": "k3s",
  "platform.istio.trustDomain": "cluster.local",
  "platform.metallb.install": "true",
  "platform.metallb.version": DEFAULT_VERSIONS.metallb,
  "platform.metallb.addresses": "192.168.1.240/28",
  "platform.tailscale.operator.install": "true",
  "platform.tailscale.operator.version": DEFAULT_VERSIONS.tailscaleOperator,
};
