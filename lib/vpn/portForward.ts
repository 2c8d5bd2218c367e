/**
 * VPN port forwarding (`charmarr:vpn.portForwarding`): the provider opens one port on the VPN exit,
 * the gateway forwards what arrives on it through the tunnel to qBittorrent, and qBittorrent listens
 * on that port, following it when the provider hands out another.
 *
 * gluetun v3.41.1 does the provider's side: with `VPN_PORT_FORWARDING=on` it asks the provider for
 * a port once the tunnel is up, opens it in its INPUT chain on the tunnel device only, and runs
 * `VPN_PORT_FORWARDING_UP_COMMAND` with `{{PORTS}}` replaced by the port(s), and the down command
 * when the port goes away (`internal/portforward/service/start.go` `Start`, `stop.go` `cleanup`,
 * `command.go` `runCommand`).
 */
import { ConfigProblem, configKey, configSetCommand } from "../settings";
import { PROVIDER_RULES } from "./providers";
import { VPN_TYPES, VpnProviderName, VpnSettings } from "./settings";

/**
 * The providers gluetun v3.41.1 can get a forwarded port from
 * (`internal/configuration/settings/portforward.go` `PortForwarding.Validate`, lines 56-68): any
 * other provider with `VPN_PORT_FORWARDING=on` is a settings error and gluetun does not start.
 */
export const GLUETUN_PORT_FORWARDING_PROVIDERS = [
  "perfect privacy",
  "private internet access",
  "privatevpn",
  "protonvpn",
] as const;

/**
 * Those of them this program runs (./settings.ts `VPN_PROVIDERS`). `custom` is not among them:
 * gluetun would need `VPN_PORT_FORWARDING_PROVIDER` naming whose code to use for a server it
 * cannot check (`internal/configuration/settings/portforward.go` lines 19-26).
 */
export const PORT_FORWARDING_PROVIDERS: readonly VpnProviderName[] = (
  GLUETUN_PORT_FORWARDING_PROVIDERS as readonly string[]
).filter((name): name is VpnProviderName =>
  (["protonvpn", "private internet access"] as readonly string[]).includes(name),
);

const TYPE_TITLES = { wireguard: "WireGuard", openvpn: "OpenVPN" } as const;

/** `protonvpn (WireGuard or OpenVPN)`: a provider with the VPN types this program runs it with. */
function withTypes(provider: VpnProviderName): string {
  const types = VPN_TYPES.filter((type) => PROVIDER_RULES[provider][type].supported).map((type) => TYPE_TITLES[type]);
  return `${provider} (${types.join(" or ")})`;
}

const PORT_FORWARDING_KEY = configKey(["vpn", "portForwarding"]);
const PROVIDER_KEY = configKey(["vpn", "provider"]);

/** The app the forwarded port is for. */
export const PORT_FORWARDING_APP = "qbittorrent";

/**
 * `vpn.portForwarding` needs a provider gluetun gets a port from, and qBittorrent to take it.
 * `enabledApps` are the downloads stack's enabled apps.
 */
export function portForwardingProblems(vpn: VpnSettings, enabledApps: readonly string[]): ConfigProblem[] {
  if (!vpn.portForwarding) {
    return [];
  }
  const off = configSetCommand(PORT_FORWARDING_KEY, "false");
  const problems: ConfigProblem[] = [];
  if (!PORT_FORWARDING_PROVIDERS.includes(vpn.provider)) {
    problems.push({
      key: PORT_FORWARDING_KEY,
      problem:
        `is true, but provider "${vpn.provider}" forwards no port through gluetun v3.41.1, which gets one only from ` +
        `${GLUETUN_PORT_FORWARDING_PROVIDERS.join(", ")}; of these this program runs ${PORT_FORWARDING_PROVIDERS.map(withTypes).join(" and ")}`,
      fix: `${configSetCommand(PROVIDER_KEY, "protonvpn")} with that provider's credentials (docs/vpn.md), or turn it off: ${off}`,
    });
  }
  if (!enabledApps.includes(PORT_FORWARDING_APP)) {
    problems.push({
      key: PORT_FORWARDING_KEY,
      problem:
        "is true, but qBittorrent, the app the forwarded port goes to, is disabled (charmarr:apps.qbittorrent.enabled)",
      fix: `${configSetCommand(configKey(["apps", "qbittorrent", "enabled"]), "true")}, or turn port forwarding off: ${off}`,
    });
  }
  return problems;
}
