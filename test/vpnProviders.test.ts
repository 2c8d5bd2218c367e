import { strict as assert } from "node:assert";
import { ConfigError, ConfigSource, loadConfig } from "../lib/config";
import {
  PROVIDER_RULES,
  VPN_PROVIDERS,
  VPN_TYPES,
  VpnProviderName,
  VpnType,
  providerEnvironment,
  vpnServerPort,
} from "../lib/vpn/providers";
import { vpnSchema } from "../lib/vpn/settings";
import type { StackPlan } from "../plan/evaluate";
import { NetworkPolicyManifest, evaluateEgress, gatewayWorkload, podOf } from "./support/networkPolicy";
import { DOWNLOADS_EXAMPLE, assertConfigError, manifestOf, planDownloads, withConfig } from "./support/plan";

// Expectations written from gluetun v3.41.1's provider rules (docs/upstream.md#gluetun), independently of
// lib/vpn/providers.ts, so the data table is checked against the reference rather than against itself.

const SECRET_KEYS = ["charmarr:vpnPrivateKey", "charmarr:vpnPresharedKey", "charmarr:vpnUser", "charmarr:vpnPassword"];
const PUBLIC_KEY = "xScVkH3fUGUv4RrJFfmcqm8rs3SEHr41km6+yffAHw4=";

/** Starts from the shipped example with every provider-dependent setting removed. */
const BLANK: Record<string, unknown> = {
  "charmarr:vpnPrivateKey": undefined,
  "charmarr:vpnPresharedKey": undefined,
  "charmarr:vpnUser": undefined,
  "charmarr:vpnPassword": undefined,
  "charmarr:vpn.addresses": undefined,
  "charmarr:vpn.serverCountries": undefined,
  // The example forwards a port (ProtonVPN); most providers cannot.
  "charmarr:vpn.portForwarding": undefined,
};

const WG_KEY = { "charmarr:vpnPrivateKey": "plan-private-key" };
const WG_ADDRESS = { "charmarr:vpn.addresses": ["10.64.0.2/32"] };
const OVPN = {
  "charmarr:vpn.type": "openvpn",
  "charmarr:vpnUser": "plan-user",
  "charmarr:vpnPassword": "plan-password",
};

/** The smallest configuration gluetun v3.41.1 accepts, per provider and type; undefined where unsupported. */
const MINIMAL: Record<VpnProviderName, Record<VpnType, Record<string, unknown> | undefined>> = {
  mullvad: { wireguard: { ...WG_KEY, ...WG_ADDRESS }, openvpn: OVPN },
  protonvpn: { wireguard: WG_KEY, openvpn: OVPN },
  nordvpn: { wireguard: WG_KEY, openvpn: OVPN },
  surfshark: { wireguard: { ...WG_KEY, ...WG_ADDRESS }, openvpn: OVPN },
  ivpn: { wireguard: { ...WG_KEY, ...WG_ADDRESS }, openvpn: OVPN },
  windscribe: { wireguard: { ...WG_KEY, ...WG_ADDRESS }, openvpn: OVPN },
  airvpn: { wireguard: { ...WG_KEY, ...WG_ADDRESS, "charmarr:vpnPresharedKey": "plan-psk" }, openvpn: undefined },
  "private internet access": { wireguard: undefined, openvpn: OVPN },
  custom: {
    wireguard: {
      ...WG_KEY,
      ...WG_ADDRESS,
      "charmarr:vpn.publicKey": PUBLIC_KEY,
      "charmarr:vpn.endpointIp": "203.0.113.10",
      "charmarr:vpn.endpointPort": 51820,
    },
    openvpn: undefined,
  },
};

function changesFor(provider: VpnProviderName, extra: Record<string, unknown>): Record<string, unknown> {
  return { ...BLANK, "charmarr:vpn.provider": provider, ...extra };
}

function load(changes: Record<string, unknown>) {
  const config = withConfig(DOWNLOADS_EXAMPLE, changes, SECRET_KEYS);
  const source: ConfigSource = {
    stack: "downloads",
    project: "charmarr",
    organization: "organization",
    values: config.values,
    isSecret: (key) => config.secretKeys.includes(key),
  };
  return loadConfig(source);
}

