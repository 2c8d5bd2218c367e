import { ConfigProblem, configRemoveCommand, configSetCommand } from "../settings";
import { VPN_PROVIDERS, VPN_TYPES, VpnProviderName, VpnSettings, VpnType } from "./settings";

export { VPN_PROVIDERS, VPN_TYPES };
export type { VpnProviderName, VpnType };

/** The tunnel device gluetun creates; set explicitly in gluetun and pod-gateway so they always agree. */
export const VPN_INTERFACES: Readonly<Record<VpnType, string>> = { wireguard: "wg0", openvpn: "tun0" };

const TYPE_TITLES: Readonly<Record<VpnType, string>> = { wireguard: "WireGuard", openvpn: "OpenVPN" };
const TYPE_WITH_ARTICLE: Readonly<Record<VpnType, string>> = { wireguard: "a WireGuard", openvpn: "an OpenVPN" };

/** Every provider-dependent setting: where the user sets it and what gluetun calls it. */
export const VPN_SETTINGS = {
  privateKey: {
    key: "charmarr:vpnPrivateKey",
    secret: true,
    list: false,
    gluetunEnv: "WIREGUARD_PRIVATE_KEY",
    secretKey: "wireguard-private-key",
    example: "<your WireGuard private key>",
    type: "wireguard",
  },
  presharedKey: {
    key: "charmarr:vpnPresharedKey",
    secret: true,
    list: false,
    gluetunEnv: "WIREGUARD_PRESHARED_KEY",
    secretKey: "wireguard-preshared-key",
    example: "<your WireGuard preshared key>",
    type: "wireguard",
  },
  addresses: {
    key: "charmarr:vpn.addresses",
    secret: false,
    list: true,
    gluetunEnv: "WIREGUARD_ADDRESSES",
    example: "10.64.0.2/32",
    type: "wireguard",
  },
  publicKey: {
    key: "charmarr:vpn.publicKey",
    secret: false,
    list: false,
    gluetunEnv: "WIREGUARD_PUBLIC_KEY",
    example: "<the server's WireGuard public key>",
    type: "wireguard",
  },
  endpointIp: {
    key: "charmarr:vpn.endpointIp",
    secret: false,
    list: false,
    gluetunEnv: "WIREGUARD_ENDPOINT_IP",
    example: "203.0.113.10",
    type: "wireguard",
  },
  endpointPort: {
    key: "charmarr:vpn.endpointPort",
    secret: false,
    list: false,
    gluetunEnv: "WIREGUARD_ENDPOINT_PORT",
    example: "51820",
    type: "wireguard",
  },
  user: {
    key: "charmarr:vpnUser",
    secret: true,
    list: false,
    gluetunEnv: "OPENVPN_USER",
    secretKey: "openvpn-user",
    example: "<your OpenVPN user name>",
    type: "openvpn",
  },
  password: {
    key: "charmarr:vpnPassword",
    secret: true,
    list: false,
    gluetunEnv: "OPENVPN_PASSWORD",
    secretKey: "openvpn-password",
    example: "<your OpenVPN password>",
    type: "openvpn",
  },
} as const;
export type VpnSettingName = keyof typeof VPN_SETTINGS;
/** The settings held as Pulumi secrets and passed to gluetun only through a Kubernetes Secret. */
export type VpnCredentialName = {
  [K in VpnSettingName]: (typeof VPN_SETTINGS)[K]["secret"] extends true ? K : never;
}[VpnSettingName];

/** ✅ required, ➖ optional, ⛔ must not be set, or a value gluetun falls back to (docs/upstream.md#gluetun). */
export type Requirement = "required" | "optional" | "forbidden" | { readonly default: string };

/** What one provider needs for one VPN type, or why this program cannot use that combination. */
export type TypeRules =
  | {
      /** This program can run the provider with this type. */
      readonly supported: true;
      /** Requirement per setting of this type; settings of the other type are always refused. */
      readonly settings: Readonly<Partial<Record<VpnSettingName, Requirement>>>;
      /** The server port gluetun connects to unless `vpn.endpointPort` overrides it (UDP). */
      readonly defaultPort?: number;
      /**
       * The only values gluetun accepts for `vpn.endpointPort`, where it restricts them
       * (`wireguardselection.go`); absent means any port, where the setting is allowed at all.
       */
      readonly endpointPorts?: readonly number[];
    }
  | {
      /** This program cannot run the provider with this type. */
      readonly supported: false;
      /** Why, in words for the refusal message. */
      readonly reason: string;
    };

