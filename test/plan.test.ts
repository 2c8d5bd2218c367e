import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { parseArguments, runPlan, stackFiles } from "../plan/cli";

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "charmarr-plan-"));
}

async function plan(args: string[]): Promise<{ status: number; output: string }> {
  const lines: string[] = [];
  const status = await runPlan(args, (line) => lines.push(line));
  return { status, output: lines.join("\n") };
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
}

describe("npm run plan", () => {
  it("plans both stacks by default and writes the three files for each", async () => {
    const out = tempDir();
    const { status, output } = await plan(["--out", out]);
    assert.equal(status, 0, output);
    for (const stack of ["core", "downloads"]) {
      assert.deepEqual(readdirSync(join(out, stack)).sort(), [
        "manifests.yaml",
        "outputs.json",
        "resources.json",
        "secret-outputs.json",
      ]);
      const text = readFileSync(join(out, stack, "manifests.yaml"), "utf8");
      const documents = parseAllDocuments(text);
      const objects = (Array.isArray(documents) ? documents : [documents]).map(
        (d) => d.toJS() as { kind: string; apiVersion: string },
      );
      // kubectl reads YAML 1.1, where an unquoted off/yes/on is a boolean: both readings must agree.
      const asKubectlReadsIt = parseAllDocuments(text, { version: "1.1" });
      assert.deepEqual(
        (Array.isArray(asKubectlReadsIt) ? asKubectlReadsIt : [asKubectlReadsIt]).map((d) => d.toJS()),
        objects,
        `${stack}: YAML 1.1 reads the same objects`,
      );
      assert.ok(
        objects.length > 0 && objects.every((o) => o.kind && o.apiVersion),
        `${stack}: every document is a Kubernetes object`,
      );
      const resources = JSON.parse(readFileSync(join(out, stack, "resources.json"), "utf8")) as {
        type: string;
        name: string;
        inputs: unknown;
      }[];
      assert.ok(resources.length >= objects.length && resources.every((r) => r.type && r.name && r.inputs));
    }
    assert.match(output, /Stack core: \d+ resources/);
    assert.match(output, /resources by type:/);
    assert.match(output, /Kubernetes objects by namespace:/);
  });

  it("feeds core's outputs to downloads through the StackReference", async () => {
    const out = tempDir();
    assert.equal((await plan(["--out", out])).status, 0);
    const core = readJson(join(out, "core", "outputs.json"));
    const downloads = readJson(join(out, "downloads", "outputs.json"));
    assert.deepEqual(downloads.cluster, core.cluster);
    assert.equal(downloads.coreNamespace, core.namespace);
  });

  it("plans core first when downloads is planned alone without core outputs", async () => {
    const out = tempDir();
    const { status, output } = await plan(["downloads", "--out", out]);
    assert.equal(status, 0, output);
    assert.match(output, /planning core first with Pulumi\.core\.yaml/);
    assert.ok(existsSync(join(out, "core", "outputs.json")));
  });

  it("uses the saved core outputs when they exist", async () => {
    const out = tempDir();
    assert.equal((await plan(["core", "--out", out])).status, 0);
    const saved = readJson(join(out, "core", "outputs.json"));
    const cluster = { ...(saved.cluster as Record<string, unknown>), podCidr: "10.100.0.0/16" };
    writeFileSync(join(out, "core", "outputs.json"), JSON.stringify({ ...saved, cluster }));
    const { status, output } = await plan(["downloads", "--out", out]);
    assert.equal(status, 0, output);
    assert.match(output, /Using core stack outputs from/);
    assert.equal(
      (readJson(join(out, "downloads", "outputs.json")).cluster as Record<string, unknown>).podCidr,
      "10.100.0.0/16",
    );
  });

  it("exits 1 with the validation message and writes nothing for a bad CIDR", async () => {
    const out = tempDir();
    const bad = join(out, "bad.yaml");
    writeFileSync(
      bad,
      readFileSync("Pulumi.core.yaml", "utf8").replace("podCidr: 10.42.0.0/16", "podCidr: 10.42.0.0/33"),
    );
    const { status, output } = await plan(["core", "--config", bad, "--out", join(out, "plan")]);
    assert.equal(status, 1);
    assert.match(output, /charmarr:cluster\.podCidr\n\s+"10\.42\.0\.0\/33" is not an IPv4 CIDR block/);
    assert.ok(!existsSync(join(out, "plan")), "nothing is written for an invalid configuration");
  });

  it("exits 1 for a bad downloads config, naming the key", async () => {
    const out = tempDir();
    const bad = join(out, "bad.yaml");
    writeFileSync(
      bad,
      readFileSync("Pulumi.downloads.yaml", "utf8").replace("vxlanNetwork: 172.16.0", "vxlanNetwork: 10.42.3"),
    );
    assert.equal((await plan(["core", "--out", out])).status, 0);
    const { status, output } = await plan(["downloads", "--config", bad, "--out", out]);
    assert.equal(status, 1);
    assert.match(output, /charmarr:vpn\.vxlanNetwork\n\s+10\.42\.3\.0\/24 overlaps the cluster's podCidr/);
    assert.ok(!existsSync(join(out, "downloads")));
  });

  it("replaces secure: values with placeholders and never writes a secret", async () => {
    const out = tempDir();
    const file = join(out, "secure.yaml");
    writeFileSync(
      file,
      readFileSync("Pulumi.downloads.yaml", "utf8").replace(
        "charmarr:vpnPrivateKey: plan-placeholder-not-a-real-key",
        "charmarr:vpnPrivateKey:\n    secure: v1:AAAAAAAAAAAAAAAA:BBBBBBBBBBBBBBBBBBBB",
      ),
    );
    assert.equal((await plan(["downloads", "--config", file, "--out", out])).status, 0);
    const plainFile = join(out, "plain.yaml");
    writeFileSync(
      plainFile,
      readFileSync("Pulumi.downloads.yaml", "utf8").replace(
        "plan-placeholder-not-a-real-key",
        "very-secret-wireguard-key",
      ),
    );
    assert.equal((await plan(["downloads", "--config", plainFile, "--out", join(out, "p2")])).status, 0);
    for (const dir of [join(out, "downloads"), join(out, "p2", "downloads")]) {
      for (const name of readdirSync(dir)) {
        const text = readFileSync(join(dir, name), "utf8");
        assert.ok(
          !text.includes("very-secret-wireguard-key") && !text.includes("BBBBBBBBBBBB"),
          `${name} leaks a secret`,
        );
      }
    }
  });

  it("refuses bad arguments with usage", async () => {
    for (const args of [["--config"], ["core", "downloads", "--config", "x.yaml"], ["--bogus"], ["core/prod"]]) {
      const { status, output } = await plan(args);
      assert.equal(status, 2, args.join(" "));
      assert.match(
        output,
        /usage: npm run plan -- \[STACK\.\.\.\] \[--config FILE\] \[--core-config FILE\] \[--out DIR\]/,
      );
    }
    assert.deepEqual(parseArguments([]).stacks, []);
    assert.deepEqual(
      stackFiles().map((spec) => spec.stack),
      ["core", "downloads"],
    );
  });

  it("runs as `npm run plan` in a child process with exit status 1 on bad config", function () {
    this.timeout(60000);
    const out = tempDir();
    const bad = join(out, "bad.yaml");
    writeFileSync(
      bad,
      readFileSync("Pulumi.core.yaml", "utf8").replace("dnsServiceIp: 10.43.0.10", "dnsServiceIp: 10.43.0"),
    );
    try {
      execFileSync("npm", ["run", "--silent", "plan", "--", "core", "--config", bad, "--out", join(out, "p")], {
        encoding: "utf8",
        stdio: "pipe",
      });
      assert.fail("plan accepted a bad config");
    } catch (error) {
      const failure = error as { status: number; stdout: string };
      assert.equal(failure.status, 1);
      assert.match(failure.stdout, /charmarr:cluster\.dnsServiceIp/);
    }
  });
});

describe("npm run plan: any stack name", () => {
  /** A directory with one core and one downloads stack file of the given names, and the downloads stack reading the core one. */
  function stackDir(core: string, downloads: string, coreStack: string): string {
    const dir = tempDir();
    writeFileSync(join(dir, `Pulumi.${core}.yaml`), readFileSync("Pulumi.core.yaml", "utf8"));
    writeFileSync(
      join(dir, `Pulumi.${downloads}.yaml`),
      readFileSync("Pulumi.downloads.yaml", "utf8").replace(
        "charmarr:coreStack: organization/charmarr/core",
        `charmarr:coreStack: ${coreStack}`,
      ),
    );
    return dir;
  }

  async function planIn(dir: string, args: string[]): Promise<{ status: number; output: string }> {
    const lines: string[] = [];
    const status = await runPlan(args, (line) => lines.push(line), dir);
    return { status, output: lines.join("\n") };
  }

  it("plans every stack file of a directory, core stacks first, each role from charmarr:role", async () => {
    const dir = stackDir("homelab-core", "homelab-downloads", "myorg/charmarr/homelab-core");
    const out = join(dir, "plan");
    const { status, output } = await planIn(dir, ["--out", out]);
    assert.equal(status, 0, output);
    assert.ok(output.indexOf("Stack homelab-core:") < output.indexOf("Stack homelab-downloads:"), output);
    const core = readJson(join(out, "homelab-core", "outputs.json"));
    const downloads = readJson(join(out, "homelab-downloads", "outputs.json"));
    assert.equal(downloads.coreStack, "myorg/charmarr/homelab-core");
    assert.deepEqual(downloads.cluster, core.cluster);
  });

  it("plans a downloads stack alone against its configured core stack, from --core-config or the core stack's file", async () => {
    const dir = stackDir("homelab-core", "homelab-downloads", "myorg/charmarr/homelab-core");
    const byFlag = await planIn(dir, [
      "homelab-downloads",
      "--core-config",
      join(dir, "Pulumi.homelab-core.yaml"),
      "--out",
      join(dir, "a"),
    ]);
    assert.equal(byFlag.status, 0, byFlag.output);
    assert.equal(
      readJson(join(dir, "a", "homelab-downloads", "outputs.json")).coreStack,
      "myorg/charmarr/homelab-core",
    );
    assert.ok(existsSync(join(dir, "a", "homelab-core", "outputs.json")));
    const byFile = await planIn(dir, ["homelab-downloads", "--out", join(dir, "b")]);
    assert.equal(byFile.status, 0, byFile.output);
    assert.match(byFile.output, /planning core first with .*Pulumi\.homelab-core\.yaml/);
    const saved = await planIn(dir, ["homelab-downloads", "--out", join(dir, "b")]);
    assert.equal(saved.status, 0, saved.output);
    assert.match(saved.output, /Using core stack outputs from .*homelab-core\/outputs\.json/);
  });

  it("says how to plan offline when no core stack configuration can be found, never to deploy", async () => {
    const dir = stackDir("homelab-core", "homelab-downloads", "myorg/charmarr/homelab-core");
    const lonely = tempDir();
    writeFileSync(
      join(lonely, "Pulumi.homelab-downloads.yaml"),
      readFileSync(join(dir, "Pulumi.homelab-downloads.yaml"), "utf8"),
    );
    const { status, output } = await planIn(lonely, ["homelab-downloads", "--out", join(lonely, "plan")]);
    assert.equal(status, 1);
    assert.match(
      output,
      /Cannot plan the downloads stack "homelab-downloads" offline: it reads the core stack "myorg\/charmarr\/homelab-core" \(charmarr:coreStack\)/,
    );
    assert.match(output, /--core-config FILE/);
    assert.doesNotMatch(output, /pulumi up|[Dd]eploy/);
  });

  it("says to plan the core stack again, not to deploy it, when its saved outputs are stale", async () => {
    const dir = stackDir("homelab-core", "homelab-downloads", "myorg/charmarr/homelab-core");
    const out = join(dir, "plan");
    assert.equal((await planIn(dir, ["homelab-core", "--out", out])).status, 0);
    const { cluster, ...withoutCluster } = readJson(join(out, "homelab-core", "outputs.json"));
    assert.ok(cluster);
    writeFileSync(join(out, "homelab-core", "outputs.json"), JSON.stringify(withoutCluster));
    const { status, output } = await planIn(dir, ["homelab-downloads", "--out", out]);
    assert.equal(status, 1);
    assert.match(
      output,
      /The core stack "myorg\/charmarr\/homelab-core" has no output "cluster"\. Planning offline, the core outputs came from .*outputs\.json: plan the core stack again with this version of the program \(npm run plan -- homelab-core, or --core-config FILE\)\./,
    );
    assert.doesNotMatch(output, /pulumi up/);
  });

  it("takes the role from the stack's name when charmarr:role is unset, and refuses a stack whose file is missing", async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, "Pulumi.core.yaml"),
      readFileSync("Pulumi.core.yaml", "utf8").replace(/^ {2}charmarr:role: core\n/m, ""),
    );
    const named = await planIn(dir, ["core", "--out", join(dir, "plan")]);
    assert.equal(named.status, 0, named.output);
    const missing = await planIn(dir, ["staging", "--out", join(dir, "plan")]);
    assert.equal(missing.status, 1);
    assert.match(
      missing.output,
      /No .*Pulumi\.staging\.yaml for stack "staging": give its configuration with --config FILE/,
    );
  });
});
