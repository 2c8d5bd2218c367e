import { z } from "zod";
import { GATEWAY_DOMAINS, GatewayDomain, GatewaysSettings } from "../ingress/settings";
import { CONFIG_NAMESPACE, SettingsIssue, configKey, configSetCommand } from "../settings";
import { onTailnet } from "./exposure";
import { OPERATOR_TAG, PROXY_TAG } from "./tags";

const GROUP_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// Tailscale logins: email addresses, and `name@github` / `name@passkey` for those identity providers.
const TAILNET_LOGIN = /^[^@\s]+@[^@\s]+$/;

const tailnetGroupSchema = z.strictObject({
  /** Tailnet logins in the group. */
  members: z
    .array(z.string().regex(TAILNET_LOGIN, { message: "is not a tailnet login (an email address, or name@github)" }))
    .default([])
    .describe("Tailnet logins in the group."),
  /** The gateways the group may reach. */
  domains: z
    .array(z.enum(GATEWAY_DOMAINS))
    .min(1, { message: "is empty; name the gateways the group may reach (arr, media, admin)" })
    .describe("The gateways the group may reach: arr, media, admin."),
});

/** Family reaches the arr and media gateways, viewers the media gateway, admins everything. */
export function defaultTailnetGroups(): Record<string, { members: string[]; domains: GatewayDomain[] }> {
  return {
    admins: { members: [], domains: ["arr", "media", "admin"] },
    family: { members: [], domains: ["arr", "media"] },
    viewers: { members: [], domains: ["media"] },
  };
}

/** `charmarr:platform.tailscale.acl`: the tailnet policy this program generates, and whether it applies it. */
export const tailnetAclSchema = z
  .strictObject({
    /** Apply the generated policy with a tailscale.Acl: it replaces the whole tailnet policy. */
    manage: z
      .boolean()
      .default(false)
      .describe(
        "true applies the generated tailnet policy, REPLACING the whole policy; false only outputs it (tailnetPolicy).",
      ),
    groups: z
      .record(
        z.string().regex(GROUP_NAME, { message: "is not a group name (lower-case letters, digits and '-')" }),
        tailnetGroupSchema,
      )
      .default(defaultTailnetGroups)
      .describe("Tailnet groups and the gateways each may reach (default: admins, family, viewers, no members)."),
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
          params: {
            fix: configSetCommand(
              configKey(["platform", "tailscale", "acl", "groups", name, "members", 0]),
              "alice@example.com",
            ),
          },
        });
      }
    }
  })
  .prefault({});

export type TailnetAcl = z.output<typeof tailnetAclSchema>;
export type TailnetGroups = TailnetAcl["groups"];

/**
 * Each gateway on the tailnet needs tags of its own: grants go to tags, so a tag shared with
 * another gateway or with the operator's proxies would open them too.
 */
export function gatewayTagIssues(gateways: GatewaysSettings): SettingsIssue[] {
  const issues: SettingsIssue[] = [];
  const exposed = GATEWAY_DOMAINS.filter((domain) => gateways[domain].enabled && gateways[domain].tailscale.expose);
  const inUse = new Set(exposed.flatMap((domain) => gateways[domain].tailscale.tags));
  const ownTag = (domain: GatewayDomain) => `tag:charmarr-${domain}`;
  // A tag the culprit can take instead: its own default, unless another gateway already holds it.
  const freeTag = (domain: GatewayDomain) =>
    [ownTag(domain), ...[2, 3, 4].map((n) => `${ownTag(domain)}-${n}`)].find((tag) => !inUse.has(tag)) ??
    ownTag(domain);
  const issue = (domain: GatewayDomain, index: number, message: string): SettingsIssue => {
    const path = ["gateways", domain, "tailscale", "tags", index];
    return { path, message, params: { fix: configSetCommand(configKey(path), freeTag(domain)) } };
  };
  const owners = new Map<string, { domain: GatewayDomain; index: number }>();
  for (const domain of exposed) {
    gateways[domain].tailscale.tags.forEach((tag, index) => {
      const owner = owners.get(tag);
      if (tag === OPERATOR_TAG) {
        issues.push(
          issue(
            domain,
            index,
            `${tag} is the operator's own tag; the tailnet policy lets only admins own it, so the operator could not tag the gateway's proxy with it`,
          ),
        );
      } else if (tag === PROXY_TAG) {
        issues.push(
          issue(
            domain,
            index,
            `${tag} is the tag of every other proxy the operator runs; a grant to it would open them all, so the gateway needs a tag of its own`,
          ),
        );
      } else if (owner !== undefined && owner.domain !== domain) {
        // The gateway whose default tag this is keeps it; the other one takes a tag of its own.
        const [culprit, keeper] = tag === ownTag(domain) ? [owner, { domain, index }] : [{ domain, index }, owner];
        issues.push(
          issue(
            culprit.domain,
            culprit.index,
            `${tag} is also a tag of the ${keeper.domain} gateway; grants go to tags, so sharing one would let the ${keeper.domain} gateway's users reach the ${culprit.domain} gateway`,
          ),
        );
        owners.set(tag, keeper);
      } else if (owner === undefined) {
        owners.set(tag, { domain, index });
      }
    });
  }
  return issues;
}

