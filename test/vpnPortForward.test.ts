import { strict as assert } from "node:assert";
import { ConfigError, ConfigProblem, ConfigSource, loadConfig } from "../lib/config";
import type { PlanConfig } from "../plan/evaluate";
import { DOWNLOADS_EXAMPLE, withConfig } from "./support/plan";

function source(config: PlanConfig): ConfigSource {
  return {
    stack: "downloads",
    project: "charmarr",
    organization: "organization",
    values: config.values,
    isSecret: (key) => config.secretKeys.includes(key),
  };
}

/** The problems of the example with `changes`; none when it is accepted. */
function problemsWith(changes: Record<string, unknown>): readonly ConfigProblem[] {
  try {
    loadConfig(source(withConfig(DOWNLOADS_EXAMPLE, changes, ["charmarr:vpnUser", "charmarr:vpnPassword"])));
    return [];
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
}

const WIREGUARD_KEY = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
const PROTONVPN_WIREGUARD = {
  "charmarr:vpn.provider": "protonvpn",
  "charmarr:vpn.type": "wireguard",
  "charmarr:vpn.addresses": undefined,
  "charmarr:vpnPrivateKey": WIREGUARD_KEY,
};
const OPENVPN = {
  "charmarr:vpn.type": "openvpn",
  "charmarr:vpn.addresses": undefined,
  "charmarr:vpnPrivateKey": undefined,
  "charmarr:vpnUser": "user",
  "charmarr:vpnPassword": "password",
};

describe("config: charmarr:vpn.portForwarding", () => {
  it("is off by default and accepted for ProtonVPN (WireGuard or OpenVPN) and Private Internet Access (OpenVPN)", () => {
    for (const changes of [
      PROTONVPN_WIREGUARD,
      { ...OPENVPN, "charmarr:vpn.provider": "protonvpn" },
      { ...OPENVPN, "charmarr:vpn.provider": "private internet access" },
    ]) {
      assert.deepEqual(problemsWith({ ...changes, "charmarr:vpn.portForwarding": true }), [], JSON.stringify(changes));
    }
    const config = loadConfig(source(withConfig(DOWNLOADS_EXAMPLE, { "charmarr:vpn.portForwarding": undefined })));
    assert.equal(config.role === "downloads" && config.vpn.portForwarding, false);
  });

  for (const provider of ["mullvad", "nordvpn", "surfshark", "custom"]) {
    it(`is refused for ${provider}, naming the providers gluetun forwards a port from and the fix`, () => {
      const changes: Record<string, unknown> =
        provider === "custom"
          ? {
              "charmarr:vpn.provider": "custom",
              "charmarr:vpn.publicKey": WIREGUARD_KEY,
              "charmarr:vpn.endpointIp": "203.0.113.10",
              "charmarr:vpn.endpointPort": 51820,
              "charmarr:vpn.addresses": ["10.8.0.2/32"],
            }
          : { "charmarr:vpn.provider": provider, "charmarr:vpn.addresses": ["10.64.222.21/32"] };
      const problems = problemsWith({ ...changes, "charmarr:vpn.portForwarding": true });
      assert.deepEqual(problems, [
        {
          key: "charmarr:vpn.portForwarding",
          problem:
            `is true, but provider "${provider}" forwards no port through gluetun v3.41.1, which gets one only from ` +
            "perfect privacy, private internet access, privatevpn, protonvpn; of these this program runs " +
            "private internet access (OpenVPN) and protonvpn (WireGuard or OpenVPN)",
          fix:
            "pulumi config set --path charmarr:vpn.provider protonvpn with that provider's credentials (docs/vpn.md), " +
            "or turn it off: pulumi config set --path charmarr:vpn.portForwarding false",
        },
      ]);
    });
  }

  it("is refused with qBittorrent disabled: the port would go nowhere", () => {
    const problems = problemsWith({
      ...PROTONVPN_WIREGUARD,
      "charmarr:vpn.portForwarding": true,
      "charmarr:apps.qbittorrent.enabled": false,
    });
    assert.deepEqual(problems, [
      {
        key: "charmarr:vpn.portForwarding",
        problem:
          "is true, but qBittorrent, the app the forwarded port goes to, is disabled (charmarr:apps.qbittorrent.enabled)",
        fix:
          "pulumi config set --path charmarr:apps.qbittorrent.enabled true, " +
          "or turn port forwarding off: pulumi config set --path charmarr:vpn.portForwarding false",
      },
    ]);
  });

  it("reports a wrong provider and a disabled qBittorrent in one pass", () => {
    const problems = problemsWith({
      "charmarr:vpn.portForwarding": true,
      "charmarr:vpn.provider": "mullvad",
      "charmarr:vpn.addresses": ["10.64.222.21/32"],
      "charmarr:apps.qbittorrent.enabled": false,
    });
    assert.equal(problems.length, 2);
  });
});
