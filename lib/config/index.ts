/**
 * Reads a stack's configuration once from the Pulumi runtime (the {@link ConfigSource}) and
 * validates it against the role's settings (./roles.ts), composed from the domains' own schemas
 * and rules. Every problem is collected in one pass and reported as one {@link ConfigError}.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { appIssues } from "../apps/rules";
import { ResolvedApp, resolveApps } from "../apps/resolve";
import type { AppEnvironment, StorageSettings } from "../apps/settings";
import type { ClusterFacts } from "../cluster/settings";
import type { CoreStackOutputs } from "../contract";
import { GATEWAY_DOMAINS, GatewaysSettings } from "../ingress/settings";
import type { PlatformSettings } from "../platform/settings";
import { ConfigProblem, SettingsIssue, closest, configKey, configRemoveCommand, configSetCommand } from "../settings";
import { TAILSCALE_CREDENTIAL_VARIABLES } from "../tailnet/credentials";
import { vpnClusterProblems } from "../vpn/rules";
import { IndexersSettings, VPN_DEFAULT_NAMESPACE, VPN_SECRET_KEYS, VpnSecrets, VpnSettings } from "../vpn/settings";
import { routedGroups, stillInCoreProblems } from "../vpn/routing";
import type { CoreRelationsSettings, DownloadsRelationsSettings } from "../relations/settings";
import type { RecyclarrSettings } from "../recyclarr/settings";
import { ConfigError } from "./errors";
import { CONFIG_EXAMPLES, CONFIG_KEYS, CONFIG_NAMESPACE, ConfigKeyName, ROLES, Role, isConfigKeyName } from "./keys";
import { ROLE_RULES, ROLE_SCHEMAS, RoleSettings, RuleContext, SettingsRule } from "./roles";

export { ConfigError, formatProblems, throwIfProblems } from "./errors";
export type { ConfigProblem } from "./errors";
export { CONFIG_EXAMPLES, CONFIG_KEYS, CONFIG_NAMESPACE, ROLES } from "./keys";
export type { ConfigKeyName, ConfigKeySpec, Role } from "./keys";
export { ROLE_RULES, ROLE_SCHEMAS } from "./roles";
export type { RoleSettings, SettingsRule } from "./roles";

/** Everything the loader needs from the Pulumi runtime, so it can be tested without one. */
export interface ConfigSource {
  readonly stack: string;
  readonly project: string;
  readonly organization: string;
  /** Raw config as the CLI hands it over: full keys (`charmarr:cluster`) to strings (objects as JSON). */
  readonly values: Readonly<Record<string, string>>;
  /** Whether the CLI holds the key as a secret. */
  isSecret(key: string): boolean;
  /**
   * The Tailscale provider's credential variables (only those) from the environment `pulumi up`
   * runs in: the provider reads them too. Absent means none.
   */
  readonly env?: Readonly<Record<string, string>>;
}

export interface CoreConfig {
  readonly role: "core";
  readonly stack: string;
  /** Namespace of the arr apps, the media server and the ingress gateways. */
  readonly namespace: string;
  readonly cluster: ClusterFacts;
  /** LAN IP and tailnet exposure of the arr, media and admin gateways. */
  readonly gateways: GatewaysSettings;
  /** Cluster add-ons this stack installs (Gateway API, Istio, MetalLB, Tailscale) and the tailnet policy. */
  readonly platform: PlatformSettings;
  /** The enabled arr apps, Seerr and the chosen media server, overrides applied. */
  readonly apps: readonly ResolvedApp[];
  /** The apps' /config storage class and the shared media library (both stacks mount it). */
  readonly storage: StorageSettings;
  /** PUID/PGID/TZ of every app of both stacks. */
  readonly appEnvironment: AppEnvironment;
  /** Which relations the stack wires, the arr apps' root folders, the readiness wait. */
  readonly relations: CoreRelationsSettings;
  /** Recyclarr's schedule and the TRaSH Guides templates it syncs into Radarr and Sonarr. */
  readonly recyclarr: RecyclarrSettings;
  /** The Plex account token that lets the program set Seerr up (a secret), when configured. */
  readonly plexToken?: pulumi.Output<string>;
  /** The Plex claim token Plex's first start claims the server with (a secret), when configured. */
  readonly plexClaim?: pulumi.Output<string>;
}

