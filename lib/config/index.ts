import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { PRIVATE_RANGES, cidrsOverlap, isPrivateCidr, parseCidr, vxlanCidr } from "../net";
import { ResolvedApp, resolveApps } from "../apps/resolve";
import { VpnCredentialName, providerProblems, wireguardAddresses } from "../vpn/providers";
import { ConfigError, ConfigProblem, closest, configSetCommand, shellQuote } from "./errors";
import { CONFIG_EXAMPLES, CONFIG_KEYS, CONFIG_NAMESPACE, ConfigKeyName, ROLES, Role, isConfigKeyName } from "./keys";
import {
    AppEnvironment,
    ClusterFacts,
    GATEWAY_DOMAINS,
    GatewayDomain,
    appIssues,
    GatewaysSettings,
    IssueParams,
    StorageSettings,
    appEnvironmentSchema,
    appsSchema,
    mediaServerSchema,
    refineApps,
    refineCoreApps,
    storageSchema,
    PlatformSettings,
    VpnSettings,
    clusterSchema,
    coreStackName,
    checkGatewayAddresses,
    checkPlatformAgainstGateways,
    gatewaysSchema,
    namespaceName,
    platformSchema,
    vpnSchema,
} from "./schema";

export { ConfigError } from "./errors";
export type { ConfigProblem } from "./errors";
export type { ClusterFacts, GatewayDomain, GatewaySettings, GatewaysSettings, VpnSettings } from "./schema";
export type { PlatformSettings, TailnetGroups } from "./schema";
export { GATEWAY_DOMAINS } from "./schema";
export type { Role } from "./keys";
export type { AppEnvironment, MediaLibrary, StorageSettings } from "./schema";

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
     * The Tailscale provider's credential variables (only the {@link TAILSCALE_CREDENTIALS} ones) from
     * the environment `pulumi up` runs in: the provider reads them too. Absent means none.
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
    /** The enabled arr apps, Overseerr and the chosen media server, overrides applied. */
    readonly apps: readonly ResolvedApp[];
    /** The apps' /config storage class and the shared media library (both stacks mount it). */
    readonly storage: StorageSettings;
    /** PUID/PGID/TZ of every app of both stacks. */
    readonly appEnvironment: AppEnvironment;
}

/** VPN credentials, present only when configured; values stay Pulumi secrets. */
export interface VpnSecrets {
    readonly privateKey?: pulumi.Output<string>;
    readonly presharedKey?: pulumi.Output<string>;
    readonly user?: pulumi.Output<string>;
    readonly password?: pulumi.Output<string>;
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
    /** The enabled download clients, overrides applied. */
    readonly apps: readonly ResolvedApp[];
}

export type StackConfig = CoreConfig | DownloadsConfig;

const SECRET_FIELDS = {
    vpnPrivateKey: "privateKey",
    vpnPresharedKey: "presharedKey",
    vpnUser: "user",
    vpnPassword: "password",
} as const satisfies Partial<Record<ConfigKeyName, keyof VpnSecrets>>;

const ROLE_SCHEMAS = {
    core: z.strictObject({
        namespace: namespaceName("charmarr-core").default("charmarr-core"),
        cluster: clusterSchema,
        gateways: gatewaysSchema,
        platform: platformSchema,
        apps: appsSchema("core"),
        mediaServer: mediaServerSchema,
        storage: storageSchema,
        appEnvironment: appEnvironmentSchema,
    })
        .superRefine(checkGatewayAddresses)
        .superRefine(checkPlatformAgainstGateways)
        .superRefine(refineCoreApps),
    downloads: z
        .strictObject({
            namespace: namespaceName("charmarr-downloads").default("charmarr-downloads"),
            coreStack: coreStackName.optional(),
            vpn: vpnSchema,
            apps: appsSchema("downloads"),
        })
        .superRefine((downloads, ctx) => {
            refineApps(resolveApps("downloads", downloads.apps), undefined, ctx);
            if (downloads.vpn.namespace === downloads.namespace) {
                ctx.addIssue({
                    code: "custom",
                    path: ["vpn", "namespace"],
                    message: `"${downloads.vpn.namespace}" is also the download clients' namespace; the VPN gateway needs a namespace of its own that stays out of the mesh`,
                    params: { suggest: "charmarr-vpn" } satisfies IssueParams,
                });
            }
        }),
};

// The SDK's own record of which keys the CLI decrypted. It is marked internal (absent from the
// typings), so it is probed rather than assumed: without it the plain-text check is skipped.
const runtimeSecrets = pulumi.runtime as { isConfigSecret?: (key: string) => boolean };

