/**
 * The lab's run: the world built once, the gateway and a routed client started from the plan, then
 * each scenario — fault injected, probed with layer 1 on and then off, leaks counted where they
 * reach the internet — and the pods recreated after every scenario that breaks them.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { LabAddresses } from "./addresses";
import { TRACKER_DOMAIN } from "./dnssec";
import { GLUETUN_IMAGE, LabContainer } from "./plan";
import { NetnsTarget, NetnsTransport } from "../verify/netns";
import { publicAddress } from "../verify/probes";
import { Exec, resolve, sendUdp } from "./probes";
import { leakedPackets, queriesFrom, recoveryCheck, ScenarioResult } from "./report";
import type { Check, LabContext, Observation, Scenario } from "./scenario";
import { LabError, run, runAsync, sleep } from "./sys";
import type { ProcessUser } from "./capabilities";
import { Container, ExecIdentity, Pod, World } from "./world";

/** How long traffic must flow through one unchanged tunnel before a restored client counts as settled. */
const SETTLE_MS = 3000;

export class Lab implements LabContext {
  gateway!: Pod;
  client!: Pod;
  private gatewayCount = 0;
  private lookups = 0;
  readonly transport = new NetnsTransport();

  constructor(readonly world: World) {}

  get addresses(): LabAddresses {
    return this.world.addresses;
  }

  get vpnPort(): number {
    return Number(this.world.plan.gatewaySettings.VPN_TRAFFIC_PORT);
  }

  /** The client's app container: where an app's own traffic starts. */
  clientExec(as: ExecIdentity = {}): Exec {
    const app = this.appContainer();
    if (!app?.daemon) {
      throw new LabError("the routed pod has no app container running");
    }
    return (argv, timeoutMs) =>
      runAsync(
        ["nsenter", "-t", String(app.daemon!.pid), "-n", "-m", "-u", "-r", "-w", "--", ...app.bounded(argv, as)],
        timeoutMs,
      );
  }

  /** The routed pod's app as the plan declares it. */
  appSpec(): LabContainer {
    const app = this.client.spec.containers.find((c) => !c.name.startsWith("vpn-route"));
    if (!app) {
      throw new LabError("the routed pod has no app container");
    }
    return app;
  }

  /** The user the app runs as: LinuxServer images run it as `abc`, PUID:PGID from the container's env. */
  appUser(): ProcessUser {
    const env = this.appSpec().env;
    const uid = Number(env.PUID);
    const gid = Number(env.PGID);
    if (!Number.isInteger(uid) || !Number.isInteger(gid) || env.PUID === undefined || env.PGID === undefined) {
      throw new LabError(`the app container ${this.appSpec().name} has no numeric PUID/PGID in its env`);
    }
    return { uid, gid };
  }

  /** The routed pod's app: its first regular container that is not a route container. */
  private appContainer(): Container | undefined {
    return this.client.containers.get(this.appSpec().name);
  }

  /** The routed client as the verifier's netns transport reaches it: its app container. */
  clientTarget(): NetnsTarget {
    const app = this.appContainer();
    if (!app?.daemon) {
      throw new LabError("the routed pod has no app container running");
    }
    return {
      role: "routed",
      name: `${this.client.spec.namespace}/${this.client.hostname}`,
      netns: this.client.netns,
      wrapper: app.wrapper(),
    };
  }

  /** The address the internet's echo server reports for the client, probed by the verifier's own probe. */
  async seenAddress(timeoutMs: number): Promise<string | undefined> {
    const seen = await publicAddress(
      this.transport,
      this.clientTarget(),
      `http://${this.addresses.web}/cgi-bin/ip`,
      timeoutMs,
    );
    if (!seen.ok && process.env.LAB_DEBUG) {
      this.world.log(`  probe: ${seen.kind}: ${seen.message}`);
    }
    return seen.ok ? seen.value : undefined;
  }

