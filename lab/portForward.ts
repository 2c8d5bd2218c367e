/**
 * VPN port forwarding in the lab (`charmarr:vpn.portForwarding`, docs/vpn.md#port-forwarding).
 *
 * This module holds the reproduction (the gluetun container's side, the Secret volume); the
 * scenario is lab/portForwardScenario.ts.
 *
 * What runs as planned: the gateway's post-rules and `port-forward.sh` (gluetun's up and down
 * commands), the client ConfigMap's `nat.conf` (qBittorrent's fixed overlay address, taken by
 * pod-gateway's `client_init.sh`), the `vpn-port-follower` sidecar's `port-follow.sh` with its
 * planned env, and a real qBittorrent (Debian's qbittorrent-nox) in the routed pod's network
 * namespace, standing for the app container, with the WebUI credentials the follower holds.
 *
 * Reproduced from qdm12/gluetun v3.41.1 (gluetun cannot run here):
 * - the port-forwarding service in the gluetun container ({@link gluetunPortForwardingScript}):
 *   once the tunnel is up (internal/vpn/tunnelup.go, last step), for the port the provider gives,
 *   `SetAllowedPort` appends `INPUT -i <tunnel> -p tcp|udp --dport <port> -j ACCEPT` for IPv4 and
 *   IPv6 (internal/portforward/service/start.go L52-57, internal/firewall/iptables.go
 *   `AcceptInputToPort`), the status file gets the port (fs.go), then the up command runs with
 *   `{{PORTS}}`, `{{PORT}}` and `{{VPN_INTERFACE}}` replaced and the string split into words, no
 *   shell (command.go `runCommand`; the reproduction splits on blanks, which is all the plan's
 *   commands need: they hold no quotes); when the port changes, first the down command with the old
 *   port, the INPUT rules removed and the status file emptied (stop.go `cleanup`);
 * - the control server's `GET /v1/portforward` ({@link CONTROL_SERVER_JS}): `{"port":N}` (0 while
 *   none) with Go's json.Encoder newline (internal/server/portforward.go L38-49), on
 *   `HTTP_CONTROL_SERVER_ADDRESS`; roles from the TOML auth file at
 *   `HTTP_CONTROL_SERVER_AUTH_CONFIG_FILEPATH` read once at start (auth/configfile.go), the default
 *   role from `HTTP_CONTROL_SERVER_AUTH_DEFAULT_ROLE` for the routes no file role lists, and the
 *   built-in `public` role only when no role is configured (auth/settings.go `SetDefaultRole`,
 *   `SetDefaults`); 401 when no role of the route authorizes (middleware.go `ServeHTTP`); an API
 *   key from `X-API-Key`, else `api_key` (apikey.go). Left out: every other route, basic auth.
 * - the provider: the lab's VPN server DNATs the forwarded port on the VPN exit to the tunnel's
 *   client address, as a provider's NAT does; the port it "assigns" is what the scenario writes to
 *   {@link PROVIDER_PORT_FILE} in the gluetun container (ProtonVPN's NAT-PMP exchange,
 *   internal/provider/protonvpn/portforward.go, is not reproduced).
 */
import { CONTROL_AUTH_DIR, CONTROL_AUTH_FILE, portFollowerAuthFile } from "../lib/vpn/portForward";
import { LabError } from "./sys";

/** Where the lab's "provider" tells the gluetun reproduction which port it forwards (empty: none). */
export const PROVIDER_PORT_FILE = "/run/lab-provider-port";

/** The value the lab gives a secret env variable (lab/world.ts), so a Secret volume can hold the same. */
export function labSecretValue(name: string): string {
  return `lab-secret-${name.toLowerCase()}`;
}

/**
 * Files of a Secret volume the lab fills, by mount path: gluetun's control-server auth file holds the
 * port follower's role with the key the follower's `GLUETUN_API_KEY` gets in the lab — in the plan
 * both come from one generated key (test/portFollower.test.ts checks that).
 */
export function labSecretVolumeFiles(env: Readonly<Record<string, string>>): Record<string, Record<string, string>> {
  if (env.VPN_PORT_FORWARDING !== "on") {
    return {};
  }
  return { [CONTROL_AUTH_DIR]: { [CONTROL_AUTH_FILE]: portFollowerAuthFile(labSecretValue("GLUETUN_API_KEY")) } };
}

