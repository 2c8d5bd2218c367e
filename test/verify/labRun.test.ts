import { strict as assert } from "node:assert";
import { dnsPath, publicAddress } from "../../verify/probes";
import type { Target } from "../../verify/transport";
import { addressVerdicts, dnsVerdict, exitStatus } from "../../verify/verdicts";
import { LAB_RUN, ReplayTransport } from "../support/verifyFixtures";

// The probes `npm run lab` ran through the verifier on the example plan with the DNS fix (routed
// pods resolve through the gateway's 172.16.0.1): real pod-gateway scripts, dnsmasq, WireGuard
// and a routed client whose GNU wget is silent on failure. The lab's addresses: home
// 203.0.113.10, VPN exit 192.0.2.77 (docs/lab.md).
const HOME = "203.0.113.10";
const VPN_EXIT = "192.0.2.77";
const client: Target = { role: "routed", name: "charmarr-downloads/qbittorrent-0" };

describe("verify on a recorded lab run", () => {
  const addressProbes = LAB_RUN.filter((exec) => exec.argv.includes("wget"));

  it("reads every address probe of the run: the VPN exit, silence (timeout) or a refused path, never the home address", async () => {
    const kinds = new Map<string, number>();
    for (const exec of addressProbes) {
      const url = exec.argv[exec.argv.length - 1];
      const result = await publicAddress(new ReplayTransport([exec]), client, url, Number(exec.argv[1]) * 1000);
      const key = result.ok ? result.value : result.kind;
      kinds.set(key, (kinds.get(key) ?? 0) + 1);
      const verdicts = addressVerdicts({
        gluetun: { ok: true, value: VPN_EXIT },
        home: { ok: true, value: HOME },
        routed: [{ subject: client.name, result }],
      });
      assert.notEqual(
        verdicts[2].message.startsWith("LEAK"),
        true,
        `a lab probe saw the home address: ${JSON.stringify(exec.result)}`,
      );
    }
    assert.deepEqual([...kinds.keys()].sort(), [VPN_EXIT, "blocked", "timeout"].sort());
    assert.equal(
      [...kinds.values()].reduce((a, b) => a + b, 0),
      addressProbes.length,
    );
  });

  it("passes the DNS path the lab's routed pod has with the fix: resolv.conf names the gateway, which answers both names", async () => {
    const start = LAB_RUN.findIndex((exec) => exec.argv[0] === "cat");
    const calls = LAB_RUN.slice(start, start + 3);
    const replay = new ReplayTransport(calls);
    const observed = await dnsPath(replay, client, { internet: calls[1].argv[3], cluster: calls[2].argv[3] }, 2000);
    replay.assertDone();
    const verdict = dnsVerdict(client.name, observed, { gatewayDns: "172.16.0.1", kubeDns: "10.43.0.10" });
    assert.equal(verdict.status, "pass", verdict.message);
    assert.equal(exitStatus([verdict]), 0);
  });
});
