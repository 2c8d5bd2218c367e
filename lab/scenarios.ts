/**
 * The scenarios: each a fault injected into the running data path (none for the baseline and DNS
 * checks), then the same probes from the routed client. Data, not control flow: lab/lab.ts runs
 * every one the same way.
 */
import { PORT_FORWARDING_SCENARIO } from "./portForwardScenario";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { dnsPath } from "../verify/probes";
import { dnsVerdict } from "../verify/verdicts";
import { APP_PROBE_DIR } from "./appProbes";
import { digHeader, FORGED_ADDRESS, MIRROR_DOMAIN, TRACKER_DOMAIN } from "./dnssec";
import { parseDigShort, resolve } from "./probes";
import type { Check, LabContext, Observation, Scenario } from "./scenario";
import {
  CONTAINERD_DEFAULT_CAPABILITIES,
  containerCapabilities,
  describeCapabilities,
  statusCapabilities,
} from "./capabilities";
import { gluetunSettings } from "./gluetun";
import { GLUETUN_IMAGE, LabContainer, POD_GATEWAY_IMAGE } from "./plan";
import { Daemon, must, run, runAsync, until } from "./sys";
import { LARGE_BODY_BYTES } from "./world";

function inGateway(lab: LabContext, ...argv: string[]): void {
  must(["ip", "netns", "exec", lab.gateway.netns, ...argv]);
}

function inClient(lab: LabContext, ...argv: string[]): void {
  must(["ip", "netns", "exec", lab.client.netns, ...argv]);
}

function noTraffic(seen: Observation): Check {
  const answered = seen.seen.filter((s) => s !== undefined);
  return {
    ok: answered.length === 0,
    text:
      answered.length === 0
        ? "no HTTP answer reached the client"
        : `the client still got answers, seen as ${[...new Set(answered)].join(", ")}`,
  };
}

/** The internet name lookups of the rounds resolved, and the resolver saw them only from the VPN exit. */
function dnsThroughTunnel(lab: LabContext, seen: Observation, dnsSources: readonly string[]): Check[] {
  const exit = lab.addresses.vpnExit;
  const resolved = seen.internetAnswers.every((a) => a === lab.addresses.web);
  const throughTunnel = dnsSources.length > 0 && dnsSources.every((s) => s === exit);
  return [
    {
      ok: resolved,
      text: resolved
        ? "internet names resolved"
        : `internet names answered ${seen.internetAnswers.map((a) => a ?? "nothing").join(", ")}`,
    },
    {
      ok: throughTunnel,
      text: throughTunnel
        ? `the resolver saw the queries from the VPN exit ${exit}`
        : `the resolver saw the queries from ${dnsSources.join(", ") || "nowhere"}`,
    },
  ];
}

/** What a check says about one expected figure. */
export function expectEqual(what: string, actual: number | undefined, expected: number): Check {
  return {
    ok: actual === expected,
    text: actual === expected ? `${what} ${actual}` : `${what} ${actual ?? "missing"}, expected ${expected}`,
  };
}

/**
 * The MTUs the interfaces got against the plan's, a large download and a large upload through the
 * tunnel, full-size DF pings at the tunnel MTU, and no IPv4 fragment on the pod network.
 */