  /**
   * Creates a gateway pod at `ip` and waits (bounded) for gluetun's startup probe; publishes its
   * DNS record when ready. `probePeriodMs` is the startup probe's period: the plan's when the
   * timing is measured, short when the lab only restores a healthy state.
   */
  async startGateway(ip: string, probePeriodMs = 250): Promise<Pod> {
    this.gatewayCount++;
    const plan = this.world.plan;
    const pod = new Pod(
      this.world,
      `gateway${this.gatewayCount}`,
      plan.gateway,
      ip,
      `${plan.gateway.workload}-6c9f7d${this.gatewayCount}b5d-q8w7z`,
    );
    this.gateway = pod;
    this.world.setLayer1(this.world.layer1, this.pods());
    await pod.start();
    const deadline = Date.now() + 40_000;
    for (let i = 0; Date.now() < deadline; i++) {
      const gluetun = [...pod.containers.values()].find((c) => GLUETUN_IMAGE.test(c.spec.image));
      if (gluetun?.running && existsSync(`/proc/${gluetun.daemon!.pid}/root/run/gluetun-tunnel-up`)) {
        pod.ready = true;
        this.world.writeClusterRecords(ip);
        return pod;
      }
      await sleep(probePeriodMs);
    }
    throw new LabError(
      `gateway pod ${pod.name} never became ready (logs in ${join(this.world.dir, "pods", pod.name)})`,
    );
  }

  /** gluetun's startup probe period from the plan (what delays the gateway's DNS record). */
  startupProbePeriodMs(): number {
    const gluetun = this.world.plan.gateway.containers.find((c) => GLUETUN_IMAGE.test(c.image));
    return (gluetun?.startupProbePeriodSeconds ?? 0) * 1000 || 1000;
  }

  async startClient(): Promise<Pod> {
    const plan = this.world.plan;
    const pod = new Pod(this.world, "client", plan.client, this.addresses.client, `${plan.client.workload}-0`);
    this.client = pod;
    this.world.setLayer1(this.world.layer1, this.pods());
    await pod.start();
    return pod;
  }

  /** Kills every process of the pod's running container that matches, as a container runtime would. */
  async killContainer(pod: Pod, matches: (spec: LabContainer) => boolean, what: string): Promise<Container> {
    const container = [...pod.containers.values()].find((c) => matches(c.spec) && c.running);
    if (!container) {
      throw new LabError(`pod ${pod.name} has no running ${what} container`);
    }
    await this.world.registry.stop(container.daemon!, "SIGKILL", 1000);
    return container;
  }

  pods(): Pod[] {
    return [this.gateway, this.client].filter((p): p is Pod => p !== undefined);
  }

  /**
   * Back to a healthy state after a fault, as `kubectl delete pod` would: a fresh gateway at the
   * first gateway address, and/or a fresh client. A client whose tunnel still points at that
   * address keeps working with the new gateway (VXLAN holds no session).
   */
  async recreate(which: { gateway: boolean; client: boolean }): Promise<void> {
    if (which.gateway) {
      this.world.writeClusterRecords(undefined);
      await this.gateway.delete();
      await this.startGateway(this.addresses.gateway);
    }
    if (which.client) {
      await this.client.delete();
      await this.startClient();
    }
    if (!which.client) {
      // The client's neighbour entry still holds the old gateway's vxlan0 MAC; forgetting it
      // spares the wait for neighbour-unreachability detection. Restoration only: not measured.
      run(["ip", "netns", "exec", this.client.netns, "ip", "neigh", "flush", "dev", "vxlan0"]);
      // The node redirected the client to the gateway's old MAC (ICMP redirect on the pod bridge).
      run(["ip", "netns", "exec", this.client.netns, "ip", "neigh", "flush", "to", this.addresses.gateway]);
      run(["ip", "netns", "exec", this.client.netns, "ip", "route", "flush", "cache"]);
      run(["ip", "netns", "exec", this.world.node, "ip", "neigh", "flush", "to", this.addresses.gateway]);
      await this.waitForTraffic(12_000);
    }
  }

