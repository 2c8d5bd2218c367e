import { strict as assert } from "node:assert";
import { ConfigChanges, coreConfig } from "./support/plan";
import { ChartRelease, platformInstallPlan } from "../lib/platform";
import { chartValues, pathsNamed, unusedValues } from "./support/chartValues";
import { PLAN_VARIANTS, VERSION_VARIANTS } from "./support/variants";

/** The Helm releases a variant's core stack installs, with the values the program passes them. */
function releasesOf(changes: ConfigChanges = {}): { releases: readonly ChartRelease[]; clusterDomain: string } {
  const loaded = coreConfig(changes);
  return {
    releases: platformInstallPlan(loaded.platform, loaded.cluster.domain).releases,
    clusterDomain: loaded.cluster.domain,
  };
}

const variants = [...PLAN_VARIANTS, ...VERSION_VARIANTS].filter((variant) => variant.core !== undefined);

describe("Helm values: every value the program passes is one the chart at its pinned version uses", () => {
  for (const variant of variants) {
    it(`${variant.name}`, () => {
      const { releases } = releasesOf(variant.core);
      for (const release of releases) {
        assert.deepEqual(
          unusedValues(release.values, chartValues(release)).map(
            (problem) => `${release.step} ${release.version}: ${problem}`,
          ),
          [],
        );
      }
    });
  }

  it("checks at least one variant installing every chart", () => {
    const steps = new Set(
      variants.flatMap((variant) => releasesOf(variant.core).releases.map((release) => release.step)),
    );
    assert.deepEqual([...steps].sort(), [
      "istio-base",
      "istio-cni",
      "istiod",
      "metallb",
      "tailscale-operator",
      "ztunnel",
    ]);
  });

  it("gives every Istio chart the same cluster domain wherever one takes it (istiod's values: all charts alike)", () => {
    const { releases, clusterDomain } = releasesOf({
      ...VERSION_VARIANTS[0].core,
      "charmarr:cluster.domain": "homelab.internal",
    });
    assert.equal(clusterDomain, "homelab.internal");
    for (const release of releases.filter((entry) => entry.chart.startsWith("oci://registry.istio.io/"))) {
      // Every clusterDomain a chart declares is set, to the cluster's domain.
      for (const at of pathsNamed(chartValues(release).declared, "clusterDomain")) {
        const value = at
          .split(".")
          .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], release.values);
        assert.equal(value, clusterDomain, `${release.step}: ${at}`);
      }
    }
    const ztunnel = releases.find((release) => release.step === "ztunnel") as ChartRelease;
    assert.equal((ztunnel.values.env as Record<string, string>).CLUSTER_DOMAIN, clusterDomain);
  });

  describe("what Helm would silently ignore is refused", () => {
    const { releases } = releasesOf(variants[0].core);
    const release = (step: string) => releases.find((entry) => entry.step === step) as ChartRelease;

    it("an undeclared key (MetalLB's frr-k8s switch misspelt)", () => {
      const metallb = release("metallb");
      assert.deepEqual(unusedValues({ frrK8s: { enabled: false } }, chartValues(metallb)), [
        "frrK8s: not declared in the chart's values.yaml, and no template reads it",
      ]);
    });

    it("a renamed nested key (istiod's global.proxy.clusterDomain)", () => {
      const istiod = release("istiod");
      assert.deepEqual(unusedValues({ global: { proxy: { clusterDomian: "cluster.local" } } }, chartValues(istiod)), [
        "global.proxy.clusterDomian: not declared in the chart's values.yaml, and no template reads it",
      ]);
    });

    it("a map where the chart takes a value, and a value against values.schema.json", () => {
      const tailscale = release("tailscale-operator");
      assert.deepEqual(unusedValues({ proxyConfig: { defaultTags: { tag: "k8s" } } }, chartValues(tailscale)), [
        "proxyConfig.defaultTags: a map where values.yaml declares a value",
      ]);
      const metallb = release("metallb");
      assert.ok(
        unusedValues({ speaker: { logLevel: 3 } }, chartValues(metallb)).some((problem) =>
          problem.startsWith("/speaker/logLevel: must be string (values.schema.json)"),
        ),
      );
    });

    it("takes what a template reads undeclared (zzz_profile.yaml's profile and platform), MeshConfig's fields and env entries", () => {
      const cni = release("istio-cni");
      assert.deepEqual(unusedValues({ profile: "ambient", global: { platform: "k3s" } }, chartValues(cni)), []);
      const istiod = release("istiod");
      assert.deepEqual(
        unusedValues({ meshConfig: { trustDomain: "home.arpa" }, env: { ANY: "x" } }, chartValues(istiod)),
        [],
      );
    });

    it("fails clearly when a pinned version's values are absent", () => {
      assert.throws(
        () => chartValues({ step: "metallb", version: "0.0.1" }),
        /pinned chart values not found: .*metallb-v0.0.1/,
      );
    });
  });
});
