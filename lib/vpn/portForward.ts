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
import { OVERLAY_DEVICE } from "./overlay";
import { PROVIDER_RULES, VPN_INTERFACES } from "./providers";
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

/**
 * qBittorrent's host number on the overlay: a fixed address, so the gateway knows where to send
 * the forwarded port. Below the DHCP pool (./gateway.ts `VXLAN_FIRST_DYNAMIC_IP`), as pod-gateway's
 * nat.conf asks of static addresses (pod-gateway v1.13.0 config/nat.conf lines 1-3).
 */
export const PORT_FORWARDING_HOST = 10;

/** qBittorrent's address on the overlay, e.g. `172.16.0.10`. */
export function portForwardingAddress(vpn: Pick<VpnSettings, "vxlanNetwork">): string {
  return `${vpn.vxlanNetwork}.${PORT_FORWARDING_HOST}`;
}

/**
 * The routed clients' `nat.conf`: pod-gateway v1.13.0 `bin/client_init.sh` (lines 44-54, 87-98)
 * looks up the pod's hostname cut at its first dash (`qbittorrent-0` → `qbittorrent`) and, when
 * it finds a line, takes `<VXLAN_IP_NETWORK>.<second field>` on vxlan0 instead of a DHCP lease.
 * The ports field is for the gateway's own copy (`bin/gateway_init.sh` lines 60-85 DNAT them at
 * start); the forwarded port is known only at run time, so the gateway's copy stays empty and
 * gluetun's up command forwards it instead (`portForwardScript`).
 */
export function clientNatConf(): string {
  return `# Generated by Charmarr: the pod that takes the VPN's forwarded port, at a fixed overlay address.\n${PORT_FORWARDING_APP} ${PORT_FORWARDING_HOST}\n`;
}

/** The script gluetun runs when the forwarded port comes and goes, a file of its post-rules ConfigMap (/iptables). */
export const PORT_FORWARD_SCRIPT_FILE = "port-forward.sh";
/** The gateway's nat chain holding the forwarded port's DNAT, jumped to from PREROUTING for the tunnel device only. */
export const PORT_FORWARD_CHAIN = "CHARMARR-PORT-FORWARD";

/**
 * `port-forward.sh up|down <ports>`, gluetun's `VPN_PORT_FORWARDING_UP_COMMAND` and `_DOWN_COMMAND`
 * (gluetun v3.41.1 `internal/portforward/service/command.go`: `{{PORTS}}` is the ports joined with
 * commas; the command is split into words and run without a shell, so it names `/bin/sh`). Runs in
 * the gluetun container, which holds NET_ADMIN and the image's iptables.
 *
 * - `up`: the first port (qBittorrent listens on one) arriving on the tunnel device is DNATed to
 *   qBittorrent's overlay address, the same port, TCP and UDP — what pod-gateway's `gateway_init.sh`
 *   does for a static nat.conf entry (lines 77-79). The chain is emptied first, so a port that
 *   changed without a down command leaves nothing behind. A port equal to qBittorrent's WebUI port
 *   is refused: the WebUI would be reachable from the internet.
 * - `down`: the chain is emptied; the port reaches nothing, through the tunnel or otherwise.
 * - Forwarded connections keep their source: pod-gateway masquerades everything leaving the gateway
 *   (`gateway_init.sh` line 57, `-t nat -A POSTROUTING -j MASQUERADE`), which would make every peer
 *   look like the gateway to qBittorrent (one peer per address, bans per address); a rule before it
 *   lets DNATed connections out to the overlay unchanged.
 *
 * gluetun's own rule for the port is in its filter INPUT chain, on the tunnel device only
 * (`internal/portforward/service/start.go` lines 52-57 → `internal/firewall/iptables.go`
 * `AcceptInputToPort`); DNATed packets take the FORWARD path instead, which the post-rule from
 * {@link portForwardPostRules} opens for them.
 */
export function portForwardScript(vpn: VpnSettings, webUiPort: number): string {
  const tunnel = VPN_INTERFACES[vpn.type];
  const target = portForwardingAddress(vpn);
  return [
    "#!/bin/sh",
    "# Generated by Charmarr: gluetun's port-forwarding up/down command (port-forward.sh up|down <ports>).",
    "set -eu",
    'action="$1"',
    'port="${2%%,*}"',
    `iptables -t nat -N ${PORT_FORWARD_CHAIN} 2>/dev/null || true`,
    `iptables -t nat -C PREROUTING -i ${tunnel} -j ${PORT_FORWARD_CHAIN} 2>/dev/null || iptables -t nat -I PREROUTING -i ${tunnel} -j ${PORT_FORWARD_CHAIN}`,
    `iptables -t nat -C POSTROUTING -o ${OVERLAY_DEVICE} -m conntrack --ctstate DNAT -j ACCEPT 2>/dev/null || iptables -t nat -I POSTROUTING -o ${OVERLAY_DEVICE} -m conntrack --ctstate DNAT -j ACCEPT`,
    `iptables -t nat -F ${PORT_FORWARD_CHAIN}`,
    'if [ "$action" = down ]; then',
    '  echo "the forwarded port $port is closed"',
    "  exit 0",
    "fi",
    `if [ "$port" = ${webUiPort} ]; then`,
    `  echo "refusing to forward port $port: it is qBittorrent's WebUI port" >&2`,
    "  exit 1",
    "fi",
    "for protocol in tcp udp; do",
    `  iptables -t nat -A ${PORT_FORWARD_CHAIN} -p "$protocol" --dport "$port" -j DNAT --to-destination "${target}:$port"`,
    "done",
    `echo "port $port on ${tunnel} is forwarded to ${target}:$port"`,
    "",
  ].join("\n");
}