async function largeTransfers(lab: LabContext): Promise<Check[]> {
  const plan = lab.world.plan;
  const vxlanMtu = Number(plan.gatewaySettings.VPN_INTERFACE_MTU);
  const gluetun = gluetunSettings(lab.world.gluetunEnv());
  const mtus = {
    pod: lab.world.linkMtu(lab.client.netns, "eth0"),
    client: lab.world.linkMtu(lab.client.netns, "vxlan0"),
    gateway: lab.world.linkMtu(lab.gateway.netns, "vxlan0"),
    tunnel: lab.world.linkMtu(lab.gateway.netns, gluetun.interfaceName),
  };
  const exec = lab.clientExec();
  const web = lab.addresses.web;
  const [download, upload, ping] = await Promise.all([
    exec(
      [
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "--max-time",
        "20",
        "-w",
        "%{size_download} %{time_total}",
        `http://${web}/large`,
      ],
      25_000,
    ),
    exec(
      [
        "bash",
        "-c",
        `head -c ${LARGE_BODY_BYTES} /dev/zero | curl -s --max-time 20 -H 'Expect:' -H 'Content-Type: application/octet-stream' --data-binary @- http://${web}/cgi-bin/size`,
      ],
      25_000,
    ),
    // The app container holds no NET_RAW (the runtime does not grant it), so the lab pings from
    // the pod's network namespace with its own privileges: the same interfaces and routes.
    runAsync(
      [
        "ip",
        "netns",
        "exec",
        lab.client.netns,
        "ping",
        "-M",
        "do",
        "-s",
        String(vxlanMtu - 28),
        "-c",
        "3",
        "-i",
        "0.3",
        "-W",
        "2",
        web,
      ],
      10_000,
    ),
  ]);
  const fragments = lab.world.readFragments();
  const [downloaded, seconds] = download.stdout.trim().split(" ");
  const uploaded = Number(upload.stdout.trim());
  const replies = /(\d+) received/.exec(ping.stdout)?.[1] ?? "0";
  return [
    expectEqual("pod network MTU (cluster.podMtu)", mtus.pod, plan.cluster.podMtu),
    expectEqual("client vxlan0 MTU (VPN_INTERFACE_MTU)", mtus.client, vxlanMtu),
    expectEqual("gateway vxlan0 MTU (VPN_INTERFACE_MTU)", mtus.gateway, vxlanMtu),
    expectEqual(`${gluetun.interfaceName} MTU (WIREGUARD_MTU)`, mtus.tunnel, gluetun.mtu),
    {
      ok: Number(downloaded) === LARGE_BODY_BYTES,
      text:
        Number(downloaded) === LARGE_BODY_BYTES
          ? `downloaded ${downloaded} bytes in ${seconds} s`
          : `the download stopped at ${downloaded || 0} of ${LARGE_BODY_BYTES} bytes (curl exit ${download.code})`,
    },
    {
      ok: uploaded === LARGE_BODY_BYTES,
      text:
        uploaded === LARGE_BODY_BYTES
          ? `uploaded ${uploaded} bytes`
          : `the server received ${uploaded || 0} of ${LARGE_BODY_BYTES} uploaded bytes (curl exit ${upload.code})`,
    },
    { ok: replies === "3", text: `${replies} of 3 don't-fragment pings of ${vxlanMtu} bytes answered` },
    {
      ok: fragments === 0,
      text: fragments === 0 ? "no IPv4 fragment on the pod network" : `${fragments} IPv4 fragments on the pod network`,
    },
  ];
}

/**
 * The capabilities the routed pod's sidecar really holds: its process's bounding set read from
 * /proc (what it and everything it starts can ever have). NET_ADMIN for vxlan0 and routes and
 * NET_RAW for busybox ping, which it asks for; nothing outside the runtime's defaults it did not ask for.
 */
function routeSidecarCapabilities(lab: LabContext): Check[] {
  // The route sidecar: the routed pod's long-running pod-gateway container that is told the gateway's name.
  const spec = lab.client.spec.containers.find((c) => POD_GATEWAY_IMAGE.test(c.image) && c.env.gateway !== undefined);
  const sidecar = spec && lab.client.containers.get(spec.name);
  if (!sidecar?.running) {
    return [{ ok: false, text: "the routed pod's route sidecar is not running" }];
  }
  const held = statusCapabilities(readFileSync(`/proc/${sidecar.daemon!.pid}/status`, "utf8"), "CapBnd");
  if (!held) {
    return [{ ok: false, text: `no CapBnd in /proc/${sidecar.daemon!.pid}/status` }];
  }
  const expected = containerCapabilities({
    privileged: sidecar.spec.privileged,
    add: sidecar.spec.capabilities,
    drop: sidecar.spec.capabilityDrop,
  });
  const exact = !expected.all && held.join(",") === expected.names.join(",");
  return [
    ...["NET_ADMIN", "NET_RAW"].map((name) => ({
      ok: held.includes(name),
      text: `${sidecar.spec.name} holds ${name}: ${held.includes(name) ? "yes" : "no"} (CapBnd)`,
    })),
    {
      ok: !held.includes("SYS_ADMIN"),
      text: `${sidecar.spec.name} holds SYS_ADMIN: ${held.includes("SYS_ADMIN") ? "yes" : "no"} (CapBnd)`,
    },
    {
      ok: exact,
      text: `${sidecar.spec.name} CapBnd ${held.join(",")}${exact ? "" : `, not the runtime's ${describeCapabilities(expected)}`}`,
    },
  ];
}

