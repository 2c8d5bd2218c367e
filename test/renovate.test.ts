import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as semver from "semver";
import { APP_CATALOG } from "../lib/apps/catalog";
import { ADDON_RELEASES, CHART_SOURCES, ISTIO_RELEASES } from "../lib/platform";
import { planDownloads } from "./support/plan";

/**
 * renovate.json proposes an update for every pin the program declares: its custom regex managers,
 * run here the way Renovate runs them (each `matchStrings` regex over every tracked file its
 * `managerFilePatterns` select), must extract each pin of the code's tables with the datasource
 * and package that publish it.
 */

interface CustomManager {
  readonly customType: "regex";
  readonly description: string;
  readonly managerFilePatterns: string[];
  readonly matchStrings: string[];
  readonly depNameTemplate?: string;
  readonly datasourceTemplate: string;
  readonly registryUrlTemplate?: string;
}

interface PackageRule {
  readonly description: string;
  readonly matchPackageNames?: string[];
  readonly matchDepNames?: string[];
  readonly matchManagers?: string[];
  readonly allowedVersions?: string;
  readonly matchDatasources?: string[];
  readonly matchUpdateTypes?: string[];
  readonly versioning?: string;
  readonly groupName?: string;
  readonly enabled?: boolean;
  readonly dependencyDashboardApproval?: boolean;
  readonly labels?: string[];
  readonly prBodyNotes?: string[];
}

interface RenovateConfig {
  readonly customManagers: CustomManager[];
  readonly packageRules: PackageRule[];
}

/** A dependency a manager extracted, as Renovate would look it up. */
interface Extracted {
  readonly file: string;
  readonly datasource: string;
  readonly depName: string;
  readonly currentValue: string;
  readonly registryUrl?: string;
}

const ROOT = path.resolve(__dirname, "..");
const CONFIG = JSON.parse(readFileSync(path.join(ROOT, "renovate.json"), "utf8")) as RenovateConfig;

function trackedFiles(): string[] {
  const listed = spawnSync("git", ["ls-files"], { cwd: ROOT, encoding: "utf8" });
  assert.equal(listed.status, 0, listed.stderr);
  return listed.stdout.split("\n").filter((file) => file !== "");
}

/** `managerFilePatterns` entries are `/regex/` (Renovate also takes globs; this config uses none). */
function filePattern(pattern: string): RegExp {
  const regex = /^\/(.*)\/$/.exec(pattern);
  assert.ok(regex, `managerFilePatterns entry ${pattern} is not a /regex/`);
  return new RegExp(regex[1]);
}

function extract(manager: CustomManager, files: readonly string[]): Extracted[] {
  const patterns = manager.managerFilePatterns.map(filePattern);
  const found: Extracted[] = [];
  for (const file of files.filter((name) => patterns.some((pattern) => pattern.test(name)))) {
    const text = readFileSync(path.join(ROOT, file), "utf8");
    for (const matchString of manager.matchStrings) {
      for (const match of text.matchAll(new RegExp(matchString, "g"))) {
        const groups = match.groups ?? {};
        const depName = groups.depName ?? manager.depNameTemplate;
        assert.ok(
          depName && groups.currentValue,
          `${manager.description}: a match in ${file} has no depName or currentValue`,
        );
        found.push({
          file,
          datasource: manager.datasourceTemplate,
          depName,
          currentValue: groups.currentValue,
          ...(manager.registryUrlTemplate ? { registryUrl: manager.registryUrlTemplate } : {}),
        });
      }
    }
  }
  return found;
}

/** The versioning a package gets: the last matching package rule's, else the datasource's default. */
function versioningOf(datasource: string, depName: string): string | undefined {
  const rules = CONFIG.packageRules.filter(
    (rule) =>
      rule.versioning &&
      (!rule.matchDatasources || rule.matchDatasources.includes(datasource)) &&
      rule.matchPackageNames?.includes(depName),
  );
  return rules.at(-1)?.versioning;
}