function refusal(changes: Record<string, unknown>): ConfigError {
  try {
    load(changes);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail("configuration was accepted");
}

function only(error: ConfigError) {
  assert.equal(error.problems.length, 1, error.message);
  return error.problems[0];
}

describe("vpn providers: every provider × type against gluetun v3.41.1's rules", () => {
  it("the matrix covers every provider and type", () => {
    assert.deepEqual(Object.keys(MINIMAL).sort(), [...VPN_PROVIDERS].sort());
    assert.deepEqual(Object.keys(PROVIDER_RULES).sort(), [...VPN_PROVIDERS].sort());
  });

  for (const provider of VPN_PROVIDERS) {
    for (const type of VPN_TYPES) {
      const minimal = MINIMAL[provider][type];
      if (minimal) {
        it(`${provider} with ${type}: the minimal configuration is accepted`, () => {
          const config = load(changesFor(provider, { "charmarr:vpn.type": type, ...minimal }));
          assert.ok(config.role === "downloads" && config.vpn.provider === provider && config.vpn.type === type);
        });
      } else {
        it(`${provider} with ${type}: refused with the reason and the type that works`, () => {
          const problem = only(refusal(changesFor(provider, { "charmarr:vpn.type": type })));
          const other = type === "wireguard" ? "openvpn" : "wireguard";
          assert.equal(problem.key, "charmarr:vpn.type");
          assert.ok(
            problem.problem.startsWith(`"${type}" is not supported for provider "${provider}": `),
            problem.problem,
          );
          assert.equal(problem.fix, `pulumi config set --path charmarr:vpn.type ${other}`);
        });
      }
    }
  }
});

/** gluetun v3.41.1: what each provider refuses with WireGuard beyond the other type's settings. */
const WIREGUARD_FORBIDDEN: Record<VpnProviderName, string[]> = {
  mullvad: ["publicKey", "endpointIp"],
  protonvpn: ["publicKey", "endpointIp", "endpointPort"],
  nordvpn: ["publicKey", "endpointIp", "endpointPort"],
  surfshark: ["publicKey", "endpointIp", "endpointPort"],
  ivpn: ["publicKey", "endpointIp"],
  windscribe: ["publicKey", "endpointIp"],
  airvpn: ["publicKey", "endpointIp"],
  "private internet access": [],
  custom: [],
};
const FORBIDDEN_VALUES: Record<string, unknown> = {
  publicKey: PUBLIC_KEY,
  endpointIp: "203.0.113.10",
  endpointPort: 51820,
};

const TITLES: Record<VpnType, string> = { wireguard: "WireGuard", openvpn: "OpenVPN" };

describe("vpn providers: each required setting missing, each forbidden setting present", () => {
  for (const provider of VPN_PROVIDERS) {
    for (const type of VPN_TYPES) {
      const minimal = MINIMAL[provider][type];
      if (!minimal) {
        continue;
      }
      for (const key of Object.keys(minimal).filter((k) => k !== "charmarr:vpn.type")) {
        it(`${provider} with ${type} without ${key}`, () => {
          const problem = only(
            refusal(changesFor(provider, { "charmarr:vpn.type": type, ...minimal, [key]: undefined })),
          );
          assert.equal(problem.key, key);
          assert.ok(
            problem.problem.startsWith(
              `is required for provider "${provider}" with ${TITLES[type]}: gluetun refuses to start without it`,
            ),
            problem.problem,
          );
          assert.ok(problem.fix?.startsWith("pulumi config set "), problem.fix);
        });
      }
      if (type === "wireguard") {
        for (const setting of WIREGUARD_FORBIDDEN[provider]) {
          it(`${provider} with WireGuard and vpn.${setting}`, () => {
            const problem = only(
              refusal(changesFor(provider, { ...minimal, [`charmarr:vpn.${setting}`]: FORBIDDEN_VALUES[setting] })),
            );
            assert.equal(problem.key, `charmarr:vpn.${setting}`);
            assert.ok(
              problem.problem.startsWith(`must not be set for provider "${provider}" with WireGuard: `),
              problem.problem,
            );
            assert.equal(problem.fix, `pulumi config rm --path charmarr:vpn.${setting}`);
          });
        }
        it(`${provider} with WireGuard accepts an optional preshared key`, () => {
          assert.equal(
            load(changesFor(provider, { ...minimal, "charmarr:vpnPresharedKey": "plan-psk" })).role,
            "downloads",
          );
        });
      }
    }
  }
});

describe("vpn providers: the messages users see", () => {
  it("surfshark without vpn.addresses", () => {
    const problem = only(refusal(changesFor("surfshark", WG_KEY)));
    assert.deepEqual(problem, {
      key: "charmarr:vpn.addresses",
      problem: 'is required for provider "surfshark" with WireGuard: gluetun refuses to start without it',
      fix: "pulumi config set --path 'charmarr:vpn.addresses[0]' 10.64.0.2/32",
    });
  });

  for (const provider of ["mullvad", "ivpn", "windscribe", "airvpn", "custom"] as const) {
    it(`${provider} without vpn.addresses`, () => {
      const withoutAddresses = { ...MINIMAL[provider].wireguard, "charmarr:vpn.addresses": undefined };
      const problem = only(refusal(changesFor(provider, withoutAddresses)));
      assert.equal(problem.key, "charmarr:vpn.addresses");
      assert.equal(
        problem.problem,
        `is required for provider "${provider}" with WireGuard: gluetun refuses to start without it`,
      );
    });
  }

  for (const provider of ["protonvpn", "nordvpn", "surfshark"] as const) {
    it(`${provider} with vpn.endpointPort`, () => {
      const problem = only(
        refusal(changesFor(provider, { ...MINIMAL[provider].wireguard, "charmarr:vpn.endpointPort": 51820 })),
      );
      assert.deepEqual(problem, {
        key: "charmarr:vpn.endpointPort",
        problem: `must not be set for provider "${provider}" with WireGuard: gluetun uses the provider's fixed WireGuard port and refuses a custom one`,
        fix: "pulumi config rm --path charmarr:vpn.endpointPort",
      });
    });
  }

  // gluetun v3.41.1 internal/configuration/settings/wireguardselection.go: the custom WireGuard
  // endpoint ports each provider accepts (mullvad: any; custom: any, and required).
  const ENDPOINT_PORTS: readonly [VpnProviderName, readonly number[] | "any", readonly number[]][] = [
    ["airvpn", [1637, 47107], [443, 51820, 1638]],
    ["ivpn", [2049, 2050, 53, 30587, 41893, 48574, 58237], [443, 51820, 2051]],
    ["windscribe", [53, 80, 123, 443, 1194, 65142], [51820, 1195, 8443]],
    ["mullvad", "any", []],
    ["custom", "any", []],
  ];
  for (const [provider, accepted, refused] of ENDPOINT_PORTS) {
    const ports = accepted === "any" ? [53, 443, 4000, 51820, 65535] : accepted;
    it(`${provider} accepts vpn.endpointPort ${accepted === "any" ? "of any value" : accepted.join(", ")}`, () => {
      for (const port of ports) {
        const config = load(
          changesFor(provider, { ...MINIMAL[provider].wireguard, "charmarr:vpn.endpointPort": port }),
        );
        assert.ok(config.role === "downloads" && config.vpn.endpointPort === port, `${provider} ${port}`);
      }
    });
    if (accepted === "any") {
      continue;
    }
    it(`${provider} refuses vpn.endpointPort ${refused.join(", ")}, naming the ports it accepts`, () => {
      const sorted = [...accepted].sort((a, b) => a - b).join(", ");
      for (const port of refused) {
        const problem = only(
          refusal(changesFor(provider, { ...MINIMAL[provider].wireguard, "charmarr:vpn.endpointPort": port })),
        );
        assert.equal(problem.key, "charmarr:vpn.endpointPort");
        assert.equal(
          problem.problem,
          `${port} is not a WireGuard port of provider "${provider}": gluetun accepts only ${sorted}`,
        );
        assert.match(problem.fix ?? "", /^pulumi config set --path charmarr:vpn\.endpointPort \d+ \(or another of /);
        assert.match(problem.fix ?? "", /pulumi config rm --path charmarr:vpn\.endpointPort$/);
      }
    });
  }

  it("the endpoint port refusal fails the plan with the whole message", async () => {
    await assertConfigError(
      planDownloads(
        changesFor("ivpn", { ...MINIMAL.ivpn.wireguard, "charmarr:vpn.endpointPort": 51820 }),
        {},
        SECRET_KEYS,
      ),
      "charmarr:vpn.endpointPort",
      '51820 is not a WireGuard port of provider "ivpn": gluetun accepts only 53, 2049, 2050, 30587, 41893, 48574, 58237',
      "pulumi config set --path charmarr:vpn.endpointPort 58237 (or another of 53, 2049, 2050, 30587, 41893, 48574, 58237), or use the provider's default: pulumi config rm --path charmarr:vpn.endpointPort",
    );
  });

  it("private internet access with WireGuard", () => {
    const error = refusal(changesFor("private internet access", WG_KEY));
    assert.deepEqual(only(error), {
      key: "charmarr:vpn.type",
      problem:
        '"wireguard" is not supported for provider "private internet access": gluetun v3.41 has no WireGuard support for Private Internet Access',
      fix: "pulumi config set --path charmarr:vpn.type openvpn",
    });
    assert.equal(
      error.message,
      [
        'Invalid configuration for stack "downloads" (1 problem):',
        "",
        "  charmarr:vpn.type",
        '    "wireguard" is not supported for provider "private internet access": gluetun v3.41 has no WireGuard support for Private Internet Access',
        "    fix: pulumi config set --path charmarr:vpn.type openvpn",
      ].join("\n"),
    );
  });

  it("airvpn with OpenVPN", () => {
    assert.deepEqual(only(refusal(changesFor("airvpn", OVPN))), {
      key: "charmarr:vpn.type",
      problem: `"openvpn" is not supported for provider "airvpn": AirVPN's OpenVPN authenticates with client certificates, which this program does not mount`,
      fix: "pulumi config set --path charmarr:vpn.type wireguard",
    });
  });

  it("custom with OpenVPN", () => {
    assert.equal(
      only(refusal(changesFor("custom", OVPN))).problem,
      '"openvpn" is not supported for provider "custom": a custom OpenVPN provider needs a configuration file, which this program does not mount',
    );
  });

  it("custom without vpn.publicKey, vpn.endpointIp or vpn.endpointPort", () => {
    const error = refusal(changesFor("custom", { ...WG_KEY, ...WG_ADDRESS }));
    assert.deepEqual(error.problems, [
      {
        key: "charmarr:vpn.publicKey",
        problem: 'is required for provider "custom" with WireGuard: gluetun refuses to start without it',
        fix: `pulumi config set --path charmarr:vpn.publicKey '<the server'"'"'s WireGuard public key>'`,
      },
      {
        key: "charmarr:vpn.endpointIp",
        problem: 'is required for provider "custom" with WireGuard: gluetun refuses to start without it',
        fix: "pulumi config set --path charmarr:vpn.endpointIp 203.0.113.10",
      },
      {
        key: "charmarr:vpn.endpointPort",
        problem: 'is required for provider "custom" with WireGuard: gluetun refuses to start without it',
        fix: "pulumi config set --path charmarr:vpn.endpointPort 51820",
      },
    ]);
  });

  it("airvpn without vpnPresharedKey", () => {
    assert.deepEqual(only(refusal(changesFor("airvpn", { ...WG_KEY, ...WG_ADDRESS }))), {
      key: "charmarr:vpnPresharedKey",
      problem: 'is required for provider "airvpn" with WireGuard: gluetun refuses to start without it',
      fix: "pulumi config set --secret charmarr:vpnPresharedKey '<your WireGuard preshared key>'",
    });
  });

  it("WireGuard without vpnPrivateKey", () => {
    assert.deepEqual(only(refusal(changesFor("nordvpn", {}))), {
      key: "charmarr:vpnPrivateKey",
      problem: 'is required for provider "nordvpn" with WireGuard: gluetun refuses to start without it',
      fix: "pulumi config set --secret charmarr:vpnPrivateKey '<your WireGuard private key>'",
    });
  });

  it("OpenVPN without vpnUser", () => {
    assert.deepEqual(only(refusal(changesFor("protonvpn", { ...OVPN, "charmarr:vpnUser": undefined }))), {
      key: "charmarr:vpnUser",
      problem: 'is required for provider "protonvpn" with OpenVPN: gluetun refuses to start without it',
      fix: "pulumi config set --secret charmarr:vpnUser '<your OpenVPN user name>'",
    });
  });

  it("Mullvad OpenVPN without a password says what the password is", () => {
    const problem = only(refusal(changesFor("mullvad", { ...OVPN, "charmarr:vpnPassword": undefined })));
    assert.equal(problem.key, "charmarr:vpnPassword");
    assert.equal(
      problem.problem,
      'is required for provider "mullvad" with OpenVPN: gluetun refuses to start without it; for Mullvad the OpenVPN user is your account number and the password is m',
    );
  });

  for (const [setting, value] of [
    ["publicKey", PUBLIC_KEY],
    ["endpointIp", "203.0.113.10"],
  ] as const) {
    it(`refuses vpn.${setting} for a provider with built-in servers`, () => {
      const problem = only(
        refusal(changesFor("mullvad", { ...MINIMAL.mullvad.wireguard, [`charmarr:vpn.${setting}`]: value })),
      );
      assert.equal(problem.key, `charmarr:vpn.${setting}`);
      assert.ok(
        problem.problem.startsWith('must not be set for provider "mullvad" with WireGuard: gluetun '),
        problem.problem,
      );
      assert.equal(problem.fix, `pulumi config rm --path charmarr:vpn.${setting}`);
    });
  }

  it("refuses WireGuard settings left over after switching to OpenVPN", () => {
    const error = refusal(changesFor("nordvpn", { ...OVPN, ...WG_KEY, ...WG_ADDRESS }));
    assert.deepEqual(
      error.problems.map((p) => [p.key, p.problem, p.fix]),
      [
        [
          "charmarr:vpnPrivateKey",
          'is a WireGuard setting, but provider "nordvpn" is set up with OpenVPN (vpn.type), which would ignore it',
          "pulumi config rm charmarr:vpnPrivateKey  (or switch type: pulumi config set --path charmarr:vpn.type wireguard)",
        ],
        [
          "charmarr:vpn.addresses",
          'is a WireGuard setting, but provider "nordvpn" is set up with OpenVPN (vpn.type), which would ignore it',
          "pulumi config rm --path charmarr:vpn.addresses  (or switch type: pulumi config set --path charmarr:vpn.type wireguard)",
        ],
      ],
    );
  });

  it("refuses OpenVPN credentials with WireGuard", () => {
    const problem = only(
      refusal(changesFor("surfshark", { ...MINIMAL.surfshark.wireguard, "charmarr:vpnUser": "someone" })),
    );
    assert.equal(problem.key, "charmarr:vpnUser");
    assert.equal(
      problem.problem,
      'is an OpenVPN setting, but provider "surfshark" is set up with WireGuard (vpn.type), which would ignore it',
    );
  });

  it("never echoes a credential in a message", () => {
    const error = refusal(changesFor("nordvpn", { ...OVPN, "charmarr:vpnPrivateKey": "super-secret-value" }));
    assert.ok(!error.message.includes("super-secret-value"));
  });
});

describe("vpn providers: the credentials are checked while another charmarr:vpn field is invalid", () => {
  // An invalid vpn.mtu leaves no valid charmarr:vpn: only the provider and type are known, and the
  // credentials (separate keys) are still checked against them in the same pass.
  const BAD_MTU = { "charmarr:vpn.mtu": 1500 };

  it("reports a missing private key beside the invalid field, and nothing about other vpn fields", () => {
    const error = refusal(changesFor("surfshark", BAD_MTU));
    assert.deepEqual(
      error.problems.map((p) => p.key),
      ["charmarr:vpn.mtu", "charmarr:vpnPrivateKey"],
    );
    assert.deepEqual(error.problems[1], {
      key: "charmarr:vpnPrivateKey",
      problem: 'is required for provider "surfshark" with WireGuard: gluetun refuses to start without it',
      fix: "pulumi config set --secret charmarr:vpnPrivateKey '<your WireGuard private key>'",
    });
  });

  it("reports a credential of the other type", () => {
    const error = refusal(changesFor("nordvpn", { ...WG_KEY, ...BAD_MTU, "charmarr:vpnUser": "someone" }));
    assert.deepEqual(
      error.problems.map((p) => [p.key, p.problem]),
      [
        ["charmarr:vpn.mtu", error.problems[0].problem],
        [
          "charmarr:vpnUser",
          'is an OpenVPN setting, but provider "nordvpn" is set up with WireGuard (vpn.type), which would ignore it',
        ],
      ],
    );
  });

  it("reports a type the provider cannot run", () => {
    const error = refusal(changesFor("private internet access", { ...WG_KEY, ...BAD_MTU }));
    assert.deepEqual(
      error.problems.map((p) => [p.key, p.fix]),
      [
        ["charmarr:vpn.mtu", error.problems[0].fix],
        ["charmarr:vpn.type", "pulumi config set --path charmarr:vpn.type openvpn"],
      ],
    );
  });
});

describe("vpn providers: what the builders hand on", () => {
  it("gives gluetun every WireGuard address as one comma list (gluetun v3.41.1 reads WIREGUARD_ADDRESSES as CSV)", () => {
    const vpn = vpnSchema.parse({ provider: "mullvad", addresses: ["10.64.0.2/32", "10.65.0.2/32"] });
    assert.deepEqual(providerEnvironment(vpn, new Set(["privateKey"])).WIREGUARD_ADDRESSES, {
      value: "10.64.0.2/32,10.65.0.2/32",
    });
  });

  it("never makes up a server port: without one, no egress rule could name it and an empty port opens every port", () => {
    // A NetworkPolicy port entry without a port matches every port (Kubernetes NetworkPolicyPort.port).
    const custom = vpnSchema.parse({ provider: "custom", addresses: ["10.64.0.2/32"], endpointIp: "203.0.113.10" });
    assert.throws(
      () => vpnServerPort(custom),
      /provider "custom" has no default wireguard port and vpn\.endpointPort is unset/,
    );
  });
});

describe("vpn providers: plans", () => {
  it("plans Private Internet Access with vpn.serverRegions and passes the regions to gluetun", async () => {
    const plan = await planDownloads(
      changesFor("private internet access", { ...OVPN, "charmarr:vpn.serverRegions": ["DE Frankfurt"] }),
      {},
      SECRET_KEYS,
    );
    const gateway = manifestOf(plan, "Deployment", "vpn-gateway") as unknown as {
      spec: { template: { spec: { containers: { name: string; env?: { name: string; value?: string }[] }[] } } };
    };
    const gluetun = gateway.spec.template.spec.containers.find((c) => c.name === "gluetun");
    assert.equal(gluetun?.env?.find((e) => e.name === "SERVER_REGIONS")?.value, "DE Frankfurt");
  });

  it("refuses an empty region name, naming the key", async () => {
    await assertConfigError(planDownloads({ "charmarr:vpn.serverRegions": [""] }), "charmarr:vpn.serverRegions");
  });

  for (const provider of VPN_PROVIDERS) {
    for (const type of VPN_TYPES) {
      const minimal = MINIMAL[provider][type];
      if (!minimal) {
        continue;
      }
      it(`plans ${provider} with ${type}: gluetun reads the provider, type, credentials and server port configured, and the gateway may reach that port`, async () => {
        const plan = await planDownloads(
          changesFor(provider, { "charmarr:vpn.type": type, ...minimal }),
          {},
          SECRET_KEYS,
        );
        const gateway = gatewayWorkload(plan);
        const gluetun = gateway.spec.template.spec.containers.find((c) => c.name === "gluetun");
        assert.ok(gluetun);
        const seen = asGluetunReads(gluetun.env ?? [], credentialsSecret(plan, gateway.metadata.namespace));
        const configured = (key: string) => (minimal[key] === undefined ? undefined : "from the Secret");
        const expected: GluetunView =
          type === "wireguard"
            ? {
                provider,
                type,
                interface: "wg0",
                privateKey: configured("charmarr:vpnPrivateKey"),
                presharedKey: configured("charmarr:vpnPresharedKey"),
                addresses: (minimal["charmarr:vpn.addresses"] as string[] | undefined) ?? [
                  GLUETUN_DEFAULT_ADDRESSES[provider] ?? "none",
                ],
                publicKey: minimal["charmarr:vpn.publicKey"] as string | undefined,
                endpointIp: minimal["charmarr:vpn.endpointIp"] as string | undefined,
                serverPort:
                  (minimal["charmarr:vpn.endpointPort"] as number | undefined) ??
                  GLUETUN_DEFAULT_PORTS[provider].wireguard,
              }
            : {
                provider,
                type,
                interface: "tun0",
                user: configured("charmarr:vpnUser"),
                password: configured("charmarr:vpnPassword"),
                protocol: "udp",
                serverPort: GLUETUN_DEFAULT_PORTS[provider].openvpn,
              };
        assert.deepEqual(seen, expected);
        if (type === "openvpn") {
          // UDP is gluetun v3.41.1's default too, but vpn.images.gluetun may name another gluetun: the
          // protocol the gateway's firewall opens a port for is set, not left to a version's default.
          assert.equal(gluetun.env?.find((e) => e.name === "OPENVPN_PROTOCOL")?.value, "udp");
        }
        // The gateway's own egress NetworkPolicy lets it reach the server on that UDP port.
        const policies = plan.manifests.filter((m) => m.kind === "NetworkPolicy") as NetworkPolicyManifest[];
        const toServer = { ip: "203.0.113.10", protocol: "UDP", port: Number(expected.serverPort) } as const;
        assert.ok(evaluateEgress(policies, podOf(gateway), toServer).allowed, `UDP ${expected.serverPort}`);
      });
    }
  }

  it("an invalid provider configuration fails the plan before anything is created", async () => {
    await assertConfigError(
      planDownloads(changesFor("surfshark", WG_KEY), {}, SECRET_KEYS),
      "charmarr:vpn.addresses",
      'provider "surfshark"',
      "pulumi config set --path 'charmarr:vpn.addresses[0]'",
    );
  });

  it("passes protonvpn's default address explicitly, and the configured one otherwise", async () => {
    const proton = gluetunEnv(
      manifestOf(
        await planDownloads(changesFor("protonvpn", WG_KEY), {}, SECRET_KEYS),
        "Deployment",
        "vpn-gateway",
      ) as unknown as GatewayManifest,
    );
    assert.equal(proton.WIREGUARD_ADDRESSES, "10.2.0.2/32");
    const mullvad = gluetunEnv(
      manifestOf(
        await planDownloads(
          changesFor("mullvad", { ...WG_KEY, "charmarr:vpn.addresses": ["10.64.222.21/32"] }),
          {},
          SECRET_KEYS,
        ),
        "Deployment",
        "vpn-gateway",
      ) as unknown as GatewayManifest,
    );
    assert.equal(mullvad.WIREGUARD_ADDRESSES, "10.64.222.21/32");
  });
});

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}

interface GatewayManifest {
  spec: { template: { spec: { containers: { name: string; env?: EnvVar[] }[] } } };
}

/** gluetun's literal env values by name; secret references as "secretKeyRef". */
function gluetunEnv(gateway: GatewayManifest): Record<string, string> {
  const gluetun = gateway.spec.template.spec.containers.find((c) => c.name === "gluetun");
  assert.ok(gluetun?.env);
  return Object.fromEntries(gluetun.env.map((e) => [e.name, e.value ?? "secretKeyRef"]));
}

/**
 * gluetun v3.41.1's default server ports: `internal/provider/<name>/connection.go`
 * `NewConnectionDefaults(openvpnTCP, openvpnUDP, wireguard)`; Private Internet Access has no
 * WireGuard and its UDP port follows the encryption preset, "strong" by default
 * (`internal/configuration/settings/openvpnselection.go` `setDefaults`, `privateinternetaccess/connection.go`).
 * `custom` has none: its port is the required `WIREGUARD_ENDPOINT_PORT`.
 */
const GLUETUN_DEFAULT_PORTS: Record<VpnProviderName, { wireguard?: number; openvpn?: number }> = {
  mullvad: { wireguard: 51820, openvpn: 1194 },
  protonvpn: { wireguard: 51820, openvpn: 1194 },
  nordvpn: { wireguard: 51820, openvpn: 1194 },
  surfshark: { wireguard: 51820, openvpn: 1194 },
  ivpn: { wireguard: 58237, openvpn: 1194 },
  windscribe: { wireguard: 1194, openvpn: 1194 },
  airvpn: { wireguard: 1637 },
  "private internet access": { openvpn: 1197 },
  custom: {},
};

/** gluetun v3.41.1 `internal/configuration/settings/wireguard.go` `setDefaults`: the only default addresses. */
const GLUETUN_DEFAULT_ADDRESSES: Partial<Record<VpnProviderName, string>> = {
  nordvpn: "10.5.0.2/32",
  protonvpn: "10.2.0.2/32",
};

/** The provider settings gluetun ends up with; a credential as "from the Secret" when it resolves to a key there. */
type GluetunView = Record<string, string | number | string[] | undefined>;

/** The keys of the gateway's credentials Secret (values are hidden in a plan). */
function credentialsSecret(plan: StackPlan, namespace: string): { name: string; keys: Set<string> } {
  const secret = plan.manifests.find(
    (m) => m.kind === "Secret" && m.metadata.namespace === namespace && m.metadata.name === "vpn-gateway-credentials",
  ) as { metadata: { name: string }; stringData?: Record<string, string>; data?: Record<string, string> } | undefined;
  assert.ok(secret, "no credentials Secret");
  return { name: secret.metadata.name, keys: new Set(Object.keys({ ...secret.stringData, ...secret.data })) };
}

/**
 * What gluetun v3.41.1 makes of its environment, for the provider settings: read with gosettings
 * v0.4.4, where a variable set to "" counts as unset (`reader/reader.go`: `AcceptEmpty(false)` by
 * default); defaults from `internal/configuration/settings` (`vpn.go` `setDefaults`: type openvpn;
 * `wireguard.go` and `openvpn.go`: interface wg0 / tun0; `openvpnselection.go`: protocol udp); the
 * server port as `internal/provider/utils/port.go` `getPort` picks it. A Secret reference counts
 * only when the Secret has the key: a missing key keeps the pod from starting.
 */
function asGluetunReads(env: readonly EnvVar[], secret: { name: string; keys: Set<string> }): GluetunView {
  const get = (name: string): string | undefined => {
    const entry = env.find((e) => e.name === name);
    if (entry === undefined) {
      return undefined;
    }
    const ref = (entry.valueFrom as { secretKeyRef?: { name: string; key: string } } | undefined)?.secretKeyRef;
    if (ref) {
      assert.ok(ref.name === secret.name && secret.keys.has(ref.key), `${name} refers to a missing Secret key`);
      return "from the Secret";
    }
    return entry.value === "" ? undefined : entry.value;
  };
  const provider = get("VPN_SERVICE_PROVIDER") as VpnProviderName;
  const type = get("VPN_TYPE") ?? "openvpn";
  if (type === "wireguard") {
    const defaultAddress = GLUETUN_DEFAULT_ADDRESSES[provider];
    return {
      provider,
      type,
      interface: get("VPN_INTERFACE") ?? "wg0",
      privateKey: get("WIREGUARD_PRIVATE_KEY"),
      presharedKey: get("WIREGUARD_PRESHARED_KEY"),
      addresses: get("WIREGUARD_ADDRESSES")?.split(",") ?? (defaultAddress ? [defaultAddress] : []),
      publicKey: get("WIREGUARD_PUBLIC_KEY"),
      endpointIp: get("WIREGUARD_ENDPOINT_IP"),
      serverPort: Number(get("WIREGUARD_ENDPOINT_PORT") ?? 0) || GLUETUN_DEFAULT_PORTS[provider].wireguard,
    };
  }
  const protocol = get("OPENVPN_PROTOCOL") ?? "udp";
  return {
    provider,
    type,
    interface: get("VPN_INTERFACE") ?? "tun0",
    user: get("OPENVPN_USER"),
    password: get("OPENVPN_PASSWORD"),
    protocol,
    // A TCP port would not be the UDP port the gateway's firewall opens.
    serverPort: protocol === "udp" ? GLUETUN_DEFAULT_PORTS[provider].openvpn : undefined,
  };
}