export interface ProviderRules {
  /** Rules for `vpn.type: wireguard`. */
  readonly wireguard: TypeRules;
  /** Rules for `vpn.type: openvpn`. */
  readonly openvpn: TypeRules;
  /** Extra help appended to a message about this provider's credentials. */
  readonly hint?: string;
}

const OPENVPN_CREDENTIALS = { user: "required", password: "required" } as const;

function wireguard(
  settings: Readonly<Partial<Record<VpnSettingName, Requirement>>>,
  defaultPort?: number,
  endpointPorts?: readonly number[],
): TypeRules {
  return { supported: true, settings: { privateKey: "required", ...settings }, defaultPort, endpointPorts };
}

function openvpn(defaultPort: number): TypeRules {
  return { supported: true, settings: OPENVPN_CREDENTIALS, defaultPort };
}

/**
 * gluetun v3.41.1's requirements (`internal/configuration/settings/wireguard.go`, `openvpn.go`,
 * `provider.go`), the WireGuard endpoint ports it accepts (`wireguardselection.go`) and its
 * default server ports (`internal/provider/<name>/connection.go`). The
 * server's public key and endpoint IP are built into gluetun for every provider but `custom`.
 */
export const PROVIDER_RULES: Readonly<Record<VpnProviderName, ProviderRules>> = {
  mullvad: {
    wireguard: wireguard(
      {
        addresses: "required",
        presharedKey: "optional",
        publicKey: "forbidden",
        endpointIp: "forbidden",
        endpointPort: "optional",
      },
      51820,
    ),
    openvpn: openvpn(1194),
    hint: "for Mullvad the OpenVPN user is your account number and the password is m",
  },
  protonvpn: {
    wireguard: wireguard(
      {
        addresses: { default: "10.2.0.2/32" },
        presharedKey: "optional",
        publicKey: "forbidden",
        endpointIp: "forbidden",
        endpointPort: "forbidden",
      },
      51820,
    ),
    openvpn: openvpn(1194),
  },
  nordvpn: {
    wireguard: wireguard(
      {
        addresses: { default: "10.5.0.2/32" },
        presharedKey: "optional",
        publicKey: "forbidden",
        endpointIp: "forbidden",
        endpointPort: "forbidden",
      },
      51820,
    ),
    openvpn: openvpn(1194),
  },
  surfshark: {
    wireguard: wireguard(
      {
        addresses: "required",
        presharedKey: "optional",
        publicKey: "forbidden",
        endpointIp: "forbidden",
        endpointPort: "forbidden",
      },
      51820,
    ),
    openvpn: openvpn(1194),
  },
  ivpn: {
    wireguard: wireguard(
      {
        addresses: "required",
        presharedKey: "optional",
        publicKey: "forbidden",
        endpointIp: "forbidden",
        endpointPort: "optional",
      },
      58237,
      [2049, 2050, 53, 30587, 41893, 48574, 58237],
    ),
    openvpn: openvpn(1194),
  },
  windscribe: {
    wireguard: wireguard(
      {
        addresses: "required",
        presharedKey: "optional",
        publicKey: "forbidden",
        endpointIp: "forbidden",
        endpointPort: "optional",
      },
      1194,
      [53, 80, 123, 443, 1194, 65142],
    ),
    openvpn: openvpn(1194),
  },
  airvpn: {
    wireguard: wireguard(
      {
        addresses: "required",
        presharedKey: "required",
        publicKey: "forbidden",
        endpointIp: "forbidden",
        endpointPort: "optional",
      },
      1637,
      [1637, 47107],
    ),
    openvpn: {
      supported: false,
      reason: "AirVPN's OpenVPN authenticates with client certificates, which this program does not mount",
    },
  },
  "private internet access": {
    wireguard: { supported: false, reason: "gluetun v3.41 has no WireGuard support for Private Internet Access" },
    openvpn: openvpn(1197),
  },
  custom: {
    wireguard: wireguard({
      addresses: "required",
      presharedKey: "optional",
      publicKey: "required",
      endpointIp: "required",
      endpointPort: "required",
    }),
    openvpn: {
      supported: false,
      reason: "a custom OpenVPN provider needs a configuration file, which this program does not mount",
    },
  },
};

/**
 * Why a setting is refused, in the words of the messages. gluetun v3.41.1 takes a built-in
 * provider's server key from its server list and never reads `WIREGUARD_PUBLIC_KEY` for it (only
 * `internal/provider/custom/connection.go` does; `internal/provider/utils/wireguard.go` sets the
 * connection's key), so a key set here would silently do nothing.
 */