function isGatewaySidecar(spec: LabContainer): boolean {
  return [...spec.command, ...spec.args].some((arg) => arg.endsWith("gateway_sidecar.sh"));
}

/** The client's vxlan0 IPv4 address, when it has one. */
function clientLease(lab: LabContext): string | undefined {
  const out = run(["ip", "-n", lab.client.netns, "-4", "-o", "addr", "show", "dev", "vxlan0"]).stdout;
  return /inet (\d+\.\d+\.\d+\.\d+)\//.exec(out)?.[1];
}

/** Whether the client's default route goes through the gateway's overlay address, as the DHCP lease sets it. */
function routedThroughOverlay(lab: LabContext): boolean {
  const gateway = `${lab.world.plan.gatewaySettings.VXLAN_IP_NETWORK}.1`;
  const routes = run(["ip", "-n", lab.client.netns, "-4", "route", "show", "default"]).stdout;
  return routes.split("\n").some((line) => line.startsWith(`default via ${gateway} dev vxlan0`));
}

/** Whether the gateway's dnsmasq listens on the overlay's DNS address (`<vxlan network>.1:53`). */
function gatewayDnsListening(lab: LabContext): boolean {
  const address = `${lab.world.plan.gatewaySettings.VXLAN_IP_NETWORK}.1:53`;
  const sockets = run(["ip", "netns", "exec", lab.gateway.netns, "ss", "-H", "-l", "-u", "-n"]).stdout;
  return sockets.split("\n").some((line) => line.split(/\s+/).includes(address));
}

/**
 * The gateway's sidecar killed while gluetun runs; the kubelet restarts it after its back-off and
 * its dnsmasq must bind the overlay's DNS address again. Then the client's vxlan0 is deleted, so
 * the client sidecar rebuilds it and asks the restarted dnsmasq for a lease. Bounded waits; the
 * checks say what did not happen.
 */
async function restartGatewaySidecar(lab: LabContext): Promise<void> {
  const sidecar = await lab.killContainer(lab.gateway, isGatewaySidecar, "gateway sidecar");
  // Until the kubelet restarts it, the killed process is the container's last one.
  const killed = sidecar.daemon;
  const back = await until(30_000, () => sidecar.daemon !== killed && sidecar.running && gatewayDnsListening(lab));
  lab.world.log(
    `  gateway sidecar ${back ? "restarted and listening" : "not listening 30 s after it was killed"} (restarts: ${sidecar.restarts})`,
  );
  const started = Date.now();
  inClient(lab, "ip", "link", "del", "vxlan0");
  // Alpine's udhcpc script adds the address before the default route (`bound`: `ip addr add`,
  // then `routes`): probing at the address alone races the route, and loses under load.
  const leased = await until(40_000, () => clientLease(lab) !== undefined && routedThroughOverlay(lab));
  lab.world.log(
    `  client vxlan0 deleted; ${leased ? `leased ${clientLease(lab)} and routed through the overlay after ${((Date.now() - started) / 1000).toFixed(1)} s` : "no lease and overlay route within 40 s"}`,
  );
}

/** The gateway's running sidecar container (its dnsmasq), when there is one. */
function gatewaySidecar(lab: LabContext) {
  return [...lab.gateway.containers.values()].find((c) => isGatewaySidecar(c.spec) && c.running);
}

/** `dig` from the app container through the pod's resolv.conf: the header and the first address. */
async function digFromApp(lab: LabContext, name: string, ...flags: string[]) {
  const result = await lab.clientExec()(["dig", "+time=2", "+tries=1", ...flags, name], 5000);
  const answer = result.stdout
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .find((fields) => fields[0] === `${name}.` && fields[3] === "A")?.[4];
  return { ...digHeader(result.stdout), answer };
}

/**
 * The gateway's dnsmasq validates as the image ships it: the config gateway_sidecar.sh generated
 * holds pod-gateway's two DNSSEC lines, and the app's lookup of an internet name comes back
 * validated (the AD bit dnsmasq sets on a secure answer).
 */
