/**
 * Every program the lab runs, with the Debian package that has it: what `npm run lab` checks before
 * it starts, what `.ci/run` installs (test/lab.test.ts compares the two), and what the lab checks
 * against every command it really ran (see {@link commandsIn}).
 */

/**
 * Program → Debian package (`dpkg -S "$(command -v PROGRAM)"`). Programs the lab runs itself, and
 * the ones the scripts it runs call: pod-gateway v1.13.0's `bin/*.sh`, Alpine's udhcpc script,
 * the gluetun reproduction (lab/gluetun.ts), the plan's own container scripts and the lab's probes.
 */
export const REQUIRED_TOOLS: Readonly<Record<string, string>> = {
  // The lab's namespaces and links; pod-gateway's `ip`, `bridge fdb append`; `ss` for listening sockets.
  ip: "iproute2",
  bridge: "iproute2",
  ss: "iproute2",
  // pod-gateway's and gluetun's filter rules; the plan's guards.
  iptables: "iptables",
  ip6tables: "iptables",
  // Layer 1 (lab/netpol.ts), the leak and fragment counters.
  nft: "nftables",
  wg: "wireguard-tools",
  "wireguard-go": "wireguard-go",
  // The gateway sidecar's DNS and DHCP, kube-dns and the internet's resolver.
  dnsmasq: "dnsmasq-base",
  // udhcpc, the image's ping, killall and route applets, and the internet's httpd.
  busybox: "busybox",
  // The internet's signed root zone (lab/dnssec.ts): its key, its signatures, its servers.
  "ldns-keygen": "ldnsutils",
  "ldns-signzone": "ldnsutils",
  nsd: "nsd",
  // client_init.sh's gateway lookup and the lab's DNS probes.
  dig: "bind9-dnsutils",
  curl: "curl",
  // The port-forwarding scenario's qBittorrent (lab/portForwardScenario.ts).
  "qbittorrent-nox": "qbittorrent-nox",
  // The MTU scenario's don't-fragment pings (`ping -M do`; busybox ping has no -M).
  ping: "iputils-ping",
  // The lab's inotifyd for gateway_sidecar.sh (Debian's busybox has none).
  inotifywait: "inotify-tools",
  // pod-gateway's ip_forward, the pods' sysctls.
  sysctl: "procps",
  // Containers: namespaces, capabilities, mounts, hostname.
  unshare: "util-linux",
  nsenter: "util-linux",
  setpriv: "util-linux",
  mount: "mount",
  hostname: "hostname",
  // The scripts' shells and text tools.
  bash: "bash",
  sh: "dash",
  awk: "mawk",
  grep: "grep",
  chroot: "coreutils",
  cat: "coreutils",
  cut: "coreutils",
  head: "coreutils",
  seq: "coreutils",
  sleep: "coreutils",
  // --record: the commit a recorded run names.
  git: "git",
  // Raw frames crafted by the scenarios (an AF_PACKET socket).
  perl: "perl-base",
};

/** The Debian packages for a list of programs, each once, in the order first named. */
export function packagesFor(programs: readonly string[]): string[] {
  return [...new Set(programs.map((program) => REQUIRED_TOOLS[program] ?? program))];
}

/** util-linux and iproute2 wrappers whose last argument list is another command. */
function unwrap(argv: readonly string[]): { wrapper: string; rest: readonly string[] } | undefined {
  const [command, ...args] = argv;
  if (command === "ip" && args[0] === "netns" && args[1] === "exec") {
    return { wrapper: command, rest: args.slice(3) };
  }
  if (command === "nsenter" || command === "setpriv") {
    const end = args.indexOf("--");
    return end >= 0 ? { wrapper: command, rest: args.slice(end + 1) } : undefined;
  }
  if (command === "unshare") {
    // unshare's options take their values with `=` or as the next word only for --propagation.
    let i = 0;
    while (i < args.length && args[i].startsWith("-")) {
      i += args[i] === "--propagation" ? 2 : 1;
    }
    return { wrapper: command, rest: args.slice(i) };
  }
  if (command === "chroot") {
    return { wrapper: command, rest: args.slice(1) };
  }
  return undefined;
}

/**
 * The programs one argv runs: each wrapper (`ip netns exec`, `nsenter … --`, `setpriv … --`,
 * `unshare`, `chroot ROOT`) and the command it runs, by name (a path counts by its last part).
 */
export function commandsIn(argv: readonly string[]): string[] {
  const found: string[] = [];
  let current: readonly string[] = argv;
  while (current.length > 0) {
    found.push(current[0].split("/").pop() ?? current[0]);
    const next = unwrap(current);
    if (!next) {
      break;
    }
    current = next.rest;
  }
  return found;
}