const FORBIDDEN_REASONS: Readonly<Partial<Record<VpnSettingName, string>>> = {
  publicKey: "gluetun takes the server's public key from its built-in server list and would ignore this one",
  endpointIp:
    "gluetun picks the server from its built-in list; choose servers with vpn.serverCountries, vpn.serverCities, vpn.serverRegions or vpn.serverHostnames",
  endpointPort: "gluetun uses the provider's fixed WireGuard port and refuses a custom one",
};

const OTHER_TYPE: Readonly<Record<VpnType, VpnType>> = { wireguard: "openvpn", openvpn: "wireguard" };

/** Which settings are set, counting an empty list as unset (schema defaults lists to []). */
function isSet(
  vpn: Partial<VpnSettings>,
  credentials: ReadonlySet<VpnCredentialName>,
  setting: VpnSettingName,
): boolean {
  switch (setting) {
    case "privateKey":
    case "presharedKey":
    case "user":
    case "password":
      return credentials.has(setting);
    case "addresses":
      return (vpn.addresses ?? []).length > 0;
    default:
      return vpn[setting] !== undefined;
  }
}

function setCommand(setting: VpnSettingName): string {
  const spec = VPN_SETTINGS[setting];
  return configSetCommand(spec.list ? `${spec.key}[0]` : spec.key, spec.example, spec.secret);
}

function removeCommand(setting: VpnSettingName): string {
  const spec = VPN_SETTINGS[setting];
  return configRemoveCommand(spec.key);
}

function typeCommand(type: VpnType): string {
  return configSetCommand("charmarr:vpn.type", type);
}

/**
 * Every way `vpn` plus the credentials present violate gluetun's requirements for the chosen
 * provider and type. Run at config time, before anything is created.
 */
export function providerProblems(vpn: VpnSettings, credentials: ReadonlySet<VpnCredentialName>): ConfigProblem[] {
  return checkProvider(vpn, credentials, Object.keys(VPN_SETTINGS) as VpnSettingName[]);
}

/**
 * What {@link providerProblems} says about the credentials alone (and an unsupported type), from
 * the provider and type: for when another field of `charmarr:vpn` is invalid, so the credentials'
 * problems still show in the same pass.
 */
export function credentialProblems(
  selection: Pick<VpnSettings, "provider" | "type">,
  credentials: ReadonlySet<VpnCredentialName>,
): ConfigProblem[] {
  const names = (Object.keys(VPN_SETTINGS) as VpnSettingName[]).filter((setting) => VPN_SETTINGS[setting].secret);
  return checkProvider(selection, credentials, names);
}

function checkProvider(
  vpn: Pick<VpnSettings, "provider" | "type"> & Partial<VpnSettings>,
  credentials: ReadonlySet<VpnCredentialName>,
  settings: readonly VpnSettingName[],
): ConfigProblem[] {
  const provider = vpn.provider;
  const rules = PROVIDER_RULES[provider][vpn.type];
  const title = TYPE_TITLES[vpn.type];
  if (!rules.supported) {
    // Every provider supports at least one type, so switching type is always a fix.
    return [
      {
        key: "charmarr:vpn.type",
        problem: `"${vpn.type}" is not supported for provider "${provider}": ${rules.reason}`,
        fix: typeCommand(OTHER_TYPE[vpn.type]),
      },
    ];
  }
  const problems: ConfigProblem[] = [];
  for (const setting of settings) {
    const spec = VPN_SETTINGS[setting];
    const present = isSet(vpn, credentials, setting);
    if (spec.type !== vpn.type) {
      if (present) {
        problems.push({
          key: spec.key,
          problem: `is ${TYPE_WITH_ARTICLE[spec.type]} setting, but provider "${provider}" is set up with ${title} (vpn.type), which would ignore it`,
          fix: `${removeCommand(setting)}  (or switch type: ${typeCommand(spec.type)})`,
        });
      }
      continue;
    }
    const requirement = rules.settings[setting] ?? "forbidden";
    if (requirement === "required" && !present) {
      const hint = PROVIDER_RULES[provider].hint && spec.type === "openvpn" ? `; ${PROVIDER_RULES[provider].hint}` : "";
      problems.push({
        key: spec.key,
        problem: `is required for provider "${provider}" with ${title}: gluetun refuses to start without it${hint}`,
        fix: setCommand(setting),
      });
    } else if (requirement === "forbidden" && present) {
      const reason = FORBIDDEN_REASONS[setting] ?? `gluetun does not accept it for ${provider}`;
      problems.push({
        key: spec.key,
        problem: `must not be set for provider "${provider}" with ${title}: ${reason}`,
        fix: removeCommand(setting),
      });
    }
  }
  // Only WireGuard rules restrict ports, and the credentials-only check (credentialProblems) has no port.
  const port = vpn.endpointPort;
  if (port !== undefined && rules.endpointPorts && !rules.endpointPorts.includes(port)) {
    const allowed = [...rules.endpointPorts].sort((a, b) => a - b);
    problems.push({
      key: VPN_SETTINGS.endpointPort.key,
      problem: `${port} is not a WireGuard port of provider "${provider}": gluetun accepts only ${allowed.join(", ")}`,
      fix: `${configSetCommand(VPN_SETTINGS.endpointPort.key, String(rules.defaultPort ?? allowed[0]))} (or another of ${allowed.join(", ")}), or use the provider's default: ${removeCommand("endpointPort")}`,
    });
  }
  return problems;
}

