/**
 * How the verifier reaches the things it checks. One set of probes and verdicts runs over two
 * transports: `kubectl exec` on a live cluster (verify/kubectl.ts) and `ip netns exec` in the
 * network-namespace lab (verify/netns.ts). Probes only ever run argv in a named target; everything
 * transport-specific (pod names, namespaces, wrappers) stays behind this interface.
 */

/** What a target plays in the checks. */
export type TargetRole =
  /** A pod routed through the VPN gateway (a download client); probes run in its route sidecar. */
  | "routed"
  /** A pod that is not routed: what it sees is the home (node) address. */
  | "plain"
  /** The gateway's gluetun container: its control server reports the VPN's public address. */
  | "gluetun";

/** Something commands run in. Transports extend it with how they reach it. */
export interface Target {
  /** What the target plays in the checks. */
  readonly role: TargetRole;
  /** Shown in reports, e.g. `charmarr-downloads/qbittorrent-0`. */
  readonly name: string;
}

export interface ExecOptions {
  /** Kill the command after this long; the result then has `timedOut` set. */
  readonly timeoutMs: number;
  /** Written to the command's standard input, then closed (keeps secrets out of argv). */
  readonly stdin?: string;
}

/**
 * Why a command did not run at all, as opposed to running and failing: the transport decides it
 * from its own wrapper's output (kubectl's errors, `ip netns exec`'s).
 */
export interface TransportFailure {
  /**
   * `unreachable`: the target could not be reached (no such pod or namespace, API server down,
   * container not running); `missing-command`: the target has no such executable.
   */
  readonly kind: "unreachable" | "missing-command";
  /** The transport's own message, one line. */
  readonly message: string;
}

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  /** The command's exit status; `null` when it was killed (timeout) or never ran. */
  readonly exitCode: number | null;
  /** The command ran past `timeoutMs` and was killed. */
  readonly timedOut: boolean;
  /** Set when the command never ran; `exitCode` then says nothing about the command. */
  readonly failure?: TransportFailure;
}

/** Runs commands in targets. */
export interface Transport<T extends Target = Target> {
  /** Runs `argv` (no shell unless argv starts one) in `target`. Never throws for a failed command. */
  exec(target: T, argv: readonly string[], options: ExecOptions): Promise<ExecResult>;
}

/** The gateway pod as the drill sees it. */
export interface GatewayState {
  /** Identifies one incarnation of the gateway (a pod's UID, a lab namespace's name). */
  readonly id: string;
  /** All of its containers run and are ready (gluetun passed its health check). */
  readonly ready: boolean;
}

/** What the `--drill` needs beyond exec: take the gateway away and watch it come back. */
export interface GatewayControl {
  /** Deletes the gateway pod (the lab: replaces it by one with a new address); returns the deleted one's id. */
  deleteGateway(): Promise<string>;
  /** The current gateway pod, or `undefined` while there is none. */
  gatewayState(): Promise<GatewayState | undefined>;
}

/** A routed pod and the labels NetworkPolicies select it by. */
export interface RoutedPod {
  /** `namespace/name`. */
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Its containers' names, where the inventory knows them. */
  readonly containers?: readonly string[];
}

/** A label selector as Kubernetes writes it. */
export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly {
    readonly key: string;
    readonly operator: string;
    readonly values?: readonly string[];
  }[];
}

/** The parts of a NetworkPolicy the kill-switch check reads. */
export interface NetworkPolicySummary {
  readonly name: string;
  readonly namespace: string;
  readonly podSelector: LabelSelector;
  readonly policyTypes: readonly string[];
  /** Egress rules as in the spec; `to` absent means every destination. */
  readonly egress: readonly {
    readonly to?: readonly { readonly ipBlock?: { readonly cidr: string; readonly except?: readonly string[] } }[];
  }[];
}

/** Where routed pods and NetworkPolicies come from: the cluster's API, or a plan's manifests in the lab. */
export interface Inventory {
  /** Pods labelled as routed (`charmarr.io/vpn-routed=true`) in `namespace`. */
  routedPods(namespace: string): Promise<RoutedPod[]>;
  /** Every NetworkPolicy in `namespace`. */
  networkPolicies(namespace: string): Promise<NetworkPolicySummary[]>;
}

/** Time, injectable so the drill's bounded loop is testable without waiting. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const SYSTEM_CLOCK: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