describe("renovate: every pin is proposed for update", () => {
  const files = trackedFiles();
  const extracted = CONFIG.customManagers.flatMap((manager) => extract(manager, files));

  function assertCovered(expected: Omit<Extracted, "file">, file: string): void {
    const hit = extracted.find(
      (dep) => dep.file === file && dep.depName === expected.depName && dep.currentValue === expected.currentValue,
    );
    assert.ok(hit, `no manager extracts ${expected.depName} ${expected.currentValue} from ${file}`);
    assert.deepEqual({ ...hit, file: undefined }, { ...expected, file: undefined });
  }

  it("each manager finds something (no pattern went stale)", () => {
    for (const manager of CONFIG.customManagers) {
      assert.ok(extract(manager, files).length > 0, `${manager.description} matches nothing`);
    }
  });

  it("every row of the versions table: its Gateway API release and its Istio version, for each of the four Istio charts from Istio's OCI registry", () => {
    const file = "lib/platform/versions.ts";
    for (const release of Object.values(ISTIO_RELEASES)) {
      assertCovered(
        { datasource: "github-releases", depName: "kubernetes-sigs/gateway-api", currentValue: release.gatewayApi },
        file,
      );
      for (const step of ["istio-base", "istiod", "istio-cni", "ztunnel"] as const) {
        // Renovate looks OCI Helm charts up as images: the chart reference without oci://.
        const image = CHART_SOURCES[step].chart.replace(/^oci:\/\//, "");
        assertCovered({ datasource: "docker", depName: image, currentValue: release.version }, file);
      }
    }
    const istioVersions = extracted.filter((dep) => dep.depName.startsWith("registry.istio.io/"));
    assert.equal(istioVersions.length, 4 * Object.keys(ISTIO_RELEASES).length, "an add-on version read as Istio's");
  });

  it("MetalLB and the Tailscale operator, at their chart repositories", () => {
    const charts = { metallb: "metallb", tailscaleOperator: "tailscale-operator" } as const;
    for (const [addon, step] of Object.entries(charts) as [
      keyof typeof charts,
      (typeof charts)[keyof typeof charts],
    ][]) {
      const source = CHART_SOURCES[step];
      assertCovered(
        {
          datasource: "helm",
          depName: source.chart,
          currentValue: ADDON_RELEASES[addon].version,
          registryUrl: source.repo,
        },
        "lib/platform/versions.ts",
      );
    }
  });
  it("every app image of the catalog, with a versioning that reads its tag", () => {
    for (const app of Object.values(APP_CATALOG)) {
      assertCovered({ datasource: "docker", depName: app.image, currentValue: app.tag }, "lib/apps/catalog.ts");
      const versioning = versioningOf("docker", app.image) ?? "";
      assert.ok(versioning.startsWith("regex:"), `${app.image} has no regex versioning`);
      const groups = new RegExp(versioning.slice("regex:".length)).exec(app.tag)?.groups;
      assert.ok(groups, `${app.image}: the versioning does not read the pinned tag ${app.tag}`);
      if (app.image.startsWith("lscr.io/linuxserver/")) {
        assert.ok(groups.build !== undefined, `${app.image}: the LinuxServer build of ${app.tag} is not ordered`);
      }
    }
  });

  it("the VPN images the program deploys by default, in the code and in the example stack", async () => {
    const plan = await planDownloads({ "charmarr:vpn.images": undefined });
    const images = new Set(
      plan.manifests
        .flatMap((m) => {
          const pod = (
            m.spec as
              | { template?: { spec?: { containers?: { image: string }[]; initContainers?: { image: string }[] } } }
              | undefined
          )?.template?.spec;
          return [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])].map((container) => container.image);
        })
        .filter((image) => !image.startsWith("lscr.io/")),
    );
    assert.ok(images.size >= 2, `expected the gluetun and pod-gateway images, found ${[...images].join(", ")}`);
    for (const image of images) {
      const colon = image.lastIndexOf(":");
      const expected = { datasource: "docker", depName: image.slice(0, colon), currentValue: image.slice(colon + 1) };
      const declaredIn = extracted.filter((dep) => dep.depName === expected.depName && dep.file.startsWith("lib/"));
      assert.ok(declaredIn.length > 0, `no manager extracts ${image} from lib/`);
      for (const dep of declaredIn) {
        assert.deepEqual(
          { ...dep, file: undefined },
          { ...expected, file: undefined },
          `${dep.file} names ${dep.depName}:${dep.currentValue}, the program deploys ${image}`,
        );
      }
      assertCovered(expected, "Pulumi.downloads.yaml");
    }
  });
});

/** The package rules that apply to an update of `depName` of the given type, in order. */
function rulesFor(depName: string, updateType: "major" | "minor" | "patch"): PackageRule[] {
  return CONFIG.packageRules.filter(
    (rule) =>
      rule.matchPackageNames?.includes(depName) &&
      (rule.matchUpdateTypes === undefined || rule.matchUpdateTypes.includes(updateType)),
  );
}

