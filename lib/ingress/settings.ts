import { z } from "zod";
import type { ClusterFacts } from "../cluster/settings";
import { GATEWAY_DOMAINS, GatewayDomain } from "../domains";
import { cidrContains, parseCidr, parseIpv4 } from "../net";
import { IssueParams, SettingsIssue, configKey, ipv4Address } from "../settings";

export { GATEWAY_DOMAINS };
export type { GatewayDomain };

const TAILSCALE_TAG = /^tag:[A-Za-z0-9][A-Za-z0-9-]*$/;
const TAILSCALE_HOSTNAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function gatewaySchema(domain: GatewayDomain, onTailnetByDefault: boolean) {
  return z
    .strictObject({
      /** false: no gateway for this domain; every app of the domain must then be disabled. */
      enabled: z
        .boolean()
        .default(true)
        .describe("Run the gateway; false requires every app of its domain to be disabled."),
      /** LAN address MetalLB gives the gateway's Service; unset leaves the choice to MetalLB. */
      lanIp: ipv4Address.optional().describe("LAN IP of the gateway's Service (MetalLB); unset lets MetalLB pick one."),
      tailscale: z
        .strictObject({
          expose: z
            .boolean()
            .default(onTailnetByDefault)
            .describe("Expose the gateway on your tailnet (default true for arr and media, false for admin)."),
          hostname: z
            .string()
            .max(63, { message: "is longer than 63 characters, the limit for a tailnet machine name" })
            .regex(TAILSCALE_HOSTNAME, {
              message: "is not a tailnet machine name (lower-case letters, digits and '-')",
            })
            .default(`charmarr-${domain}`)
            .describe("The gateway's machine name on the tailnet."),
          tags: z
            .array(
              z.string().regex(TAILSCALE_TAG, {
                message: "is not a Tailscale tag: tags start with 'tag:' followed by letters, digits or '-'",
              }),
            )
            .min(1, { message: "needs at least one tag, which the tailnet policy must own" })
            .default([`tag:charmarr-${domain}`])
            .describe("Tags of the gateway's tailnet device, its own (tailnet grants go to tags)."),
        })
        .prefault({}),
    })
    .prefault({});
}

/**
 * The enabled gateways' LAN IPs and tailnet names that parsed, from a `charmarr:gateways` value
 * that may hold invalid fields; a field that did not parse is left out.
 */
function gatewayViews(gateways: unknown): { domain: GatewayDomain; lanIp?: string; hostname?: string }[] {
  const record = (value: unknown) =>
    typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
  return GATEWAY_DOMAINS.flatMap((domain) => {
    const gateway = record(record(gateways)[domain]);
    if (gateway.enabled !== true) {
      return [];
    }
    const tailscale = record(gateway.tailscale);
    const lanIp =
      typeof gateway.lanIp === "string" && parseIpv4(gateway.lanIp) !== undefined ? gateway.lanIp : undefined;
    const hostname =
      tailscale.expose === true && typeof tailscale.hostname === "string" && TAILSCALE_HOSTNAME.test(tailscale.hostname)
        ? tailscale.hostname
        : undefined;
    return [{ domain, lanIp, hostname }];
  });
}