/** Rules for a provider/type combination that {@link providerProblems} accepted. */
function supportedRules(vpn: VpnSettings): TypeRules & { supported: true } {
  const rules = PROVIDER_RULES[vpn.provider][vpn.type];
  if (!rules.supported) {
    throw new Error(
      `provider "${vpn.provider}" with ${vpn.type} is unsupported; config validation should have refused it`,
    );
  }
  return rules;
}

/** The UDP port of the VPN server: what the gateway must be allowed to send to. */
export function vpnServerPort(vpn: VpnSettings): number {
  const rules = supportedRules(vpn);
  // vpn.endpointPort is a WireGuard setting: validation refuses it with OpenVPN.
  const port = vpn.endpointPort ?? rules.defaultPort;
  if (port === undefined) {
    throw new Error(
      `provider "${vpn.provider}" has no default ${vpn.type} port and vpn.endpointPort is unset; config validation should have refused it`,
    );
  }
  return port;
}

/** The interface addresses gluetun will use: the configured ones or the provider's default. */
export function wireguardAddresses(vpn: VpnSettings): string[] {
  if (vpn.addresses.length > 0) {
    return vpn.addresses;
  }
  const requirement = supportedRules(vpn).settings.addresses;
  return typeof requirement === "object" ? [requirement.default] : [];
}

/** A gluetun environment variable: a literal value, or a key of the credentials Secret. */
export type GluetunEnvValue = { readonly value: string } | { readonly secretKey: string };

/**
 * gluetun's provider-dependent environment, derived from the rules: literal values for public
 * settings, Secret keys for credentials. The caller adds cluster-dependent variables.
 */
export function providerEnvironment(
  vpn: VpnSettings,
  credentials: ReadonlySet<VpnCredentialName>,
): Record<string, GluetunEnvValue> {
  const rules = supportedRules(vpn);
  const env: Record<string, GluetunEnvValue> = {
    VPN_SERVICE_PROVIDER: { value: vpn.provider },
    VPN_TYPE: { value: vpn.type },
    VPN_INTERFACE: { value: VPN_INTERFACES[vpn.type] },
    // Pinned to UDP: the server port the gateway's firewall and egress policy open is a UDP port.
    ...(vpn.type === "openvpn" ? { OPENVPN_PROTOCOL: { value: "udp" } } : {}),
  };
  for (const setting of Object.keys(rules.settings) as VpnSettingName[]) {
    const spec = VPN_SETTINGS[setting];
    if ("secretKey" in spec) {
      if (credentials.has(setting as VpnCredentialName)) {
        env[spec.gluetunEnv] = { secretKey: spec.secretKey };
      }
      continue;
    }
    const value =
      setting === "addresses"
        ? wireguardAddresses(vpn).join(",")
        : vpn[setting as "publicKey" | "endpointIp" | "endpointPort"];
    // Never "": addresses are required or the provider's default, and the schema refuses empty values.
    if (value !== undefined) {
      env[spec.gluetunEnv] = { value: String(value) };
    }
  }
  const selection = {
    SERVER_COUNTRIES: vpn.serverCountries,
    SERVER_CITIES: vpn.serverCities,
    SERVER_REGIONS: vpn.serverRegions,
    SERVER_HOSTNAMES: vpn.serverHostnames,
  };
  for (const [name, values] of Object.entries(selection)) {
    if (values.length > 0) {
      env[name] = { value: values.join(",") };
    }
  }
  return env;
}
