/**
 * gluetun cannot run here (no container runtime, no VPN provider), so the lab reproduces what
 * gluetun v3.41.1 does to the gateway pod's network namespace for `VPN_TYPE=wireguard`, in source
 * order, as a bash script run in the gluetun "container" with the env the plan gives it. Each step
 * names the upstream file it comes from (github.com/qdm12/gluetun at tag v3.41.1).
 *
 * Port forwarding and the control server's `GET /v1/portforward` are reproduced in
 * lab/portForward.ts. Not reproduced: provider server selection (the lab's WireGuard server is the
 * endpoint), the health checker's VPN restarts, the control server's other routes, the health
 * server, DNS over TLS (the DNS server stand-in forwards plain DNS through the tunnel to the lab's
 * resolver), block lists, IPv6 (the lab's pods have IPv6 disabled, so gluetun's IPv6 support check is false).
 * The lab's VPN server answers DNS sent through the tunnel to any address with the lab's resolver.
 */
import { gluetunControlServerLine, gluetunPortForwardingScript } from "./portForward";

/** gluetun's fixed WireGuard values (internal/provider/utils/wireguard.go, internal/configuration/settings/wireguard.go). */
export const WIREGUARD_FIREWALL_MARK = 51820;
export const WIREGUARD_RULE_PRIORITY = 101;
/** gluetun's default DNS upstream, Cloudflare: its plain IPv4 address (qdm12/dns v2 provider list). */
export const CLOUDFLARE_PLAIN_IPV4 = "1.1.1.1";

export interface GluetunLabInputs {
  /** The gluetun container's literal env from the plan. */
  readonly env: Readonly<Record<string, string>>;
  /** The lab's WireGuard server (stands in for the provider's server gluetun would select). */
  readonly endpointIp: string;
  readonly endpointPort: number;
  readonly serverPublicKey: string;
  /** The lab's client private key (stands in for the WIREGUARD_PRIVATE_KEY Secret). */
  readonly privateKeyFile: string;

  /** Path of the DNS server stand-in script inside the container. */
  readonly dnsServerScript: string;
  /** Path of the control server stand-in script inside the container (port forwarding only, lab/portForward.ts). */
  readonly controlServerScript?: string;
}

function flag(env: Readonly<Record<string, string>>, name: string, fallback: boolean): boolean {
  const value = env[name]?.toLowerCase();
  if (value === undefined || value === "") {
    return fallback;
  }
  return ["on", "yes", "true"].includes(value);
}