  /** Waits (bounded) until the client's HTTP probe sees the VPN exit; recreates the client if it never does. */
  private async waitForTraffic(limitMs: number): Promise<void> {
    const end = Date.now() + limitMs;
    let settling: { index: string; since: number } | undefined;
    while (Date.now() < end) {
      const index = this.clientTunnelIndex();
      if (index !== undefined && (await this.seenAddress(1000)) === this.addresses.vpnExit) {
        // Settled: traffic flows through the same vxlan0 for a while. A route monitor that began
        // to reconnect while the gateway was away may still rebuild the tunnel moments after
        // traffic first flows again, under the next scenario's feet.
        if (settling?.index === index && Date.now() - settling.since >= SETTLE_MS) {
          return;
        }
        if (settling?.index !== index) {
          settling = { index, since: Date.now() };
        }
      } else {
        settling = undefined;
      }
      await sleep(250);
    }
    this.world.log("  client did not recover by itself; recreating it");
    if (process.env.LAB_DEBUG) {
      this.world.log(
        run([
          "sh",
          "-c",
          `ip netns exec ${this.client.netns} ip route; ip netns exec ${this.client.netns} ip neigh; ip netns exec ${this.world.node} ip neigh; ip netns exec ${this.gateway.netns} ip addr; ip netns exec ${this.gateway.netns} iptables -S; ip netns exec ${this.gateway.netns} ip rule; ip netns exec ${this.gateway.netns} ip route show table 51820`,
        ]).stdout,
      );
      await sleep(Number(process.env.LAB_DEBUG) * 1000);
    }
    await this.client.delete();
    await this.startClient();
  }

  /** The client's vxlan0 interface index (a rebuilt tunnel has a new one), or undefined without one. */
  private clientTunnelIndex(): string | undefined {
    const result = run(["ip", "-n", this.client.netns, "-o", "link", "show", "dev", "vxlan0"]);
    return result.code === 0 ? result.stdout.split(":")[0] : undefined;
  }

  nextName(): string {
    this.lookups++;
    return `probe${this.lookups}.${TRACKER_DOMAIN}`;
  }

  /** One round of the probes, side by side. */
  async round(observation: Observation): Promise<void> {
    const exec = this.clientExec();
    const name = this.nextName();
    observation.names.push(name);
    const [seen, answer] = await Promise.all([
      this.seenAddress(2000),
      resolve(exec, name, 2),
      sendUdp(exec, this.addresses.web, this.vpnPort),
    ]);
    observation.seen.push(seen);
    observation.internetAnswers.push(answer.ok ? answer.value : undefined);
  }

  /** Probes for `rounds` rounds with the current layers; returns what leaked and what the client saw. */
  async measure(
    rounds: number,
    traffic?: (lab: LabContext) => Promise<Check[]>,
  ): Promise<{ packets: number; dns: number; observation: Observation; dnsSources: string[]; trafficChecks: Check[] }> {
    this.world.resetCounters();
    const mark = this.world.resolverLines().split("\n").length - 1;
    const observation: Observation = { seen: [], internetAnswers: [], names: [] };
    for (let i = 0; i < rounds; i++) {
      await this.round(observation);
    }
    const trafficChecks = traffic ? await traffic(this) : [];
    await sleep(300);
    const counters = this.world.readCounters();
    const log = this.world.resolverLines();
    const dns = queriesFrom(log, this.addresses.home, mark);
    const sources = observation.names.flatMap((name) =>
      log
        .split("\n")
        .slice(mark)
        .filter((l) => l.includes(` ${name} from `))
        .map((l) => l.trim().split(" ").pop() ?? ""),
    );
    return { packets: leakedPackets(counters), dns: dns.count, observation, dnsSources: sources, trafficChecks };
  }

