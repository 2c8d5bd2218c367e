/**
 * What a scenario is and what it may use of the running lab. The scenarios (lab/scenarios.ts) are
 * data written against {@link LabContext}; lab/lab.ts implements it and runs them, so neither
 * module needs the other.
 */
import type { NetnsTarget, NetnsTransport } from "../verify/netns";
import type { LabAddresses } from "./addresses";
import type { LabContainer } from "./plan";
import type { Exec } from "./probes";
import type { ProcessUser } from "./capabilities";
import type { Container, ExecIdentity, Pod, World } from "./world";

export interface Check {
  readonly ok: boolean;
  readonly text: string;
}

export interface Observation {
  /** Addresses the echo server reported to the client, one per round (undefined: no answer). */
  readonly seen: (string | undefined)[];
  /** Answers to the internet-name lookups, one per round. */
  readonly internetAnswers: (string | undefined)[];
  /** Names looked up in the rounds (unique per lookup so no cache hides a query). */
  readonly names: string[];
}

/** The running lab as a scenario sees it. */
export interface LabContext {
  readonly world: World;
  readonly addresses: LabAddresses;
  /** The current gateway pod (replaced after a scenario that breaks it). */
  readonly gateway: Pod;
  /** The routed client pod. */
  readonly client: Pod;
  readonly transport: NetnsTransport;
  /** Runs argv in the client's app container, under its capabilities (or as `as` says). */
  clientExec(as?: ExecIdentity): Exec;
  /** The routed pod's app container as the plan declares it. */
  appSpec(): LabContainer;
  /** The non-root user the app itself runs as. */
  appUser(): ProcessUser;
  /** The client's app container as the verifier's netns transport reaches it. */
  clientTarget(): NetnsTarget;
  /** A fresh internet name, so no cache hides a lookup from the resolver's log. */
  nextName(): string;
  /** Kills every process of the pod's running container that matches, as a container runtime would. */
  killContainer(pod: Pod, matches: (spec: LabContainer) => boolean, what: string): Promise<Container>;
}

export interface Scenario {
  readonly name: string;
  /** Whether layer 2 (the gateway and the in-pod guard) alone must stop every leak here; false where only layer 1 can. */
  readonly layer2MustHold: boolean;
  /** The fault; the pod it breaks is recreated after it. */
  readonly inject?: (lab: LabContext) => void | Promise<void>;
  /** Which pod the fault breaks (default the gateway); "internet": none, its cleanup undoes the fault. */
  readonly breaks?: "gateway" | "client" | "internet";
  /** Inject again before the layer-2-only round: the pod repairs this fault by itself within seconds. */
  readonly reinject?: boolean;
  /** Probe rounds per layer setting (default 1). */
  readonly rounds?: number;
  /**
   * Extra traffic sent inside each probing window, after the probe rounds, so what it leaks is
   * counted; its assertions with both layers on are reported.
   */
  readonly traffic?: (lab: LabContext) => Promise<Check[]>;
  /** Assertions on what the client saw with both layers on. */
  readonly checks?: (lab: LabContext, seen: Observation, dnsSources: readonly string[]) => Promise<Check[]> | Check[];
  /** Undoes what the fault added besides the broken pod (runs before that pod is recreated). */
  readonly cleanup?: (lab: LabContext) => void | Promise<void>;
  /** Measure the seconds until traffic flows again (the gateway pod is replaced). */
  readonly recovery?: boolean;
  /** How long the lab waits for traffic through the new gateway before it gives up. */
  readonly recoveryLimitSeconds?: number;
  /** The most seconds a recovery may take and pass. */
  readonly recoveryTargetSeconds?: number;
}
