import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ClusterFacts } from "../lib/cluster/settings";
import { TEST_CLUSTER } from "./support/clusterFacts";
import { vpnSchema } from "../lib/vpn/settings";
import { GUARD_CHAINS, forwardGuardScript, gluetunPostRules } from "../lib/vpn/guard";
import { ROUTE_GROUP_ID, ROUTE_GUARD_CHAINS, routeCommonScript, routeGuardScript } from "../lib/vpn/routeGuard";
import { IptablesTable, Netns, Packet, verdict } from "./support/iptables";

// The guard scripts run for real: under busybox sh (the pod-gateway image's /bin/sh, Alpine) and
// dash, with the machine's iptables (nf_tables, as Alpine's), in one throwaway network namespace
// per file, emptied before each script. The verdicts come from the rules the kernel then holds.

const CLUSTER: ClusterFacts = { ...TEST_CLUSTER, lanCidr: "192.168.50.0/24" };
const MULLVAD = vpnSchema.parse({ provider: "mullvad" });
const APP_GID = 1000;

/** The pod-gateway image's /bin/sh (Alpine's busybox ash), and dash for a second POSIX shell. */
const BUSYBOX = ["busybox", "sh"];
const DASH = ["dash"];

let netns: Netns;
let dir: string;

before(() => {
  netns = new Netns();
  dir = mkdtempSync(path.join(tmpdir(), "guard-scripts-"));
});

after(() => {
  netns?.remove();
  rmSync(dir, { recursive: true, force: true });
});