  async runScenario(scenario: Scenario): Promise<ScenarioResult> {
    const started = Date.now();
    this.world.log(`- ${scenario.name}`);
    if (scenario.recovery) {
      return this.runRecovery(scenario, started);
    }
    await scenario.inject?.(this);
    this.world.setLayer1(true, this.pods());
    const on = await this.measure(scenario.rounds ?? 1, scenario.traffic);
    const checks = [
      ...on.trafficChecks,
      ...(scenario.checks ? await scenario.checks(this, on.observation, on.dnsSources) : []),
    ];
    this.world.setLayer1(false, this.pods());
    if (scenario.reinject) {
      await scenario.inject?.(this);
    }
    const off = await this.measure(scenario.rounds ?? 1, scenario.traffic);
    this.world.setLayer1(true, this.pods());
    this.logChecks(checks);
    await scenario.cleanup?.(this);
    if (scenario.inject && scenario.breaks !== "internet") {
      await this.recreate({ gateway: scenario.breaks !== "client", client: scenario.breaks === "client" });
    }
    return {
      scenario: scenario.name,
      checks,
      withLayer1: { packets: on.packets, dns: on.dns },
      layer2Only: { packets: off.packets, dns: off.dns },
      layer2MustHold: scenario.layer2MustHold,
      seconds: (Date.now() - started) / 1000,
    };
  }

  private logChecks(checks: readonly Check[]): void {
    for (const check of checks) {
      this.world.log(`  ${check.ok ? "ok" : "FAILED"}: ${check.text}`);
    }
  }

  /** The gateway pod replaced by one at a new address: seconds until the client's traffic flows again, per layer setting. */
  private async runRecovery(scenario: Scenario, started: number): Promise<ScenarioResult> {
    const figures: { packets: number; dns: number; seconds?: number }[] = [];
    for (const layer1 of [true, false]) {
      this.world.setLayer1(layer1, this.pods());
      this.world.resetCounters();
      const mark = this.world.resolverLines().split("\n").length - 1;
      const newIp =
        this.gateway.ip === this.addresses.gateway ? this.addresses.replacementGateway : this.addresses.gateway;
      const t0 = Date.now();
      this.world.writeClusterRecords(undefined);
      await this.gateway.delete();
      const starting = this.startGateway(newIp, this.startupProbePeriodMs()).catch((error: Error) => error);
      const observation: Observation = { seen: [], internetAnswers: [], names: [] };
      let seconds: number | undefined;
      const limitMs = scenario.recoveryLimitSeconds! * 1000;
      while (Date.now() - t0 < limitMs) {
        const roundStart = Date.now();
        if (this.client.containers.size > 0) {
          await this.round(observation);
        }
        if (observation.seen.at(-1) === this.addresses.vpnExit) {
          seconds = (Date.now() - t0) / 1000;
          break;
        }
        await sleep(Math.max(0, 1000 - (Date.now() - roundStart)));
      }
      const startError = await starting;
      if (startError instanceof Error) {
        throw startError;
      }
      await sleep(300);
      const counters = this.world.readCounters();
      figures.push({
        packets: leakedPackets(counters),
        dns: queriesFrom(this.world.resolverLines(), this.addresses.home, mark).count,
        seconds,
      });
      this.world.log(
        `  layer 1 ${layer1 ? "on" : "off"}: ${seconds === undefined ? `no traffic within ${scenario.recoveryLimitSeconds} s` : `traffic again after ${seconds.toFixed(1)} s`}`,
      );
      if (seconds === undefined) {
        await this.waitForTraffic(20_000);
      }
    }
    this.world.setLayer1(true, this.pods());
    const [on, off] = figures;
    return {
      scenario: scenario.name,
      checks: [
        recoveryCheck("layer 1 on", on.seconds, scenario.recoveryLimitSeconds!, scenario.recoveryTargetSeconds!),
        // Layer 2 alone must bring traffic back as fast: the new gateway here has an address an
        // earlier gateway pod had, which a stale neighbour entry once delayed by up to ~53 s.
        recoveryCheck("layer 2 alone", off.seconds, scenario.recoveryLimitSeconds!, scenario.recoveryTargetSeconds!),
      ],
      withLayer1: { packets: on.packets, dns: on.dns },
      layer2Only: { packets: off.packets, dns: off.dns },
      layer2MustHold: scenario.layer2MustHold,
      seconds: (Date.now() - started) / 1000,
      recoverySeconds: on.seconds,
    };
  }
}
