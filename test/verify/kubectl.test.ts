import { strict as assert } from "node:assert";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StackPlan } from "../../plan/evaluate";
import { main } from "../../verify/cli";
import { runProcess } from "../../verify/process";
import { KubeTarget, KubectlTransport, kubectlExecFailure, kubectlMessage } from "../../verify/kubectl";
import { gluetunPublicAddress, killSwitchCoverage, publicAddress } from "../../verify/probes";
import { killSwitchVerdicts } from "../../verify/verdicts";
import { planCore, planDownloads } from "../support/plan";
import { ExecRule, FakeCluster, InstalledFake, installFakeKubectl, objectsOf, podsOf } from "../support/fakeKubectl";
import { CAPTURED, capturedCalls } from "../support/verifyFixtures";

const API_KEY = "fixture-api-key-not-a-secret";
const ECHO_URL = "http://echo.example/ip";
const { vpnExit, client: home } = CAPTURED.addresses;

/** The captured result of a case's `n`th exec. */
function captured(name: string, call = 0): ExecRule["result"] {
  const { stdout, stderr, exitCode } = capturedCalls(name)[call].result;
  return { stdout, stderr, exitCode };
}

/** What each container answers: the lab's captured output for the command the probe runs there. */
function execRules(routed: { address: string; dns: string; denied?: string }): ExecRule[] {
  return [
    // The connection the kill switch denies (CoreDNS's metrics behind kube-dns): dropped, unless told otherwise.
    {
      container: "vpn-route-sidecar",
      match: "wget -qO- http://10\\.43\\.0\\.10:9153/metrics$",
      result: captured(routed.denied ?? "address-timeout-coreutils"),
    },
    { container: "vpn-route-sidecar", match: "wget -qO- http://echo\\.example/ip$", result: captured(routed.address) },
    { container: "vpn-route-sidecar", match: "^cat /etc/resolv.conf$", result: captured(routed.dns, 0) },
    { container: "vpn-route-sidecar", match: "^dig .* echo\\.example$", result: captured(routed.dns, 1) },
    {
      container: "vpn-route-sidecar",
      match: "^dig .* kubernetes\\.default\\.svc\\.cluster\\.local$",
      result: captured(routed.dns, 2),
    },
    { container: "gluetun", match: "X-API-Key", result: captured("gluetun-ok") },
    // The first core pod by name (flaresolverr) has no wget but curl (FlareSolverr v3.5.0 Dockerfile
    // L32-33 installs curl, python:3.11-slim-bookworm has no wget); curl answers.
    { container: "flaresolverr", match: "^timeout \\d+ wget", result: captured("address-curl-only", 0) },
    { container: "flaresolverr", match: "^curl ", result: captured("address-home") },
  ];
}