/** Each option as the last matching rule sets it (Renovate applies packageRules in order, later ones winning). */
function effective(depName: string, updateType: "major" | "minor" | "patch"): Omit<PackageRule, "description"> {
  return Object.assign({}, ...rulesFor(depName, updateType).map(({ description: _description, ...rest }) => rest));
}

describe("renovate: updates that must move together or wait", () => {
  const istioCharts = (["istio-base", "istiod", "istio-cni", "ztunnel"] as const).map((step) =>
    CHART_SOURCES[step].chart.replace(/^oci:\/\//, ""),
  );

  it("groups the four Istio charts' patch updates into one", () => {
    const groups = new Set(istioCharts.map((chart) => effective(chart, "patch").groupName));
    assert.equal(groups.size, 1);
    assert.ok([...groups][0], "the Istio charts are in no group");
    assert.ok(istioCharts.every((chart) => effective(chart, "patch").enabled !== false));
  });

  it("proposes no new Istio or Gateway API minor: that is a new row of the versions table, the two together", () => {
    for (const name of [...istioCharts, "kubernetes-sigs/gateway-api"]) {
      for (const type of ["minor", "major"] as const) {
        assert.equal(effective(name, type).enabled, false, `${name} ${type} updates are proposed`);
      }
      assert.notEqual(effective(name, "patch").enabled, false, `${name} patch updates are not proposed`);
    }
  });

  it("flags a MetalLB or Tailscale operator bump as needing the new release's schema folder, which the suite checks", () => {
    for (const name of ["metallb", "tailscale-operator"]) {
      for (const type of ["major", "minor", "patch"] as const) {
        const options = effective(name, type);
        assert.ok(options.labels?.includes("needs-schema-folder"), `${name} ${type}`);
        assert.match(options.prBodyNotes?.join(" ") ?? "", /schema folder/);
      }
    }
    // What fails the suite after such a bump: the folder named beside each version is that version's.
    for (const [addon, release] of Object.entries(ADDON_RELEASES)) {
      const name = addon === "metallb" ? "metallb" : "tailscale";
      assert.equal(release.schemas, `${name}-v${release.version}`, `${addon}'s schema folder is not its version's`);
    }
  });

  it("holds gluetun's minor releases for review on the dependency dashboard, with what to check", () => {
    for (const type of ["minor", "major"] as const) {
      const options = effective("ghcr.io/qdm12/gluetun", type);
      assert.equal(options.dependencyDashboardApproval, true, type);
      assert.match(options.prBodyNotes?.join(" ") ?? "", /DNS_UPSTREAM_PLAIN_ADDRESSES.*docs\/upstream\.md#gluetun/);
    }
    assert.notEqual(effective("ghcr.io/qdm12/gluetun", "patch").dependencyDashboardApproval, true);
  });

  it("keeps typescript within typescript-eslint's peer range, and lets its TypeScript 7 alias move on", () => {
    const held = CONFIG.packageRules.filter((rule) => rule.matchDepNames?.includes("typescript"));
    assert.equal(held.length, 1);
    const [rule] = held;
    assert.deepEqual(rule.matchManagers, ["npm"]);
    const installed = JSON.parse(readFileSync(require.resolve("typescript/package.json"), "utf8")) as {
      version: string;
    };
    const peers = JSON.parse(readFileSync(require.resolve("typescript-eslint/package.json"), "utf8")) as {
      peerDependencies: Record<string, string>;
    };
    // Every version Renovate may propose, from the installed one up, is one typescript-eslint accepts.
    assert.ok(
      semver.subset(`>=${installed.version} ${rule.allowedVersions}`, peers.peerDependencies.typescript),
      `${rule.allowedVersions} lets typescript leave typescript-eslint's ${peers.peerDependencies.typescript}`,
    );
    assert.ok(semver.satisfies(installed.version, rule.allowedVersions ?? ""), "the installed typescript is refused");
    // matchDepNames, not matchPackageNames: the alias's package name is typescript too.
    assert.equal(rule.matchPackageNames, undefined);
    const manifest = JSON.parse(readFileSync(path.join(__dirname, "..", "package.json"), "utf8")) as {
      devDependencies: Record<string, string>;
    };
    assert.match(manifest.devDependencies["typescript-native"], /^npm:typescript@\^7\./);
  });
});