/**
 * gluetun post-rules for the forwarded port. pod-gateway rejects every new connection from the
 * tunnel (`gateway_init.sh` line 102, `-A FORWARD -i <tunnel> -j REJECT`, repeated in the post-rules);
 * this accepts those the port-forward chain DNATed to qBittorrent, and nothing else. As a post-rule it
 * comes back with gluetun's firewall, and it names no port, so it needs no change when the port does.
 */
export function portForwardPostRules(vpn: VpnSettings): string[] {
  const tunnel = VPN_INTERFACES[vpn.type];
  return [
    `iptables -I FORWARD -i ${tunnel} -o ${OVERLAY_DEVICE} -d ${portForwardingAddress(vpn)}/32 -m conntrack --ctstate DNAT -j ACCEPT`,
  ];
}

/** Where gluetun reads its control server's auth file (gluetun v3.41.1 `HTTP_CONTROL_SERVER_AUTH_CONFIG_FILEPATH`). */
export const CONTROL_AUTH_DIR = "/charmarr/control-auth";
export const CONTROL_AUTH_FILE = "config.toml";

/**
 * gluetun's environment for port forwarding:
 * - `VPN_PORT_FORWARDING=on` and `PORT_FORWARD_ONLY=on`, which picks only servers that forward a
 *   port (`internal/configuration/settings/serverselection.go` lines 280-282: Private Internet
 *   Access and ProtonVPN, the providers this program forwards with);
 * - the up and down commands, run with the port(s) whenever the port is obtained or goes away,
 *   also on every reconnect and when the provider hands out a new port
 *   (`internal/portforward/service/start.go`, `stop.go`, `internal/portforward/loop.go`);
 * - `HTTP_CONTROL_SERVER_AUTH_CONFIG_FILEPATH`: the auth file with the port follower's role
 *   ({@link portFollowerAuthFile}).
 * `iptablesDir` is where the post-rules ConfigMap, which holds the script, is mounted.
 */
export function portForwardGluetunEnvironment(iptablesDir: string): Record<string, string> {
  const script = `/bin/sh ${iptablesDir}/${PORT_FORWARD_SCRIPT_FILE}`;
  return {
    VPN_PORT_FORWARDING: "on",
    PORT_FORWARD_ONLY: "on",
    VPN_PORT_FORWARDING_UP_COMMAND: `${script} up {{PORTS}}`,
    VPN_PORT_FORWARDING_DOWN_COMMAND: `${script} down {{PORTS}}`,
    HTTP_CONTROL_SERVER_AUTH_CONFIG_FILEPATH: `${CONTROL_AUTH_DIR}/${CONTROL_AUTH_FILE}`,
  };
}

/** gluetun's control-server path for the forwarded port (`internal/server/handlerv1.go`). */
export const PORT_FORWARD_PATH = "/v1/portforward";
/** The one control-server route the port follower may call. */
export const PORT_FORWARD_ROUTE = `GET ${PORT_FORWARD_PATH}`;

/**
 * gluetun's control-server auth file: one role, the port follower's, for `GET /v1/portforward`
 * only. gluetun v3.41.1 reads it as TOML (`internal/server/middlewares/auth/configfile.go`) and
 * then gives the default role (`HTTP_CONTROL_SERVER_AUTH_DEFAULT_ROLE`, the program's API key) every
 * route no file role lists (`settings.go` `SetDefaultRole`): the follower's key opens nothing else,
 * and the program's own key no longer reads the forwarded port (the status file in the gluetun
 * container still says it).
 */
export function portFollowerAuthFile(apiKey: string): string {
  return [
    "# Generated by Charmarr: the control-server role of qBittorrent's port follower.",
    "[[roles]]",
    'name = "qbittorrent-port-follower"',
    'auth = "apikey"',
    `apikey = ${JSON.stringify(apiKey)}`,
    `routes = [${JSON.stringify(PORT_FORWARD_ROUTE)}]`,
    "",
  ].join("\n");
}

/** The port follower's script, a file of the client ConfigMap. */
export const PORT_FOLLOW_SCRIPT_FILE = "port-follow.sh";
/** The sidecar that keeps qBittorrent's listen port on the forwarded port. */
export const PORT_FOLLOWER_CONTAINER = "vpn-port-follower";
/** Seconds between two looks at gluetun's forwarded port. */
export const PORT_FOLLOW_INTERVAL_SECONDS = 5;
/** Key of the follower's API key in its Secret in the clients' namespace. */
export const PORT_FOLLOWER_API_KEY = "api-key";

