/**
 * The port-forwarding scenario (lab/portForward.ts says what runs as planned and what is
 * reproduced): the lab's provider forwards a port on the VPN exit; qBittorrent, running in the routed
 * pod's network namespace, must end up listening on it through the planned follower, and a
 * connection from the internet to the VPN exit's port must reach it with the peer's own address;
 * the same port on the home address reaches nothing; after the provider hands out another port the
 * new one works and the old one does not, though the provider still forwards the old one.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { QBITTORRENT_PBKDF2, qbittorrentPasswordHash } from "../lib/relations/credentials";
import { PROVIDER_PORT_FILE, labSecretValue } from "./portForward";
import { GLUETUN_IMAGE } from "./plan";
import type { Check, LabContext, Scenario } from "./scenario";
import { LabError, run, until } from "./sys";

interface RunningQbittorrent {
  readonly pid: number;
  readonly dir: string;
}

let qbittorrent: RunningQbittorrent | undefined;
let nextPort = 42101;
/** The ports the lab's provider forwards now, undone by the cleanup. */
const providerPorts: number[] = [];

function inNetns(ns: string, ...argv: string[]) {
  return run(["ip", "netns", "exec", ns, ...argv], 10_000);
}

/** The gluetun container's process, through whose root the provider's answer is written. */
function gluetunPid(lab: LabContext): number {
  const gluetun = [...lab.gateway.containers.values()].find((c) => GLUETUN_IMAGE.test(c.spec.image));
  const pid = gluetun?.daemon?.pid;
  if (pid === undefined) {
    throw new LabError("the gateway's gluetun container is not running");
  }
  return pid;
}

/** The tunnel's client address (gluetun's WIREGUARD_ADDRESSES), where the provider sends the port. */
function tunnelAddress(lab: LabContext): string {
  const gluetun = lab.world.plan.gateway.containers.find((c) => GLUETUN_IMAGE.test(c.image));
  const address = (gluetun?.env.WIREGUARD_ADDRESSES ?? "").split(",")[0]?.split("/")[0];
  if (!address) {
    throw new LabError("the plan's gluetun has no WIREGUARD_ADDRESSES");
  }
  return address;
}

/** qBittorrent in the routed pod's network namespace, with the WebUI credentials the follower gets. */
function startQbittorrent(lab: LabContext, webUiPort: number): void {
  if (qbittorrent) {
    return;
  }
  // /config of the LinuxServer image: HOME and XDG_CONFIG_HOME (linuxserver/docker-qbittorrent Dockerfile).
  const dir = join(lab.world.dir, "qbittorrent");
  const conf = join(dir, "qBittorrent");
  mkdirSync(conf, { recursive: true });
  const hash = qbittorrentPasswordHash(
    labSecretValue("QBITTORRENT_PASSWORD"),
    randomBytes(QBITTORRENT_PBKDF2.saltLength),
  );
  writeFileSync(
    join(conf, "qBittorrent.conf"),
    [
      "[LegalNotice]",
      "Accepted=true",
      "[BitTorrent]",
      "Session\\Port=6881",
      "Session\\DHTEnabled=false",
      "Session\\LSDEnabled=false",
      "Session\\PeXEnabled=false",
      "[Preferences]",
      "Connection\\UPnP=false",
      `WebUI\\Port=${webUiPort}`,
      `WebUI\\Username=${labSecretValue("QBITTORRENT_USERNAME")}`,
      `WebUI\\Password_PBKDF2="@ByteArray(${hash})"`,
      "",
    ].join("\n"),
  );
  const started = run(
    [
      "ip",
      "netns",
      "exec",
      lab.client.netns,
      "sh",
      "-c",
      `HOME=${dir} XDG_CONFIG_HOME=${dir} XDG_DATA_HOME=${dir} XDG_CACHE_HOME=${dir}/cache qbittorrent-nox --webui-port=${webUiPort} >${dir}/log 2>&1 & echo $!`,
    ],
    10_000,
  );
  qbittorrent = { pid: Number(started.stdout.trim()), dir };
}

/** Whether a TCP socket in the namespace listens on the port. */
function listening(lab: LabContext, port: number): boolean {
  return inNetns(lab.client.netns, "ss", "-Hltn", `sport = :${port}`).stdout.trim() !== "";
}

/**
 * Connects from the internet to host:port; the peer address of the routed pod's socket on that
 * port, or undefined when nothing answered. libtorrent closes an incoming connection at once while
 * it has no torrents, so the pod's socket may be past ESTABLISHED (TIME-WAIT): every state is read.
 */
async function connectFromInternet(lab: LabContext, host: string, port: number): Promise<string | undefined> {
  const probe = run(
    [
      "ip",
      "netns",
      "exec",
      lab.world.internet,
      "bash",
      "-c",
      `timeout 3 bash -c 'exec 3<>/dev/tcp/${host}/${port} && sleep 1.5' & pid=$!; sleep 1; ` +
        `ip netns exec ${lab.client.netns} ss -Htan "( sport = :${port} )"; wait $pid`,
    ],
    10_000,
  );
  if (probe.code !== 0) {
    return undefined;
  }
  // libtorrent listens on a dual-stack socket: IPv4 peers show as [::ffff:a.b.c.d].
  return /\s\[?(?:::ffff:)?(\d+\.\d+\.\d+\.\d+)\]?:\d+\s*$/m.exec(probe.stdout)?.[1] ?? probe.stdout.trim();
}