async function dnssecValidates(lab: LabContext): Promise<Check[]> {
  const sidecar = gatewaySidecar(lab);
  const config = sidecar ? run(["cat", `/proc/${sidecar.daemon!.pid}/root/etc/dnsmasq.d/pod-gateway.conf`]).stdout : "";
  const lines = config.split("\n").map((line) => line.trim());
  const shipped = lines.includes("dnssec") && lines.includes("conf-file=/usr/share/dnsmasq/trust-anchors.conf");
  const name = lab.nextName();
  const lookup = await digFromApp(lab, name, "+adflag");
  const validated = lookup.status === "NOERROR" && lookup.flags.includes("ad") && lookup.answer === lab.addresses.web;
  return [
    {
      ok: shipped,
      text: shipped
        ? "the gateway's dnsmasq runs pod-gateway's DNSSEC lines (dnssec, the image's trust-anchors.conf)"
        : "the gateway's dnsmasq config lacks pod-gateway's DNSSEC lines",
    },
    {
      ok: validated,
      text: validated
        ? `${name} resolved to ${lookup.answer}, validated (flags: ${lookup.flags.join(" ")})`
        : `${name}: ${lookup.status ?? "no answer"}, ${lookup.answer ?? "no address"}, flags ${lookup.flags.join(" ") || "none"}`,
    },
  ];
}

/**
 * With the internet's DNS forged: a fresh tracker name (tampered: the forged address under the
 * genuine signature) and a fresh mirror name (forged and unsigned in a signed zone) must fail
 * (SERVFAIL), while the same kind of names asked with checking disabled (`+cd`) show that the
 * forger's address did reach the gateway. The gateway's dnsmasq logs each refusal as BOGUS.
 */
async function forgedAnswersRefused(lab: LabContext): Promise<Check[]> {
  const mirrorName = () => lab.nextName().replace(`.${TRACKER_DOMAIN}`, `.${MIRROR_DOMAIN}`);
  const names = {
    tampered: lab.nextName(),
    unsigned: mirrorName(),
    tamperedCd: lab.nextName(),
    unsignedCd: mirrorName(),
  };
  const [tampered, unsigned, tamperedCd, unsignedCd] = await Promise.all([
    digFromApp(lab, names.tampered),
    digFromApp(lab, names.unsigned),
    digFromApp(lab, names.tamperedCd, "+cd"),
    digFromApp(lab, names.unsignedCd, "+cd"),
  ]);
  const sidecar = gatewaySidecar(lab);
  const log = sidecar && existsSync(join(sidecar.dir, "log")) ? readFileSync(join(sidecar.dir, "log"), "utf8") : "";
  const bogus = (name: string) => log.includes(`validation ${name} is BOGUS`);
  const refused = (what: string, name: string, seen: { status?: string; answer?: string }) => ({
    ok: seen.status === "SERVFAIL" && seen.answer === undefined && bogus(name),
    text: `${what} ${name}: ${seen.status ?? "no answer"}${seen.answer ? ` ${seen.answer}` : ""}; the gateway's dnsmasq logged it ${bogus(name) ? "BOGUS" : "as not BOGUS"}`,
  });
  const arrived = (what: string, name: string, seen: { answer?: string }) => ({
    ok: seen.answer === FORGED_ADDRESS,
    text: `${what} ${name} with checking disabled (+cd): ${seen.answer ?? "no address"}${seen.answer === FORGED_ADDRESS ? ", the forger's" : `, not the forger's ${FORGED_ADDRESS}`}`,
  });
  return [
    refused("tampered", names.tampered, tampered),
    refused("unsigned", names.unsigned, unsigned),
    arrived("tampered", names.tamperedCd, tamperedCd),
    arrived("unsigned", names.unsignedCd, unsignedCd),
  ];
}

/** The first line of a probe's output that starts with `prefix`, without it. */
function lineOf(output: string, prefix: string): string | undefined {
  return output
    .split("\n")
    .find((line) => line.startsWith(prefix))
    ?.slice(prefix.length)
    .trim();
}

/**
 * The app binds its sockets to eth0, as qBittorrent's "Network interface" setting does
 * (libtorrent `bind_device`: SO_BINDTODEVICE), running as the app's own user with no capabilities
 * (LinuxServer's `s6-setuidgid abc`): an HTTP request and a UDP datagram to the internet. The pod's
 * routes send nothing to the internet out of eth0, but a bound socket ignores them, and the node
 * answers ARP for the internet address (Calico's proxy ARP), so only a rule can stop it.
 */
