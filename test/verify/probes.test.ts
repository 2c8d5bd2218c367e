import { strict as assert } from "node:assert";
import { netnsFailure } from "../../verify/netns";
import { DnsObservation, ProbeResult, dnsPath, drill, gluetunPublicAddress, publicAddress } from "../../verify/probes";
import type { Clock, GatewayControl, Target, Transport } from "../../verify/transport";
import { addressVerdicts, dnsVerdict, drillVerdict, exitStatus } from "../../verify/verdicts";
import { CAPTURED, ReplayTransport, capturedCalls } from "../support/verifyFixtures";

// Every probe below runs against output captured from real busybox wget, curl, dig and
// `ip netns exec` (test/fixtures/verify/README.md), replayed with the argv it was captured for.
const client: Target = { role: "routed", name: "client" };
const { echo, vpnExit, client: home, resolver, silentResolver } = CAPTURED.addresses;

async function address(name: string, url: string, timeoutMs: number): Promise<ProbeResult<string>> {
  const replay = new ReplayTransport(capturedCalls(name));
  const result = await publicAddress(replay, client, url, timeoutMs);
  replay.assertDone();
  return result;
}

async function dns(name: string, internet: string): Promise<DnsObservation> {
  const replay = new ReplayTransport(capturedCalls(name));
  const observed = await dnsPath(replay, client, { internet, cluster: "kubernetes.default.svc.cluster.local" }, 2000);
  replay.assertDone();
  return observed;
}

function failureOf(result: ProbeResult<string>): { kind: string; message: string } {
  assert.ok(!result.ok, `expected a failure, got ${JSON.stringify(result)}`);
  return { kind: result.kind, message: result.message };
}

describe("verify probes on captured output: public address", () => {
  it("reads the address the echo service saw, plain text or JSON", async () => {
    assert.deepEqual(await address("address-vpn", `http://${echo}/ip`, 3000), { ok: true, value: vpnExit });
    assert.deepEqual(await address("address-json", `http://${echo}/json`, 3000), { ok: true, value: home });
    assert.deepEqual(await address("address-by-name", "http://echo.example/ip", 3000), { ok: true, value: home });
  });

  it("tells a refused or unroutable connection (blocked) from silence (timeout) and a bad name (dns)", async () => {
    assert.deepEqual(failureOf(await address("address-refused", `http://${echo}:81/ip`, 3000)), {
      kind: "blocked",
      message: "wget: can't connect to remote host (198.51.100.1): Connection refused",
    });
    assert.equal(failureOf(await address("address-unreachable", "http://198.51.100.99/ip", 3000)).kind, "blocked");
    assert.equal(failureOf(await address("address-bad-name", "http://nosuch.invalid/ip", 3000)).kind, "dns");
  });

  it("reads both timeout tools' expiry as a timeout (busybox 143, coreutils 124)", async () => {
    assert.equal(failureOf(await address("address-timeout-busybox", `http://${echo}:82/ip`, 2000)).kind, "timeout");
    assert.equal(failureOf(await address("address-timeout-coreutils", `http://${echo}:82/ip`, 2000)).kind, "timeout");
  });

  it("does not take an HTTP error or a page that is not an address for an address", async () => {
    assert.deepEqual(failureOf(await address("address-http-error", `http://${echo}/elsewhere`, 3000)), {
      kind: "http",
      message: "wget: server returned error: HTTP/1.1 404 Not Found",
    });
    assert.match(
      failureOf(await address("address-not-an-address", `http://${echo}/hello`, 3000)).message,
      /answered "hello", not an address/,
    );
  });

  it("falls back to curl where there is no wget, and reports a target with neither as uncheckable", async () => {
    assert.deepEqual(await address("address-curl-only", `http://${echo}/ip`, 3000), { ok: true, value: home });
    assert.equal(failureOf(await address("address-curl-refused", `http://${echo}:81/ip`, 3000)).kind, "blocked");
    assert.equal(failureOf(await address("address-no-tools", `http://${echo}/ip`, 3000)).kind, "missing-command");
  });

  it("reads GNU wget's silent failure from its exit status", async () => {
    assert.deepEqual(failureOf(await address("address-gnu-wget-refused", `http://${echo}:81/ip`, 3000)), {
      kind: "blocked",
      message: "wget exit status 4: network failure",
    });
  });
});

describe("verify probes on captured output: gluetun's control server", () => {
  async function gluetun(name: string, key: string): Promise<{ result: ProbeResult<string>; replay: ReplayTransport }> {
    const replay = new ReplayTransport(capturedCalls(name));
    const result = await gluetunPublicAddress(replay, { role: "gluetun", name: "gluetun" }, key, 3000);
    replay.assertDone();
    return { result, replay };
  }

  it("reads public_ip with the API key passed on stdin, never in argv", async () => {
    const { result, replay } = await gluetun("gluetun-ok", "fixture-api-key-not-a-secret");
    assert.deepEqual(result, { ok: true, value: vpnExit });
    assert.deepEqual(replay.stdins, ["fixture-api-key-not-a-secret\n"]);
    assert.ok(!capturedCalls("gluetun-ok")[0].argv.some((arg) => arg.includes("fixture-api-key")));
  });

  it("reports a refused key as an HTTP error and an empty public_ip as not known yet", async () => {
    assert.deepEqual(failureOf((await gluetun("gluetun-wrong-key", "wrong-key")).result), {
      kind: "http",
      message: "wget: server returned error: HTTP/1.1 401 Unauthorized",
    });
    assert.match(
      failureOf((await gluetun("gluetun-pending", "fixture-api-key-not-a-secret")).result).message,
      /no public IP yet/,
    );
  });
});