/**
 * `port-follow.sh`, the port follower: every {@link PORT_FOLLOW_INTERVAL_SECONDS} seconds it asks
 * gluetun's control server for the forwarded port (`GET /v1/portforward` with its own API key:
 * `{"port":N}`, `{"port":0}` while none is forwarded, gluetun v3.41.1 `internal/server/portforward.go`
 * lines 38-45) and qBittorrent's WebUI API for its listen port (`GET /api/v2/app/preferences`,
 * `listen_port`), and when they differ sets qBittorrent's (`POST /api/v2/app/setPreferences`,
 * `json={"listen_port":N}`, which qBittorrent release-5.1.4 `src/webui/api/appcontroller.cpp`
 * `setPreferencesAction` applies at once with `session->setPort`, no restart). It logs in
 * (`POST /api/v2/auth/login`) with the WebUI credentials the program generated, whenever
 * qBittorrent refuses its session (a restarted qBittorrent forgets it), and sends back whatever
 * session cookie qBittorrent set (its name is configurable since release-5.0, `WebUI\SessionCookieName`,
 * `src/webui/webapplication.cpp`). A reconcile loop rather than a command gluetun runs once: gluetun
 * runs its up command only when the port changes, and only logs its failure
 * (`internal/portforward/service/start.go` lines 76-82), so a qBittorrent that was restarting then
 * would never learn the port. While no port is forwarded qBittorrent keeps its port, which nothing
 * reaches. A forwarded port equal to the WebUI port is not taken (the gateway refuses to forward it).
 *
 * POSIX `sh` and `curl` only: the qBittorrent image's (LinuxServer's baseimage-alpine installs
 * `curl` and `bash`, its Dockerfile's runtime packages; busybox `sh`), and Debian's in the lab.
 */
export function portFollowScript(): string {
  return String.raw`#!/bin/sh
# Generated by Charmarr: keeps qBittorrent's listen port on the port the VPN provider forwards.
set -u
trap 'exit 0' TERM INT
webui="http://127.0.0.1:$QBITTORRENT_WEBUI_PORT"
cookie=""
forwarded() {
  curl -fsS --max-time 5 -H "X-API-Key: $GLUETUN_API_KEY" "$GLUETUN_PORTFORWARD_URL" |
    sed -n 's/^{"ports\{0,1\}":\[\{0,1\}\([0-9][0-9]*\).*/\1/p'
}
login() {
  cookie=$(curl -fsS --max-time 5 -o /dev/null -D - \
    --data-urlencode "username=$QBITTORRENT_USERNAME" --data-urlencode "password=$QBITTORRENT_PASSWORD" \
    "$webui/api/v2/auth/login" | tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -n 1)
  [ -n "$cookie" ]
}
listen_port() {
  curl -fsS --max-time 5 -H "Cookie: $cookie" "$webui/api/v2/app/preferences" |
    sed -n 's/.*"listen_port":\([0-9][0-9]*\).*/\1/p'
}
set_listen_port() {
  curl -fsS --max-time 5 -o /dev/null -H "Cookie: $cookie" \
    --data-urlencode "json={\"listen_port\":$1}" "$webui/api/v2/app/setPreferences"
}
while true; do
  port=$(forwarded)
  if [ -z "$port" ] || [ "$port" = 0 ]; then
    : # no port forwarded now: qBittorrent keeps its port, which nothing reaches
  elif [ "$port" = "$QBITTORRENT_WEBUI_PORT" ]; then
    echo "the forwarded port $port is qBittorrent's WebUI port; qBittorrent does not listen on it" >&2
  else
    current=$(listen_port)
    if [ -z "$current" ] && login; then current=$(listen_port); fi
    if [ -z "$current" ]; then
      echo "qBittorrent does not answer (yet)" >&2
    elif [ "$current" != "$port" ] && set_listen_port "$port"; then
      echo "qBittorrent now listens on $port, the forwarded port (was $current)"
    fi
  fi
  sleep "$PORT_FOLLOW_INTERVAL_SECONDS" & wait $!
done
`;
}

/** What the port follower needs; plain values known at plan time. */
export interface PortFollowerInputs {
  /** qBittorrent's image: the follower runs its `sh` and `curl`, so the pod pulls nothing more. */
  readonly image: string;
  /** qBittorrent's WebUI port, on the pod's loopback. */
  readonly webUiPort: number;
  /** The Secret with qBittorrent's WebUI credentials and their keys. */
  readonly credentials: { readonly secret: string; readonly usernameKey: string; readonly passwordKey: string };
  /** The Secret in the clients' namespace with the follower's control-server API key (key {@link PORT_FOLLOWER_API_KEY}). */
  readonly apiKeySecret: string;
  /** gluetun's `GET /v1/portforward` URL, by the gateway's name (resolved through the gateway, reached on eth0). */
  readonly gluetunUrl: string;
}

/** The follower's security context: no capability, no root, nothing writable (it keeps its session in a variable). */
export function portFollowerSecurityContext() {
  return {
    runAsNonRoot: true,
    // nobody: the follower reads nothing of qBittorrent's files, only its API.
    runAsUser: 65534,
    runAsGroup: 65534,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}