export interface DownloadsConfig {
  readonly role: "downloads";
  readonly stack: string;
  /** Namespace of the download clients. */
  readonly namespace: string;
  /** The core stack to read cluster facts and gateway references from. */
  readonly coreStack: string;
  readonly vpn: VpnSettings;
  readonly vpnSecrets: VpnSecrets;
  /** Whether Prowlarr runs here, routed through the VPN gateway, instead of in core. */
  readonly indexers: IndexersSettings;
  /** The enabled routed apps: the download clients, and Prowlarr when indexers are routed; overrides applied. */
  readonly apps: readonly ResolvedApp[];
  /** Which relations the stack wires, where the download clients save, the readiness wait. */
  readonly relations: DownloadsRelationsSettings;
}

export type StackConfig = CoreConfig | DownloadsConfig;

// The SDK's own record of which keys the CLI decrypted. It is marked internal (absent from the
// typings), so it is probed rather than assumed: without it the plain-text check is skipped.
// test/sdkInternals.test.ts fails, naming it, if an SDK upgrade changes it.
const runtimeSecrets = pulumi.runtime as { isConfigSecret?: (key: string) => boolean };

/**
 * Reads the stack's configuration from the Pulumi runtime, and from `env` (the process's
 * environment unless given) the Tailscale provider's credential variables, nothing else.
 */
export function readConfigSource(env: Readonly<Record<string, string | undefined>> = process.env): ConfigSource {
  const tailscaleEnv = TAILSCALE_CREDENTIAL_VARIABLES.flatMap((name) => {
    const value = env[name];
    return value !== undefined && value !== "" ? [[name, value] as const] : [];
  });
  return {
    stack: pulumi.getStack(),
    project: pulumi.getProject(),
    organization: pulumi.getOrganization(),
    values: pulumi.runtime.allConfig(),
    isSecret: (key) => runtimeSecrets.isConfigSecret?.(key) ?? true,
    env: Object.fromEntries(tailscaleEnv),
  };
}

/** The role a stack plays: `charmarr:role`, else the stack's name when that is a role. */
export function stackRole(stack: string, configured: string | undefined): Role | undefined {
  const role = configured ?? stack;
  return (ROLES as readonly string[]).includes(role) ? (role as Role) : undefined;
}

/**
 * Validates the whole configuration of a stack and returns it typed, or throws one
 * {@link ConfigError} listing every problem. Nothing may be created before this returns.
 */
export function loadConfig(source: ConfigSource): StackConfig {
  const prefix = `${CONFIG_NAMESPACE}:`;
  const configuredRole = source.values[`${prefix}role`];
  const role = stackRole(source.stack, configuredRole);
  if (role === undefined) {
    throw new ConfigError(source.stack, [roleProblem(source.stack, configuredRole)]);
  }
  const { input, problems } = readKeys(source, role);
  const context = { values: source.values, env: source.env ?? {} };
  const settings =
    role === "core" ? validate("core", input, context, problems) : validate("downloads", input, context, problems);
  if (problems.length > 0 || settings === undefined) {
    throw new ConfigError(source.stack, problems);
  }
  if (settings.role === "core") {
    const data = settings.data;
    return {
      role: "core",
      stack: source.stack,
      namespace: data.namespace,
      cluster: data.cluster,
      gateways: data.gateways,
      platform: data.platform,
      apps: resolveApps("core", data.apps, data.mediaServer),
      storage: data.storage,
      appEnvironment: data.appEnvironment,
      relations: data.relations,
      recyclarr: data.recyclarr,
      ...(source.values[`${prefix}plexToken`] ? { plexToken: pulumi.secret(source.values[`${prefix}plexToken`]) } : {}),
      ...(source.values[`${prefix}plexClaim`] ? { plexClaim: pulumi.secret(source.values[`${prefix}plexClaim`]) } : {}),
    };
  }
  const data = settings.data;
  const vpnSecrets: { -readonly [K in keyof VpnSecrets]: VpnSecrets[K] } = {};
  for (const [key, field] of Object.entries(VPN_SECRET_KEYS)) {
    const value = source.values[prefix + key];
    if (value !== undefined && value !== "") {
      vpnSecrets[field] = pulumi.secret(value);
    }
  }
  return {
    role: "downloads",
    stack: source.stack,
    namespace: data.namespace,
    coreStack: data.coreStack ?? `${source.organization}/${source.project}/core`,
    vpn: data.vpn,
    vpnSecrets,
    indexers: data.indexers,
    apps: resolveApps("downloads", data.apps, undefined, routedGroups({ indexers: data.indexers })),
    relations: data.relations,
  };
}