describe("verify probes on captured output: DNS path", () => {
  const expected = { gatewayDns: resolver, kubeDns: silentResolver };

  it("passes a client whose nameserver is the gateway and through which both names resolve", async () => {
    const observed = await dns("dns-gateway", "echo.example");
    assert.deepEqual(observed.resolvConf, {
      ok: true,
      value: {
        nameservers: [resolver],
        search: ["charmarr-downloads.svc.cluster.local", "svc.cluster.local", "cluster.local"],
        ndots: 5,
      },
    });
    assert.deepEqual(observed.internet, {
      ok: true,
      value: { status: "NOERROR", server: resolver, addresses: [echo] },
    });
    assert.equal(dnsVerdict("client", observed, expected).status, "pass");
  });

  it("fails an internet name the gateway answers NXDOMAIN for", async () => {
    const verdict = dnsVerdict("client", await dns("dns-nxdomain", "nosuch.invalid"), expected);
    assert.equal(verdict.status, "fail");
    assert.match(verdict.message, /an internet name does not resolve: nosuch\.invalid: NXDOMAIN from 172\.16\.0\.1/);
  });

  it("calls kube-dns as nameserver a leak, and a silent gateway a broken path", async () => {
    const observed = await dns("dns-silent", "echo.example");
    assert.deepEqual(failureOf(observed.internet as ProbeResult<string>), {
      kind: "timeout",
      message: ";; communications error to 10.43.0.10#53: timed out",
    });
    assert.match(dnsVerdict("client", observed, expected).message, /^LEAK: nameserver 10\.43\.0\.10 \(kube-dns\)/);
    const silentGateway = dnsVerdict("client", observed, { gatewayDns: silentResolver, kubeDns: "10.43.0.99" });
    assert.equal(silentGateway.status, "fail");
    assert.match(
      silentGateway.message,
      /resolves through the gateway 10\.43\.0\.10, but an internet name does not resolve/,
    );
  });
});

describe("verify on captured output: verdicts and the netns transport", () => {
  it("passes the routed client seen as the VPN exit, and calls the home side's view a leak when a routed pod shows it", async () => {
    const vpn = await address("address-vpn", `http://${echo}/ip`, 3000);
    const homeView = await address("address-home", `http://${echo}/ip`, 3000);
    assert.equal(
      exitStatus(
        addressVerdicts({
          gluetun: { ok: true, value: vpnExit },
          home: homeView,
          routed: [{ subject: "routed", result: vpn }],
        }),
      ),
      0,
    );
    const leak = addressVerdicts({
      gluetun: { ok: true, value: vpnExit },
      home: homeView,
      routed: [{ subject: "routed", result: homeView }],
    });
    assert.equal(exitStatus(leak), 1);
    assert.match(leak[2].message, /^LEAK: seen as 203\.0\.113\.9, the home address/);
  });

  it("the drill, run on the captured probes and timeline: blocked while the way out was gone, back through the VPN once it returned", async () => {
    // drill() itself runs: each probe gets the real wget output captured during the recorded drill
    // (test/fixtures/verify/capture.ts: vfy-vpn's link down for 3 s, probed every 0.5 s) and ends at
    // the time it ended then; the gateway is back 3 s after its deletion, as the capture's
    // LinkGateway(3000) brought it back.
    const captured = CAPTURED.drill;
    const replay = new ReplayTransport(capturedCalls("drill"));
    let now = 0;
    let probes = 0;
    const clock: Clock = {
      now: () => now,
      sleep: async (ms) => {
        now += ms;
      },
    };
    const transport: Transport = {
      async exec(target, argv, options) {
        const result = await replay.exec(target, argv, options);
        now = captured.samples[probes++].atMs;
        return result;
      },
    };
    const gateway: GatewayControl = {
      deleteGateway: async () => "gateway-1",
      gatewayState: async () => (now >= 3000 ? { id: "gateway-2", ready: true } : undefined),
    };
    const result = await drill(transport, gateway, client, {
      echoUrl: `http://${echo}/ip`,
      homeAddress: home,
      probeTimeoutMs: 1000,
      intervalMs: 500,
      deadlineMs: 15_000,
      clock,
    });
    replay.assertDone();
    assert.deepEqual(
      result.samples.map((sample) => [sample.atMs, sample.result.ok ? sample.result.value : sample.result.kind]),
      [
        [1012, "timeout"],
        [2532, "timeout"],
        [3061, vpnExit],
      ],
    );
    assert.deepEqual(result.leaks, []);
    assert.equal(result.gatewayReadyAtMs, 3032, "seen ready at the first check after it came back");
    assert.deepEqual([result.recoveredAtMs, result.recoveredAddress], [3061, vpnExit]);
    const verdict = drillVerdict("routed", result, { ok: true, value: vpnExit });
    assert.equal(verdict.status, "pass");
    assert.ok(verdict.message.includes("after 3.1 s"), verdict.message);
  });

  it("tells ip netns exec's own failures (no namespace, no command) from the command's", () => {
    const [missingNamespace] = capturedCalls("netns-missing");
    assert.deepEqual(netnsFailure(missingNamespace.result.stderr, missingNamespace.result.exitCode), {
      kind: "unreachable",
      message: 'Cannot open network namespace "vfy-no-such-namespace": No such file or directory',
    });
    const [missingCommand] = capturedCalls("netns-no-command");
    assert.equal(netnsFailure(missingCommand.result.stderr, missingCommand.result.exitCode)?.kind, "missing-command");
    const [refused] = capturedCalls("address-refused");
    assert.equal(netnsFailure(refused.result.stderr, refused.result.exitCode), undefined);
  });
});