/** The bash lines of the gluetun reproduction that run port forwarding once the tunnel is up. */
export function gluetunPortForwardingScript(env: Readonly<Record<string, string>>, tunnel: string): string {
  if (env.VPN_PORT_FORWARDING !== "on") {
    return "";
  }
  const status = env.VPN_PORT_FORWARDING_STATUS_FILE || "/tmp/gluetun/forwarded_port";
  return [
    "# internal/portforward (see lab/portForward.ts): the forwarded port's rules, status file and commands",
    `PF_STATUS=${status}`,
    "pf_command() { # internal/portforward/service/command.go runCommand",
    '  local cmd="$1" ports="$2"',
    '  cmd="${cmd//\\{\\{PORTS\\}\\}/$ports}"; cmd="${cmd//\\{\\{PORT\\}\\}/${ports%%,*}}"',
    `  cmd="\${cmd//\\{\\{VPN_INTERFACE\\}\\}/${tunnel}}"`,
    '  local argv; read -r -a argv <<<"$cmd"',
    '  "${argv[@]}" 2>&1 | while IFS= read -r line; do log "port forwarding: $line"; done',
    "}",
    "pf_rules() { # $1 --append|--delete: SetAllowedPort / RemoveAllowedPort, IPv4 and IPv6",
    "  for tool in iptables ip6tables; do for proto in tcp udp; do",
    `    "$tool" "$1" INPUT -i ${tunnel} -p "$proto" -m "$proto" --dport "$2" -j ACCEPT || true`,
    "  done; done",
    "}",
    "pf_loop() {",
    '  local current="" wanted',
    "  while true; do",
    `    wanted=$(cat ${PROVIDER_PORT_FILE} 2>/dev/null || true)`,
    '    if [ "$wanted" != "$current" ]; then',
    '      if [ -n "$current" ]; then # stop.go cleanup',
    '        [ -n "${VPN_PORT_FORWARDING_DOWN_COMMAND:-}" ] && pf_command "$VPN_PORT_FORWARDING_DOWN_COMMAND" "$current"',
    '        pf_rules --delete "$current"; : > "$PF_STATUS"',
    "      fi",
    '      current="$wanted"',
    '      if [ -n "$current" ]; then # start.go Start',
    '        log "port forwarding: port forwarded is $current"',
    '        pf_rules --append "$current"',
    '        mkdir -p "$(dirname "$PF_STATUS")"; printf %s "$current" > "$PF_STATUS"',
    '        [ -n "${VPN_PORT_FORWARDING_UP_COMMAND:-}" ] && pf_command "$VPN_PORT_FORWARDING_UP_COMMAND" "$current"',
    "      fi",
    "    fi",
    "    sleep 0.2",
    "  done",
    "}",
    "pf_loop & PF_PID=$!",
    "",
  ].join("\n");
}

/** gluetun's control server, `GET /v1/portforward` only (see the file's comment). */
export const CONTROL_SERVER_JS = `"use strict";
const fs = require("node:fs");
const http = require("node:http");
const env = process.env;
const route = "GET /v1/portforward";
const roles = [];
const file = env.HTTP_CONTROL_SERVER_AUTH_CONFIG_FILEPATH || "/gluetun/auth/config.toml";
if (fs.existsSync(file)) {
  for (const block of fs.readFileSync(file, "utf8").split("[[roles]]").slice(1)) {
    const field = (name) => (new RegExp("^" + name + " = (.*)$", "m").exec(block) || [])[1];
    roles.push({ auth: JSON.parse(field("auth")), apikey: field("apikey") && JSON.parse(field("apikey")), routes: JSON.parse(field("routes") || "[]") });
  }
}
const fallback = JSON.parse(env.HTTP_CONTROL_SERVER_AUTH_DEFAULT_ROLE || "{}");
if (fallback.auth && !roles.some((role) => role.routes.includes(route))) roles.push({ ...fallback, routes: [route] });
if (roles.length === 0) roles.push({ auth: "none", routes: [route] });
const status = env.VPN_PORT_FORWARDING_STATUS_FILE || "/tmp/gluetun/forwarded_port";
http.createServer((req, res) => {
  const url = new URL(req.url, "http://control");
  const key = req.headers["x-api-key"] || url.searchParams.get("api_key") || "";
  const allowed = roles.filter((role) => role.routes.includes(req.method + " " + url.pathname))
    .some((role) => role.auth === "none" || (role.auth === "apikey" && role.apikey === key));
  if (!allowed) { res.writeHead(401).end("Unauthorized\\n"); return; }
  let port = 0;
  try { port = Number(fs.readFileSync(status, "utf8").split("\\n")[0]) || 0; } catch {}
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ port }) + "\\n");
}).listen(Number((env.HTTP_CONTROL_SERVER_ADDRESS || ":8000").split(":").pop()));
`;

/** The gluetun reproduction's line that starts the control server, when port forwarding is on. */
export function gluetunControlServerLine(env: Readonly<Record<string, string>>, script: string | undefined): string {
  if (env.VPN_PORT_FORWARDING !== "on") {
    return "";
  }
  if (script === undefined) {
    throw new LabError("port forwarding is on: the gluetun reproduction needs the control server's script");
  }
  return `node ${script} & CONTROL_PID=$!`;
}
