import { strict as assert } from "node:assert";
import { deniedConnection, deniedUrl, httpGet } from "../../verify/probes";
import { enforcementVerdict } from "../../verify/verdicts";
import { ReplayTransport, capturedCalls } from "../support/verifyFixtures";

const TARGET = { role: "routed" as const, name: "charmarr-downloads/qbittorrent-0" };

/** A captured wget run, replayed for the URL it was captured with. */
async function seen(name: string) {
  const [call] = capturedCalls(name);
  const transport = new ReplayTransport([call]);
  return httpGet(transport, TARGET, call.argv[call.argv.length - 1], Number(call.argv[1]) * 1000);
}

describe("verify: NetworkPolicy enforcement, judged from real wget output", () => {
  it("probes CoreDNS's metrics port behind the kube-dns Service IP", () => {
    assert.equal(deniedUrl("10.43.0.10"), "http://10.43.0.10:9153/metrics");
  });

  it("passes on no answer (a policy that drops) and on a refusal (one that rejects), when it answers outside", async () => {
    const outside = await seen("address-ok");
    for (const [name, detail] of [
      ["address-timeout-coreutils", "(no answer)"],
      ["address-timeout-busybox", "(no answer)"],
      ["address-refused", "Connection refused"],
      ["address-unreachable", "No route to host"],
    ] as const) {
      const verdict = enforcementVerdict(TARGET.name, { url: "u", outside, routed: await seen(name) });
      assert.equal(verdict.status, "pass", name);
      assert.ok(verdict.message.includes(detail), `${name}: ${verdict.message}`);
    }
  });

  it("fails when the routed pod gets any answer, an HTTP error included: nothing enforces the kill switch", async () => {
    const outside = await seen("address-ok");
    for (const name of ["address-ok", "address-http-error", "address-not-an-address"]) {
      const verdict = enforcementVerdict(TARGET.name, { url: "u", outside, routed: await seen(name) });
      assert.equal(verdict.status, "fail", name);
      assert.match(verdict.message, /^NOT ENFORCED: u answered/);
    }
  });

  it("cannot tell when the routed pod could not be probed, or nothing answers outside either", async () => {
    const outside = await seen("address-ok");
    const noTools = capturedCalls("address-no-tools");
    const routed = await deniedConnection(
      new ReplayTransport(noTools),
      TARGET,
      "http://198.51.100.1/ip",
      outside,
      3000,
    );
    assert.equal(enforcementVerdict(TARGET.name, routed).status, "unknown");
    const silentOutside = await seen("address-timeout-coreutils");
    assert.equal(
      enforcementVerdict(TARGET.name, {
        url: "u",
        outside: silentOutside,
        routed: await seen("address-timeout-busybox"),
      }).status,
      "unknown",
    );
  });
});