/** `charmarr:gateways`: per gateway, LAN IP and tailnet exposure. The admin gateway stays off the tailnet unless asked. */
export const gatewaysSchema = z
  .strictObject({
    arr: gatewaySchema("arr", true),
    media: gatewaySchema("media", true),
    admin: gatewaySchema("admin", false),
  })
  // Runs even when a field is invalid, on the gateways' fields that parse, so a bad LAN IP
  // does not hide two gateways sharing a tailnet name.
  .superRefine(
    (gateways, ctx) => {
      const views = gatewayViews(gateways);
      const lanIps = new Map<string, GatewayDomain>();
      const hostnames = new Map<string, GatewayDomain>();
      const defaultHostname = (domain: GatewayDomain) => `charmarr-${domain}`;
      for (const { domain, lanIp, hostname } of views) {
        const sameIp = lanIp === undefined ? undefined : lanIps.get(lanIp);
        if (sameIp) {
          ctx.addIssue({
            code: "custom",
            path: [domain, "lanIp"],
            message: `${lanIp} is also the ${sameIp} gateway's LAN IP; each gateway needs its own address (MetalLB gives one Service per IP)`,
            params: { suggest: "<a free LAN address>" } satisfies IssueParams,
          });
        } else if (lanIp !== undefined) {
          lanIps.set(lanIp, domain);
        }
        if (hostname === undefined) {
          continue;
        }
        const other = hostnames.get(hostname);
        if (other === undefined) {
          hostnames.set(hostname, domain);
          continue;
        }
        // Of the two, the gateway that kept its default name is right; the other one is renamed.
        const [culprit, keeper] = hostname === defaultHostname(domain) ? [other, domain] : [domain, other];
        const taken = new Set(views.map((view) => view.hostname));
        const free = [defaultHostname(culprit), ...[2, 3, 4].map((n) => `${defaultHostname(culprit)}-${n}`)].find(
          (name) => !taken.has(name),
        );
        ctx.addIssue({
          code: "custom",
          path: [culprit, "tailscale", "hostname"],
          message: `"${hostname}" is also the ${keeper} gateway's tailnet name; each gateway is its own tailnet machine`,
          params: { suggest: free } satisfies IssueParams,
        });
        hostnames.set(hostname, keeper);
      }
    },
    { when: () => true },
  )
  .prefault({});

export type GatewaysSettings = z.output<typeof gatewaysSchema>;
export type GatewaySettings = GatewaysSettings[GatewayDomain];

/**
 * A gateway's LAN IP is announced on the LAN (MetalLB, by ARP): it must be a LAN address when the
 * LAN is known, and never one the cluster uses for pods or Services.
 */
export function gatewayAddressIssues(gateways: GatewaysSettings, cluster: ClusterFacts): SettingsIssue[] {
  const issues: SettingsIssue[] = [];
  const ranges = [
    ["podCidr", cluster.podCidr],
    ["serviceCidr", cluster.serviceCidr],
  ] as const;
  const lan = cluster.lanCidr === undefined ? undefined : parseCidr(cluster.lanCidr);
  for (const domain of GATEWAY_DOMAINS) {
    const { enabled, lanIp } = gateways[domain];
    const address = lanIp === undefined ? undefined : parseIpv4(lanIp);
    if (!enabled || address === undefined) {
      continue;
    }
    const path = ["gateways", domain, "lanIp"];
    const inCluster = ranges.find(([, range]) => {
      const block = parseCidr(range);
      return block !== undefined && cidrContains(block, address);
    });
    if (inCluster) {
      issues.push({
        path,
        message: `${lanIp} lies in the cluster's ${inCluster[0]} ${inCluster[1]}; a gateway's LAN IP must be a free address on your LAN`,
      });
    } else if (lan && !cidrContains(lan, address)) {
      issues.push({
        path,
        message: `${lanIp} is outside lanCidr ${cluster.lanCidr}; MetalLB announces the gateway's IP on your LAN, so it must belong to it`,
        params: {
          fix: `pick a free address of ${cluster.lanCidr} outside your router's DHCP range: pulumi config set --path ${configKey(path)} <address>`,
        },
      });
    }
  }
  return issues;
}

/** Example values, by path, for suggested fixes. */
export const GATEWAY_EXAMPLES: Readonly<Record<string, string>> = {
  "gateways.arr.lanIp": "192.168.1.240",
  "gateways.media.lanIp": "192.168.1.241",
  "gateways.admin.lanIp": "192.168.1.242",
  "gateways.admin.tailscale.expose": "true",
  "gateways.arr.tailscale.hostname": "charmarr-arr",
  "gateways.arr.tailscale.tags": "tag:charmarr-arr",
};
