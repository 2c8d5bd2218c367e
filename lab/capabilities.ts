/**
 * The capabilities a container runtime gives a container, so the lab runs each planned container
 * with exactly those and no more: a non-privileged container gets the runtime's default set plus
 * its `securityContext.capabilities.add`, minus its `drop`; a privileged one keeps all of them.
 * Pure: the launcher applies the result with util-linux `setpriv`.
 */

/**
 * CRI-O's default capabilities (cri-o internal/config/capabilities/capabilities_linux.go,
 * `Default()`; the `default_capabilities` of crio.conf). NET_RAW is not among them, unlike
 * Docker's and containerd's defaults, so a pod that pings must ask for it.
 */
export const CRIO_DEFAULT_CAPABILITIES: readonly string[] = [
  "CHOWN",
  "DAC_OVERRIDE",
  "FSETID",
  "FOWNER",
  "SETGID",
  "SETUID",
  "SETPCAP",
  "NET_BIND_SERVICE",
  "KILL",
];

/**
 * containerd's default capabilities (containerd v2.1.9 pkg/oci/spec.go, `defaultUnixCaps`), which
 * Docker shares: NET_RAW among them, so an app container that does not drop it can send raw frames.
 */
export const CONTAINERD_DEFAULT_CAPABILITIES: readonly string[] = [
  "CHOWN",
  "DAC_OVERRIDE",
  "FSETID",
  "FOWNER",
  "MKNOD",
  "NET_RAW",
  "SETGID",
  "SETUID",
  "SETFCAP",
  "SETPCAP",
  "NET_BIND_SERVICE",
  "SYS_CHROOT",
  "KILL",
  "AUDIT_WRITE",
];

/** Linux capability names by number (linux/include/uapi/linux/capability.h, 0 to 40). */
export const LINUX_CAPABILITIES: readonly string[] = [
  "CHOWN",
  "DAC_OVERRIDE",
  "DAC_READ_SEARCH",
  "FOWNER",
  "FSETID",
  "KILL",
  "SETGID",
  "SETUID",
  "SETPCAP",
  "LINUX_IMMUTABLE",
  "NET_BIND_SERVICE",
  "NET_BROADCAST",
  "NET_ADMIN",
  "NET_RAW",
  "IPC_LOCK",
  "IPC_OWNER",
  "SYS_MODULE",
  "SYS_RAWIO",
  "SYS_CHROOT",
  "SYS_PTRACE",
  "SYS_PACCT",
  "SYS_ADMIN",
  "SYS_BOOT",
  "SYS_NICE",
  "SYS_RESOURCE",
  "SYS_TIME",
  "SYS_TTY_CONFIG",
  "MKNOD",
  "LEASE",
  "AUDIT_WRITE",
  "AUDIT_CONTROL",
  "SETFCAP",
  "MAC_OVERRIDE",
  "MAC_ADMIN",
  "SYSLOG",
  "WAKE_ALARM",
  "BLOCK_SUSPEND",
  "AUDIT_READ",
  "PERFMON",
  "BPF",
  "CHECKPOINT_RESTORE",
];

/** What a container's securityContext asks for. */
export interface CapabilityRequest {
  readonly privileged: boolean;
  /** `securityContext.capabilities.add`. */
  readonly add: readonly string[];
  /** `securityContext.capabilities.drop`. */
  readonly drop: readonly string[];
}

/** The container's capability set: every capability, or the named ones. */
export type CapabilitySet = { readonly all: true } | { readonly all: false; readonly names: readonly string[] };

/** `net_raw`, `CAP_NET_RAW` and `NET_RAW` are the same capability (the runtime upper-cases and strips `CAP_`). */
function normalize(name: string): string {
  return name.trim().toUpperCase().replace(/^CAP_/, "");
}

/**
 * The set the runtime gives the container, in capability-number order, the way CRI-O builds it
 * (cri-o internal/factory/container/container.go, SpecSetupCapabilities, and its tests): the
 * defaults plus `add`, minus `drop`, so a drop wins over an add of the same name; `ALL` in add
 * starts from every capability; `ALL` in drop leaves only what add names (nothing if add is `ALL`).
 * An unknown name is refused, as CRI-O refuses to create the container.
 */
export function containerCapabilities(
  request: CapabilityRequest,
  defaults: readonly string[] = CRIO_DEFAULT_CAPABILITIES,
): CapabilitySet {
  if (request.privileged) {
    return { all: true };
  }
  const add = request.add.map(normalize);
  const drop = request.drop.map(normalize);
  const unknown = [...add, ...drop].filter((name) => name !== "ALL" && !LINUX_CAPABILITIES.includes(name));
  if (unknown.length > 0) {
    throw new Error(`unknown capabilities: ${unknown.join(", ")}`);
  }
  const addAll = add.includes("ALL");
  const granted = drop.includes("ALL")
    ? addAll
      ? []
      : add
    : [...(addAll ? LINUX_CAPABILITIES : [...defaults.map(normalize), ...add])].filter((name) => !drop.includes(name));
  const names = new Set(granted);
  return { all: false, names: LINUX_CAPABILITIES.filter((name) => names.has(name)) };
}

/**
 * util-linux `setpriv` arguments that bound a process and everything it starts to the set, as the
 * OCI runtime sets it up for CRI-O: the bounding set is the container's set (a root process gets
 * it back as permitted and effective on every exec, and can never gain more), the inheritable and
 * ambient sets are empty (CRI-O's `add_inheritable_capabilities` is off by default). No capability
 * arguments for a privileged container; `user` switches to that uid and gid, without supplementary groups.
 */
export function setprivArgs(set: CapabilitySet, user?: ProcessUser): string[] {
  const identity = user ? [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups"] : [];
  if (set.all) {
    return identity;
  }
  const bounding = ["-all", ...set.names.map((name) => `+${name.toLowerCase()}`)].join(",");
  return [...identity, "--inh-caps=-all", "--ambient-caps=-all", `--bounding-set=${bounding}`];
}

/**
 * A non-root user a process runs as, like LinuxServer's `s6-setuidgid abc` for the app: changing to
 * it from root clears the permitted and effective capabilities (capabilities(7), "Effect of user ID
 * changes on capabilities"), so the process holds none, whatever the bounding set.
 */
export interface ProcessUser {
  readonly uid: number;
  readonly gid: number;
}

/** The capability names in a `/proc/<pid>/status` mask such as `CapBnd:\t00000000000030fb`. */
export function capabilityNames(hexMask: string): string[] {
  const mask = BigInt(`0x${hexMask.trim()}`);
  return LINUX_CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

/** Reads one capability mask (`CapBnd`, `CapEff`, …) from a `/proc/<pid>/status` text. */
export function statusCapabilities(
  status: string,
  field: "CapInh" | "CapPrm" | "CapEff" | "CapBnd" | "CapAmb",
): string[] | undefined {
  const line = status.split("\n").find((l) => l.startsWith(`${field}:`));
  return line === undefined ? undefined : capabilityNames(line.slice(field.length + 1));
}

/** For the lab log: `all (privileged)` or the names. */
export function describeCapabilities(set: CapabilitySet): string {
  return set.all ? "all (privileged)" : set.names.length > 0 ? set.names.join(",") : "none";
}