/**
 * Reads the stack's configuration from the Pulumi runtime, and from `env` (the process's
 * environment unless given) the Tailscale provider's credential variables, nothing else.
 */
export function readConfigSource(env: Readonly<Record<string, string | undefined>> = process.env): ConfigSource {
    const tailscaleEnv = Object.values(TAILSCALE_CREDENTIALS).flatMap(({ env: name }) => {
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

/**
 * Validates the whole configuration of a stack and returns it typed, or throws one
 * {@link ConfigError} listing every problem. Nothing may be created before this returns.
 */
export function loadConfig(source: ConfigSource): StackConfig {
    const problems: ConfigProblem[] = [];
    const prefix = `${CONFIG_NAMESPACE}:`;
    const raw = (name: ConfigKeyName): string | undefined => source.values[prefix + name];

    const role = resolveRole(source, raw("role"), problems);
    if (role === undefined) {
        throw new ConfigError(source.stack, problems);
    }

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
        if (name === "role") {
            continue;
        }
        if (spec.value === "json") {
            const parsed = parseJsonValue(value);
            if (parsed === undefined) {
                problems.push({
                    key: fullKey,
                    problem: `must be an object, not the text ${JSON.stringify(value)}`,
                    fix: `set its fields one by one, e.g. ${configSetCommand(`${fullKey}.${firstExampleField(name)}`, exampleFor(`${name}.${firstExampleField(name)}`) ?? "<value>")}`,
                });
                continue;
            }
            input[name] = parsed;
        } else if (!(name in SECRET_FIELDS)) {
            input[name] = value;
        }
    }

    const schema = ROLE_SCHEMAS[role];
    const result = schema.safeParse(input, { reportInput: true });
    if (!result.success) {
        problems.push(...result.error.issues.flatMap((issue) => issueToProblems(issue, schema)));
    }
    if (result.success && role === "core") {
        problems.push(...tailscaleCredentialProblems(source, (result.data as z.output<(typeof ROLE_SCHEMAS)["core"]>).platform));
    }
    if (problems.length > 0 || !result.success) {
        throw new ConfigError(source.stack, problems);
    }

    if (role === "core") {
        const data = result.data as z.output<(typeof ROLE_SCHEMAS)["core"]>;
        return { role, stack: source.stack, namespace: data.namespace, cluster: data.cluster, gateways: data.gateways, platform: data.platform,
            apps: resolveApps("core", data.apps, data.mediaServer), storage: data.storage, appEnvironment: data.appEnvironment };
    }
    const data = result.data as z.output<(typeof ROLE_SCHEMAS)["downloads"]>;
    const vpnSecrets: { -readonly [K in keyof VpnSecrets]: VpnSecrets[K] } = {};
    for (const [key, field] of Object.entries(SECRET_FIELDS)) {
        const value = source.values[prefix + key];
        if (value !== undefined && value !== "") {
            vpnSecrets[field] = pulumi.secret(value);
        }
    }
    const vpnProblems = providerProblems(data.vpn, new Set(Object.keys(vpnSecrets) as VpnCredentialName[]));
    if (vpnProblems.length > 0) {
        throw new ConfigError(source.stack, vpnProblems);
    }
    return {
        role,
        stack: source.stack,
        namespace: data.namespace,
        coreStack: data.coreStack ?? `${source.organization}/${source.project}/core`,
        vpn: data.vpn,
        vpnSecrets,
        apps: resolveApps("downloads", data.apps),
    };
}

function resolveRole(source: ConfigSource, configured: string | undefined, problems: ConfigProblem[]): Role | undefined {
    const role = configured ?? source.stack;
    if ((ROLES as readonly string[]).includes(role)) {
        return role as Role;
    }
    const key = `${CONFIG_NAMESPACE}:role`;
    problems.push(
        configured === undefined
            ? {
                  key,
                  problem: `is not set, and the stack's name "${source.stack}" is not a role (${ROLES.join(" or ")}), so the program cannot tell which stack this is`,
                  fix: `${configSetCommand(key, "core")}  (or downloads)`,
              }
            : {
                  key,
                  problem: `"${configured}" is not a role; use ${ROLES.join(" or ")}`,
                  fix: `${configSetCommand(key, closest(configured, ROLES) ?? "core")}`,
              },
    );
    return undefined;
}

function unknownKeyProblem(fullKey: string, name: string, role: Role): ConfigProblem {
    const known = Object.keys(CONFIG_KEYS).filter((key) =>
        (CONFIG_KEYS[key as ConfigKeyName].roles as readonly Role[]).includes(role),
    );
    const guess = closest(name, known);
    return {
        key: fullKey,
        problem: `is not a setting of the ${role} stack${guess ? ` (did you mean ${CONFIG_NAMESPACE}:${guess}?)` : ""}; it would be silently ignored`,
        fix: `pulumi config rm ${shellQuote(fullKey)}${guess ? ` and set ${CONFIG_NAMESPACE}:${guess} instead` : ""}`,
    };
}

function wrongRoleProblem(fullKey: string, name: ConfigKeyName, role: Role): ConfigProblem {
    const owner = CONFIG_KEYS[name].roles.join(" and ");
    const reason =
        name === "cluster"
            ? "; the downloads stack reads the cluster facts from the core stack's outputs"
            : "";
    return {
        key: fullKey,
        problem: `belongs to the ${owner} stack, not to this ${role} stack${reason}`,
        fix: `pulumi config rm ${shellQuote(fullKey)}`,
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

function exampleFor(path: string): string | undefined {
    return CONFIG_EXAMPLES[path];
}

/** `["cluster", "podCidr"]` → `charmarr:cluster.podCidr`; list indexes as `[0]`. */
function keyFor(path: readonly PropertyKey[]): string {
    let key = CONFIG_NAMESPACE + ":";
    path.forEach((segment, index) => {
        if (typeof segment === "number") {
            key += `[${segment}]`;
        } else {
            key += (index === 0 ? "" : ".") + String(segment);
        }
    });
    return key;
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

function issueToProblems(issue: z.core.$ZodIssue, schema: z.ZodType): ConfigProblem[] {
    const key = keyFor(issue.path);
    const examplePath = issue.path.filter((segment) => typeof segment === "string").join(".");
    const example = exampleFor(examplePath);
    const input = "input" in issue ? issue.input : undefined;

    switch (issue.code) {
        case "unrecognized_keys": {
            const known = knownFields(schema, issue.path);
            return issue.keys.map((field) => {
                const guess = closest(field, known);
                const fieldKey = keyFor([...issue.path, field]);
                return {
                    key: fieldKey,
                    problem: `is not a known setting${guess ? ` (did you mean ${guess}?)` : ""}; known settings here: ${known.join(", ")}`,
                    fix: `pulumi config rm --path ${shellQuote(fieldKey)}${guess ? ` and set ${keyFor([...issue.path, guess])} instead` : ""}`,
                };
            });
        }
        case "invalid_type": {
            if (input === undefined) {
                return [{ key, problem: "is required but not set", fix: configSetCommand(key, example ?? "<value>") }];
            }
            const expected = EXPECTED_NAMES[issue.expected] ?? issue.expected;
            return [{ key, problem: `must be ${expected}, not ${describe(input)}`, fix: example ? configSetCommand(key, example) : undefined }];
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
            const params = ("params" in issue ? issue.params : undefined) as IssueParams | undefined;
            const message = /^(must|is) /.test(issue.message) ? `${describe(input)} ${issue.message}` : issue.message;
            const suggestion = params?.suggest ?? example;
            return [{ key, problem: message, fix: params?.fix ?? (suggestion ? configSetCommand(key, suggestion) : undefined) }];
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

export { closest } from "./errors";

/**
 * Where the Tailscale provider takes each credential from: its `tailscale:` config key, or else its
 * environment variable (@pulumi/tailscale provider.d.ts).
 */
export const TAILSCALE_CREDENTIALS = {
    apiKey: { config: "tailscale:apiKey", env: "TAILSCALE_API_KEY" },
    oauthClientId: { config: "tailscale:oauthClientId", env: "TAILSCALE_OAUTH_CLIENT_ID" },
    oauthClientSecret: { config: "tailscale:oauthClientSecret", env: "TAILSCALE_OAUTH_CLIENT_SECRET" },
    identityToken: { config: "tailscale:identityToken", env: "TAILSCALE_IDENTITY_TOKEN" },
    audience: { config: "tailscale:audience", env: "TAILSCALE_AUDIENCE" },
} as const;

type TailscaleCredential = keyof typeof TAILSCALE_CREDENTIALS;

/**
 * The credential sets the provider accepts: an API key; an OAuth client's id and secret; or a
 * federated identity, the client id with an identity token or an OIDC audience to fetch one for.
 */
const TAILSCALE_CREDENTIAL_SETS: readonly (readonly TailscaleCredential[])[] = [
    ["apiKey"],
    ["oauthClientId", "oauthClientSecret"],
    ["oauthClientId", "identityToken"],
    ["oauthClientId", "audience"],
];

/**
 * Tailscale features create resources through the Tailscale provider, which needs one of
 * {@link TAILSCALE_CREDENTIAL_SETS}, each credential from stack config or the environment.
 */
function tailscaleCredentialProblems(source: ConfigSource, platform: PlatformSettings): ConfigProblem[] {
    const features = [
        platform.tailscale.operator.install ? "platform.tailscale.operator.install" : undefined,
        platform.tailscale.acl.manage ? "platform.tailscale.acl.manage" : undefined,
    ].filter((feature): feature is string => feature !== undefined);
    const fromConfig = (credential: TailscaleCredential) => (source.values[TAILSCALE_CREDENTIALS[credential].config] ?? "") !== "";
    const fromEnv = (credential: TailscaleCredential) => (source.env?.[TAILSCALE_CREDENTIALS[credential].env] ?? "") !== "";
    const has = (credential: TailscaleCredential) => fromConfig(credential) || fromEnv(credential);
    if (features.length === 0 || TAILSCALE_CREDENTIAL_SETS.some((set) => set.every(has))) {
        return [];
    }
    const { oauthClientId: id, oauthClientSecret: secret } = TAILSCALE_CREDENTIALS;
    const partial = has("oauthClientId")
        ? `: ${fromConfig("oauthClientId") ? id.config : `${id.env} (environment)`} is set but the OAuth client's secret is not (${secret.config} or ${secret.env})`
        : "";
    return features.map((feature) => {
        const key = `${CONFIG_NAMESPACE}:${feature}`;
        return {
            key,
            problem: `needs the Tailscale provider's credentials, and neither the stack config nor the environment holds a complete set${partial}. docs/platform.md lists the sets and the scopes they need`,
            fix: has("oauthClientId")
                ? `pulumi config set --secret ${secret.config} <secret>  (or: export ${secret.env}=<secret>), or turn it off: ${configSetCommand(key, "false")}`
                : `pulumi config set ${id.config} <id> && pulumi config set --secret ${secret.config} <secret>  (or: pulumi config set --secret tailscale:apiKey <key>; or export ${id.env} and ${secret.env}, or ${TAILSCALE_CREDENTIALS.apiKey.env}), or turn it off: ${configSetCommand(key, "false")}`,
        };
    });
}

/**
 * The rules that need the core stack's facts: run by the downloads program as soon as it has read
 * them, still before it creates anything.
 */
export function checkAgainstCore(config: DownloadsConfig, cluster: ClusterFacts, coreNamespace: string): void {
    const problems: ConfigProblem[] = [];
    const vxlan = parseCidr(vxlanCidr(config.vpn.vxlanNetwork));
    const ranges = [
        ["podCidr", cluster.podCidr],
        ["serviceCidr", cluster.serviceCidr],
        ["lanCidr", cluster.lanCidr],
    ] as const;
    for (const [name, range] of ranges) {
        const block = range === undefined ? undefined : parseCidr(range);
        if (vxlan && block && cidrsOverlap(vxlan, block)) {
            problems.push({
                key: `${CONFIG_NAMESPACE}:vpn.vxlanNetwork`,
                problem: `${vxlanCidr(config.vpn.vxlanNetwork)} overlaps the cluster's ${name} ${range} (from the core stack); the VXLAN overlay needs addresses no pod, Service or LAN host uses`,
                fix: configSetCommand(`${CONFIG_NAMESPACE}:vpn.vxlanNetwork`, suggestVxlanNetwork(cluster)),
            });
        }
    }
    for (const [key, namespace] of [["namespace", config.namespace], ["vpn.namespace", config.vpn.namespace]] as const) {
        if (namespace === coreNamespace) {
            problems.push({
                key: `${CONFIG_NAMESPACE}:${key}`,
                problem: `"${namespace}" is the core stack's namespace; each stack owns its namespaces`,
                fix: configSetCommand(`${CONFIG_NAMESPACE}:${key}`, key === "namespace" ? "charmarr-downloads" : "charmarr-vpn"),
            });
        }
    }
    problems.push(...vxlanNetworkProblems(config, cluster));
    problems.push(...vpnProblemsAgainstCluster(config, cluster));
    if (problems.length > 0) {
        throw new ConfigError(config.stack, problems);
    }
}

/**
 * The overlay must be private address space (clients route it on vxlan0, never to the internet)
 * and clear of the tunnel's own addresses, which gluetun routes through wg0.
 */
function vxlanNetworkProblems(config: DownloadsConfig, cluster: ClusterFacts): ConfigProblem[] {
    const key = `${CONFIG_NAMESPACE}:vpn.vxlanNetwork`;
    const overlay = parseCidr(vxlanCidr(config.vpn.vxlanNetwork));
    if (!overlay) {
        return [];
    }
    const tunnelAddresses = config.vpn.type === "wireguard" ? wireguardAddresses(config.vpn) : [];
    const fix = configSetCommand(key, suggestVxlanNetwork(cluster, tunnelAddresses));
    const problems: ConfigProblem[] = [];
    if (!isPrivateCidr(overlay)) {
        problems.push({
            key,
            problem: `${vxlanCidr(config.vpn.vxlanNetwork)} is not private address space (${PRIVATE_RANGES.join(", ")}); the overlay between clients and the gateway must not shadow internet or link-local addresses`,
            fix,
        });
    }
    for (const address of tunnelAddresses) {
        const tunnel = parseCidr(address);
        if (tunnel && cidrsOverlap(tunnel, overlay)) {
            problems.push({
                key,
                problem: `${vxlanCidr(config.vpn.vxlanNetwork)} contains the VPN interface address ${address}; the overlay and the tunnel need separate addresses`,
                fix,
            });
        }
    }
    return problems;
}

/** VPN settings that only the cluster's ranges can rule out. */
function vpnProblemsAgainstCluster(config: DownloadsConfig, cluster: ClusterFacts): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    if (config.vpn.killSwitch.allowLan && cluster.lanCidr === undefined) {
        problems.push({
            key: `${CONFIG_NAMESPACE}:vpn.killSwitch.allowLan`,
            problem: "is true, but the core stack has no cluster.lanCidr, so there is no LAN range to allow",
            fix: `set it on the core stack: pulumi config set --path --stack core charmarr:cluster.lanCidr 192.168.1.0/24 (then pulumi up --stack core), or ${configSetCommand(`${CONFIG_NAMESPACE}:vpn.killSwitch.allowLan`, "false")}`,
        });
    }
    // gluetun refuses FIREWALL_OUTBOUND_SUBNETS that overlap the tunnel's own addresses
    // (docs/upstream.md#gluetun).
    const ranges = [["podCidr", cluster.podCidr], ["serviceCidr", cluster.serviceCidr], ["lanCidr", cluster.lanCidr]] as const;
    for (const address of config.vpn.type === "wireguard" ? wireguardAddresses(config.vpn) : []) {
        const tunnel = parseCidr(address);
        for (const [name, range] of ranges) {
            const block = range === undefined ? undefined : parseCidr(range);
            if (tunnel && block && cidrsOverlap(tunnel, block)) {
                problems.push({
                    key: `${CONFIG_NAMESPACE}:vpn.addresses`,
                    problem: `the VPN interface address ${address} lies inside the cluster's ${name} ${range} (from the core stack); gluetun cannot route the cluster and the tunnel through the same addresses`,
                    fix: "use the address your VPN provider assigned to your key: pulumi config set --path 'charmarr:vpn.addresses[0]' <address>/32",
                });
            }
        }
    }
    return problems;
}

/**
 * The download clients against the core stack's gateways: each needs its domain's gateway to exist
 * there, and a path that core's apps do not already use on it.
 */
export function checkAppsAgainstCore(
    config: DownloadsConfig,
    gateways: Readonly<Partial<Record<GatewayDomain, { paths: Readonly<Record<string, string>> }>>>,
): void {
    const enabled = Object.fromEntries(GATEWAY_DOMAINS.map((domain) => [domain, { enabled: gateways[domain] !== undefined }]));
    const taken = new Map(
        GATEWAY_DOMAINS.flatMap((domain) => Object.entries(gateways[domain]?.paths ?? {}).map(([path, app]) => [`${domain} ${path}`, `${app} (core stack)`] as const)),
    );
    const problems = appIssues(config.apps, enabled, taken).map((issue) => {
        const key = keyFor(issue.path);
        return { key, problem: issue.message, fix: issue.params.fix ?? configSetCommand(key, issue.params.suggest ?? "<value>") };
    });
    if (problems.length > 0) {
        throw new ConfigError(config.stack, problems);
    }
}

/** The first 172.16–31.x /24 clear of every cluster range, to suggest in a fix. */
function suggestVxlanNetwork(cluster: ClusterFacts, tunnelAddresses: readonly string[] = []): string {
    const taken = [cluster.podCidr, cluster.serviceCidr, cluster.lanCidr, ...tunnelAddresses].flatMap((range) => {
        const block = range === undefined ? undefined : parseCidr(range);
        return block ? [block] : [];
    });
    for (let second = 16; second < 32; second++) {
        for (let third = 0; third < 256; third++) {
            const candidate = `172.${second}.${third}`;
            const block = parseCidr(vxlanCidr(candidate));
            if (block && !taken.some((range) => cidrsOverlap(range, block))) {
                return candidate;
            }
        }
    }
    return "<a.b.c>";
}
