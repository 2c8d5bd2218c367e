import { GATEWAY_DOMAINS, GatewayDomain, GatewaysSettings } from "../ingress/settings";
import type { TailnetGroups } from "./settings";
import { onTailnet } from "./exposure";
import { OPERATOR_TAG, PROXY_TAG } from "./tags";

/** A network-layer grant of the tailnet policy file: `src` may reach `dst` on `ip` (`tcp:80`). */
export interface TailnetGrant {
  readonly src: string[];
  readonly dst: string[];
  readonly ip: string[];
}

/** A policy test Tailscale runs before accepting the policy: `src` must reach every `accept` and no `deny` (`host:port`). */
export interface TailnetTest {
  /**
   * The identity the test runs as. Tailscale's policy syntax reference (kb/1337 policy-syntax,
   * `tests` → `src`, and the same field of the API's validate-and-test endpoint) takes a user's
   * email address, a group, a tag or a host; the generated tests use the group the grants name,
   * which must have members (the config refuses an empty one when the policy is applied).
   */
  readonly src: string;
  readonly accept?: string[];
  readonly deny?: string[];
}

/** The tailnet policy file this program generates (the sections it uses). */
export interface TailnetPolicy {
  readonly groups: Record<string, string[]>;
  readonly tagOwners: Record<string, string[]>;
  readonly grants: TailnetGrant[];
  readonly tests: TailnetTest[];
}

export interface TailnetPolicyInput {
  /** The gateways; only enabled ones with `tailscale.expose` are on the tailnet. */
  readonly gateways: GatewaysSettings;
  /** Tailnet groups and the gateways (security domains) each may reach. */
  readonly groups: TailnetGroups;
  /** Listener ports of each gateway: what its tailnet proxy forwards, so what the grants open. */
  readonly listenerPorts: Readonly<Record<GatewayDomain, readonly number[]>>;
}

export const groupRef = (name: string): string => `group:${name}`;

/**
 * Builds the tailnet policy from the gateway config: the operator owns its proxy tag and every
 * gateway tag; each group reaches exactly the gateways of its domains on their listener ports; and
 * a test per group asserts that, both ways, so Tailscale rejects a policy that drifts from it.
 */
export function buildTailnetPolicy(input: TailnetPolicyInput): TailnetPolicy {
  const exposed = GATEWAY_DOMAINS.filter((domain) => onTailnet(input.gateways[domain]));
  const groupNames = Object.keys(input.groups).sort();

  const tagOwners: Record<string, string[]> = { [OPERATOR_TAG]: [], [PROXY_TAG]: [OPERATOR_TAG] };
  for (const domain of exposed) {
    for (const tag of input.gateways[domain].tailscale.tags) {
      tagOwners[tag] = [OPERATOR_TAG];
    }
  }

  const grants: TailnetGrant[] = exposed.flatMap((domain) => {
    const src = groupNames.filter((name) => input.groups[name].domains.includes(domain)).map(groupRef);
    const ports = input.listenerPorts[domain];
    return src.length === 0 || ports.length === 0
      ? []
      : [{ src, dst: [...input.gateways[domain].tailscale.tags], ip: ports.map((port) => `tcp:${port}`) }];
  });

  const tests: TailnetTest[] = groupNames.flatMap((name) => {
    const accept: string[] = [];
    const deny: string[] = [];
    for (const domain of exposed) {
      const host = input.gateways[domain].tailscale.tags[0];
      const ports = input.listenerPorts[domain];
      if (input.groups[name].domains.includes(domain)) {
        accept.push(...ports.map((port) => `${host}:${port}`));
        deny.push(`${host}:${portOutside(ports)}`);
      } else {
        deny.push(...ports.map((port) => `${host}:${port}`));
      }
    }
    // With no gateway on the tailnet there is nothing to assert, and Tailscale wants a case per test.
    if (accept.length === 0 && deny.length === 0) {
      return [];
    }
    return [{ src: groupRef(name), ...(accept.length > 0 ? { accept } : {}), ...(deny.length > 0 ? { deny } : {}) }];
  });

  const groups = Object.fromEntries(groupNames.map((name) => [groupRef(name), [...input.groups[name].members]]));
  return { groups, tagOwners, grants, tests };
}

/**
 * The policy file as the tailnet takes it: what the `tailscale.Acl` applies and what the stack
 * outputs for the admin console are this one text, so they can never differ.
 */
export function policyFileJson(policy: TailnetPolicy): string {
  return JSON.stringify(policy, null, 2);
}

/**
 * What to tell the operator of a stack that installs the Tailscale operator but leaves the policy
 * to the admin console: the OAuth client is refused unless the live policy owns its tag, and the
 * gateway proxies unless it owns theirs, so these tagOwners must be merged in before `pulumi up`.
 */
export function unmanagedTagOwnersWarning(policy: TailnetPolicy): string {
  const entries = Object.entries(policy.tagOwners).map(
    ([tag, owners]) => `  ${JSON.stringify(tag)}: [${owners.map((owner) => JSON.stringify(owner)).join(", ")}],`,
  );
  return [
    "charmarr:platform.tailscale.acl.manage is false, so this stack does not apply the tailnet policy, yet it installs the Tailscale operator.",
    `Before \`pulumi up\`, merge these tagOwners into the tailnet policy in the admin console (Access controls), or Tailscale refuses the operator's OAuth client (${OPERATOR_TAG}) and the gateways' proxies:`,
    ...entries,
    "The whole generated policy (groups, grants, tests) is the stack output tailnetPolicy. Or let this stack apply it, replacing the tailnet's policy: pulumi config set --path charmarr:platform.tailscale.acl.manage true",
  ].join("\n");
}

/** A port the gateway does not listen on (SSH when free): reaching it would mean the grant is too wide. */
function portOutside(ports: readonly number[]): number {
  let port = 22;
  while (ports.includes(port)) {
    port++;
  }
  return port;
}