async function boundToEth0(lab: LabContext): Promise<Check[]> {
  const user = lab.appUser();
  const web = lab.addresses.web;
  const [bound, arp] = await Promise.all([
    lab.clientExec({ user })(
      ["perl", `${APP_PROBE_DIR}/bound.pl`, "eth0", web, "80", String(lab.world.plan.gatewaySettings.VPN_TRAFFIC_PORT)],
      10_000,
    ),
    // From the pod's network namespace with the lab's own privileges: does the node answer ARP
    // for an internet address on the pod network?
    runAsync(
      ["ip", "netns", "exec", lab.client.netns, "busybox", "arping", "-c", "1", "-w", "2", "-I", "eth0", web],
      5000,
    ),
  ]);
  const identity = /uid=(\d+) gid=(\d+) CapEff=([0-9a-f]+)/.exec(bound.stdout);
  const unprivileged =
    identity !== null &&
    Number(identity[1]) === user.uid &&
    Number(identity[2]) === user.gid &&
    /^0+$/.test(identity[3]);
  const proxied = /Received [1-9]/.test(arp.stdout);
  lab.world.log(
    `  eth0-bound TCP: ${lineOf(bound.stdout, "tcp:") ?? bound.stderr.trim()}; UDP: ${lineOf(bound.stdout, "udp:") ?? "-"}`,
  );
  return [
    {
      ok: unprivileged,
      text: identity
        ? `the bound sockets were opened as uid ${identity[1]} gid ${identity[2]}, CapEff ${identity[3]}`
        : `the bound-socket probe did not run: ${bound.stderr.trim() || bound.stdout.trim()}`,
    },
    {
      ok: proxied,
      text: proxied
        ? `the node answers ARP for ${web} on the pod network (proxy ARP)`
        : `the node did not answer ARP for ${web}: the bound sockets could not have left the pod`,
    },
  ];
}

/**
 * The app sends its own DNS query straight to kube-dns on port 53, ignoring resolv.conf, as the
 * app's user: CoreDNS would resolve it from the node, i.e. from the home address.
 */
async function kubeDnsDirect(lab: LabContext): Promise<Check[]> {
  const name = lab.nextName();
  const kubeDns = lab.world.plan.cluster.dnsServiceIp;
  const result = await lab.clientExec({ user: lab.appUser() })(
    ["dig", `@${kubeDns}`, "+time=2", "+tries=1", "+short", name],
    5000,
  );
  const answer = parseDigShort(result.stdout);
  lab.world.log(
    `  the app asked kube-dns ${kubeDns}:53 for ${name}: ${answer ? `answered ${answer}` : result.stdout.trim().split("\n")[0] || result.stderr.trim() || `exit ${result.code}`}`,
  );
  return [];
}

/**
 * The app container sends an IPv4/UDP datagram as a raw Ethernet frame to the node's MAC, below
 * routing and netfilter. It runs with the set containerd (and Docker) would give the app
 * container — their defaults include NET_RAW, CRI-O's do not — so only the plan's own `drop`
 * keeps NET_RAW from it.
 */
async function rawFrame(lab: LabContext): Promise<Check[]> {
  const spec = lab.appSpec();
  const capabilities = containerCapabilities(
    { privileged: spec.privileged, add: spec.capabilities, drop: spec.capabilityDrop },
    CONTAINERD_DEFAULT_CAPABILITIES,
  );
  const holdsNetRaw = capabilities.all || capabilities.names.includes("NET_RAW");
  const result = await lab.clientExec({ capabilities })(
    [
      "perl",
      `${APP_PROBE_DIR}/frame.pl`,
      "eth0",
      lab.world.bridgeMac(),
      lab.client.ip,
      lab.addresses.web,
      String(lab.world.plan.gatewaySettings.VPN_TRAFFIC_PORT),
    ],
    5000,
  );
  const outcome = lineOf(result.stdout, "frame:") ?? (result.stderr.trim() || `exit ${result.code}`);
  return [
    {
      ok: !holdsNetRaw,
      text: `${spec.name} under containerd's defaults holds NET_RAW: ${holdsNetRaw ? "yes" : "no"} (${describeCapabilities(capabilities)})`,
    },
    { ok: result.code !== 0, text: `the app's raw frame: ${outcome}` },
  ];
}

const OTHER_POD = "otherpod";
/** The other pod's DHCP server, while the spoofing scenario runs. */
let otherPodDhcp: Daemon | undefined;

