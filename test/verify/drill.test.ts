import { strict as assert } from "node:assert";
import { drill } from "../../verify/probes";
import type { Clock, ExecResult, GatewayControl, GatewayState, Target, Transport } from "../../verify/transport";
import { drillVerdict } from "../../verify/verdicts";
import { capturedCalls } from "../support/verifyFixtures";

// The drill's loop on a simulated timeline: each exec answers with a captured wget result chosen
// by the simulated time, so the loop's decisions (what counts as recovery, what as a leak, when
// to stop) are tested without waiting.
const answer = (name: string): ExecResult => capturedCalls(name)[0].result;
const VPN = answer("address-vpn");
const HOME = answer("address-home");
const REFUSED = answer("address-refused");

class SimulatedClock implements Clock {
  ms = 0;
  now(): number {
    return this.ms;
  }
  async sleep(ms: number): Promise<void> {
    this.ms += ms;
  }
}

/** A gateway whose successor is ready `readyAtMs` after the deletion; a probe costs `probeMs`. */
class Timeline implements Transport, GatewayControl {
  deletedAt?: number;
  constructor(
    private readonly clock: SimulatedClock,
    private readonly readyAtMs: number,
    private readonly seen: (sinceDeletionMs: number) => ExecResult,
    private readonly probeMs = 1000,
    /** Whether the deleted pod still reports ready while it terminates. */
    private readonly oldStaysReady = false,
  ) {}
  async exec(_target: Target, _argv: readonly string[]): Promise<ExecResult> {
    const since = this.clock.ms - (this.deletedAt ?? 0);
    this.clock.ms += this.probeMs;
    return this.seen(since);
  }
  async deleteGateway(): Promise<string> {
    this.deletedAt = this.clock.ms;
    return "old";
  }
  async gatewayState(): Promise<GatewayState | undefined> {
    const since = this.clock.ms - (this.deletedAt ?? 0);
    return since >= this.readyAtMs ? { id: "new", ready: true } : { id: "old", ready: this.oldStaysReady };
  }
}

const client: Target = { role: "routed", name: "dl/qbittorrent-0" };
const options = (clock: Clock) => ({
  echoUrl: "http://198.51.100.1/ip",
  homeAddress: "203.0.113.9",
  probeTimeoutMs: 1000,
  intervalMs: 2000,
  deadlineMs: 60_000,
  clock,
});

describe("verify: the gateway drill's loop", () => {
  it("does not count an answer through the old, terminating gateway as recovery", async () => {
    const clock = new SimulatedClock();
    // The old gateway still answers for 2 s, then nothing until 20 s; the new one is ready at 15 s.
    const timeline = new Timeline(clock, 15_000, (since) => (since < 2_000 || since >= 20_000 ? VPN : REFUSED));
    const result = await drill(timeline, timeline, client, options(clock));
    assert.equal(result.samples[0].result.ok, true, "the first probe still went through the old gateway");
    assert.equal(result.gatewayReadyAtMs, 15_000);
    assert.equal(result.recoveredAtMs, 22_000);
    assert.equal(drillVerdict(client.name, result, { ok: true, value: "198.51.100.7" }).status, "pass");
  });

  it("does not take the deleted pod, still reporting ready while it terminates, for the new gateway", async () => {
    const clock = new SimulatedClock();
    // The deleted pod keeps its Ready condition and still forwards for 2 s; the new one is ready at 15 s.
    const timeline = new Timeline(
      clock,
      15_000,
      (since) => (since < 2_000 || since >= 20_000 ? VPN : REFUSED),
      1000,
      true,
    );
    const result = await drill(timeline, timeline, client, options(clock));
    assert.equal(result.gatewayReadyAtMs, 15_000, "ready is the replacement's, not the deleted pod's");
    assert.equal(result.recoveredAtMs, 22_000, "the answer through the terminating pod is not recovery");
  });

  it("records every probe that saw the home address", async () => {
    const clock = new SimulatedClock();
    const timeline = new Timeline(clock, 6_000, (since) =>
      since >= 3_000 && since < 6_000 ? HOME : since >= 6_000 ? VPN : REFUSED,
    );
    const result = await drill(timeline, timeline, client, options(clock));
    assert.deepEqual(
      result.leaks.map((sample) => sample.atMs),
      [4_000],
    );
    assert.match(
      drillVerdict(client.name, result, undefined).message,
      /^LEAK: the home address was seen 1 time\(s\), at 4\.0 s/,
    );
  });

  it("stops at the deadline when the client never comes back", async () => {
    const clock = new SimulatedClock();
    // Ready at 10 s, seen at the next poll (every probe + pause = 3 s): 12 s.
    const timeline = new Timeline(clock, 10_000, () => REFUSED);
    const result = await drill(timeline, timeline, client, options(clock));
    assert.ok(clock.ms <= 60_000 + 3_000, `ran until ${clock.ms} ms`);
    assert.equal(result.samples.length, 20);
    assert.equal(result.recoveredAtMs, undefined);
    assert.match(
      drillVerdict(client.name, result, undefined).message,
      /not back through the VPN within 60\.0 s \(new gateway ready after 12\.0 s\); last probe: wget: can't connect/,
    );
  });
});
