/**
 * The lab's network: namespaces, links, the fake internet, kube-dns, and pods whose containers run
 * the real pod-gateway scripts (and the gluetun reproduction) from the plan, each in its own mount
 * namespace and root, the way a container runtime would present them.
 *
 *   client pod ─┐                      home router (NAT → home address) ── internet ── VPN server
 *   gateway pod ├─ node (pod bridge,   ─┘                                   │  (NAT → VPN exit)
 *   kube-dns   ─┘  kube-proxy DNAT,                                  HTTP echo + logging resolver
 *                  NetworkPolicies)
 *
 * No namespace is linked to the host's network namespace.
 */
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { LabAddresses } from "./addresses";
import { APP_PROBE_DIR, BOUND_SOCKET_PL, RAW_FRAME_PL } from "./appProbes";
import { CapabilitySet, containerCapabilities, describeCapabilities, ProcessUser, setprivArgs } from "./capabilities";
import { forgedZone, nsdConfig, rootZone, TRACKER_DOMAIN, trustAnchorLine } from "./dnssec";
import { DNS_SERVER_JS, FALLBACK_COMMANDS, gluetunScript } from "./gluetun";
import { CONTROL_SERVER_JS, labSecretValue, labSecretVolumeFiles } from "./portForward";
import { controlServerRole } from "../lib/vpn/gateway";
import { leakCounterRuleset } from "./leaks";
import { policyRuleset, PolicyPod } from "./netpol";
import { GLUETUN_IMAGE, LabContainer, LabPlan, LabPod, podResolvConf } from "./plan";
import { namedCounter, parseCounters, parseLinkMtu, InternetCounters } from "./report";
import { Daemon, LabError, Registry, must, run, sleep } from "./sys";

const POD_GATEWAY_IMAGE = /(^|\/)pod-gateway:/;
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const POLICY_TABLE = "lab_networkpolicy";
const COUNTER_TABLE = "lab_leaks";
const FRAGMENT_TABLE = "lab_fragments";
/** The internet's root server (NSD, the signed root zone), on the internet namespace's loopback (all of 127/8 is local). */
const ROOT_SERVER = "127.0.0.1";
/** A lying root server: the same zone with forged answers (lab/dnssec.ts, forgedZone). */
const FORGED_SERVER = "127.0.0.2";
/** Size of the internet's large download and of the large upload: several round trips of full-size segments. */
export const LARGE_BODY_BYTES = 512 * 1024;

export interface WorldOptions {
  readonly plan: LabPlan;
  readonly addresses: LabAddresses;
  /** Directory with pod-gateway-v1.13.0/ and alpine-udhcpc-default.script. */
  readonly upstream: string;
  readonly dir: string;
  readonly registry: Registry;
  readonly log: (line: string) => void;
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, "'\\''")}'`;
}

/** kubelet's restart back-off: 10 s doubling, capped at 5 min (pkg/kubelet/kubelet.go). */
export function restartBackoffMs(restarts: number): number {
  return Math.min(10_000 * 2 ** restarts, 300_000);
}

/** Who an exec into a container runs as: a non-root user, and/or a capability set other than the container's. */
export interface ExecIdentity {
  readonly user?: ProcessUser;
  readonly capabilities?: CapabilitySet;
}

export class Container {
  daemon?: Daemon;
  restarts = 0;
  /** What the runtime grants this container; its processes and every exec into it are bounded by it. */
  readonly capabilities: CapabilitySet;
  constructor(
    readonly pod: Pod,
    readonly spec: LabContainer,
    readonly dir: string,
  ) {
    this.capabilities = containerCapabilities({
      privileged: spec.privileged,
      add: spec.capabilities,
      drop: spec.capabilityDrop,
    });
  }
  get running(): boolean {
    return this.daemon !== undefined && !this.daemon.isDone();
  }
  /** Runs argv inside this container (its network, mount and UTS namespaces and root). */
  exec(argv: readonly string[], timeoutMs = 5000): ReturnType<typeof run> {
    if (!this.daemon) {
      throw new LabError(`container ${this.pod.name}/${this.spec.name} is not running`);
    }
    return run(
      ["nsenter", "-t", String(this.daemon.pid), "-n", "-m", "-u", "-r", "-w", "--", ...this.bounded(argv)],
      timeoutMs,
    );
  }
  /**
   * argv under the container's capabilities: an exec (hook, probe) gets what the container has.
   * `as` runs it as a non-root user, or under another runtime's set for this container.
   */
  bounded(argv: readonly string[], as: ExecIdentity = {}): string[] {
    // runAsUser and runAsGroup: the user and primary group (and no supplementary groups) of every
    // process in the container, unless the exec runs as a user of its own. A uid without a group
    // gets gid 0, as containerd gives a uid its image's /etc/passwd does not list (containerd pkg/oci/spec_opts.go WithUserID).
    const runAsUser = this.spec.runAsUser;
    const user =
      as.user ??
      (runAsUser !== undefined && runAsUser !== 0 ? { uid: runAsUser, gid: this.spec.runAsGroup ?? 0 } : undefined);
    const group =
      user === undefined && this.spec.runAsGroup !== undefined
        ? [`--regid=${this.spec.runAsGroup}`, "--clear-groups"]
        : [];
    const args = [...group, ...setprivArgs(as.capabilities ?? this.capabilities, user)];
    return args.length > 0 ? ["setpriv", ...args, "--", ...argv] : [...argv];
  }
  /** The argv prefix that enters this container, for the verifier's netns transport. */
  wrapper(): string[] {
    if (!this.daemon) {
      throw new LabError(`container ${this.pod.name}/${this.spec.name} is not running`);
    }
    return ["nsenter", "-t", String(this.daemon.pid), "-m", "-u", "-r", "-w", "--", ...this.bounded([])];
  }
}