/** The other pod's address on the overlay, where its leases send the client's default route and DNS. */
function otherPodOverlayAddress(lab: LabContext): string {
  return `${lab.world.plan.gatewaySettings.VXLAN_IP_NETWORK}.2`;
}

function otherPodDhcpLog(lab: LabContext): string {
  return join(lab.world.dir, "otherpod-dhcp.log");
}

/**
 * Another pod of the cluster (no NetworkPolicy selects it) builds its own VXLAN device with the
 * overlay's id and port towards the routed client, takes the gateway's overlay address and pings
 * the client over it: the client answers, learns the pod's MAC for the gateway's overlay address
 * (its ARP table) and for that MAC the pod's address (vxlan0 learns the source of what it
 * receives), so its traffic goes to that pod, which sends it on from the node — the home address.
 *
 * The DHCP half: the pod also runs a DHCP server on its vxlan0 (dnsmasq, authoritative for the
 * whole overlay) whose leases name its own second overlay address as router and DNS server, and
 * the client is made to lease anew: its vxlan0 is deleted, so its route monitor rebuilds the tunnel
 * and `client_init.sh` runs udhcpc, whose DHCPDISCOVER and DHCPREQUEST are broadcasts on vxlan0.
 * Its renewals would be unicasts to the gateway's overlay address (where the pings above point
 * that address's MAC), but the route containers' udhcpc cannot renew: without
 * NET_BIND_SERVICE its bind to port 68 fails and it exits. Offers and acks sent blind (to eth0,
 * or without the client's transaction id) reach nothing: udhcpc listens on vxlan0 only and drops
 * replies to other transactions (busybox networking/udhcp/dhcpc.c).
 */
async function spoofGateway(lab: LabContext): Promise<void> {
  const w = lab.world;
  const settings = w.plan.gatewaySettings;
  const ns = w.nsName(OTHER_POD);
  if (!existsSync(join("/run/netns", ns))) {
    w.addOtherPod(OTHER_POD, lab.addresses.otherPod);
    const overlay = ["ip", "link", "add", "vxlan0", "type", "vxlan", "id", settings.VXLAN_ID, "dev", "eth0"];
    w.inNs(ns, ...overlay, "dstport", settings.VXLAN_PORT || "0", "remote", lab.client.ip);
    w.inNs(ns, "ip", "addr", "add", `${settings.VXLAN_IP_NETWORK}.1/24`, "dev", "vxlan0");
    w.inNs(ns, "ip", "addr", "add", `${otherPodOverlayAddress(lab)}/24`, "dev", "vxlan0");
    if (settings.VPN_INTERFACE_MTU) {
      w.inNs(ns, "ip", "link", "set", "vxlan0", "mtu", settings.VPN_INTERFACE_MTU);
    }
    w.inNs(ns, "ip", "link", "set", "vxlan0", "up");
    w.inNs(ns, "sysctl", "-qw", "net.ipv4.ip_forward=1");
    w.inNs(ns, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "eth0", "-j", "MASQUERADE");
    otherPodDhcp = w.startDnsmasq(
      "otherpod/dhcp",
      ns,
      [
        "--port=0",
        "--interface=vxlan0",
        "--bind-interfaces",
        `--dhcp-range=${settings.VXLAN_IP_NETWORK}.3,${settings.VXLAN_IP_NETWORK}.254,12h`,
        "--dhcp-authoritative",
        "--no-ping",
        `--dhcp-option=option:router,${otherPodOverlayAddress(lab)}`,
        `--dhcp-option=option:dns-server,${otherPodOverlayAddress(lab)}`,
        `--dhcp-leasefile=${join(w.dir, "otherpod.leases")}`,
        "--log-dhcp",
        `--log-facility=${otherPodDhcpLog(lab)}`,
      ],
      join(w.dir, "otherpod-dhcp.out"),
    );
  }
  await leaseAnew(lab);
  const lease = clientLease(lab);
  if (lease) {
    run(["ip", "netns", "exec", ns, "ping", "-c", "3", "-i", "0.2", "-W", "1", lease], 5000);
  }
}