/** The provider forwards `port` on the VPN exit to the tunnel's client address (and keeps it). */
function providerRule(lab: LabContext, action: "-A" | "-D", port: number, protocol: string): string[] {
  return [
    "ip",
    "netns",
    "exec",
    lab.world.vpn,
    "iptables",
    "-t",
    "nat",
    action,
    "PREROUTING",
    "-d",
    lab.addresses.vpnExit,
    "-p",
    protocol,
    "--dport",
    String(port),
    "-j",
    "DNAT",
    "--to-destination",
    tunnelAddress(lab),
  ];
}

function providerForwards(lab: LabContext, port: number): void {
  for (const protocol of ["tcp", "udp"]) {
    const added = run(providerRule(lab, "-A", port, protocol));
    if (added.code !== 0) {
      throw new LabError(`the lab's provider could not forward ${port}: ${added.stderr}`);
    }
  }
  providerPorts.push(port);
  writeFileSync(`/proc/${gluetunPid(lab)}/root${PROVIDER_PORT_FILE}`, String(port));
}

/** One forwarded port: qBittorrent takes it, the VPN exit reaches it, the home address does not. */
async function forwardedPortChecks(lab: LabContext, port: number, webUiPort: number): Promise<Check[]> {
  providerForwards(lab, port);
  const follows = await until(20_000, () => listening(lab, port));
  const peer = follows ? await connectFromInternet(lab, lab.addresses.vpnExit, port) : undefined;
  const overlayGateway = `${lab.world.plan.gatewaySettings.VXLAN_IP_NETWORK}.1`;
  return [
    {
      ok: follows,
      text: follows
        ? `qBittorrent listens on the forwarded port ${port} (the follower set it through its WebUI API)`
        : `qBittorrent does not listen on the forwarded port ${port} within 20 s`,
    },
    {
      ok: peer !== undefined && peer !== "" && peer !== overlayGateway,
      text:
        peer === undefined
          ? `the internet's connection to the VPN exit ${lab.addresses.vpnExit}:${port} did not reach qBittorrent`
          : `the internet reached qBittorrent at the VPN exit ${lab.addresses.vpnExit}:${port}; qBittorrent saw the peer as ${peer || "nothing"}${peer === overlayGateway ? " (the gateway: masqueraded)" : ""}`,
    },
    ...(port === webUiPort ? [{ ok: false, text: "the lab picked the WebUI port" }] : []),
  ];
}

/** The scenario's traffic: a port, then another; the old one closes. Runs once per probing window. */
async function portForwardingTraffic(lab: LabContext): Promise<Check[]> {
  const follower = [...lab.client.containers.values()].find((c) => c.spec.name === "vpn-port-follower");
  if (!follower) {
    return [{ ok: false, text: "the routed pod has no vpn-port-follower: the plan does not forward a port" }];
  }
  const webUiPort = Number(follower.spec.env.QBITTORRENT_WEBUI_PORT);
  startQbittorrent(lab, webUiPort);
  const first = nextPort++;
  const second = nextPort++;
  forwardedPorts.push(first, second);
  const checks = await forwardedPortChecks(lab, first, webUiPort);
  checks.push(...(await forwardedPortChecks(lab, second, webUiPort)));
  const oldClosed = await until(10_000, () => !listening(lab, first));
  const old = await connectFromInternet(lab, lab.addresses.vpnExit, first);
  checks.push(
    {
      ok: oldClosed,
      text: oldClosed
        ? `qBittorrent no longer listens on the old port ${first}`
        : `qBittorrent still listens on ${first}`,
    },
    {
      ok: old === undefined,
      text:
        old === undefined
          ? `the old port ${first} reaches nothing, though the provider still forwards it to the tunnel`
          : `the old port ${first} still reached qBittorrent`,
    },
  );
  return checks;
}

/** Stops qBittorrent and the provider's forwarding; gluetun runs its down command. */
function portForwardingCleanup(lab: LabContext): void {
  for (const port of providerPorts.splice(0)) {
    for (const protocol of ["tcp", "udp"]) {
      run(providerRule(lab, "-D", port, protocol));
    }
  }
  try {
    writeFileSync(`/proc/${gluetunPid(lab)}/root${PROVIDER_PORT_FILE}`, "");
  } catch {
    // The gateway pod is gone already: nothing forwards the port.
  }
  if (qbittorrent) {
    process.kill(qbittorrent.pid);
    qbittorrent = undefined;
  }
}

/** The ports forwarded in this scenario, which the home address must not answer for. */
const forwardedPorts: number[] = [];

/**
 * The same ports on the home address reach nothing. Probed after the counted window: the home
 * router answers an unsolicited connection with its own TCP reset, which the leak counters would
 * count as a packet from the home address though no pod sent it.
 */
async function homeAddressChecks(lab: LabContext): Promise<Check[]> {
  const checks: Check[] = [];
  for (const port of forwardedPorts) {
    const home = await connectFromInternet(lab, lab.addresses.home, port);
    checks.push({
      ok: home === undefined,
      text:
        home === undefined
          ? `the forwarded port ${port} on the home address ${lab.addresses.home} reaches nothing`
          : `the home address ${lab.addresses.home}:${port} reached qBittorrent`,
    });
  }
  return checks;
}

export const PORT_FORWARDING_SCENARIO: Scenario = {
  name: "port forwarding: the VPN exit's port reaches qBittorrent",
  layer2MustHold: true,
  traffic: portForwardingTraffic,
  checks: homeAddressChecks,
  cleanup: portForwardingCleanup,
};