function scriptFile(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** Runs a script in the namespace; its exit status and what it printed. */
function runScript(file: string, shell: readonly string[] = BUSYBOX, env?: NodeJS.ProcessEnv) {
  const result = netns.exec([...shell, file], env);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function installed(file: string, shell: readonly string[] = BUSYBOX): void {
  const { status, output } = runScript(file, shell);
  assert.equal(status, 0, `${shell.join(" ")} ${path.basename(file)}: ${output}`);
  assert.equal(output, "", "the script prints nothing when it succeeds");
}

/** The jumps of a built-in chain to the guard's chains, in order. */
function hooks(table: IptablesTable, chain: string, guardChain: string): number[] {
  return (table.chains[chain] ?? []).flatMap((rule, index) => (rule.target === guardChain ? [index] : []));
}

/**
 * An `iptables` ahead of the real one in PATH that refuses every DROP rule, as a kernel without a
 * module or a typo would: the script must fail, so the init container fails and the pod never starts
 * with half a guard.
 */
function refusingIptables(): NodeJS.ProcessEnv {
  const real = spawnSync("sh", ["-c", "command -v iptables"], { encoding: "utf8" }).stdout.trim();
  assert.ok(real, "iptables is installed");
  const bin = mkdtempSync(path.join(dir, "refusing-bin-"));
  const wrapper = path.join(bin, "iptables");
  writeFileSync(
    wrapper,
    `#!/bin/sh\ncase " $* " in *" -j DROP "*) echo "iptables: refused" >&2; exit 1;; esac\nexec ${real} "$@"\n`,
  );
  chmodSync(wrapper, 0o755);
  return { ...process.env, PATH: `${bin}:${process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin"}` };
}

describe("the gateway's forward guard (forward-guard.sh), run in a network namespace", () => {
  const guard = (vpn = MULLVAD) => scriptFile("forward-guard.sh", forwardGuardScript(vpn, CLUSTER));
  const mangle = () => netns.table("iptables", "mangle");
  /** Installs the guard for `vpn` and returns what the gateway's own packets get (mangle OUTPUT, UDP unless given). */
  const ownTraffic = (vpn = MULLVAD) => {
    netns.reset();
    installed(guard(vpn));
    const table = mangle();
    return (packet: Omit<Packet, "protocol"> & Partial<Packet>) =>
      verdict(table, "OUTPUT", { protocol: "udp", ...packet });
  };

  it("installs its chains under busybox sh, and a second run (under dash) leaves the same rules, each hooked once", () => {
    netns.reset();
    const file = guard();
    installed(file, BUSYBOX);
    const first = mangle();
    assert.deepEqual(hooks(first, "FORWARD", GUARD_CHAINS.forward), [0]);
    assert.deepEqual(hooks(first, "OUTPUT", GUARD_CHAINS.output), [0]);
    installed(file, DASH);
    assert.deepEqual(mangle(), first);
  });

  it("fails, before hooking anything, when one of its rules fails", () => {
    netns.reset();
    const { status, output } = runScript(guard(), BUSYBOX, refusingIptables());
    assert.notEqual(status, 0, output);
    assert.deepEqual(hooks(mangle(), "FORWARD", GUARD_CHAINS.forward), []);
    assert.deepEqual(hooks(mangle(), "OUTPUT", GUARD_CHAINS.output), []);
  });

  it("switches IPv6 off in the pod: no interface keeps an IPv6 address, and one created afterwards (the tunnel, vxlan0) gets none", () => {
    netns.reset();
    const scopes = ["all", "default"];
    netns.run(["sh", "-c", scopes.map((s) => `echo 0 > /proc/sys/net/ipv6/conf/${s}/disable_ipv6`).join("; ")]);
    netns.run(["ip", "link", "set", "lo", "up"]);
    assert.match(netns.run(["ip", "-6", "-o", "addr"]), /inet6 ::1\//, "before the guard, loopback has ::1");
    installed(guard());
    assert.equal(netns.run(["ip", "-6", "-o", "addr"]), "");
    for (const scope of scopes) {
      assert.equal(netns.run(["cat", `/proc/sys/net/ipv6/conf/${scope}/disable_ipv6`]).trim(), "1", scope);
    }
  });

  it("forwards client traffic only from vxlan0 into the tunnel and back", () => {
    netns.reset();
    installed(guard());
    const table = mangle();
    const forward = (inIf: string, out: string) =>
      verdict(table, "FORWARD", { in: inIf, out, dst: "1.1.1.1", protocol: "tcp", dport: 443 });
    assert.equal(forward("vxlan0", "wg0"), "ACCEPT");
    assert.equal(forward("wg0", "vxlan0"), "ACCEPT");
    assert.equal(forward("vxlan0", "eth0"), "DROP", "a client's packet routed out of eth0 while the tunnel is down");
    assert.equal(forward("eth0", "vxlan0"), "DROP");
  });

  it("lets the gateway's own traffic out through loopback, the tunnel, vxlan0, into the cluster and to the VPN port only", () => {
    const own = ownTraffic();
    assert.equal(own({ out: "lo", dst: "127.0.0.1", dport: 53 }), "ACCEPT", "dnsmasq");
    assert.equal(
      own({ out: "lo", dst: "127.0.0.1", protocol: "tcp", dport: 9999 }),
      "ACCEPT",
      "gluetun's health server",
    );
    assert.equal(own({ out: "wg0", dst: "1.1.1.1", dport: 53 }), "ACCEPT", "the resolver through the tunnel");
    assert.equal(own({ out: "wg0", dst: "93.184.216.34", protocol: "tcp", dport: 443 }), "ACCEPT");
    assert.equal(own({ out: "vxlan0", dst: "172.16.0.20", dport: 68 }), "ACCEPT", "DHCP answers to a client");
    for (const dst of ["10.244.3.4", "10.96.0.10", "192.168.50.1"]) {
      assert.equal(own({ out: "eth0", dst, dport: 4789 }), "ACCEPT", dst);
    }
    assert.equal(own({ out: "eth0", dst: "185.65.134.1", dport: 51820 }), "ACCEPT", "to the VPN server");
    assert.equal(own({ out: "eth0", dst: "185.65.134.1", protocol: "tcp", dport: 443 }), "DROP");
    assert.equal(own({ out: "eth0", dst: "1.1.1.1", dport: 53 }), "DROP", "the resolver outside the tunnel");
    assert.equal(own({ out: "eth0", dst: "192.168.51.1", dport: 53 }), "DROP", "outside the LAN range");
  });

  it("a VPN server on port 53: UDP 53 leaves for the server, never for the resolver", () => {
    const own = ownTraffic(vpnSchema.parse({ provider: "ivpn", endpointPort: 53 }));
    assert.equal(own({ out: "eth0", dst: "185.65.134.1", dport: 53 }), "ACCEPT");
    assert.equal(own({ out: "eth0", dst: "1.1.1.1", dport: 53 }), "DROP");
  });

  it("a known server (vpn.endpointIp): the VPN port only to that address", () => {
    const own = ownTraffic(
      vpnSchema.parse({
        provider: "custom",
        addresses: ["10.64.222.21/32"],
        publicKey: "uLhRPiUgK1oYyb8yhTcVSUTdXbLBOkfhL4jlGvVFJnE=",
        endpointIp: "203.0.113.10",
        endpointPort: 51820,
      }),
    );
    assert.equal(own({ out: "eth0", dst: "203.0.113.10", dport: 51820 }), "ACCEPT");
    assert.equal(own({ out: "eth0", dst: "203.0.113.11", dport: 51820 }), "DROP");
  });
});

describe("gluetun's post-rules (/iptables/post-rules.txt), run line by line as gluetun v3.41.1 does", () => {
  // gluetun's firewall sets DROP policies before it runs the post-rules (internal/firewall/enable.go
  // `enable`), and runs each line starting with `iptables ` split on spaces, without a shell
  // (internal/firewall/iptables.go `runUserPostRules`); a failing line fails the firewall start.
  function applyPostRules(vpn = MULLVAD): IptablesTable {
    netns.reset();
    for (const chain of ["INPUT", "OUTPUT", "FORWARD"]) {
      netns.run(["iptables", "-w", "--policy", chain, "DROP"]);
    }
    const lines = gluetunPostRules(vpn, CLUSTER)
      .split("\n")
      .filter((line) => line.startsWith("iptables "));
    assert.ok(lines.length > 0);
    // One shell for all lines (cheaper than a process per line), each line's fields quoted: the
    // same argument vectors gluetun passes to iptables.
    const quoted = lines.map(
      (line) =>
        `${line
          .split(" ")
          .map((field) => `'${field}'`)
          .join(" ")} || exit 1`,
    );
    netns.run(["sh", "-c", quoted.join("\n")]);
    return netns.table("iptables", "filter");
  }

  it("every line is one iptables accepts, with port forwarding too", () => {
    applyPostRules(vpnSchema.parse({ provider: "protonvpn", portForwarding: true }));
  });

  it("lets the clients' DHCP, DNS over UDP and TCP and pings in over vxlan0, VXLAN and pings from the pod network on eth0, nothing from the LAN", () => {
    const filter = applyPostRules();
    const input = (packet: Packet) => verdict(filter, "INPUT", packet);
    assert.equal(input({ in: "vxlan0", protocol: "udp", sport: 68, dport: 67 }), "ACCEPT", "DHCP");
    assert.equal(input({ in: "vxlan0", protocol: "udp", dport: 53 }), "ACCEPT", "DNS over UDP");
    assert.equal(input({ in: "vxlan0", protocol: "tcp", dport: 53 }), "ACCEPT", "DNS over TCP (long answers)");
    assert.equal(input({ in: "vxlan0", protocol: "icmp" }), "ACCEPT", "the clients' pings over the overlay");
    assert.equal(input({ in: "vxlan0", protocol: "tcp", dport: 22 }), "DROP");
    assert.equal(input({ in: "eth0", src: "10.244.3.4", protocol: "icmp" }), "ACCEPT", "client_init.sh's ping");
    assert.equal(input({ in: "eth0", src: "10.244.3.4", protocol: "udp", dport: 4789 }), "ACCEPT", "VXLAN");
    assert.equal(input({ in: "eth0", src: "192.168.50.7", protocol: "tcp", dport: 22 }), "DROP", "the LAN");
    const forward = (packet: Packet) => verdict(filter, "FORWARD", packet);
    assert.equal(forward({ in: "vxlan0", out: "wg0", protocol: "tcp", dport: 443 }), "ACCEPT");
    assert.equal(forward({ in: "wg0", out: "vxlan0", protocol: "tcp", state: "ESTABLISHED" }), "ACCEPT");
    assert.equal(forward({ in: "wg0", out: "vxlan0", protocol: "tcp", dport: 22 }), "REJECT", "new from the internet");
  });
});

describe("the routed pod's guard (route-guard.sh), run in a network namespace", () => {
  const guard = () => scriptFile("route-guard.sh", routeGuardScript(MULLVAD, CLUSTER));

  it("installs under busybox sh, hooked first into OUTPUT and INPUT, and a second run (under dash) leaves the same rules", () => {
    netns.reset();
    // Something already in OUTPUT and INPUT: the guard goes before it.
    netns.run(["iptables", "-w", "-A", "OUTPUT", "-j", "ACCEPT"]);
    netns.run(["iptables", "-w", "-A", "INPUT", "-j", "ACCEPT"]);
    const file = guard();
    installed(file, BUSYBOX);
    const filter = () => netns.table("iptables", "filter");
    const first = filter();
    const firstV6 = netns.table("ip6tables", "filter");
    assert.deepEqual(hooks(first, "OUTPUT", ROUTE_GUARD_CHAINS.output), [0]);
    assert.deepEqual(hooks(first, "INPUT", ROUTE_GUARD_CHAINS.vxlanIn), [0]);
    assert.deepEqual(hooks(firstV6, "OUTPUT", ROUTE_GUARD_CHAINS.output), [0]);
    installed(file, DASH);
    assert.deepEqual(filter(), first);
    assert.deepEqual(netns.table("ip6tables", "filter"), firstV6);
  });

  it("fails, before hooking anything, when one of its rules fails", () => {
    netns.reset();
    const { status, output } = runScript(guard(), BUSYBOX, refusingIptables());
    assert.notEqual(status, 0, output);
    assert.deepEqual(hooks(netns.table("iptables", "filter"), "OUTPUT", ROUTE_GUARD_CHAINS.output), []);
  });

  it("as installed: an app's socket on eth0 reaches the cluster but not the internet, DNS only from the route containers, no IPv6, VXLAN from nobody", () => {
    netns.reset();
    installed(guard());
    const filter = netns.table("iptables", "filter");
    const out = (packet: Packet) => verdict(filter, "OUTPUT", packet);
    assert.equal(out({ out: "eth0", dst: "1.1.1.1", protocol: "tcp", dport: 443, gid: APP_GID }), "DROP");
    assert.equal(out({ out: "eth0", dst: "10.244.3.4", protocol: "tcp", dport: 8080, gid: APP_GID }), "ACCEPT");
    assert.equal(out({ out: "lo", dst: "127.0.0.1", protocol: "tcp", dport: 15001, gid: APP_GID }), "ACCEPT");
    assert.equal(out({ out: "vxlan0", dst: "1.1.1.1", protocol: "tcp", dport: 443, gid: APP_GID }), "ACCEPT");
    for (const protocol of ["udp", "tcp"] as const) {
      const dns = { out: "eth0", dst: "10.96.0.10", protocol, dport: 53 };
      assert.equal(out({ ...dns, gid: ROUTE_GROUP_ID }), "ACCEPT", `${protocol}: client_init.sh's dig`);
      assert.equal(out({ ...dns, gid: APP_GID }), "DROP", `${protocol}: the app's own lookup`);
    }
    const v6 = netns.table("ip6tables", "filter");
    assert.equal(verdict(v6, "OUTPUT", { out: "eth0", protocol: "tcp", dport: 443, gid: APP_GID }), "DROP");
    assert.equal(verdict(filter, "INPUT", { in: "eth0", src: "10.244.3.9", protocol: "udp", dport: 4789 }), "DROP");
  });
});

describe("the generated guard files say on each rule why it is there", () => {
  // A person reading the pod's files (kubectl exec … cat, or the ConfigMap) relies on the reason on
  // each rule's line; the scripts' other comment lines are not checked (docs/development.md
  // "Scores and survivors").
  it("forward-guard.sh and route-guard.sh: every rule appended carries a reason", () => {
    const scripts = {
      "forward-guard.sh": forwardGuardScript(MULLVAD, CLUSTER),
      "route-guard.sh": routeGuardScript(
        vpnSchema.parse({ provider: "mullvad", killSwitch: { allowLan: true } }),
        CLUSTER,
      ),
    };
    for (const [name, script] of Object.entries(scripts)) {
      const rules = script.split("\n").filter((line) => /^\s*ip6?tables .* -A /.test(line));
      assert.ok(rules.length > 5, name);
      for (const rule of rules) {
        assert.match(rule, / -j \S+ {2}# \S.*$/, `${name}: ${rule}`);
      }
    }
  });
});

describe("route-common.sh's reconnect, with stand-ins for dig, ping, ip and iptables", () => {
  // The stand-ins record each call. dig +short prints the answer's addresses, one a line, and
  // nothing for a name that does not resolve (BIND 9 dig(1), +short); ping exits non-zero when no
  // reply came (iputils and busybox ping).
  function reconnect(answer: string, pingAnswers: boolean) {
    const bin = mkdtempSync(path.join(dir, "bin-"));
    const calls = path.join(bin, "calls");
    const stub = (name: string, body: string) => {
      writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >> ${calls}\n${body}\n`);
      chmodSync(path.join(bin, name), 0o755);
    };
    stub("dig", answer ? `echo ${answer}` : "exit 0");
    stub("ping", pingAnswers ? "exit 0" : "exit 1");
    stub("ip", "exit 0");
    stub("iptables", "exit 0");
    writeFileSync(calls, "");
    const common = scriptFile("route-common.sh", routeCommonScript());
    const result = spawnSync("busybox", ["sh", "-c", '. "$1" || exit 99; reconnect', "sh", common], {
      encoding: "utf8",
      env: { PATH: `${bin}:${process.env.PATH}`, GATEWAY_NAME: "vpn-gateway.charmarr-vpn", K8S_DNS_IPS: "10.96.0.10" },
    });
    return {
      status: result.status,
      stdout: result.stdout,
      stderr: result.stderr,
      calls: readFileSync(calls, "utf8").trim().split("\n").filter(Boolean),
    };
  }

  it("a gateway name that does not resolve (yet): says so and fails, touching nothing", () => {
    const result = reconnect("", true);
    assert.equal(result.status, 1, result.stderr);
    assert.equal(result.stderr, "");
    assert.match(result.stdout, /vpn-gateway\.charmarr-vpn does not resolve/);
    assert.deepEqual(
      result.calls.map((call) => call.split(" ")[0]),
      ["dig"],
    );
  });

  it("a gateway that does not answer its ping: says so and fails, and VXLAN stays closed to it", () => {
    const result = reconnect("10.244.1.9", false);
    assert.equal(result.status, 1, result.stderr);
    assert.equal(result.stderr, "");
    assert.match(result.stdout, /the gateway 10\.244\.1\.9 does not answer/);
    assert.ok(!result.calls.some((call) => call.startsWith("iptables")), result.calls.join("\n"));
    assert.ok(result.calls.some((call) => call.startsWith("ping") && call.includes("10.244.1.9")));
  });
});
