import { strict as assert } from "node:assert";
import type { DnsObservation, DrillResult, ProbeResult } from "../../verify/probes";
import { addressVerdicts, dnsVerdict, drillVerdict, exitStatus, killSwitchVerdicts } from "../../verify/verdicts";

// Documentation addresses only: 198.51.100.7 plays the VPN exit, 203.0.113.9 the home address.
const VPN = "198.51.100.7";
const HOME = "203.0.113.9";
const seen = (value: string): ProbeResult<string> => ({ ok: true, value });

describe("verify: address verdicts", () => {
  it("passes a routed pod seen with gluetun's address, and exits 0", () => {
    const verdicts = addressVerdicts({
      gluetun: seen(VPN),
      home: seen(HOME),
      routed: [{ subject: "dl/qbittorrent-0", result: seen(VPN) }],
    });
    assert.deepEqual(
      verdicts.map((v) => v.status),
      ["pass", "pass", "pass"],
    );
    assert.equal(exitStatus(verdicts), 0);
  });

  it("calls a routed pod seen with the home address a leak, and exits 1", () => {
    const verdicts = addressVerdicts({
      gluetun: seen(VPN),
      home: seen(HOME),
      routed: [{ subject: "dl/qbittorrent-0", result: seen(HOME) }],
    });
    const routed = verdicts.find((v) => v.subject === "dl/qbittorrent-0");
    assert.equal(routed?.status, "fail");
    assert.match(routed?.message ?? "", /LEAK: seen as 203\.0\.113\.9, the home address/);
    assert.equal(exitStatus(verdicts), 1);
  });

  it("fails a routed pod that has no internet (not a leak, a broken path)", () => {
    const verdicts = addressVerdicts({
      gluetun: seen(VPN),
      home: seen(HOME),
      routed: [
        { subject: "dl/sabnzbd-0", result: { ok: false, kind: "timeout", message: "wget: download timed out" } },
      ],
    });
    assert.match(verdicts[2].message, /no internet through the VPN \(timeout\)/);
    assert.equal(exitStatus(verdicts), 1);
  });

  it("exits 2 when the pods could not be reached at all", () => {
    const unreachable: ProbeResult<string> = {
      ok: false,
      kind: "unreachable",
      message: 'pods "qbittorrent-0" not found',
    };
    const verdicts = addressVerdicts({
      gluetun: seen(VPN),
      home: seen(HOME),
      routed: [{ subject: "dl/qbittorrent-0", result: unreachable }],
    });
    assert.equal(verdicts[2].status, "unknown");
    assert.equal(exitStatus(verdicts), 2);
  });

  it("fails gluetun itself when it reports the home address", () => {
    const verdicts = addressVerdicts({ gluetun: seen(HOME), home: seen(HOME), routed: [] });
    assert.equal(verdicts[0].status, "fail");
    assert.match(verdicts[0].message, /home address: its traffic does not go through the VPN/);
  });
});

describe("verify: DNS verdict", () => {
  const expected = { gatewayDns: "172.16.0.1", kubeDns: "10.43.0.10" };
  const answer = (server: string) => ({
    ok: true as const,
    value: { status: "NOERROR", server, addresses: ["192.0.2.10"] },
  });
  const observation = (nameservers: string[], server = nameservers[0]): DnsObservation => ({
    resolvConf: { ok: true, value: { nameservers, search: ["charmarr-downloads.svc.cluster.local"], ndots: 5 } },
    internet: answer(server),
    cluster: answer(server),
  });

  it("passes a pod that resolves only through the gateway's overlay address", () => {
    assert.equal(dnsVerdict("dl/qbittorrent-0", observation(["172.16.0.1"]), expected).status, "pass");
  });

  it("calls kube-dns as a routed pod's nameserver a leak through CoreDNS", () => {
    const verdict = dnsVerdict("dl/qbittorrent-0", observation(["10.43.0.10"]), expected);
    assert.equal(verdict.status, "fail");
    assert.match(verdict.message, /nameserver 10\.43\.0\.10 \(kube-dns\).*by CoreDNS from the home address/);
  });
});

describe("verify: kill-switch verdicts", () => {
  const pod = { name: "dl/qbittorrent-0", namespace: "dl", labels: { app: "qbittorrent" } };

  it("fails a routed pod no egress policy selects", () => {
    const [verdict] = killSwitchVerdicts("dl", [{ pod, killSwitches: [], openers: [] }]);
    assert.equal(verdict.status, "fail");
  });

  it("fails a fenced pod that another policy opens to everywhere", () => {
    const [verdict] = killSwitchVerdicts("dl", [
      { pod, killSwitches: ["qbittorrent-vpn-kill-switch"], openers: ["allow-all"] },
    ]);
    assert.equal(verdict.status, "fail");
    assert.match(verdict.message, /allow-all opens egress to everywhere/);
  });

  it("cannot check a namespace without routed pods", () => {
    assert.equal(exitStatus(killSwitchVerdicts("dl", [])), 2);
  });
});

describe("verify: drill verdict", () => {
  const base: DrillResult = { deleted: "uid-1", samples: [], leaks: [], deadlineMs: 120_000 };
  const blocked: ProbeResult<string> = { ok: false, kind: "timeout", message: "wget: download timed out" };

  it("reports the recovery time when the client came back through the VPN without a leak", () => {
    const result: DrillResult = {
      ...base,
      samples: [
        { atMs: 2_000, result: blocked },
        { atMs: 14_500, result: seen(VPN) },
      ],
      gatewayReadyAtMs: 12_000,
      recoveredAtMs: 14_500,
      recoveredAddress: VPN,
    };
    const verdict = drillVerdict("dl/qbittorrent-0", result, seen(VPN));
    assert.equal(verdict.status, "pass");
    assert.match(
      verdict.message,
      /no leak in 2 probes \(1 blocked\); back through the VPN as 198\.51\.100\.7 after 14\.5 s, new gateway ready after 12\.0 s/,
    );
  });

  it("fails on any sample that saw the home address, even if the client recovered", () => {
    const leak = { atMs: 3_000, result: seen(HOME) };
    const result: DrillResult = {
      ...base,
      samples: [leak, { atMs: 9_000, result: seen(VPN) }],
      leaks: [leak],
      recoveredAtMs: 9_000,
      recoveredAddress: VPN,
    };
    assert.match(
      drillVerdict("dl/qbittorrent-0", result, seen(VPN)).message,
      /LEAK: the home address was seen 1 time\(s\), at 3\.0 s/,
    );
  });

  it("fails a client that is not back by the deadline", () => {
    const result: DrillResult = { ...base, samples: [{ atMs: 119_000, result: blocked }] };
    const verdict = drillVerdict("dl/qbittorrent-0", result, undefined);
    assert.equal(verdict.status, "fail");
    assert.match(verdict.message, /not back through the VPN within 120\.0 s \(no new gateway pod became ready\)/);
  });
});