/**
 * An applied policy replaces the whole tailnet policy file: with no grants every device loses all
 * access, and a group whose gateways are all off the tailnet loses access too. Both are refused
 * before a `tailscale.Acl` could apply them. Groups without members are refused by the acl schema.
 */
export function managedPolicyIssues(gateways: GatewaysSettings, acl: TailnetAcl): SettingsIssue[] {
  if (!acl.manage) {
    return [];
  }
  const groups = acl.groups;
  const reachable = GATEWAY_DOMAINS.filter((domain) => onTailnet(gateways[domain]));
  const set = (path: string, value: string) => configSetCommand(`${CONFIG_NAMESPACE}:${path}`, value);
  const bringOnTailnet = (domain: GatewayDomain) =>
    [
      ...(gateways[domain].enabled ? [] : [set(`gateways.${domain}.enabled`, "true")]),
      set(`gateways.${domain}.tailscale.expose`, "true"),
    ].join(" && ");
  const stopApplying = `stop applying the policy (${set("platform.tailscale.acl.manage", "false")})`;
  const names = Object.keys(groups).sort();
  const reaches = (name: string) => groups[name].domains.some((domain) => reachable.includes(domain));

  if (!names.some(reaches)) {
    const why =
      names.length === 0
        ? "no groups are configured"
        : reachable.length === 0
          ? "no gateway is on the tailnet"
          : `no group may reach a gateway on the tailnet (gateways on the tailnet: ${reachable.join(", ")}; ${names.map((name) => `group:${name} (${groups[name].domains.join(", ")})`).join(", ")})`;
    const firstOff =
      GATEWAY_DOMAINS.find((domain) => gateways[domain].enabled && !onTailnet(gateways[domain])) ?? "arr";
    const remedy =
      reachable.length === 0
        ? `put a gateway on the tailnet (${bringOnTailnet(firstOff)})`
        : names.length === 0
          ? `add a group (${set("platform.tailscale.acl.groups.admins.members[0]", "you@example.com")} && ${set("platform.tailscale.acl.groups.admins.domains[0]", reachable[0])})`
          : `give a group a gateway on the tailnet (${set(`platform.tailscale.acl.groups.${names[0]}.domains[${groups[names[0]].domains.length}]`, reachable[0])})`;
    return [
      {
        path: ["platform", "tailscale", "acl", "manage"],
        message: `would apply a tailnet policy with no grants: ${why}. The policy replaces the tailnet's whole policy file, so every device would lose all access`,
        params: { fix: `${remedy}, or ${stopApplying}` },
      },
    ];
  }
  return names.flatMap((name) => {
    const group = groups[name];
    if (group.members.length === 0 || reaches(name)) {
      return [];
    }
    const remedies = group.domains.map((domain) => bringOnTailnet(domain));
    return [
      {
        path: ["platform", "tailscale", "acl", "groups", name, "domains"],
        message: `group:${name} reaches no gateway: its domains (${group.domains.join(", ")}) are not on the tailnet (gateways on the tailnet: ${reachable.join(", ")}), so the applied policy would cut its members off`,
        params: {
          fix: `put one of its gateways on the tailnet (${remedies.join("; or ")}), give it a domain on the tailnet (${set(`platform.tailscale.acl.groups.${name}.domains[${group.domains.length}]`, reachable[0])}), or ${stopApplying}`,
        },
      },
    ];
  });
}

/** Example values, by path, for suggested fixes. */
export const TAILNET_EXAMPLES: Readonly<Record<string, string>> = {
  "platform.tailscale.acl.manage": "true",
  "platform.tailscale.acl.groups.family.members": "alice@example.com",
  "platform.tailscale.acl.groups.family.domains": "media",
};