/** The client leases anew: its vxlan0 deleted, its route monitor rebuilds it (bounded wait). */
async function leaseAnew(lab: LabContext): Promise<void> {
  const started = Date.now();
  // The route monitor may be rebuilding it already.
  run(["ip", "netns", "exec", lab.client.netns, "ip", "link", "del", "vxlan0"]);
  const leased = await until(40_000, () => clientLease(lab) !== undefined && routedThroughOverlay(lab));
  lab.world.log(
    `  client vxlan0 deleted; ${leased ? `leased ${clientLease(lab)} anew after ${((Date.now() - started) / 1000).toFixed(1)} s` : "no lease and overlay route within 40 s"}`,
  );
}

/** DHCP requests the other pod's server received, from its log (`DHCPREQUEST(vxlan0) …`). */
function otherPodDhcpRequests(lab: LabContext): number {
  const file = otherPodDhcpLog(lab);
  return existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => /DHCPREQUEST/.test(l)).length
    : 0;
}

/** Whether the client's vxlan0 forwarding table holds the other pod's VXLAN MAC. */
function learnedOtherPod(lab: LabContext): { learned: boolean; mac: string } {
  const mac = run([
    "ip",
    "netns",
    "exec",
    lab.world.nsName(OTHER_POD),
    "cat",
    "/sys/class/net/vxlan0/address",
  ]).stdout.trim();
  const fdb = run(["ip", "netns", "exec", lab.client.netns, "bridge", "fdb", "show", "dev", "vxlan0"]).stdout;
  return { learned: mac !== "" && fdb.includes(mac), mac };
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: "baseline",
    layer2MustHold: true,
    rounds: 2,
    checks: (lab, seen) => {
      const exit = lab.addresses.vpnExit;
      const all = seen.seen.every((s) => s === exit);
      return [
        {
          ok: all,
          text: all
            ? `the internet saw the VPN exit ${exit}`
            : `the internet saw ${seen.seen.map((s) => s ?? "nothing").join(", ")}, not only the VPN exit ${exit}`,
        },
        ...routeSidecarCapabilities(lab),
      ];
    },
  },
  {
    name: "DNS: internet and cluster names",
    layer2MustHold: true,
    rounds: 2,
    checks: async (lab, seen, dnsSources) => {
      const clusterName = `kubernetes.default.svc.${lab.world.plan.cluster.domain}`;
      const cluster = await resolve(lab.clientExec(), clusterName, 2);
      // The verifier's DNS-path check, run on this client through its netns transport.
      const path = await dnsPath(
        lab.transport,
        lab.clientTarget(),
        { internet: lab.nextName(), cluster: clusterName },
        2000,
      );
      const verdict = dnsVerdict(lab.clientTarget().name, path, {
        gatewayDns: `${lab.world.plan.gatewaySettings.VXLAN_IP_NETWORK}.1`,
        kubeDns: lab.world.plan.cluster.dnsServiceIp,
      });
      return [
        {
          ok: verdict.status === "pass",
          text: `npm run verify's DNS check: ${verdict.status.toUpperCase()} ${verdict.message}`,
        },
        ...dnsThroughTunnel(lab, seen, dnsSources),
        ...(await dnssecValidates(lab)),
        {
          ok: cluster.ok && cluster.value === lab.addresses.kubernetesService,
          text: cluster.ok
            ? `kubernetes.default.svc resolved to ${cluster.value}`
            : `kubernetes.default.svc did not resolve: ${cluster.message}`,
        },
      ];
    },
  },
  {
    name: "internet DNS forged (DNSSEC)",
    layer2MustHold: true,
    breaks: "internet",
    inject: (lab) => lab.world.forgeDns(true),
    traffic: forgedAnswersRefused,
    checks: (_lab, seen) => {
      const answered = seen.internetAnswers.filter((a) => a !== undefined);
      return [
        {
          ok: answered.length === 0,
          text:
            answered.length === 0
              ? "the probes' lookups got no address"
              : `the probes' lookups got ${answered.join(", ")}`,
        },
      ];
    },
    cleanup: (lab) => lab.world.forgeDns(false),
  },
  {
    name: "tunnel device down",
    layer2MustHold: true,
    inject: (lab) => inGateway(lab, "ip", "link", "set", "wg0", "down"),
    checks: (_lab, seen) => [noTraffic(seen)],
  },
  {
    name: "VPN process killed",
    layer2MustHold: true,
    // The gluetun container's processes die at once (WireGuard lives in gluetun's process):
    // the tunnel device goes with them, the WireGuard routing rule stays behind.
    inject: async (lab) => {
      await lab.killContainer(lab.gateway, (c) => GLUETUN_IMAGE.test(c.image), "gluetun");
    },
    checks: (_lab, seen) => [noTraffic(seen)],
  },
  {
    name: "MTU: large transfers through the tunnel",
    layer2MustHold: true,
    traffic: largeTransfers,
  },
  {
    // gluetun's DNS server would take :53 while dnsmasq is down (the program turns it off).
    name: "gateway sidecar restarted",
    layer2MustHold: true,
    rounds: 2,
    inject: restartGatewaySidecar,
    checks: (lab, seen, dnsSources) => {
      const lease = clientLease(lab);
      const network = `${lab.world.plan.gatewaySettings.VXLAN_IP_NETWORK}.`;
      const listening = gatewayDnsListening(lab);
      return [
        {
          ok: listening,
          text: listening
            ? "the restarted sidecar's dnsmasq listens on the overlay's DNS address"
            : "the gateway's dnsmasq does not listen on the overlay's DNS address",
        },
        {
          ok: lease?.startsWith(network) === true,
          text: lease
            ? `the client's vxlan0 leased ${lease} from the restarted sidecar`
            : "the client's vxlan0 has no address",
        },
        ...dnsThroughTunnel(lab, seen, dnsSources),
      ];
    },
  },
  {
    name: "gateway filter rules flushed",
    layer2MustHold: true,
    inject: (lab) => inGateway(lab, "iptables", "--flush"),
  },
  {
    name: "gluetun firewall fallback, tunnel down",
    layer2MustHold: true,
    inject: (lab) => {
      inGateway(lab, "ip", "link", "set", "wg0", "down");
      lab.world.fallback(lab.gateway);
    },
    checks: (_lab, seen) => [noTraffic(seen)],
  },
  {
    name: "gateway vxlan0 deleted",
    layer2MustHold: true,
    inject: (lab) => inGateway(lab, "ip", "link", "del", "vxlan0"),
    checks: (_lab, seen) => [noTraffic(seen)],
  },
  {
    name: "client vxlan0 deleted, default route restored",
    // Only layer 1 can stop a client whose own routes bypass the gateway.
    layer2MustHold: false,
    breaks: "client",
    reinject: true,
    inject: (lab) => {
      inClient(lab, "sh", "-c", "! ip link show vxlan0 >/dev/null 2>&1 || ip link del vxlan0");
      inClient(lab, "ip", "route", "replace", "default", "via", lab.addresses.nodeBridge);
    },
  },
  {
    name: "app binds to eth0 (SO_BINDTODEVICE)",
    layer2MustHold: true,
    traffic: boundToEth0,
  },
  {
    name: "app queries kube-dns directly",
    layer2MustHold: true,
    traffic: kubeDnsDirect,
  },
  {
    name: "app sends a raw frame",
    layer2MustHold: true,
    traffic: rawFrame,
  },
  {
    name: "another pod spoofs the gateway over VXLAN and DHCP",
    layer2MustHold: true,
    breaks: "client",
    reinject: true,
    inject: spoofGateway,
    checks: (lab) => {
      const { learned, mac } = learnedOtherPod(lab);
      const requests = otherPodDhcpRequests(lab);
      const routed = routedThroughOverlay(lab);
      return [
        {
          ok: !learned,
          text: learned
            ? `the client's vxlan0 learned the other pod's MAC ${mac}`
            : "the client's vxlan0 did not learn the other pod's MAC",
        },
        {
          ok: requests === 0,
          text: `the other pod's DHCP server received ${requests} DHCP discover(s) or request(s)`,
        },
        {
          ok: routed,
          text: routed
            ? "the client's default route still goes through the gateway's overlay address"
            : `the client's default route moved: ${run(["ip", "-n", lab.client.netns, "route", "show", "default"]).stdout.trim() || "none"}`,
        },
      ];
    },
    cleanup: async (lab) => {
      if (otherPodDhcp) {
        await lab.world.registry.stop(otherPodDhcp, "SIGTERM", 1000);
        otherPodDhcp = undefined;
      }
      lab.world.removeOtherPod(OTHER_POD);
    },
  },
  PORT_FORWARDING_SCENARIO,
  {
    name: "gateway pod replaced (new address)",
    layer2MustHold: true,
    recovery: true,
    recoveryLimitSeconds: 60,
    // From the old gateway's deletion to traffic through the new one.
    recoveryTargetSeconds: 10,
  },
];