/** The `charmarr:` keys of the role as schema input, and the problems of keys that cannot be read. */
function readKeys(source: ConfigSource, role: Role): { input: Record<string, unknown>; problems: ConfigProblem[] } {
  const prefix = `${CONFIG_NAMESPACE}:`;
  const problems: ConfigProblem[] = [];
  const input: Record<string, unknown> = {};
  for (const [fullKey, value] of Object.entries(source.values)) {
    if (!fullKey.startsWith(prefix)) {
      continue;
    }
    const name = fullKey.slice(prefix.length);
    if (!isConfigKeyName(name)) {
      problems.push(unknownKeyProblem(fullKey, name, role));
      continue;
    }
    const spec = CONFIG_KEYS[name];
    if (!(spec.roles as readonly Role[]).includes(role)) {
      problems.push(wrongRoleProblem(fullKey, name, role));
      continue;
    }
    if ("secret" in spec && spec.secret && !source.isSecret(fullKey)) {
      problems.push({
        key: fullKey,
        problem: "is stored in plain text in the stack file; it is a credential and must be a Pulumi secret",
        fix: `${configSetCommand(fullKey, "<value>", true)}  (then check Pulumi.${source.stack}.yaml shows 'secure:')`,
      });
      continue;
    }
    if (name === "role" || "secret" in spec) {
      continue;
    }
    if (spec.value === "json") {
      const parsed = parseJsonValue(value);
      if (parsed === undefined) {
        const field = firstExampleField(name);
        problems.push({
          key: fullKey,
          problem: `must be an object, not the text ${JSON.stringify(value)}`,
          fix: `set its fields one by one, e.g. ${configSetCommand(`${fullKey}.${field}`, CONFIG_EXAMPLES[`${name}.${field}`] ?? "<value>")}`,
        });
        continue;
      }
      input[name] = parsed;
    } else {
      input[name] = value;
    }
  }
  return { input, problems };
}

type Validated = { role: "core"; data: RoleSettings<"core"> } | { role: "downloads"; data: RoleSettings<"downloads"> };

/**
 * Parses each key on its own, then runs every rule whose keys all parsed: a broken key hides
 * neither another key's problems nor the rules that do not need it.
 */
function validate<R extends Role>(
  role: R,
  input: Record<string, unknown>,
  context: Omit<RuleContext, "input" | "valid">,
  problems: ConfigProblem[],
): Validated | undefined {
  const schema = ROLE_SCHEMAS[role];
  const shape = schema.shape as Record<string, z.ZodType>;
  const data: Record<string, unknown> = {};
  const valid = new Set<string>();
  for (const [key, field] of Object.entries(shape)) {
    const result = field.safeParse(input[key], { reportInput: true });
    if (result.success) {
      data[key] = result.data;
      valid.add(key);
    } else {
      for (const issue of result.error.issues) {
        const path = [key, ...issue.path];
        problems.push(
          ...issueToProblems(
            { ...issue, path },
            schema,
            valueAt(
              input,
              path.map((segment) => (typeof segment === "number" ? segment : String(segment))),
            ),
          ),
        );
      }
    }
  }
  const rules = ROLE_RULES[role] as readonly SettingsRule<R>[];
  for (const { needs, check } of rules) {
    if (needs.every((key) => valid.has(String(key)))) {
      problems.push(
        ...check(data as RoleSettings<R>, { ...context, input, valid }).map((issue) =>
          toProblem(issue, "key" in issue ? undefined : valueAt(data, issue.path)),
        ),
      );
    }
  }
  return valid.size === Object.keys(shape).length ? ({ role, data } as Validated) : undefined;
}

function roleProblem(stack: string, configured: string | undefined): ConfigProblem {
  const key = `${CONFIG_NAMESPACE}:role`;
  return configured === undefined
    ? {
        key,
        problem: `is not set, and the stack's name "${stack}" is not a role (${ROLES.join(" or ")}), so the program cannot tell which stack this is`,
        fix: `${configSetCommand(key, "core")}  (or downloads)`,
      }
    : {
        key,
        problem: `"${configured}" is not a role; use ${ROLES.join(" or ")}`,
        fix: `${configSetCommand(key, closest(configured, ROLES) ?? "core")}`,
      };
}