export class Pod {
  readonly netns: string;
  readonly containers = new Map<string, Container>();
  private deleted = false;
  private readonly dir: string;
  ready = false;
  initDone = false;

  constructor(
    readonly world: World,
    readonly name: string,
    readonly spec: LabPod,
    readonly ip: string,
    /** The pod's name as the kubelet sets it as hostname (client_init.sh cuts it at the first dash). */
    readonly hostname: string,
  ) {
    this.netns = world.nsName(name);
    this.dir = join(world.dir, "pods", name);
  }

  container(name: string): Container {
    const found = this.containers.get(name);
    if (!found) {
      throw new LabError(`pod ${this.name} has no container ${name}`);
    }
    return found;
  }

  /** Creates the sandbox: network namespace, veth into the node's pod bridge, resolv.conf. */
  sandbox(): void {
    const w = this.world;
    w.registry.netns(this.netns);
    // A new pod starts with empty emptyDirs.
    rmSync(join(this.dir, "volumes"), { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    w.plugIntoPodBridge(this.name, this.netns);
    const inPod = (...argv: string[]) => must(["ip", "netns", "exec", this.netns, ...argv]);
    // Single-stack IPv4 pod network: no IPv6 at all (gluetun's IPv6 check is then false).
    inPod("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
    for (const [key, value] of Object.entries(this.spec.sysctls)) {
      inPod("sysctl", "-qw", `${key}=${value}`);
    }
    inPod("ip", "link", "set", "lo", "up");
    inPod("sysctl", "-qw", "net.ipv6.conf.eth0.disable_ipv6=1");
    inPod("ip", "addr", "add", `${this.ip}/${w.addresses.podPrefix}`, "dev", "eth0");
    inPod("ip", "link", "set", "eth0", "up");
    inPod("ip", "route", "add", "default", "via", w.addresses.nodeBridge);
    writeFileSync(join(this.dir, "resolv.conf"), podResolvConf(this.spec, w.plan.cluster));
  }

  /** Like the kubelet: init containers one by one (each retried with back-off), then the others. */
  async start(): Promise<void> {
    this.sandbox();
    const w = this.world;
    for (const spec of this.spec.initContainers) {
      if (spec.sidecar) {
        await this.startContainer(spec, true);
        continue;
      }
      for (let attempt = 0; ; attempt++) {
        if (this.deleted) {
          return;
        }
        const container = await this.startContainer(spec);
        const code = await container.daemon!.exited;
        if (code === 0) {
          break;
        }
        w.log(`  ${this.name}/${spec.name} exited ${code}; kubelet retries in ${restartBackoffMs(attempt) / 1000} s`);
        if (attempt >= 3) {
          throw new LabError(
            `${this.name}/${spec.name} failed ${attempt + 1} times (log: ${join(container.dir, "log")})`,
          );
        }
        await this.sleepUnlessDeleted(restartBackoffMs(attempt));
      }
    }
    this.initDone = true;
    for (const spec of this.spec.containers) {
      await this.startContainer(spec, true);
    }
  }

  private async sleepUnlessDeleted(ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!this.deleted && !this.world.registry.closed && Date.now() < end) {
      await sleep(Math.min(200, end - Date.now()));
    }
  }

  /** Starts one container; main containers are restarted with kubelet's back-off when they exit. */
  async startContainer(spec: LabContainer, supervise = false): Promise<Container> {
    const w = this.world;
    const dir = join(this.dir, spec.name);
    const container = this.containers.get(spec.name) ?? new Container(this, spec, dir);
    this.containers.set(spec.name, container);
    const launcher = w.prepareContainer(this, spec, dir, container.bounded(["/bin/bash"]));
    if (container.restarts === 0) {
      w.log(`  ${this.name}/${spec.name}: capabilities ${describeCapabilities(container.capabilities)}`);
    }
    container.daemon = w.registry.start(
      `${this.name}/${spec.name}`,
      ["ip", "netns", "exec", this.netns, "unshare", "-m", "-u", "--propagation", "private", "/bin/bash", launcher],
      join(dir, "log"),
    );
    if (spec.postStart) {
      await sleep(100);
      const hook = container.exec(spec.postStart, 10_000);
      if (hook.code !== 0) {
        w.log(`  ${this.name}/${spec.name} postStart hook exited ${hook.code}: ${hook.stderr.trim()}`);
      }
    }
    if (supervise) {
      const daemon = container.daemon;
      void daemon.exited.then(async (code) => {
        if (this.deleted || w.registry.closed || container.daemon !== daemon) {
          return;
        }
        const delay = restartBackoffMs(container.restarts);
        w.log(`  ${this.name}/${spec.name} exited ${code}; kubelet restarts it in ${delay / 1000} s`);
        container.restarts++;
        await this.sleepUnlessDeleted(delay);
        if (!this.deleted && !w.registry.closed && container.daemon === daemon) {
          await this.startContainer(spec, true);
        }
      });
    }
    return container;
  }

  /** Deletes the pod: SIGTERM to every container (preStop first), then its namespace. */
  async delete(): Promise<void> {
    this.deleted = true;
    this.ready = false;
    const containers = [...this.containers.values()].filter((c) => c.running);
    for (const container of containers) {
      if (container.spec.preStop) {
        container.exec(container.spec.preStop, 5000);
      }
    }
    await Promise.all(containers.map((c) => this.world.registry.stop(c.daemon!, "SIGTERM", 1500)));
    run(["ip", "netns", "del", this.netns]);
    run(["ip", "-n", this.world.node, "link", "del", `v${this.name}`.slice(0, 15)]);
  }
}

export class World {
  readonly node: string;
  readonly internet: string;
  readonly home: string;
  readonly vpn: string;
  readonly dns: string;
  readonly plan: LabPlan;
  readonly addresses: LabAddresses;
  readonly registry: Registry;
  readonly dir: string;
  readonly log: (line: string) => void;
  private readonly upstream: string;
  private readonly runId: string;
  private kubeDnsDaemon?: Daemon;
  readonly resolverLog: string;
  /** The resolver's `--servers-file`: which root server it asks. */
  private readonly resolverServers: string;
  /** dnsmasq's `trust-anchor=` line for the lab's root key (the lab image's trust-anchors.conf). */
  private trustAnchor?: string;
  private keys?: { serverPrivate: string; serverPublic: string; clientPrivate: string; clientPublic: string };
  layer1 = false;

  constructor(options: WorldOptions) {
    this.plan = options.plan;
    this.addresses = options.addresses;
    this.registry = options.registry;
    this.dir = options.dir;
    this.log = options.log;
    this.upstream = options.upstream;
    this.runId = String(process.pid);
    this.node = this.nsName("node");
    this.internet = this.nsName("internet");
    this.home = this.nsName("home");
    this.vpn = this.nsName("vpn");
    this.dns = this.nsName("kubedns");
    this.resolverLog = join(this.dir, "resolver.log");
    this.resolverServers = join(this.dir, "resolver.servers");
  }

  nsName(role: string): string {
    return `chlab${this.runId}-${role}`;
  }

  inNs(ns: string, ...argv: string[]): string {
    return must(["ip", "netns", "exec", ns, ...argv]);
  }

  private link(a: string, aName: string, b: string, bName: string): void {
    must(["ip", "link", "add", "chlabtmp", "netns", a, "type", "veth", "peer", "name", "chlabtmp2", "netns", b]);
    this.inNs(a, "ip", "link", "set", "chlabtmp", "name", aName);
    this.inNs(b, "ip", "link", "set", "chlabtmp2", "name", bName);
    this.inNs(a, "ip", "link", "set", aName, "up");
    this.inNs(b, "ip", "link", "set", bName, "up");
  }

  /** Builds everything but the pods. */
  build(): void {
    const a = this.addresses;
    const r = this.registry;
    for (const ns of [this.node, this.home, this.internet, this.vpn, this.dns]) {
      r.netns(ns);
      this.inNs(ns, "ip", "link", "set", "lo", "up");
      this.inNs(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
    }
    this.buildInternet();
    this.buildVpnServer();
    // Home router: LAN side for the node, WAN side on the internet, NAT to the home address.
    this.link(this.home, "wan", this.internet, "to-home");
    this.inNs(this.home, "ip", "addr", "add", `${a.home}/32`, "dev", "wan");
    this.inNs(this.home, "ip", "route", "add", `${a.internetRouter}/32`, "dev", "wan");
    this.inNs(this.home, "ip", "route", "add", "default", "via", a.internetRouter);
    this.inNs(this.internet, "ip", "route", "add", `${a.home}/32`, "dev", "to-home");
    this.link(this.home, "lan", this.node, "uplink");
    this.inNs(this.home, "ip", "addr", "add", `${a.homeRouterLan}/${a.lanPrefix}`, "dev", "lan");
    this.inNs(this.home, "sysctl", "-qw", "net.ipv4.ip_forward=1");
    this.inNs(
      this.home,
      "iptables",
      "-t",
      "nat",
      "-A",
      "POSTROUTING",
      "-o",
      "wan",
      "-j",
      "SNAT",
      "--to-source",
      a.home,
    );
    // Node: pod bridge, uplink to the home LAN, flannel-style masquerade, kube-proxy's DNAT.
    this.inNs(this.node, "ip", "addr", "add", `${a.nodeLan}/${a.lanPrefix}`, "dev", "uplink");
    this.inNs(this.node, "ip", "route", "add", "default", "via", a.homeRouterLan);
    // The pod network's MTU from the plan (cluster.podMtu) on the bridge and every pod's veth,
    // as a CNI sets it (flannel's VXLAN backend: 1450); the uplinks and the internet keep 1500.
    this.inNs(this.node, "ip", "link", "add", "cni0", "mtu", String(this.plan.cluster.podMtu), "type", "bridge");
    this.inNs(this.node, "ip", "addr", "add", `${a.nodeBridge}/${a.podPrefix}`, "dev", "cni0");
    this.inNs(this.node, "ip", "link", "set", "cni0", "up");
    // The node answers ARP for every address it routes elsewhere, at once, as Calico does on the
    // node side of each pod's veth (projectcalico/calico v3.32.1
    // felix/dataplane/linux/endpoint_mgr.go, configureProcSysForInterface: proxy_arp 1, proxy_delay
    // 0); here the bridge is the node's side of every pod link. A socket bound to eth0 then reaches
    // any internet address through the node, whatever the pod's routes say.
    this.inNs(this.node, "sysctl", "-qw", "net.ipv4.conf.cni0.proxy_arp=1", "net.ipv4.neigh.cni0.proxy_delay=0");
    this.inNs(this.node, "sysctl", "-qw", "net.ipv4.ip_forward=1");
    // Bridged pod-to-pod traffic passes the IP hooks (br_netfilter), so policies see it.
    this.inNs(this.node, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1");
    // IPv4 fragments on the pod network (any frame a pod sends into the bridge): a tunnel MTU that
    // does not fit the pod network shows here first.
    must(
      ["ip", "netns", "exec", this.node, "nft", "-f", "-"],
      10_000,
      [
        `table bridge ${FRAGMENT_TABLE} {`,
        "\tcounter fragments {}",
        "\tchain count {",
        "\t\ttype filter hook prerouting priority -300; policy accept;",
        '\t\tether type ip ip frag-off & 0x3fff != 0 counter name "fragments"',
        "\t}",
        "}",
        "",
      ].join("\n"),
    );
    this.inNs(
      this.node,
      "iptables",
      "-t",
      "nat",
      "-A",
      "POSTROUTING",
      "-s",
      this.plan.cluster.podCidr,
      "!",
      "-d",
      this.plan.cluster.podCidr,
      "!",
      "-o",
      "cni0",
      "-j",
      "MASQUERADE",
    );
    const dnsIp = this.plan.cluster.dnsServiceIp;
    for (const proto of ["udp", "tcp"]) {
      this.inNs(
        this.node,
        "iptables",
        "-t",
        "nat",
        "-A",
        "PREROUTING",
        "-d",
        `${dnsIp}/32`,
        "-p",
        proto,
        "--dport",
        "53",
        "-j",
        "DNAT",
        "--to-destination",
        `${a.kubeDns}:53`,
      );
    }
    this.buildKubeDns();
  }

  private buildInternet(): void {
    const a = this.addresses;
    // The internet's own hosts are local addresses of its router.
    for (const address of [a.resolver, a.web, a.internetRouter]) {
      this.inNs(this.internet, "ip", "addr", "add", `${address}/32`, "dev", "lo");
    }
    this.inNs(this.internet, "sysctl", "-qw", "net.ipv4.ip_forward=1");
    const port = Number(this.plan.gatewaySettings.VPN_TRAFFIC_PORT);
    // What reaches the internet from the home address, counted where it arrives (lab/leaks.ts).
    must(
      ["ip", "netns", "exec", this.internet, "nft", "-f", "-"],
      10_000,
      leakCounterRuleset(COUNTER_TABLE, { home: a.home, vpnServer: a.vpnServer, vpnPort: port }),
    );
    this.buildRootDns();
    // The resolver: a recursive resolver as the internet's hosts (and VPN providers) run them, in
    // front of the root servers: it answers every query from the root zone (the forger's, while
    // a scenario forges DNS), passing DNSSEC records on, and logs who asked.
    writeFileSync(this.resolverServers, `server=${ROOT_SERVER}\n`);
    this.startDnsmasq(
      "internet/resolver",
      this.internet,
      [
        `--listen-address=${a.resolver}`,
        "--bind-interfaces",
        // Re-read on SIGHUP: where the resolver's answers come from (see forgeDns).
        `--servers-file=${this.resolverServers}`,
        "--log-queries=extra",
        `--log-facility=${this.resolverLog}`,
        "--cache-size=0",
        `--pid-file=${join(this.dir, "resolver.pid")}`,
      ],
      join(this.dir, "resolver.out"),
    );
    const www = join(this.dir, "www", "cgi-bin");
    mkdirSync(www, { recursive: true });
    writeFileSync(join(www, "ip"), '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%s\\n" "$REMOTE_ADDR"\n');
    chmodSync(join(www, "ip"), 0o755);
    // A large download, and an upload whose size the server reports (busybox httpd hands a POST body to the CGI's stdin).
    writeFileSync(join(this.dir, "www", "large"), Buffer.alloc(LARGE_BODY_BYTES, "charmarr-lab "));
    writeFileSync(
      join(www, "size"),
      '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%s\\n" "$(head -c "${CONTENT_LENGTH:-0}" | wc -c)"\n',
    );
    chmodSync(join(www, "size"), 0o755);
    this.registry.start(
      "internet/web",
      [
        "ip",
        "netns",
        "exec",
        this.internet,
        "busybox",
        "httpd",
        "-f",
        "-p",
        `${a.web}:80`,
        "-h",
        join(this.dir, "www"),
      ],
      join(this.dir, "web.out"),
    );
  }

  /**
   * The internet's root: a key made for this run, the root zone signed with it (lab/dnssec.ts),
   * served by NSD; and the forger, serving the same zone with forged answers. The key's DS is the
   * trust anchor of the lab's pod-gateway image.
   */
  private buildRootDns(): void {
    const dir = join(this.dir, "dns");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "root.zone"), rootZone(this.addresses));
    // ldns-keygen writes K.+<algorithm>+<tag>.{key,private,ds} into its working directory and
    // prints that base name. One key-signing key signs the whole zone.
    const key = must(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", "."], 10_000, undefined, dir).trim();
    must(["ldns-signzone", "-f", join(dir, "root.signed"), join(dir, "root.zone"), join(dir, key)]);
    this.trustAnchor = trustAnchorLine(readFileSync(join(dir, `${key}.ds`), "utf8"));
    writeFileSync(join(dir, "forged.signed"), forgedZone(readFileSync(join(dir, "root.signed"), "utf8")));
    for (const [name, address, zone] of [
      ["root", ROOT_SERVER, "root.signed"],
      ["forger", FORGED_SERVER, "forged.signed"],
    ]) {
      const serverDir = join(dir, name);
      mkdirSync(serverDir, { recursive: true });
      copyFileSync(join(dir, zone), join(serverDir, zone));
      writeFileSync(join(serverDir, "nsd.conf"), nsdConfig({ address, dir: serverDir, zoneFile: zone }));
      this.registry.start(
        `internet/${name}-nsd`,
        ["ip", "netns", "exec", this.internet, "nsd", "-d", "-c", join(serverDir, "nsd.conf")],
        join(serverDir, "nsd.out"),
      );
    }
  }

  /** The resolver asks the forger (on) or the genuine root server (off) from now on. */
  forgeDns(on: boolean): void {
    writeFileSync(this.resolverServers, `server=${on ? FORGED_SERVER : ROOT_SERVER}\n`);
    // dnsmasq re-reads its --servers-file on SIGHUP.
    process.kill(Number(readFileSync(join(this.dir, "resolver.pid"), "utf8").trim()), "SIGHUP");
  }

  private buildVpnServer(): void {
    const a = this.addresses;
    const keyDir = join(this.dir, "keys");
    mkdirSync(keyDir, { recursive: true });
    const serverPrivate = must(["wg", "genkey"]).trim();
    const clientPrivate = must(["wg", "genkey"]).trim();
    this.keys = {
      serverPrivate,
      clientPrivate,
      serverPublic: must(["wg", "pubkey"], 5000, serverPrivate).trim(),
      clientPublic: must(["wg", "pubkey"], 5000, clientPrivate).trim(),
    };
    writeFileSync(join(keyDir, "server.key"), serverPrivate, { mode: 0o600 });
    this.link(this.vpn, "wan", this.internet, "to-vpn");
    this.inNs(this.vpn, "ip", "addr", "add", `${a.vpnServer}/32`, "dev", "wan");
    this.inNs(this.vpn, "ip", "addr", "add", `${a.vpnExit}/32`, "dev", "wan");
    this.inNs(this.vpn, "ip", "route", "add", `${a.internetRouter}/32`, "dev", "wan");
    this.inNs(this.vpn, "ip", "route", "add", "default", "via", a.internetRouter, "src", a.vpnServer);
    this.inNs(this.internet, "ip", "route", "add", `${a.vpnServer}/32`, "dev", "to-vpn");
    this.inNs(this.internet, "ip", "route", "add", `${a.vpnExit}/32`, "dev", "to-vpn");
    this.inNs(this.vpn, "sysctl", "-qw", "net.ipv4.ip_forward=1");
    // wireguard-go's control socket lives in /var/run/wireguard: a private mount keeps the
    // server's apart from the gateway's (same interface name).
    const port = this.plan.gatewaySettings.VPN_TRAFFIC_PORT;
    const clientAddresses = (this.gluetunEnv().WIREGUARD_ADDRESSES ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    if (clientAddresses.length === 0) {
      throw new LabError("the plan's gluetun env has no WIREGUARD_ADDRESSES: the lab models WireGuard only");
    }
    const script = [
      "set -e",
      "mount -t tmpfs tmpfs /run && mkdir -p /run/wireguard",
      "wireguard-go -f wg0 & pid=$!",
      "for _ in $(seq 1 50); do [ -S /var/run/wireguard/wg0.sock ] && break; sleep 0.1; done",
      `wg set wg0 listen-port ${port} private-key ${join(keyDir, "server.key")} peer ${this.keys.clientPublic} allowed-ips ${clientAddresses.join(",")}`,
      "ip link set wg0 up",
      ...clientAddresses.map((cidr) => `ip route add ${cidr} dev wg0`),
      ...clientAddresses.map(
        (cidr) => `iptables -t nat -A POSTROUTING -o wan -s ${cidr} -j SNAT --to-source ${a.vpnExit}`,
      ),
      // Whatever resolver address gluetun uses (DNS_ADDRESS, default Cloudflare's), the VPN
      // server answers it with the lab's resolver, as providers do for their own DNS addresses.
      `iptables -t nat -A PREROUTING -i wg0 -p udp --dport 53 -j DNAT --to-destination ${a.resolver}`,
      `iptables -t nat -A PREROUTING -i wg0 -p tcp --dport 53 -j DNAT --to-destination ${a.resolver}`,
      "touch /run/wireguard/ready",
      "wait $pid",
    ].join("\n");
    writeFileSync(join(this.dir, "vpn-server.sh"), script);
    this.registry.start(
      "vpn/server",
      [
        "ip",
        "netns",
        "exec",
        this.vpn,
        "unshare",
        "-m",
        "--propagation",
        "private",
        "/bin/bash",
        join(this.dir, "vpn-server.sh"),
      ],
      join(this.dir, "vpn-server.log"),
    );
  }

  private buildKubeDns(): void {
    const a = this.addresses;
    this.kubeDnsPod();
    this.writeClusterRecords(undefined);
    this.kubeDnsDaemon = this.startDnsmasq(
      "kube-system/kube-dns",
      this.dns,
      [
        `--addn-hosts=${join(this.dir, "cluster.hosts")}`,
        `--local=/${this.plan.cluster.domain}/`,
        `--server=${a.resolver}`,
        `--listen-address=${a.kubeDns}`,
        "--bind-interfaces",
        "--cache-size=0",
        "--log-queries=extra",
        `--log-facility=${join(this.dir, "kube-dns.log")}`,
        `--pid-file=${join(this.dir, "kube-dns.pid")}`,
      ],
      join(this.dir, "kube-dns.out"),
    );
  }

  private kubeDnsPod(): void {
    const a = this.addresses;
    this.plugIntoPodBridge("kubedns", this.dns);
    this.inNs(this.dns, "ip", "addr", "add", `${a.kubeDns}/${a.podPrefix}`, "dev", "eth0");
    this.inNs(this.dns, "ip", "link", "set", "eth0", "up");
    this.inNs(this.dns, "ip", "route", "add", "default", "via", a.nodeBridge);
  }

  /**
   * A dnsmasq of the lab's own (the internet's resolver, kube-dns, another pod's DHCP server) in
   * `netns`, in the foreground, reading no config file, resolv.conf or hosts file: only `options`.
   */
  startDnsmasq(name: string, netns: string, options: readonly string[], logFile: string): Daemon {
    return this.registry.start(
      name,
      [
        "ip",
        "netns",
        "exec",
        netns,
        "dnsmasq",
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--user=root",
        ...options,
      ],
      logFile,
    );
  }

  /** A pod's `eth0`: a veth at the pod network's MTU whose node side (`v<name>`) is a port of the pod bridge. */
  plugIntoPodBridge(name: string, netns: string): void {
    const mtu = String(this.plan.cluster.podMtu);
    const hostSide = `v${name}`.slice(0, 15);
    const peer = ["peer", "name", "eth0", "mtu", mtu, "netns", netns];
    must(["ip", "-n", this.node, "link", "add", hostSide, "mtu", mtu, "type", "veth", ...peer]);
    must(["ip", "-n", this.node, "link", "set", hostSide, "master", "cni0", "up"]);
  }

  /**
   * Another pod on the pod network, outside the plan (any workload of the cluster): its own
   * network namespace on the pod bridge at `ip`, with a default route via the node. Returns its
   * namespace; {@link removeOtherPod} deletes it.
   */
  addOtherPod(name: string, ip: string): string {
    const netns = this.registry.netns(this.nsName(name));
    this.plugIntoPodBridge(name, netns);
    this.inNs(netns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
    this.inNs(netns, "ip", "link", "set", "lo", "up");
    this.inNs(netns, "ip", "addr", "add", `${ip}/${this.addresses.podPrefix}`, "dev", "eth0");
    this.inNs(netns, "ip", "link", "set", "eth0", "up");
    this.inNs(netns, "ip", "route", "add", "default", "via", this.addresses.nodeBridge);
    return netns;
  }

  removeOtherPod(name: string): void {
    run(["ip", "netns", "del", this.nsName(name)]);
    run(["ip", "-n", this.node, "link", "del", `v${name}`.slice(0, 15)]);
  }

  /** The node's MAC address on the pod bridge: where a pod's frames to anything off its link go. */
  bridgeMac(): string {
    return must(["ip", "netns", "exec", this.node, "cat", "/sys/class/net/cni0/address"]).trim();
  }

  /** kube-dns records: the `kubernetes` Service, and the gateway's headless Service when it has a ready pod. */
  writeClusterRecords(gatewayIp: string | undefined): void {
    const domain = this.plan.cluster.domain;
    const lines = [
      `${this.addresses.kubernetesService} kubernetes.default.svc.${domain}`,
      ...(gatewayIp ? [`${gatewayIp} ${this.plan.gatewayFqdn}`] : []),
    ];
    writeFileSync(join(this.dir, "cluster.hosts"), `${lines.join("\n")}\n`);
    if (this.kubeDnsDaemon) {
      // dnsmasq re-reads its hosts files on SIGHUP (like CoreDNS picking up new endpoints).
      const pid = Number(readFileSync(join(this.dir, "kube-dns.pid"), "utf8").trim());
      process.kill(pid, "SIGHUP");
    }
  }

  gluetunEnv(): Record<string, string> {
    const gluetun = [...this.plan.gateway.initContainers, ...this.plan.gateway.containers].find((c) =>
      GLUETUN_IMAGE.test(c.image),
    );
    return { ...(gluetun?.env ?? {}) };
  }

  /** Waits (bounded) until the VPN server and the internet services listen. */
  async waitForServices(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      const udp = run(["ip", "netns", "exec", this.internet, "cat", "/proc/net/udp"]).stdout;
      const tcp = run(["ip", "netns", "exec", this.internet, "cat", "/proc/net/tcp"]).stdout;
      const wgUp =
        run(["ip", "-n", this.vpn, "link", "show", "wg0"]).code === 0 &&
        run(["ip", "-n", this.vpn, "link", "show", "wg0", "up"]).stdout.includes("UP");
      if (udp.includes(":0035 ") && tcp.includes(":0050 ") && wgUp && existsSync(join(this.dir, "kube-dns.pid"))) {
        // The resolver answers from the signed root zone once NSD has loaded it.
        const answer = run(
          [
            "ip",
            "netns",
            "exec",
            this.internet,
            "dig",
            "+time=1",
            "+tries=1",
            "+short",
            `@${this.addresses.resolver}`,
            `ready.${TRACKER_DOMAIN}`,
          ],
          3000,
        );
        if (answer.stdout.trim() === this.addresses.web) {
          return;
        }
      }
      await sleep(100);
    }
    throw new LabError(`the lab's internet services or VPN server did not start (logs in ${this.dir})`);
  }

  /** Layer 1 on: the plan's NetworkPolicies as nftables rules on the node; off: none. */
  setLayer1(on: boolean, pods: readonly Pod[]): void {
    run(["ip", "netns", "exec", this.node, "nft", "delete", "table", "inet", POLICY_TABLE]);
    this.layer1 = on;
    if (!on) {
      return;
    }
    const policyPods: PolicyPod[] = [
      ...pods.map((pod) => ({ name: pod.name, namespace: pod.spec.namespace, labels: pod.spec.labels, ip: pod.ip })),
      { name: "kube-dns", namespace: "kube-system", labels: { "k8s-app": "kube-dns" }, ip: this.addresses.kubeDns },
    ];
    const ruleset = policyRuleset(POLICY_TABLE, this.plan.policies, policyPods, this.plan.namespaceLabels);
    writeFileSync(join(this.dir, "networkpolicy.nft"), ruleset);
    must(["ip", "netns", "exec", this.node, "nft", "-f", "-"], 10_000, ruleset);
  }

  readCounters(): InternetCounters {
    return parseCounters(
      must(["ip", "netns", "exec", this.internet, "nft", "-j", "list", "counters", "table", "inet", COUNTER_TABLE]),
    );
  }

  resetCounters(): void {
    must(["ip", "netns", "exec", this.internet, "nft", "reset", "counters", "table", "inet", COUNTER_TABLE]);
    must(["ip", "netns", "exec", this.node, "nft", "reset", "counters", "table", "bridge", FRAGMENT_TABLE]);
  }

  /** IPv4 fragments pods sent into the pod network since the last reset. */
  readFragments(): number {
    return namedCounter(
      must(["ip", "netns", "exec", this.node, "nft", "-j", "list", "counters", "table", "bridge", FRAGMENT_TABLE]),
      "fragments",
    );
  }

  /** The MTU of a link in a namespace, or undefined when it has no such link. */
  linkMtu(netns: string, device: string): number | undefined {
    const result = run(["ip", "-n", netns, "-o", "link", "show", "dev", device]);
    return result.code === 0 ? parseLinkMtu(result.stdout) : undefined;
  }

  resolverLines(): string {
    return existsSync(this.resolverLog) ? readFileSync(this.resolverLog, "utf8") : "";
  }

  /** Prepares a container's root and returns the launcher script that mounts it and execs the command. */
  /** `shell` is the container's /bin/bash under its capabilities (Container.bounded). */
  prepareContainer(pod: Pod, spec: LabContainer, dir: string, shell: readonly string[]): string {
    // gluetun's image entrypoint (/gluetun-entrypoint) is the reproduction; an app's image (not
    // run) gets a process the probes can enter.
    const command =
      spec.command.length > 0
        ? spec.command
        : GLUETUN_IMAGE.test(spec.image)
          ? ["/gluetun-entrypoint"]
          : ["sleep", "infinity"];
    const image = POD_GATEWAY_IMAGE.test(spec.image)
      ? this.podGatewayImage()
      : GLUETUN_IMAGE.test(spec.image)
        ? this.gluetunImage()
        : this.appImage();
    const root = join(dir, "root");
    for (const sub of ["usr", "etc", "proc", "sys", "dev", "run", "tmp", "var"]) {
      mkdirSync(join(root, sub), { recursive: true });
    }
    for (const [name, target] of [
      ["bin", "usr/bin"],
      ["sbin", "usr/sbin"],
      ["lib", "usr/lib"],
      ["lib64", "usr/lib64"],
    ]) {
      try {
        symlinkSync(target, join(root, name));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
          throw error;
        }
      }
    }
    mkdirSync(join(dir, "etc-upper"), { recursive: true });
    mkdirSync(join(dir, "etc-work"), { recursive: true });
    const mounts: string[] = [];
    const configMounts = Object.entries(spec.configMounts);
    configMounts.forEach(([mountPath, files], index) => {
      const source = join(dir, `configmap-${index}`);
      mkdirSync(source, { recursive: true });
      for (const [file, content] of Object.entries(files)) {
        writeFileSync(join(source, file), content);
      }
      mounts.push(`mkdir -p ${root}${mountPath} && mount --bind -o ro ${source} ${root}${mountPath}`);
    });
    if (POD_GATEWAY_IMAGE.test(spec.image)) {
      mounts.push(
        `mkdir -p ${root}/default_config && mount --bind -o ro ${join(this.upstream, "pod-gateway-v1.13.0", "config")} ${root}/default_config`,
      );
    }
    if (GLUETUN_IMAGE.test(spec.image)) {
      writeFileSync(join(root, "gluetun-entrypoint"), "");
      mounts.push(
        `mount --bind -o ro ${join(image, "usr", "lib", "gluetun-lab", "gluetun.sh")} ${root}/gluetun-entrypoint`,
      );
    }
    for (const [path, volume] of Object.entries(spec.emptyDirMounts)) {
      // An emptyDir lives as long as the pod: one directory, shared by the containers that mount it.
      const source = join(this.dir, "pods", pod.name, "volumes", volume);
      mkdirSync(source, { recursive: true });
      mounts.push(`mkdir -p ${root}${path} && mount --bind ${source} ${root}${path}`);
    }
    const secretVolumes = labSecretVolumeFiles(spec.env);
    spec.otherMounts.forEach((path, index) => {
      const files = secretVolumes[path];
      if (files === undefined) {
        mounts.push(`mkdir -p ${root}${path} && mount -t tmpfs tmpfs ${root}${path}`);
        return;
      }
      // A Secret volume the lab fills (lab/portForward.ts), read-only as the kubelet mounts it.
      const source = join(dir, `secret-${index}`);
      mkdirSync(source, { recursive: true });
      for (const [file, content] of Object.entries(files)) {
        writeFileSync(join(source, file), content);
      }
      mounts.push(`mkdir -p ${root}${path} && mount --bind -o ro ${source} ${root}${path}`);
    });
    const env: Record<string, string> = {
      PATH,
      HOSTNAME: pod.hostname,
      // The kubelet's Service env for the `kubernetes` Service (client_init.sh tests it).
      KUBERNETES_SERVICE_HOST: this.addresses.kubernetesService,
      KUBERNETES_SERVICE_PORT: "443",
      ...spec.env,
    };
    for (const name of spec.secretEnv) {
      env[name] =
        name === "WIREGUARD_PRIVATE_KEY"
          ? this.keys!.clientPrivate
          : name === "HTTP_CONTROL_SERVER_AUTH_DEFAULT_ROLE"
            ? controlServerRole(labSecretValue("api-key"))
            : labSecretValue(name);
    }
    writeFileSync(
      join(root, ".lab-env"),
      Object.entries(env)
        .map(([k, v]) => `export ${k}=${shellQuote(v)}`)
        .join("\n") + "\n",
    );
    const argv = [...command, ...spec.args];
    const bounded = shell.map(shellQuote);
    const launcher = join(dir, "launch.sh");
    writeFileSync(
      launcher,
      [
        "set -e",
        `R=${root}`,
        `mount -t overlay overlay -o lowerdir=${image}/usr:/usr $R/usr`,
        `mount -t overlay overlay -o lowerdir=${image}/etc:/etc,upperdir=${dir}/etc-upper,workdir=${dir}/etc-work $R/etc`,
        // The kubelet's resolv.conf: one file per pod, bind-mounted into every container.
        "rm -f $R/etc/resolv.conf && touch $R/etc/resolv.conf",
        `mount --bind ${join(this.dir, "pods", pod.name, "resolv.conf")} $R/etc/resolv.conf`,
        "mount -t proc proc $R/proc",
        "mount --rbind /sys $R/sys",
        "mount --rbind /dev $R/dev",
        "mount -t tmpfs tmpfs $R/run && mkdir -p $R/run/wireguard",
        "mount -t tmpfs tmpfs $R/tmp",
        "mount -t tmpfs tmpfs $R/var && mkdir -p $R/var/lib/misc $R/var/log && ln -s /run $R/var/run",
        ...mounts,
        `hostname ${pod.hostname}`,
        // The mounts above need root's capabilities; the container's processes get only its own.
        `exec chroot $R ${bounded.join(" ")} -c '. /.lab-env; exec "$@"' ${shellQuote(spec.name)} ${argv.map(shellQuote).join(" ")}`,
        "",
      ].join("\n"),
    );
    return launcher;
  }

  private imageDir(name: string): string {
    return join(this.dir, "images", name);
  }

  /** What the pod-gateway v1.13.0 image adds to a Debian userland: its scripts and Alpine's busybox tools. */
  private podGatewayImage(): string {
    const image = this.imageDir("pod-gateway");
    if (existsSync(image)) {
      return image;
    }
    const bin = join(image, "usr", "bin");
    mkdirSync(bin, { recursive: true });
    const scripts = join(this.upstream, "pod-gateway-v1.13.0", "bin");
    for (const script of [
      "client_init.sh",
      "client_sidecar.sh",
      "copy_resolv.sh",
      "gateway_init.sh",
      "gateway_sidecar.sh",
    ]) {
      copyFileSync(join(scripts, script), join(bin, script));
      chmodSync(join(bin, script), 0o755);
    }
    // Alpine's busybox applets the scripts call (udhcpc, ping, killall, route).
    for (const applet of ["udhcpc", "ping", "killall", "route"]) {
      symlinkSync("/usr/bin/busybox", join(bin, applet));
    }
    // Debian's busybox lacks inotifyd: the same contract (busybox miscutils/inotifyd.c: run
    // PROG EVENT FILE on each event; c = content modified, e = metadata changed) on inotifywait.
    writeFileSync(
      join(bin, "inotifyd"),
      [
        "#!/bin/bash",
        "prog=$1; file=${2%%:*}",
        'inotifywait -q -m -e modify,attrib,close_write --format "%e" "$file" | while read -r ev; do',
        '  case "$ev" in *MODIFY*|*CLOSE_WRITE*) "$prog" c "$file" ;; *) "$prog" e "$file" ;; esac',
        "done",
        "",
      ].join("\n"),
    );
    chmodSync(join(bin, "inotifyd"), 0o755);
    const etc = join(image, "etc");
    mkdirSync(join(etc, "dnsmasq.d"), { recursive: true });
    mkdirSync(join(etc, "udhcpc"), { recursive: true });
    // Alpine's dnsmasq package: /etc/dnsmasq.conf reads /etc/dnsmasq.d/*.conf, where the sidecar writes its config.
    writeFileSync(join(etc, "dnsmasq.conf"), "conf-dir=/etc/dnsmasq.d/,*.conf\n");
    // Alpine's udhcpc event script, where Debian's busybox udhcpc looks for its default script.
    copyFileSync(join(this.upstream, "alpine-udhcpc-default.script"), join(etc, "udhcpc", "default.script"));
    chmodSync(join(etc, "udhcpc", "default.script"), 0o755);
    // Alpine's dnsmasq-dnssec installs dnsmasq's trust-anchors.conf (the real root's DS) as
    // /usr/share/dnsmasq/trust-anchors.conf (aports main/dnsmasq APKBUILD), the file
    // gateway_sidecar.sh has dnsmasq read; the lab's file holds the DS of the lab's root instead.
    const share = join(image, "usr", "share", "dnsmasq");
    mkdirSync(share, { recursive: true });
    writeFileSync(
      join(share, "trust-anchors.conf"),
      `# The lab internet's root key (lab/dnssec.ts), where the image has the real root's.\n${this.trustAnchor!}\n`,
    );
    return image;
  }

  private gluetunImage(): string {
    const image = this.imageDir("gluetun");
    if (existsSync(image)) {
      return image;
    }
    const lib = join(image, "usr", "lib", "gluetun-lab");
    mkdirSync(lib, { recursive: true });
    mkdirSync(join(image, "etc"), { recursive: true });
    writeFileSync(join(lib, "client.key"), this.keys!.clientPrivate, { mode: 0o600 });
    writeFileSync(join(lib, "dns.js"), DNS_SERVER_JS);
    writeFileSync(join(lib, "control.js"), CONTROL_SERVER_JS);
    writeFileSync(
      join(lib, "gluetun.sh"),
      gluetunScript({
        env: this.gluetunEnv(),
        endpointIp: this.addresses.vpnServer,
        endpointPort: Number(this.plan.gatewaySettings.VPN_TRAFFIC_PORT),
        serverPublicKey: this.keys!.serverPublic,
        privateKeyFile: "/usr/lib/gluetun-lab/client.key",
        dnsServerScript: "/usr/lib/gluetun-lab/dns.js",
        controlServerScript: "/usr/lib/gluetun-lab/control.js",
      }),
    );
    chmodSync(join(lib, "gluetun.sh"), 0o755);
    return image;
  }

  /** The app container: the lab runs probes in it (curl, bash, dig, lab/appProbes.ts), not the app. */
  private appImage(): string {
    const image = this.imageDir("app");
    if (existsSync(image)) {
      return image;
    }
    const bin = join(image, "usr", "bin");
    mkdirSync(bin, { recursive: true });
    mkdirSync(join(image, "etc"), { recursive: true });
    const probes = join(image, APP_PROBE_DIR);
    mkdirSync(probes, { recursive: true });
    writeFileSync(join(probes, "bound.pl"), BOUND_SOCKET_PL);
    writeFileSync(join(probes, "frame.pl"), RAW_FRAME_PL);
    return image;
  }

  /** gluetun's firewall fallback, run in the gateway pod (see lab/gluetun.ts). */
  fallback(pod: Pod): void {
    for (const argv of FALLBACK_COMMANDS) {
      must(["ip", "netns", "exec", pod.netns, ...argv]);
    }
  }
}