describe("verify: the kubectl transport on a cluster shaped like the plan", function () {
  let core: StackPlan;
  let downloads: StackPlan;
  let cluster: FakeCluster;
  let fake: InstalledFake;
  let outputsFile: string;

  before(async function () {
    core = await planCore();
    downloads = await planDownloads();
    const controlServer = objectsOf(downloads, "Secret").find(
      (secret) => (secret.metadata as { name: string }).name === "vpn-gateway-control-server",
    );
    assert.ok(controlServer, "the plan has the control-server Secret");
    cluster = {
      objects: {
        namespace: objectsOf(downloads, "Namespace"),
        pods: [...podsOf(core), ...podsOf(downloads)],
        networkpolicies: [...objectsOf(core, "NetworkPolicy"), ...objectsOf(downloads, "NetworkPolicy")],
        configmap: objectsOf(downloads, "ConfigMap"),
        // The API server returns data, base64; the plan redacts stringData.
        secret: [
          { ...controlServer, stringData: undefined, data: { "api-key": Buffer.from(API_KEY).toString("base64") } },
        ],
      },
      exec: execRules({ address: "address-vpn", dns: "dns-gateway" }),
    };
    fake = await installFakeKubectl(cluster);
    outputsFile = join(mkdtempSync(join(tmpdir(), "verify-outputs-")), "outputs.json");
    writeFileSync(outputsFile, JSON.stringify(downloads.outputs));
  });

  after(() => fake.close());

  beforeEach(() => fake.use(cluster));

  const transport = () =>
    new KubectlTransport({
      kubectl: fake.kubectl,
      gateway: {
        namespace: "charmarr-vpn",
        selector: "app.kubernetes.io/name=vpn-gateway,app.kubernetes.io/instance=vpn-gateway",
      },
    });

  it("finds every routed pod of the plan fenced by its own kill switch", async () => {
    const coverage = await killSwitchCoverage(transport(), "charmarr-downloads");
    assert.deepEqual(
      coverage.map(({ pod, killSwitches, openers }) => [pod.name, killSwitches, openers]),
      [
        ["charmarr-downloads/qbittorrent-0", ["qbittorrent-vpn-kill-switch"], []],
        ["charmarr-downloads/sabnzbd-0", ["sabnzbd-vpn-kill-switch"], []],
      ],
    );
  });

  it("fails a routed pod whose kill switch is gone, and one that another policy opens to the internet", async () => {
    const policies = cluster.objects.networkpolicies.filter(
      (policy) => (policy.metadata as { name: string }).name !== "qbittorrent-vpn-kill-switch",
    );
    const allowAll = {
      metadata: { name: "allow-all-egress", namespace: "charmarr-downloads" },
      spec: {
        podSelector: { matchLabels: { "app.kubernetes.io/name": "sabnzbd" } },
        policyTypes: ["Egress"],
        egress: [{}],
      },
    };
    fake.use({ ...cluster, objects: { ...cluster.objects, networkpolicies: [...policies, allowAll] } });
    const verdicts = killSwitchVerdicts(
      "charmarr-downloads",
      await killSwitchCoverage(transport(), "charmarr-downloads"),
    );
    assert.deepEqual(
      verdicts.map((verdict) => [verdict.subject, verdict.status]),
      [
        ["charmarr-downloads/qbittorrent-0", "fail"],
        ["charmarr-downloads/sabnzbd-0", "fail"],
      ],
    );
    assert.match(verdicts[1].message, /allow-all-egress opens egress to everywhere/);
  });

  it("runs probes in the route sidecar and gluetun, the API key on stdin only", async () => {
    const kubectl = transport();
    const sidecar: KubeTarget = {
      role: "routed",
      name: "charmarr-downloads/qbittorrent-0",
      namespace: "charmarr-downloads",
      pod: { name: "qbittorrent-0" },
      containers: ["vpn-route-sidecar", "qbittorrent"],
    };
    assert.deepEqual(await publicAddress(kubectl, sidecar, ECHO_URL, 3000), { ok: true, value: vpnExit });
    const gluetun: KubeTarget = {
      role: "gluetun",
      name: "gluetun",
      namespace: "charmarr-vpn",
      pod: { selector: "app.kubernetes.io/name=vpn-gateway" },
      containers: ["gluetun"],
    };
    assert.deepEqual(
      await gluetunPublicAddress(
        kubectl,
        gluetun,
        await kubectl.secretValue("charmarr-vpn", "vpn-gateway-control-server", "api-key"),
        3000,
      ),
      { ok: true, value: vpnExit },
    );
    const execs = fake.calls().filter((argv) => argv[0] === "exec");
    assert.deepEqual(execs[0].slice(0, 7), [
      "exec",
      "-n",
      "charmarr-downloads",
      "qbittorrent-0",
      "-c",
      "vpn-route-sidecar",
      "--",
    ]);
    assert.deepEqual(execs[1].slice(0, 8), [
      "exec",
      "-i",
      "-n",
      "charmarr-vpn",
      "vpn-gateway-5d8f7c9b4-x2k7q",
      "-c",
      "gluetun",
      "--",
    ]);
    assert.ok(
      fake.calls().every((argv) => !argv.join(" ").includes(API_KEY)),
      "the API key never appears in kubectl's argv",
    );
    assert.deepEqual(
      fake.callsWithInput().flatMap((call) => (call.stdin.includes(API_KEY) ? [call.argv.slice(0, 8)] : [])),
      [execs[1].slice(0, 8)],
      "the API key reaches gluetun's exec, and only it, on stdin",
    );
  });

  it("probes through the app's container while the route sidecar is not running", async () => {
    // The kubelet's answer to an exec into a container that is not running.
    const restarting = {
      stdout: "",
      stderr: 'error: unable to upgrade connection: container not found ("vpn-route-sidecar")\n',
      exitCode: 1,
    };
    fake.use({
      ...cluster,
      exec: [
        { container: "vpn-route-sidecar", match: ".", result: restarting, notRun: true },
        { container: "qbittorrent", match: "^timeout \\d+ wget", result: captured("address-curl-only", 0) },
        { container: "qbittorrent", match: "^curl ", result: captured("address-vpn") },
      ],
    });
    const sidecarFirst: KubeTarget = {
      role: "routed",
      name: "charmarr-downloads/qbittorrent-0",
      namespace: "charmarr-downloads",
      pod: { name: "qbittorrent-0" },
      containers: ["vpn-route-sidecar", "qbittorrent"],
    };
    assert.deepEqual(await publicAddress(transport(), sidecarFirst, ECHO_URL, 3000), { ok: true, value: vpnExit });
    const onlySidecar = await publicAddress(
      transport(),
      { ...sidecarFirst, containers: ["vpn-route-sidecar"] },
      ECHO_URL,
      3000,
    );
    assert.deepEqual(onlySidecar, {
      ok: false,
      kind: "unreachable",
      message: 'error: unable to upgrade connection: container not found ("vpn-route-sidecar")',
    });
  });

  it("the fake itself: a scenario it cannot read fails the call with the reason, instead of hanging it", async () => {
    fake.use({
      ...cluster,
      exec: [{ container: "qbittorrent", match: "(", result: { stdout: "", stderr: "", exitCode: 0 } }],
    });
    const result = await runProcess([fake.kubectl, "exec", "qbittorrent-0", "-c", "qbittorrent", "--", "true"], {
      timeoutMs: 10_000,
    });
    assert.equal(result.exitCode, 1, result.stderr);
    assert.match(result.stderr, /^fake kubectl: Invalid regular expression/);
  });

  it("tells a command that failed in the container from kubectl not running it", async () => {
    const refused = captured("address-refused");
    const ran = `${refused.stderr}command terminated with exit code 1\n`;
    assert.equal(kubectlExecFailure(ran, 1), undefined);
    const { stderr, exitCode } = CAPTURED.kubectl["no-server-exec"].result;
    assert.deepEqual(kubectlExecFailure(stderr, exitCode), {
      kind: "unreachable",
      message: "The connection to the server localhost:8080 was refused - did you specify the right host or port?",
    });
    assert.equal(
      kubectlMessage(CAPTURED.kubectl["no-context"].result.stderr),
      "Error in configuration: context was not found for specified context: no-such-context",
    );
    // runc's refusal as containerd relays it (Go os/exec's ErrNotFound text inside).
    const noWget =
      'error: Internal error occurred: error executing command in container: failed to exec in container: failed to start exec "1a2b": OCI runtime exec failed: exec failed: unable to start container process: exec: "wget": executable file not found in $PATH: unknown';
    assert.deepEqual(kubectlExecFailure(noWget, 1), {
      kind: "missing-command",
      message: 'exec: "wget": executable file not found in $PATH: unknown',
    });
  });

  it("deletes the gateway pod without waiting and watches for a ready successor", async () => {
    const kubectl = transport();
    assert.deepEqual(await kubectl.gatewayState(), { id: "uid-vpn-gateway-5d8f7c9b4-x2k7q", ready: true });
    assert.equal(await kubectl.deleteGateway(), "uid-vpn-gateway-5d8f7c9b4-x2k7q");
    assert.deepEqual(
      fake.calls().find((argv) => argv[0] === "delete"),
      ["delete", "pod", "vpn-gateway-5d8f7c9b4-x2k7q", "-n", "charmarr-vpn", "--wait=false"],
    );
  });

  async function verify(...extra: string[]): Promise<{ code: number; out: string }> {
    const lines: string[] = [];
    const log = console.log;
    const error = console.error;
    console.log = (line: string) => lines.push(line);
    console.error = () => undefined;
    try {
      const code = await main(["--outputs", outputsFile, "--echo-url", ECHO_URL, "--timeout", "3", ...extra], {
        kubectl: fake.kubectl,
      });
      return { code, out: lines.join("\n") };
    } finally {
      console.log = log;
      console.error = error;
    }
  }

  it("npm run verify: exit 0 and a table of passes on a healthy deployment", async () => {
    const { code, out } = await verify();
    assert.equal(code, 0, out);
    assert.match(out, /routed pods must resolve through the gateway at 172\.16\.0\.1 \(kube-dns: 10\.43\.0\.10\)/);
    assert.match(out, /VPN address\s+gluetun\s+PASS\s+gluetun's public IP is 198\.51\.100\.7/);
    assert.match(
      out,
      new RegExp(`home address\\s+non-routed pod\\s+PASS\\s+a non-routed pod is seen as ${home.replace(/\./g, "\\.")}`),
    );
    assert.match(
      out,
      /public address\s+charmarr-downloads\/sabnzbd-0\s+PASS\s+seen as 198\.51\.100\.7, the VPN's address/,
    );
    assert.match(out, /DNS path\s+charmarr-downloads\/qbittorrent-0\s+PASS/);
    assert.match(
      out,
      /NetworkPolicy\s+charmarr-downloads\/sabnzbd-0\s+PASS\s+denied http:\/\/10\.43\.0\.10:9153\/metrics \(no answer\), which answers a pod outside the route/,
    );
    assert.match(out, /OK: 10 pass, 0 fail, 0 could not be checked \(exit 0\)/);
  });

  it("npm run verify: exit 1 naming each leak when routed pods show the home address and resolve through kube-dns", async () => {
    fake.use({ ...cluster, exec: execRules({ address: "address-home", dns: "dns-silent" }) });
    const { code, out } = await verify();
    assert.equal(code, 1, out);
    assert.match(
      out,
      /public address\s+charmarr-downloads\/qbittorrent-0\s+FAIL\s+LEAK: seen as 203\.0\.113\.9, the home address/,
    );
    assert.match(
      out,
      /DNS path\s+charmarr-downloads\/qbittorrent-0\s+FAIL\s+LEAK: nameserver 10\.43\.0\.10 \(kube-dns\), not the gateway 172\.16\.0\.1/,
    );
    assert.match(out, /LEAK OR FAILURE: 6 pass, 4 fail/);
  });

  it("npm run verify: exit 1 when the routed pods reach what their kill switch denies (NetworkPolicy not enforced)", async () => {
    fake.use({ ...cluster, exec: execRules({ address: "address-vpn", dns: "dns-gateway", denied: "address-ok" }) });
    const { code, out } = await verify();
    assert.equal(code, 1, out);
    assert.match(
      out,
      /NetworkPolicy\s+charmarr-downloads\/qbittorrent-0\s+FAIL\s+NOT ENFORCED: http:\/\/10\.43\.0\.10:9153\/metrics answered, which the kill switch denies/,
    );
    assert.match(out, /LEAK OR FAILURE: 8 pass, 2 fail/);
  });

  it("npm run verify: exit 2 with kubectl's own message when the context's cluster cannot be reached", async () => {
    fake.use({ ...cluster, unreachable: CAPTURED.kubectl["no-server-get"].result });
    const errors: string[] = [];
    const error = console.error;
    console.error = (line: string) => errors.push(line);
    try {
      assert.equal(await main(["--outputs", outputsFile, "--context", "homelab"], { kubectl: fake.kubectl }), 2);
    } finally {
      console.error = error;
    }
    assert.deepEqual(errors, [
      "cannot check: kubectl get namespace charmarr-downloads -o name: The connection to the server localhost:8080 was refused - did you specify the right host or port?",
    ]);
    assert.deepEqual(fake.calls().at(-1), [
      "--context",
      "homelab",
      "get",
      "namespace",
      "charmarr-downloads",
      "-o",
      "name",
    ]);
  });
});