function unknownKeyProblem(fullKey: string, name: string, role: Role): ConfigProblem {
  const known = Object.keys(CONFIG_KEYS).filter((key) =>
    (CONFIG_KEYS[key as ConfigKeyName].roles as readonly Role[]).includes(role),
  );
  const guess = closest(name, known);
  return {
    key: fullKey,
    problem: `is not a setting of the ${role} stack${guess ? ` (did you mean ${CONFIG_NAMESPACE}:${guess}?)` : ""}; it would be silently ignored`,
    fix: `${configRemoveCommand(fullKey)}${guess ? ` and set ${CONFIG_NAMESPACE}:${guess} instead` : ""}`,
  };
}

function wrongRoleProblem(fullKey: string, name: ConfigKeyName, role: Role): ConfigProblem {
  const owner = CONFIG_KEYS[name].roles.join(" and ");
  const reason =
    name === "cluster" ? "; the downloads stack reads the cluster facts from the core stack's outputs" : "";
  return {
    key: fullKey,
    problem: `belongs to the ${owner} stack, not to this ${role} stack${reason}`,
    fix: `${configRemoveCommand(fullKey)}${name === "cluster" ? "" : `, and set it on the ${owner} stack instead`}`,
  };
}

function parseJsonValue(text: string): unknown {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function firstExampleField(name: string): string {
  const field = Object.keys(CONFIG_EXAMPLES).find((path) => path.startsWith(`${name}.`));
  return field ? field.slice(name.length + 1) : "field";
}

function exampleFor(path: readonly PropertyKey[]): string | undefined {
  return CONFIG_EXAMPLES[path.filter((segment) => typeof segment === "string").join(".")];
}

/**
 * An issue as a problem: its own fix, else `pulumi config set` with its suggestion or the key's
 * example, unless that is the value already set (`current`): a fix never repeats it.
 */
function toProblem(issue: SettingsIssue | ConfigProblem, current?: unknown): ConfigProblem {
  if ("key" in issue) {
    return issue;
  }
  const key = configKey(issue.path);
  const suggestion = [issue.params?.suggest, exampleFor(issue.path)].find(
    (value) => value !== undefined && value !== String(current),
  );
  return {
    key,
    problem: issue.message,
    fix: issue.params?.fix ?? (suggestion !== undefined ? configSetCommand(key, suggestion) : undefined),
  };
}

/** The value at a config path, e.g. `["gateways", "arr", "lanIp"]`, if there is one. */
function valueAt(settings: unknown, path: readonly (string | number)[]): unknown {
  return path.reduce<unknown>(
    (value, segment) =>
      typeof value === "object" && value !== null ? (value as Record<string | number, unknown>)[segment] : undefined,
    settings,
  );
}

function describe(value: unknown): string {
  if (value === undefined) {
    return "nothing";
  }
  if (typeof value === "string") {
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    return "a list";
  }
  return typeof value === "object" && value !== null ? "an object" : `${typeof value} ${String(value)}`;
}

const EXPECTED_NAMES: Readonly<Record<string, string>> = {
  string: "text",
  number: "a number",
  int: "a whole number",
  array: "a list",
  object: "an object",
  boolean: "true or false",
};

/** A zod issue as problems; `current` is the configured value at the issue's path. */
function issueToProblems(issue: z.core.$ZodIssue, schema: z.ZodType, current: unknown): ConfigProblem[] {
  const key = configKey(issue.path);
  const example = exampleFor(issue.path);
  const input = "input" in issue ? issue.input : undefined;

  switch (issue.code) {
    case "unrecognized_keys": {
      const known = knownFields(schema, issue.path);
      return issue.keys.map((field) => {
        const guess = closest(field, known);
        const fieldKey = configKey([...issue.path, field]);
        return {
          key: fieldKey,
          problem: `is not a known setting${guess ? ` (did you mean ${guess}?)` : ""}; known settings here: ${known.join(", ")}`,
          fix: `${configRemoveCommand(fieldKey)}${guess ? ` and set ${configKey([...issue.path, guess])} instead` : ""}`,
        };
      });
    }
    case "invalid_type": {
      if (input === undefined) {
        return [{ key, problem: "is required but not set", fix: configSetCommand(key, example ?? "<value>") }];
      }
      const expected = EXPECTED_NAMES[issue.expected] ?? issue.expected;
      return [
        {
          key,
          problem: `must be ${expected}, not ${describe(input)}`,
          fix: example ? configSetCommand(key, example) : undefined,
        },
      ];
    }
    case "invalid_value": {
      const options = issue.values.map(String);
      const guess = typeof input === "string" ? closest(input, options) : undefined;
      return [
        {
          key,
          problem: `${describe(input)} is not one of: ${options.map((o) => JSON.stringify(o)).join(", ")}${guess ? ` (did you mean "${guess}"?)` : ""}`,
          fix: configSetCommand(key, guess ?? options[0]),
        },
      ];
    }
    default: {
      const params = "params" in issue ? (issue.params as SettingsIssue["params"]) : undefined;
      const message = /^(must|is) /.test(issue.message) ? `${describe(input)} ${issue.message}` : issue.message;
      return [
        toProblem(
          {
            path: issue.path.map((segment) => (typeof segment === "number" ? segment : String(segment))),
            message,
            params,
          },
          current,
        ),
      ];
    }
  }
}

/** Field names of the object schema at `path`, for "did you mean" hints. */
function knownFields(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let current: z.core.$ZodType | undefined = schema;
  for (const segment of path) {
    current = unwrap(current);
    const def: z.core.$ZodTypeDef | undefined = current?._zod.def;
    if (def?.type === "object") {
      current = (def as z.core.$ZodObjectDef).shape[String(segment)];
    } else if (def?.type === "array") {
      current = (def as z.core.$ZodArrayDef).element;
    } else if (def?.type === "record") {
      current = (def as z.core.$ZodRecordDef).valueType;
    } else {
      return [];
    }
  }
  const def = unwrap(current)?._zod.def;
  return def?.type === "object" ? Object.keys((def as z.core.$ZodObjectDef).shape) : [];
}

function unwrap(schema: z.core.$ZodType | undefined): z.core.$ZodType | undefined {
  let current = schema;
  for (;;) {
    const def = current?._zod.def as { type?: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType } | undefined;
    if (def?.innerType) {
      current = def.innerType;
    } else if (def?.type === "pipe" && def.in) {
      current = def.in;
    } else {
      return current;
    }
  }
}

/** The fix that gives the core stack's namespace its default name, on the core stack. */
export function coreNamespaceRename(coreStack: string): string {
  const stack = coreStack.slice(coreStack.lastIndexOf("/") + 1);
  return `give the core stack a namespace of its own: pulumi config set charmarr:namespace charmarr-core --stack ${stack} (then pulumi up --stack ${stack})`;
}

/**
 * The rules that need the core stack's outputs, run by the downloads program as soon as it has read
 * them, still before it creates anything: the VPN against the cluster's ranges, the namespaces
 * against core's, an app this stack routes (Prowlarr) that core still runs, and the routed apps
 * against core's gateways and paths.
 */
export function problemsAgainstCore(
  config: DownloadsConfig,
  core: Pick<CoreStackOutputs, "cluster" | "namespace" | "gateways" | "identities">,
): ConfigProblem[] {
  const namespaceProblems = (
    [
      ["namespace", config.namespace, "charmarr-downloads"],
      ["vpn.namespace", config.vpn.namespace, VPN_DEFAULT_NAMESPACE],
    ] as const
  ).flatMap(([key, namespace, suggestion]) =>
    namespace === core.namespace
      ? [
          {
            key: `${CONFIG_NAMESPACE}:${key}`,
            problem: `"${namespace}" is the core stack's namespace; each stack owns its namespaces`,
            // On its default, this stack's namespace is right and the core stack's moves.
            fix:
              namespace === suggestion
                ? coreNamespaceRename(config.coreStack)
                : configSetCommand(`${CONFIG_NAMESPACE}:${key}`, suggestion),
          },
        ]
      : [],
  );
  const enabled = Object.fromEntries(
    GATEWAY_DOMAINS.map((domain) => [domain, { enabled: core.gateways[domain] !== undefined }]),
  );
  const coreApps = Object.keys(core.identities);
  const stillInCore = stillInCoreProblems(
    config.apps.map((app) => app.name),
    coreApps,
    config.coreStack,
  );
  // An app core still runs holds its own path there: that problem is the one above, not a path clash.
  const taken = new Map(
    GATEWAY_DOMAINS.flatMap((domain) =>
      Object.entries(core.gateways[domain]?.paths ?? {})
        .filter(([, app]) => !config.apps.some((own) => own.name === app))
        .map(([path, app]) => [`${domain} ${path}`, `${app} (core stack)`] as const),
    ),
  );
  return [
    ...vpnClusterProblems(config.vpn, core.cluster),
    ...namespaceProblems,
    ...stillInCore,
    ...appIssues(config.apps, enabled, taken).map((issue) => toProblem(issue)),
  ];
}