/** The settings gluetun derives from its env that the reproduction acts on. */
export function gluetunSettings(env: Readonly<Record<string, string>>): {
  interfaceName: string;
  mtu: number;
  outboundSubnets: string[];
  addresses: string[];
  dnsServer: boolean;
  keepNameserver: boolean;
  dnsAddress?: string;
  inputPorts: number[];
} {
  const dnsAddress = env.DNS_ADDRESS ?? env.DNS_PLAINTEXT_ADDRESS;
  return {
    interfaceName: env.VPN_INTERFACE || "wg0",
    mtu: Number(env.WIREGUARD_MTU || 1320),
    outboundSubnets: (env.FIREWALL_OUTBOUND_SUBNETS ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    addresses: (env.WIREGUARD_ADDRESSES ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    dnsServer: flag(env, "DNS_SERVER", flag(env, "DOT", true)),
    keepNameserver: flag(env, "DNS_KEEP_NAMESERVER", false),
    dnsAddress: dnsAddress && dnsAddress !== "127.0.0.1" ? dnsAddress : undefined,
    inputPorts: (env.FIREWALL_INPUT_PORTS ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)
      .map(Number),
  };
}

/**
 * gluetun's firewall fallback: internal/firewall/enable.go `fallbackToDisabled` → `disable`:
 * internal/firewall/iptables.go `clearAllRules` (--flush, --delete-chain on IPv4 and IPv6 filter
 * tables) then ACCEPT policies on INPUT, OUTPUT, FORWARD for both families.
 */
export const FALLBACK_COMMANDS: readonly (readonly string[])[] = [
  ["iptables", "--flush"],
  ["iptables", "--delete-chain"],
  ["ip6tables", "--flush"],
  ["ip6tables", "--delete-chain"],
  ...["INPUT", "OUTPUT", "FORWARD"].flatMap((chain) => [
    ["iptables", "--policy", chain, "ACCEPT"],
    ["ip6tables", "--policy", chain, "ACCEPT"],
  ]),
];

/** The bash script the lab's gluetun container runs. */
export function gluetunScript(inputs: GluetunLabInputs): string {
  const s = gluetunSettings(inputs.env);
  const wg = s.interfaceName;
  // Plain DNS address gluetun writes before the tunnel is up (internal/configuration/settings/dns.go
  // GetFirstPlaintextIPv4): DNS_ADDRESS unless 127.0.0.1, else the first upstream provider's.
  const plaintext = s.dnsAddress ?? CLOUDFLARE_PLAIN_IPV4;
  const fallback = FALLBACK_COMMANDS.map((argv) => `  ${argv.join(" ")} || true`).join("\n");
  return `#!/bin/bash
# gluetun v3.41.1 start-up, reproduced for the lab (see lab/gluetun.ts). Runs as the gluetun
# container of the gateway pod: its network namespace, its env from the plan.
set -u
log() { echo "gluetun[lab]: $*"; }
fallback_to_disabled() {
  # internal/firewall/enable.go fallbackToDisabled -> disable
  log "firewall: falling back to disabled (flush filter table, ACCEPT policies)"
${fallback}
}
fw() { # one firewall instruction; a failure falls back like internal/firewall/enable.go enable()
  if ! "$@"; then log "firewall: command failed: $*"; fallback_to_disabled; exit 1; fi
}
mixed() { fw iptables "$@"; fw ip6tables "$@"; } # internal/firewall/iptablesmix.go

# cmd/gluetun/main.go: routing.DefaultRoutes (internal/routing/default.go)
read -r _ _ DEFAULT_GW _ DEFAULT_IF _ < <(ip -4 route show default | head -n1)
DEFAULT_IP=$(ip -4 -o addr show dev "$DEFAULT_IF" | awk '{split($4,a,"/"); print a[1]; exit}')
log "default route: $DEFAULT_IF via $DEFAULT_GW, assigned $DEFAULT_IP"
# cmd/gluetun/main.go: routing.LocalNetworks (internal/routing/local.go): main-table routes without a
# gateway on ethernet links
LOCAL_NETS=()
while read -r dst _ dev _; do
  [ "$dst" = default ] && continue
  ip -o link show dev "$dev" | grep -q 'link/ether' || continue
  LOCAL_NETS+=("$dev $dst $(ip -4 -o addr show dev "$dev" | awk '{split($4,a,"/"); print a[1]; exit}')")
done < <(ip -4 route show table main | grep -v ' via ')

# cmd/gluetun/main.go: firewallConf.SetEnabled(true) -> internal/firewall/enable.go enable()
for chain in INPUT OUTPUT FORWARD; do fw iptables --policy "$chain" DROP; done  # setIPv4AllPolicies
for chain in INPUT OUTPUT FORWARD; do fw ip6tables --policy "$chain" DROP; done # setIPv6AllPolicies
mixed --append INPUT -i lo -j ACCEPT                                              # acceptInputThroughInterface
mixed --append OUTPUT -o lo -j ACCEPT                                             # acceptOutputThroughInterface
mixed --append OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT        # acceptEstablishedRelatedTraffic
mixed --append INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
# allowVPNIP: no VPN connection yet at start-up
SEEN_IF=" "
for net in "\${LOCAL_NETS[@]}"; do
  read -r ifc dst ip_ <<<"$net"
  fw iptables --append OUTPUT -o "$ifc" -s "$ip_" -d "$dst" -j ACCEPT             # acceptOutputFromIPToSubnet
  case "$SEEN_IF" in *" $ifc "*) ;; *) SEEN_IF="$SEEN_IF$ifc "
    fw ip6tables --append OUTPUT -o "$ifc" -d ff02::1:ff00:0/104 -j ACCEPT;; esac # acceptIpv6MulticastOutput
done
# allowOutboundSubnets: the firewall's outbound subnet list is still empty here
for net in "\${LOCAL_NETS[@]}"; do
  read -r ifc dst _ <<<"$net"
  fw iptables --append INPUT -i "$ifc" -d "$dst" -j ACCEPT                        # acceptInputToSubnet
done
# runUserPostRules (internal/firewall/iptables.go): each line of /iptables/post-rules.txt starting
# with "iptables " / "ip6tables " (or their -nft/-legacy forms) is run as one instruction
if [ -f /iptables/post-rules.txt ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
      "iptables "*|"iptables-nft "*|"iptables-legacy "*) fw iptables \${line#* } ;;
      "ip6tables "*|"ip6tables-nft "*|"ip6tables-legacy "*) fw ip6tables \${line#* } ;;
    esac
  done < /iptables/post-rules.txt
fi
log "firewall: enabled"

# cmd/gluetun/main.go: the control server starts before the VPN loop (lab/portForward.ts)
${gluetunControlServerLine(inputs.env, inputs.controlServerScript)}
# cmd/gluetun/main.go: routingConf.Setup() -> internal/routing/inbound.go routeInboundFromDefault
ip rule add from "$DEFAULT_IP/32" table 200 priority 100
ip route add default via "$DEFAULT_GW" dev "$DEFAULT_IF" table 200
# firewallConf.SetOutboundSubnets (internal/firewall/outboundsubnets.go)
for subnet in ${s.outboundSubnets.join(" ")}; do
  fw iptables --append OUTPUT -o "$DEFAULT_IF" -s "$DEFAULT_IP" -d "$subnet" -j ACCEPT
done
# routingConf.SetOutboundRoutes (internal/routing/outbound.go): table 199, rule priority 99
for subnet in ${s.outboundSubnets.join(" ")}; do
  ip route add "$subnet" via "$DEFAULT_GW" dev "$DEFAULT_IF" table 199
  ip rule add to "$subnet" table 199 priority 99
done
# routingConf.AddLocalRules (internal/routing/local.go): main table, priority 98
for net in "\${LOCAL_NETS[@]}"; do
  read -r _ dst _ <<<"$net"
  ip rule add to "$dst" table main priority 98
done
${s.inputPorts.map((port) => `mixed --append INPUT -i "$DEFAULT_IF" -p tcp -m tcp --dport ${port} -j ACCEPT\nmixed --append INPUT -i "$DEFAULT_IF" -p udp -m udp --dport ${port} -j ACCEPT # SetAllowedPort`).join("\n")}

write_resolv() { # qdm12/dns v2 pkg/nameserver UseDNSSystemWide: nameserver lines replaced in place
  local others; others=$(grep -v '^nameserver' /etc/resolv.conf || true)
  printf 'nameserver %s\\n%s\\n' "$1" "$others" > /etc/resolv.conf
}
# internal/dns/run.go Run: before the VPN is up, plaintext DNS system-wide unless DNS_KEEP_NAMESERVER
${s.keepNameserver ? 'log "dns: keeping the pod\'s nameservers (DNS_KEEP_NAMESERVER)"' : `write_resolv ${plaintext}; log "dns: using plaintext DNS at address ${plaintext}"`}

# VPN loop: internal/vpn/wireguard.go setupWireguard -> firewall SetVPNConnection (internal/firewall/vpn.go)
fw iptables --append OUTPUT -d ${inputs.endpointIp} -o "$DEFAULT_IF" -p udp -m udp --dport ${inputs.endpointPort} -j ACCEPT
mixed --append OUTPUT -o ${wg} -j ACCEPT
# internal/wireguard/run.go Run, userspace implementation (setupUserSpace)
run_wireguard() {
  wireguard-go -f ${wg} & WG_PID=$!
  for _ in $(seq 1 50); do [ -S /var/run/wireguard/${wg}.sock ] && break; sleep 0.1; done
  ip link set dev ${wg} mtu ${s.mtu}
${s.addresses.map((a) => `  ip addr replace ${a} dev ${wg}                                 # addAddresses`).join("\n")}
  wg set ${wg} private-key ${inputs.privateKeyFile} fwmark ${WIREGUARD_FIREWALL_MARK} \\
     peer ${inputs.serverPublicKey} endpoint ${inputs.endpointIp}:${inputs.endpointPort} allowed-ips 0.0.0.0/0 # configureDevice (internal/wireguard/config.go)
  ip link set dev ${wg} up
  ip route add 0.0.0.0/0 dev ${wg} table ${WIREGUARD_FIREWALL_MARK}              # addRoutes (internal/wireguard/route.go)
  # addRule (internal/wireguard/rule.go): inverted fwmark rule; an existing one fails with "file exists"
  if ! out=$(ip rule add not fwmark ${WIREGUARD_FIREWALL_MARK} table ${WIREGUARD_FIREWALL_MARK} priority ${WIREGUARD_RULE_PRIORITY} 2>&1); then
    log "wireguard: adding IPv4 rule: $out"
    log "if you are using Kubernetes, this may fix the error below: https://github.com/qdm12/gluetun-wiki/blob/main/setup/advanced/kubernetes.md#adding-ipv6-rule--file-exists"
    kill $WG_PID; wait $WG_PID; return 1
  fi
  log "wireguard: setup is complete"
}
ATTEMPT=0
until run_wireguard; do
  # internal/vpn/run.go: the loop logs the error and retries the VPN after a pause
  ATTEMPT=$((ATTEMPT+1)); [ $ATTEMPT -ge 20 ] && exit 1; sleep 3
done
# internal/vpn/tunnelup.go onTunnelUp -> DNS loop (internal/dns/run.go Run -> setupServer, internal/dns/setup.go)
${
  s.dnsServer && !s.keepNameserver
    ? `dns_loop() {
  local wait=10
  for _ in $(seq 1 8); do
    rm -f /run/gluetun-dns-listening
    node ${inputs.dnsServerScript} ${plaintext} & local pid=$!
    for _ in $(seq 1 50); do [ -f /run/gluetun-dns-listening ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.1; done
    if [ -f /run/gluetun-dns-listening ]; then
      write_resolv 127.0.0.1; log "dns: DNS server ready, listening on :53"
      wait $pid; wait=10
    fi
    # setupServer failed, or the running server stopped (runWait) -> useUnencryptedDNS(fallback=true)
    # -> logAndWait (internal/dns/loop.go: 10 s, doubling, back to 10 s after a start), then the loop
    # tries again: :53 is taken at the first attempt after it is free
    write_resolv ${plaintext}; log "dns: falling back on plaintext DNS at address ${plaintext}; retrying in $wait s"
    sleep $wait; wait=$((wait * 2))
  done
}
dns_loop & DNS_PID=$!
for _ in $(seq 1 50); do [ -f /run/gluetun-dns-listening ] && break; grep -q '^nameserver ${plaintext}$' /etc/resolv.conf && break; sleep 0.1; done`
    : `log "dns: DNS server off"`
}
${gluetunPortForwardingScript(inputs.env, wg)}
touch /run/gluetun-tunnel-up
trap 'kill $WG_PID \${DNS_PID:-} \${PF_PID:-} \${CONTROL_PID:-} 2>/dev/null; exit 0' TERM INT
wait $WG_PID
log "wireguard: device closed"
`;
}

/**
 * gluetun's DNS server, as far as the lab needs it: a UDP listener on `:53` (all addresses, no
 * SO_REUSEADDR, like Go's net.ListenPacket in qdm12/dns v2 pkg/server) that forwards every query
 * to its upstream and relays the answer. gluetun's DoT is replaced by plain DNS to the lab's
 * resolver; the path (through the tunnel, from the gateway pod) is what the lab checks.
 */
export const DNS_SERVER_JS = `"use strict";
const dgram = require("node:dgram");
const upstream = process.argv[2];
const server = dgram.createSocket("udp4");
server.on("message", (query, client) => {
  const socket = dgram.createSocket("udp4");
  const timer = setTimeout(() => socket.close(), 3000);
  socket.on("message", (answer) => { clearTimeout(timer); server.send(answer, client.port, client.address); socket.close(); });
  socket.on("error", () => { clearTimeout(timer); socket.close(); });
  socket.send(query, 53, upstream);
});
server.on("error", (error) => { console.error("dns server: " + error.message); process.exit(1); });
server.on("listening", () => require("node:fs").writeFileSync("/run/gluetun-dns-listening", ""));
server.bind(53);
`;
