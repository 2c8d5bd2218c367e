import { strict as assert } from "node:assert";
import { DEFAULT_ECHO_URL, UsageError, deploymentOf, parseArguments, readStackOutputs } from "../../verify/cli";

describe("npm run verify: arguments", () => {
  it("defaults: the downloads stack, the default echo URL, 10 s probes, no drill", () => {
    assert.deepEqual(parseArguments([]), {
      stack: "downloads",
      echoUrl: DEFAULT_ECHO_URL,
      timeoutMs: 10_000,
      drill: false,
      drillDeadlineMs: 180_000,
    });
  });

  it("reads every option", () => {
    const args = parseArguments([
      "--context",
      "homelab",
      "--namespace",
      "dl",
      "--vpn-namespace",
      "vpn",
      "--plain-pod",
      "media/radarr-0/radarr",
      "--echo-url",
      "http://198.51.100.1/ip",
      "--timeout",
      "4",
      "--drill",
      "--drill-deadline",
      "90",
    ]);
    assert.deepEqual(args, {
      stack: "downloads",
      context: "homelab",
      namespace: "dl",
      vpnNamespace: "vpn",
      plainPod: { namespace: "media", pod: "radarr-0", container: "radarr" },
      echoUrl: "http://198.51.100.1/ip",
      timeoutMs: 4_000,
      drill: true,
      drillDeadlineMs: 90_000,
    });
  });

  const refusals: [string[], RegExp][] = [
    [["--bogus"], /unknown argument "--bogus"/],
    [["--namespace"], /--namespace needs a value/],
    [["--namespace", "--drill"], /--namespace needs a value/],
    [["--stack", "dl", "--outputs", "o.json"], /--stack and --outputs both say where the stack outputs come from/],
    [["--plain-pod", "radarr-0"], /--plain-pod takes NAMESPACE\/POD or NAMESPACE\/POD\/CONTAINER, not "radarr-0"/],
    [["--echo-url", "ipinfo.io/ip"], /--echo-url takes an http:\/\/ or https:\/\/ URL/],
    [["--timeout", "0"], /--timeout takes a number of seconds above 0, not "0"/],
    [["--drill-deadline", "soon"], /--drill-deadline takes a number of seconds above 0, not "soon"/],
  ];
  for (const [argv, message] of refusals) {
    it(`refuses ${argv.join(" ")} with the usage`, () => {
      assert.throws(
        () => parseArguments(argv),
        (error: unknown) =>
          error instanceof UsageError && message.test(error.message) && error.message.includes("usage: npm run verify"),
      );
    });
  }

  it("takes names from flags first, then the stack outputs, then the example configuration", () => {
    const outputs = {
      namespace: "dl",
      coreNamespace: "media",
      vpnGateway: "egress.vpn.svc.cluster.local",
      cluster: { domain: "cluster.local" },
    };
    const fromOutputs = deploymentOf(parseArguments([]), outputs, "outputs");
    assert.deepEqual(fromOutputs, {
      namespace: "dl",
      vpnNamespace: "vpn",
      gateway: "egress",
      coreNamespace: "media",
      clusterDomain: "cluster.local",
      source: "outputs",
    });
    assert.equal(deploymentOf(parseArguments(["--vpn-namespace", "other"]), outputs, "outputs").vpnNamespace, "other");
    assert.deepEqual(deploymentOf(parseArguments([]), undefined, "defaults"), {
      namespace: "charmarr-downloads",
      vpnNamespace: "charmarr-vpn",
      gateway: "vpn-gateway",
      coreNamespace: "charmarr-core",
      clusterDomain: "cluster.local",
      source: "defaults",
    });
  });

  it("says why it uses the defaults when there is no Pulumi CLI", async () => {
    const { outputs, source } = await readStackOutputs(parseArguments([]), "/nonexistent/pulumi");
    assert.equal(outputs, undefined);
    assert.equal(source, "defaults (stack outputs of downloads unavailable: pulumi CLI not found)");
  });

  it("refuses an outputs file it cannot read", async () => {
    await assert.rejects(
      readStackOutputs(parseArguments(["--outputs", "/nonexistent/outputs.json"])),
      (error: unknown) =>
        error instanceof UsageError && /--outputs \/nonexistent\/outputs\.json: ENOENT/.test(error.message),
    );
  });
});
