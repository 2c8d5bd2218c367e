import { strict as assert } from "node:assert";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { stringify } from "yaml";
import { istiodVersion, meshTrustDomain, readClusterInventory } from "../lib/platform/clusterReader";
import {
  ClusterInventory,
  CrdFacts,
  PreflightFinding,
  declaredInventory,
  preflightFindings,
} from "../lib/platform/preflight";
import { PlatformSettings, platformSchema } from "../lib/platform/settings";
import {
  assertConfigError,
  coreConfig,
  planStack,
  resourcesOfLastPlan,
  withConfig,
  CORE_EXAMPLE,
} from "./support/plan";
import { PLAN_VARIANTS } from "./support/variants";

const settings = (input: unknown = {}): PlatformSettings => platformSchema.parse(input);
const EMPTY: ClusterInventory = { crds: {}, namespaces: {}, istiods: [] };
/** The findings on one add-on's keys (those starting with `charmarr:platform.<addon>`). */
const findings = (platform: unknown, inventory: Partial<ClusterInventory>, addon?: string): PreflightFinding[] =>
  preflightFindings(settings(platform), { reachable: true, inventory: { ...EMPTY, ...inventory } }, [], STACK).filter(
    (finding) => addon === undefined || finding.key.startsWith(`charmarr:platform.${addon}.`),
  );

const GATEWAY_CRD = "gateways.gateway.networking.k8s.io";
/** A default k3s 1.34–1.36 server: Traefik's CRD chart installed the Gateway API CRDs. */
const K3S_TRAEFIK: CrdFacts = { managers: ["helm"], helmRelease: "kube-system/traefik-crd", bundleVersion: "v1.5.1" };
/** k3s 1.37 and later: its own gateway-api-crd chart. */
const K3S_137: CrdFacts = { managers: ["helm"], helmRelease: "kube-system/gateway-api-crd", bundleVersion: "v1.6.1" };
/** This stack, as its mark on the CRDs it installs names it. */
const STACK = "organization/charmarr/core";
/** What this stack's own yaml.v2.ConfigFile applied, and its patch marked, on an earlier `pulumi up`. */
const OURS: CrdFacts = {
  managers: ["pulumi-kubernetes-1a2b3c4d", "pulumi-kubernetes-5e6f7a8b"],
  bundleVersion: "v1.6.1",
  installedBy: STACK,
};
const ISTIO_ELSEWHERE = {
  istiods: [{ namespace: "istio-system", trustDomain: "cluster.local" }],
  crds: { "peerauthentications.security.istio.io": { managers: ["helm"] } },
};
const OWN_LABELS = { "app.kubernetes.io/part-of": "charmarr", "charmarr.io/stack": "core" };

describe("preflight: what the cluster already has", () => {
  describe("Gateway API CRDs", () => {
    it("refuses to install them over k3s's bundled Traefik's, naming both ways out", () => {
      const [finding, ...rest] = findings(
        { gatewayApi: { install: true }, istio: { install: true } },
        { crds: { [GATEWAY_CRD]: K3S_TRAEFIK } },
        "gatewayApi",
      );
      assert.deepEqual(rest, []);
      assert.equal(finding.severity, "refuse");
      assert.equal(finding.key, "charmarr:platform.gatewayApi.install");
      assert.match(
        finding.problem,
        /bundle v1\.5\.1, from Helm release kube-system\/traefik-crd, k3s's bundled Traefik/,
      );
      assert.match(finding.fix, /pulumi config set --path 'charmarr:platform.gatewayApi.install' false/);
      assert.match(finding.fix, /--disable traefik \(1\.34–1\.36\) or --disable gateway-api-crd \(1\.37 and later\)/);
    });

    it("names k3s 1.37's own CRD chart", () => {
      const [finding] = findings(
        { gatewayApi: { install: true }, istio: { install: true } },
        { crds: { [GATEWAY_CRD]: K3S_137 } },
        "gatewayApi",
      );
      assert.match(
        finding.problem,
        /bundle v1\.6\.1, from Helm release kube-system\/gateway-api-crd, bundled with k3s 1\.37/,
      );
    });

    it("takes the CRDs its own earlier pulumi up applied as its own", () => {
      assert.deepEqual(
        findings(
          { gatewayApi: { install: true }, istio: { install: true } },
          { crds: { [GATEWAY_CRD]: OURS } },
          "gatewayApi",
        ),
        [],
      );
    });

    it("says, when it offers the cluster's CRDs, whether k3s's bundle is the Gateway API the chosen Istio is built against", () => {
      const offered = (crd: CrdFacts, istio: Record<string, unknown>) => {
        const [finding] = findings(
          { gatewayApi: { install: true, ...(istio.version === "1.30.3" ? { version: "v1.5.1" } : {}) }, istio },
          { crds: { [GATEWAY_CRD]: crd } },
          "gatewayApi",
        );
        assert.equal(finding.severity, "refuse");
        return finding.fix;
      };
      assert.ok(
        offered(K3S_TRAEFIK, { install: true }).startsWith(
          "use the cluster's CRDs (pulumi config set --path 'charmarr:platform.gatewayApi.install' false; but bundle v1.5.1 is outside Gateway API v1.6, the version Istio 1.31 (charmarr:platform.istio.version) supports), or remove them first, so that this stack installs Gateway API v1.6.1",
        ),
      );
      assert.ok(
        offered(K3S_137, { install: true }).startsWith(
          "use the cluster's CRDs (pulumi config set --path 'charmarr:platform.gatewayApi.install' false), or remove them first",
        ),
      );
      assert.ok(
        offered(K3S_TRAEFIK, { install: true, version: "1.30.3" }).startsWith(
          "use the cluster's CRDs (pulumi config set --path 'charmarr:platform.gatewayApi.install' false), or remove them first, so that this stack installs Gateway API v1.5.1",
        ),
      );
    });

    it("warns when the cluster's CRDs it uses are another minor than the chosen Istio supports", () => {
      const all = findings({ istio: { install: true } }, { crds: { [GATEWAY_CRD]: K3S_TRAEFIK } }, "gatewayApi");
      assert.deepEqual(
        all.map((f) => [f.severity, f.key]),
        [["warn", "charmarr:platform.gatewayApi.install"]],
      );
      assert.match(
        all[0].problem,
        /is false, so the cluster's Gateway API CRDs \(from Helm release kube-system\/traefik-crd.*\) are used, but their bundle v1\.5\.1 is outside Gateway API v1\.6, the version Istio 1\.31/,
      );
      assert.match(
        all[0].fix,
        /--disable traefik .* xargs kubectl delete\), then let this stack install Gateway API v1\.6\.1: pulumi config set --path 'charmarr:platform.gatewayApi.install' true$/,
      );
      assert.deepEqual(
        findings({ istio: { install: true } }, { crds: { [GATEWAY_CRD]: K3S_137 } }, "gatewayApi"),
        [],
        "k3s 1.37's bundle is Istio 1.31's own minor",
      );
      assert.deepEqual(
        findings(
          { istio: { install: true, version: "1.30.3" } },
          { crds: { [GATEWAY_CRD]: K3S_TRAEFIK } },
          "gatewayApi",
        ),
        [],
        "k3s 1.34–1.36's bundle is Istio 1.30's own minor",
      );
    });

    it("refuses a bundle older than the Gateway fields the program sets, and does not offer it", () => {
      const old: CrdFacts = { managers: ["kubectl-client-side-apply"], bundleVersion: "v1.1.0" };
      const [used] = findings({ istio: { install: true } }, { crds: { [GATEWAY_CRD]: old } }, "gatewayApi");
      assert.equal(used.severity, "refuse");
      assert.match(
        used.problem,
        /bundle v1\.1\.0 predates Gateway API v1\.2\.0, the first whose standard CRDs have the Gateway field spec\.infrastructure/,
      );
      const [installed] = findings(
        { gatewayApi: { install: true }, istio: { install: true } },
        { crds: { [GATEWAY_CRD]: old } },
        "gatewayApi",
      );
      assert.equal(installed.severity, "refuse");
      assert.doesNotMatch(installed.fix, /install' false/);
      assert.match(
        installed.fix,
        /^remove them first, so that this stack installs Gateway API v1\.6\.1 — .*\(the cluster's will not do: bundle v1\.1\.0 predates/,
      );
    });

    it("takes another Pulumi project's CRDs as a collision, however pulumi-kubernetes applied them", () => {
      const [finding, ...rest] = findings(
        { gatewayApi: { install: true }, istio: { install: true } },
        { crds: { [GATEWAY_CRD]: { ...OURS, installedBy: "organization/homelab/prod" } } },
        "gatewayApi",
      );
      assert.deepEqual(rest, []);
      assert.equal(finding.severity, "refuse");
      assert.match(finding.problem, /bundle v1\.6\.1, from the Pulumi stack organization\/homelab\/prod\)/);
      assert.doesNotMatch(finding.fix, /kubectl annotate/, "another stack's mark is not this stack's to take");
    });

    it("refuses unmarked CRDs a Pulumi program applied, saying how to mark them if they are this stack's", () => {
      const [finding] = findings(
        { gatewayApi: { install: true }, istio: { install: true } },
        { crds: { [GATEWAY_CRD]: { managers: ["pulumi-kubernetes-9c8d7e6f"], bundleVersion: "v1.3.0" } } },
        "gatewayApi",
      );
      assert.equal(finding.severity, "refuse");
      assert.match(finding.problem, /from field manager pulumi-kubernetes-9c8d7e6f\)/);
      assert.match(
        finding.fix,
        /; if this stack installed them itself, mark them as its own: kubectl annotate crd gateways\.gateway\.networking\.k8s\.io charmarr\.io\/installed-by=organization\/charmarr\/core$/,
      );
    });

    it("refuses to assume CRDs a cluster does not have", () => {
      const [finding] = findings({ istio: { install: true } }, {}, "gatewayApi");
      assert.equal(finding.severity, "refuse");
      assert.match(finding.problem, /no Gateway API CRDs/);
      assert.equal(finding.fix, "pulumi config set --path 'charmarr:platform.gatewayApi.install' true");
    });
  });

  describe("Istio", () => {
    it("refuses a second control plane, offering the running one with its trust domain", () => {
      const [finding] = findings(
        { gatewayApi: { install: true }, istio: { install: true } },
        {
          ...ISTIO_ELSEWHERE,
          istiods: [{ namespace: "istio-system", trustDomain: "corp.example" }],
          namespaces: { "istio-system": {} },
        },
        "istio",
      );
      assert.equal(finding.key, "charmarr:platform.istio.install");
      assert.match(finding.problem, /Istio already runs in this cluster \(istiod in istio-system\)/);
      assert.match(
        finding.fix,
        /'charmarr:platform.istio.install' false && pulumi config set --path 'charmarr:platform.istio.trustDomain' corp.example/,
      );
    });

    it("refuses to install over the leftovers of an earlier install", () => {
      const [finding] = findings(
        { gatewayApi: { install: true }, istio: { install: true } },
        { crds: ISTIO_ELSEWHERE.crds },
        "istio",
      );
      assert.match(finding.problem, /left its CRDs \(\*\.istio\.io\) behind/);
    });

    it("takes its own earlier install (istio-system labelled by this program) as its own", () => {
      assert.deepEqual(
        findings(
          { gatewayApi: { install: true }, istio: { install: true } },
          { ...ISTIO_ELSEWHERE, namespaces: { "istio-system": OWN_LABELS } },
          "istio",
        ),
        [],
      );
    });

    it("refuses to assume an Istio that does not run", () => {
      const [finding] = findings(
        {},
        { crds: { [GATEWAY_CRD]: K3S_TRAEFIK, "ipaddresspools.metallb.io": { managers: ["helm"] } } },
        "istio",
      );
      assert.equal(finding.key, "charmarr:platform.istio.install");
      assert.match(finding.problem, /no istiod runs/);
    });

    it("refuses a trust domain that is not the running mesh's, with the one it is as the fix", () => {
      const [finding] = findings(
        { istio: { trustDomain: "cluster.local" } },
        {
          crds: { [GATEWAY_CRD]: K3S_TRAEFIK, "ipaddresspools.metallb.io": { managers: ["helm"] } },
          istiods: [{ namespace: "istio-system", trustDomain: "home.arpa" }],
        },
        "istio",
      );
      assert.equal(finding.key, "charmarr:platform.istio.trustDomain");
      assert.match(finding.problem, /issues identities in trust domain home\.arpa/);
      assert.equal(finding.fix, "pulumi config set --path 'charmarr:platform.istio.trustDomain' home.arpa");
    });
  });

  describe("Kubernetes", () => {
    const kubernetesKey = (all: PreflightFinding[]) => all.filter((f) => f.key === "kubernetes:kubeconfig");

    it("refuses a cluster older than Kubernetes 1.30, the first that serves ValidatingAdmissionPolicy v1, whatever it installs", () => {
      for (const platform of [{ istio: { install: false } }, {}]) {
        const refused = kubernetesKey(findings(platform, { ...ISTIO_ELSEWHERE, kubernetesVersion: "v1.29.15+k3s1" }));
        assert.deepEqual(
          refused.map((f) => f.severity),
          ["refuse"],
        );
        assert.equal(
          refused[0].problem,
          "reaches a cluster that runs Kubernetes 1.29 (v1.29.15+k3s1), but this program needs Kubernetes 1.30 or later: its admission policies are admissionregistration.k8s.io/v1 ValidatingAdmissionPolicies, served from Kubernetes 1.30 on",
        );
        assert.match(refused[0].fix, /^upgrade the cluster to Kubernetes 1\.30 or later/);
      }
    });

    it("accepts Kubernetes 1.30 and later, and a cluster whose version was not read", () => {
      for (const kubernetesVersion of ["v1.30.0", "v1.37.1+k3s1", undefined]) {
        const inventory = { ...ISTIO_ELSEWHERE, ...(kubernetesVersion ? { kubernetesVersion } : {}) };
        assert.deepEqual(kubernetesKey(findings({ istio: { install: false } }, inventory)), [], kubernetesVersion);
      }
    });
  });

  describe("upgrades that follow upstream", () => {
    /** This stack's own earlier Istio install, running `version`, with its Gateway API CRDs at `bundle`. */
    const running = (
      version: string,
      bundle = "v1.3.0",
      kubernetesVersion = "v1.33.5+k3s1",
    ): Partial<ClusterInventory> => ({
      crds: { [GATEWAY_CRD]: { ...OURS, bundleVersion: bundle }, ...ISTIO_ELSEWHERE.crds, ...METALLB },
      namespaces: { "istio-system": OWN_LABELS },
      istiods: [{ namespace: "istio-system", trustDomain: "cluster.local", version }],
      kubernetesVersion,
    });
    /** A MetalLB of the cluster's own, so that none of these findings is about MetalLB. */
    const METALLB = { "ipaddresspools.metallb.io": { managers: ["helm"] } };
    const bothInstalled = (istio?: string, gatewayApi?: string) => ({
      gatewayApi: { install: true, ...(gatewayApi ? { version: gatewayApi } : {}) },
      istio: { install: true, ...(istio ? { version: istio } : {}) },
    });

    it("refuses a 1.27 → 1.31 jump, printing the pulumi config set / pulumi up steps one minor at a time", () => {
      const all = findings(bothInstalled(), running("1.27.9"));
      assert.deepEqual(
        all.map((f) => [f.severity, f.key]),
        [["refuse", "charmarr:platform.istio.version"]],
      );
      assert.equal(
        all[0].problem,
        "is 1.31.0, but this stack runs Istio 1.27 (istiod reports 1.27.9): ztunnel and the CNI agent work only with a control plane of their own minor or one newer, so Istio is upgraded one minor at a time",
      );
      const set = (key: string, value: string) => `pulumi config set --path 'charmarr:platform.${key}' ${value}`;
      assert.equal(
        all[0].fix,
        "upgrade one minor per pulumi up: " +
          [
            ["1.28.10", "v1.4.1"],
            ["1.29.6", "v1.4.1"],
            ["1.30.3", "v1.5.1"],
            ["1.31.0", "v1.6.1"],
          ]
            .map(
              ([istio, gatewayApi], index) =>
                `${index + 1}. ${set("istio.version", istio)} && ${set("gatewayApi.version", gatewayApi)} && pulumi up`,
            )
            .join("; "),
      );
      // Without the Gateway API installed here, the steps set the Istio version alone.
      const [alone] = findings({ istio: { install: true } }, running("1.27.9"), "istio");
      assert.match(
        alone.fix,
        /^upgrade one minor per pulumi up: 1\. pulumi config set --path 'charmarr:platform.istio.version' 1\.28\.10 && pulumi up; 2\./,
      );
    });

    it("allows 1.30 → 1.31, a patch within a minor, and a first install", () => {
      assert.deepEqual(findings(bothInstalled(), running("1.30.3", "v1.5.1")), []);
      assert.deepEqual(findings(bothInstalled("1.31.0"), running("1.31.0", "v1.6.1")), []);
      assert.deepEqual(findings(bothInstalled("1.28.10", "v1.4.1"), running("1.27.9")), []);
      assert.deepEqual(findings(bothInstalled(), { ...running("1.31.0", "v1.6.1"), istiods: [] }), []);
    });

    it("reads the installed minor only from this stack's own Istio, never from another's", () => {
      const elsewhere = { ...running("1.27.9"), namespaces: {} };
      assert.ok(findings(bothInstalled(), elsewhere, "istio").every((f) => !/one minor at a time/.test(f.problem)));
    });

    it("refuses to downgrade Istio in place, naming the running version", () => {
      const [finding] = findings(bothInstalled("1.30.3", "v1.5.1"), running("1.31.0", "v1.5.1"), "istio");
      assert.equal(finding.severity, "refuse");
      assert.match(
        finding.problem,
        /^is 1\.30\.3, older than the Istio 1\.31 \(istiod reports 1\.31\.0\) this stack runs/,
      );
      assert.equal(
        finding.fix,
        "pulumi config set --path 'charmarr:platform.istio.version' 1.31.0 && pulumi config set --path 'charmarr:platform.gatewayApi.version' v1.6.1",
      );
    });

    it("refuses an upgrade from a minor older than the table can step from, pointing to Istio's own guide", () => {
      const [finding] = findings(bothInstalled(), running("1.25.2"), "istio");
      assert.match(finding.problem, /this program steps through Istio 1\.28 and later only/);
      assert.match(finding.fix, /^upgrade the running Istio to 1\.27 with Istio's own upgrade guide first/);
    });

    it("never downgrades the Gateway API bundle it installed, saying so before the safe-upgrades policy does", () => {
      const [finding, ...rest] = findings(
        bothInstalled("1.28.10", "v1.4.1"),
        running("1.28.10", "v1.6.1"),
        "gatewayApi",
      );
      assert.deepEqual(rest, []);
      assert.equal(finding.severity, "refuse");
      assert.equal(finding.key, "charmarr:platform.gatewayApi.version");
      assert.match(
        finding.problem,
        /^is v1\.4\.1, older than the Gateway API CRDs this stack installed \(bundle v1\.6\.1\): they are never downgraded.*safe-upgrades\.gateway\.networking\.k8s\.io ValidatingAdmissionPolicy refuses any Gateway API CRD before v1\.5\.0$/,
      );
      assert.equal(
        finding.fix,
        "keep Gateway API v1.6.1 or newer with an Istio built against it: pulumi config set --path 'charmarr:platform.istio.version' 1.31.0 && pulumi config set --path 'charmarr:platform.gatewayApi.version' v1.6.1",
      );
      // v1.6.1 → v1.5.1 is a downgrade too, though the policy would let it through.
      const [below] = findings(bothInstalled("1.30.3", "v1.5.1"), running("1.30.3", "v1.6.1"), "gatewayApi");
      assert.doesNotMatch(below.problem, /safe-upgrades/);
      assert.deepEqual(findings(bothInstalled(), running("1.30.3", "v1.5.1"), "gatewayApi"), []);
    });

    it("refuses a Kubernetes 1.31 cluster for Istio 1.31, naming both and the Istio that supports it", () => {
      const [finding, ...rest] = findings(
        { istio: { install: true } },
        { crds: { [GATEWAY_CRD]: K3S_137 }, kubernetesVersion: "v1.31.14+k3s1" },
        "istio",
      );
      assert.deepEqual(rest, []);
      assert.equal(finding.severity, "refuse");
      assert.equal(
        finding.problem,
        "is 1.31.0: Istio 1.31 supports Kubernetes 1.32–1.37, but the cluster runs Kubernetes 1.31 (v1.31.14+k3s1)",
      );
      assert.equal(finding.fix, "upgrade the cluster to a Kubernetes of 1.32–1.37");
      // Kubernetes 1.37 (k3s's current release) is outside Istio 1.30's range, inside 1.31's.
      const [newer] = findings(
        { istio: { install: true, version: "1.30.3" } },
        { crds: { [GATEWAY_CRD]: K3S_137 }, kubernetesVersion: "v1.37.1+k3s1" },
        "istio",
      );
      assert.equal(
        newer.fix,
        "upgrade the cluster to a Kubernetes of 1.32–1.36, or install an Istio that supports Kubernetes 1.37: pulumi config set --path 'charmarr:platform.istio.version' 1.31.0",
      );
      assert.deepEqual(
        findings(
          { istio: { install: true } },
          { crds: { [GATEWAY_CRD]: K3S_137, ...METALLB }, kubernetesVersion: "v1.37.1+k3s1" },
        ),
        [],
      );
    });

    it("marks the steps of an upgrade whose Istio does not support the cluster's Kubernetes", () => {
      const [finding] = findings(bothInstalled(), running("1.27.9", "v1.3.0", "v1.35.2"), "istio");
      assert.match(
        finding.fix,
        /1\.28\.10 .* && pulumi up \(Istio 1\.28 supports Kubernetes 1\.30–1\.34, not this cluster's 1\.35\); 2\./,
      );
    });
  });

  describe("MetalLB and the Tailscale operator", () => {
    const base = { crds: { [GATEWAY_CRD]: OURS }, istiods: ISTIO_ELSEWHERE.istiods };

    it("refuses a second MetalLB", () => {
      const all = findings(
        { metallb: { install: true, addresses: ["192.168.1.240/28"] } },
        {
          ...base,
          crds: {
            ...base.crds,
            "ipaddresspools.metallb.io": { managers: ["helm"], helmRelease: "metallb-system/metallb" },
          },
          namespaces: { "metallb-system": {} },
        },
      );
      assert.deepEqual(
        all.map((f) => [f.severity, f.key]),
        [
          ["refuse", "charmarr:platform.metallb.install"],
          ["refuse", "charmarr:platform.metallb.install"],
        ],
      );
      assert.match(
        all[0].problem,
        /MetalLB is already installed \(its CRDs, from Helm release metallb-system\/metallb\)/,
      );
    });

    it("only warns when there is no MetalLB and none is installed: another load balancer may serve the gateways", () => {
      const all = findings({}, base);
      assert.deepEqual(
        all.map((f) => [f.severity, f.key]),
        [["warn", "charmarr:platform.metallb.install"]],
      );
    });

    it("refuses a pinned LAN IP that no pool of the cluster's own MetalLB holds, suggesting a free one", () => {
      const pinned = [
        { key: "charmarr:gateways.arr.lanIp", ip: "192.168.1.240" },
        { key: "charmarr:apps.plex.lanIp", ip: "192.168.1.250" },
      ];
      const inventory = {
        ...base,
        crds: { ...base.crds, "ipaddresspools.metallb.io": { managers: ["helm"] } },
        metallbPools: [["192.168.1.240/30"], ["192.168.1.244-192.168.1.245"]],
      };
      const all = preflightFindings(settings(), { reachable: true, inventory: { ...EMPTY, ...inventory } }, pinned);
      assert.deepEqual(
        all.map((f) => [f.severity, f.key]),
        [["refuse", "charmarr:apps.plex.lanIp"]],
      );
      assert.match(
        all[0].problem,
        /192\.168\.1\.250 is in none of the cluster's MetalLB IPAddressPools \(192\.168\.1\.240\/30, 192\.168\.1\.244-192\.168\.1\.245\)/,
      );
      assert.equal(
        all[0].fix,
        "pick an address of a pool (pulumi config set --path charmarr:apps.plex.lanIp 192.168.1.241), or add an IPAddressPool holding 192.168.1.250",
      );
      // A pool this stack installs is checked against its own settings instead.
      assert.deepEqual(
        preflightFindings(
          settings({ metallb: { install: true, addresses: ["10.0.0.0/30"] } }),
          { reachable: true, inventory: { ...EMPTY, ...inventory, namespaces: { "metallb-system": OWN_LABELS } } },
          pinned,
        ).filter((f) => f.key === "charmarr:apps.plex.lanIp"),
        [],
      );
    });

    it("refuses to create a tailscale namespace it did not make", () => {
      const all = findings(
        { tailscale: { operator: { install: true } } },
        {
          ...base,
          crds: { ...base.crds, "ipaddresspools.metallb.io": { managers: ["helm"] } },
          namespaces: { tailscale: { "kubernetes.io/metadata.name": "tailscale" } },
        },
      );
      assert.equal(all.length, 1);
      assert.equal(all[0].key, "charmarr:platform.tailscale.operator.install");
      assert.match(
        all[0].fix,
        /'charmarr:platform.tailscale.operator.install' false\), or delete it \(kubectl delete namespace tailscale\)/,
      );
    });
  });

  it("warns, and refuses nothing, when the cluster cannot be read", () => {
    const all = preflightFindings(settings({ gatewayApi: { install: true } }), {
      reachable: false,
      reason: "connect ECONNREFUSED 127.0.0.1:6443",
    });
    assert.deepEqual(
      all.map((f) => f.severity),
      ["warn"],
    );
    assert.match(all[0].problem, /ECONNREFUSED/);
  });

  it("finds nothing on the cluster each plan variant declares (what the offline plan assumes)", () => {
    for (const variant of PLAN_VARIANTS) {
      const platform = coreConfig(variant.core).platform;
      assert.deepEqual(
        preflightFindings(platform, { reachable: true, inventory: declaredInventory(platform) }).filter(
          (f) => f.severity === "refuse",
        ),
        [],
        variant.name,
      );
    }
  });

  it("reads the trust domain of an istiod's mesh config, Istio's default when unset", () => {
    assert.equal(meshTrustDomain("accessLogFile: /dev/stdout\ntrustDomain: corp.example\n"), "corp.example");
    assert.equal(meshTrustDomain("accessLogFile: /dev/stdout\n"), "cluster.local");
    assert.equal(meshTrustDomain(undefined), "cluster.local");
  });
});

describe("preflight: the program refuses before it creates anything", () => {
  it("plans nothing on default k3s with gatewayApi.install, and says how to fix it", async () => {
    await assertConfigError(
      planStack({
        stack: "core",
        config: withConfig(CORE_EXAMPLE, { "charmarr:platform.gatewayApi.install": true }),
        cluster: {
          crds: { [GATEWAY_CRD]: K3S_TRAEFIK, "ipaddresspools.metallb.io": { managers: ["helm"] } },
          namespaces: {},
          istiods: ISTIO_ELSEWHERE.istiods,
        },
      }),
      "charmarr:platform.gatewayApi.install",
      "k3s's bundled Traefik",
      "--disable traefik",
    );
    assert.deepEqual(
      resourcesOfLastPlan().filter((r) => r.custom),
      [],
      "nothing is created before the refusal",
    );
  });

  it("marks the Gateway API CRD it installs with its stack, takes it as its own on the next pulumi up, and another project's as a collision", async () => {
    const config = withConfig(CORE_EXAMPLE, { "charmarr:platform.gatewayApi.install": true });
    const first = await planStack({ stack: "core", config });
    const crds = first.rawResources.find((r) => r.type === "kubernetes:yaml/v2:ConfigFile");
    const patches = first.rawResources.filter(
      (r) => r.type === "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinitionPatch",
    );
    assert.ok(crds);
    assert.equal(patches.length, 1);
    const metadata = patches[0].inputs.metadata as { name: string; annotations: Record<string, string> };
    assert.deepEqual(metadata, { name: GATEWAY_CRD, annotations: { "charmarr.io/installed-by": STACK } });
    assert.ok(patches[0].dependencies.includes(crds.urn), "marked after the manifest created it");

    const cluster = (installedBy: string): ClusterInventory => ({
      crds: { [GATEWAY_CRD]: { ...OURS, installedBy }, "ipaddresspools.metallb.io": { managers: ["helm"] } },
      namespaces: {},
      istiods: ISTIO_ELSEWHERE.istiods,
    });
    await planStack({ stack: "core", config, cluster: cluster(metadata.annotations["charmarr.io/installed-by"]) });
    await assertConfigError(
      planStack({ stack: "core", config, cluster: cluster("organization/homelab/core") }),
      "charmarr:platform.gatewayApi.install",
      "the Pulumi stack organization/homelab/core",
    );
  });

  it("checks every pinned LAN IP of the example, gateways' and Plex's, against the cluster's MetalLB pools", async () => {
    const error = await assertConfigError(
      planStack({
        stack: "core",
        config: withConfig(CORE_EXAMPLE),
        cluster: {
          crds: { [GATEWAY_CRD]: K3S_TRAEFIK, "ipaddresspools.metallb.io": { managers: ["helm"] } },
          namespaces: {},
          istiods: ISTIO_ELSEWHERE.istiods,
          metallbPools: [["192.168.1.241-192.168.1.242"]],
        },
      }),
      "charmarr:gateways.arr.lanIp",
      "charmarr:apps.plex.lanIp",
    );
    assert.equal(error.problems.length, 2, "media and admin lie in the pool");
  });
});

describe("preflight: reading a cluster through the Kubernetes API", () => {
  /** A loopback API server with k3s's Traefik CRDs and an istiod whose mesh has trust domain corp.example. */
  function fakeApiServer(
    extra: Record<string, unknown> = {},
  ): Promise<{ url: string; close: () => void; paths: string[] }> {
    const paths: string[] = [];
    const objects: Record<string, unknown> = {
      "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gateways.gateway.networking.k8s.io": {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: {
          name: GATEWAY_CRD,
          annotations: {
            "gateway.networking.k8s.io/bundle-version": "v1.5.1",
            "meta.helm.sh/release-name": "traefik-crd",
            "meta.helm.sh/release-namespace": "kube-system",
          },
          managedFields: [{ manager: "helm", operation: "Update", apiVersion: "apiextensions.k8s.io/v1" }],
        },
        spec: {
          group: "gateway.networking.k8s.io",
          names: { plural: "gateways", kind: "Gateway" },
          scope: "Namespaced",
          versions: [],
        },
      },
      "/apis/apps/v1/deployments": {
        apiVersion: "apps/v1",
        kind: "DeploymentList",
        metadata: {},
        items: [{ metadata: { name: "istiod", namespace: "istio-system" } }],
      },
      "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/ipaddresspools.metallb.io": {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: {
          name: "ipaddresspools.metallb.io",
          annotations: { "meta.helm.sh/release-name": "metallb", "meta.helm.sh/release-namespace": "metallb-system" },
          managedFields: [{ manager: "helm" }],
        },
        spec: {
          group: "metallb.io",
          names: { plural: "ipaddresspools", kind: "IPAddressPool" },
          scope: "Namespaced",
          versions: [],
        },
      },
      "/apis/metallb.io/v1beta1/ipaddresspools": {
        apiVersion: "metallb.io/v1beta1",
        kind: "IPAddressPoolList",
        items: [{ spec: { addresses: ["192.168.1.240/28"] } }],
      },
      "/api/v1/namespaces/istio-system/configmaps/istio": {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "istio", namespace: "istio-system" },
        data: { mesh: "trustDomain: corp.example\n" },
      },
      ...extra,
    };
    const server = createServer((request, response) => {
      const path = (request.url ?? "").split("?")[0];
      paths.push(request.url ?? "");
      const body = objects[path];
      response.writeHead(body ? 200 : 404, { "content-type": "application/json" });
      response.end(
        JSON.stringify(body ?? { kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404 }),
      );
    });
    return new Promise((resolve) =>
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo;
        resolve({ url: `http://127.0.0.1:${port}`, close: () => server.close(), paths });
      }),
    );
  }
  const kubeconfig = (server: string) =>
    stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "lab", cluster: { server, "insecure-skip-tls-verify": true } }],
      users: [{ name: "lab", user: { token: "plan-token" } }],
      contexts: [{ name: "lab", context: { cluster: "lab", user: "lab" } }],
      "current-context": "lab",
    });

  it("finds the CRDs with their origin, the istiod and its trust domain, and absent objects as absent", async () => {
    const api = await fakeApiServer();
    try {
      const reading = await readClusterInventory({ kubeconfig: kubeconfig(api.url), context: "lab" });
      assert.ok(reading.reachable, JSON.stringify(reading));
      assert.deepEqual(reading.inventory, {
        crds: {
          [GATEWAY_CRD]: { managers: ["helm"], helmRelease: "kube-system/traefik-crd", bundleVersion: "v1.5.1" },
          "ipaddresspools.metallb.io": { managers: ["helm"], helmRelease: "metallb-system/metallb" },
        },
        namespaces: {},
        istiods: [{ namespace: "istio-system", trustDomain: "corp.example" }],
        metallbPools: [["192.168.1.240/28"]],
      });
      assert.ok(
        api.paths.some(
          (path) => path.startsWith("/apis/apps/v1/deployments?") && path.includes("labelSelector=app%3Distiod"),
        ),
      );
    } finally {
      api.close();
    }
  });

  it("reads a revisioned istiod's trust domain from its own istio-<revision> ConfigMap", async () => {
    const configMap = (name: string, namespace: string, trustDomain: string) => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name, namespace },
      data: { mesh: `trustDomain: ${trustDomain}\n` },
    });
    const api = await fakeApiServer({
      "/apis/apps/v1/deployments": {
        apiVersion: "apps/v1",
        kind: "DeploymentList",
        metadata: {},
        items: [
          {
            metadata: {
              name: "istiod-1-27-9",
              namespace: "istio-system",
              labels: { app: "istiod", "istio.io/rev": "1-27-9" },
            },
          },
          { metadata: { name: "istiod", namespace: "mesh", labels: { app: "istiod", "istio.io/rev": "default" } } },
        ],
      },
      // The unrevisioned ConfigMap of istio-system belongs to no running istiod here.
      "/api/v1/namespaces/istio-system/configmaps/istio-1-27-9": configMap("istio-1-27-9", "istio-system", "home.arpa"),
      "/api/v1/namespaces/mesh/configmaps/istio": configMap("istio", "mesh", "mesh.example"),
    });
    try {
      const reading = await readClusterInventory({ kubeconfig: kubeconfig(api.url), context: "lab" });
      assert.ok(reading.reachable, JSON.stringify(reading));
      assert.deepEqual(reading.inventory.istiods, [
        { namespace: "istio-system", revision: "1-27-9", trustDomain: "home.arpa" },
        { namespace: "mesh", trustDomain: "mesh.example" },
      ]);
      const [finding] = preflightFindings(settings({ istio: { trustDomain: "cluster.local" } }), {
        reachable: true,
        inventory: { ...reading.inventory, istiods: reading.inventory.istiods.slice(0, 1) },
      }).filter((f) => f.key === "charmarr:platform.istio.trustDomain");
      assert.match(
        finding.problem,
        /istiod in istio-system, revision 1-27-9\) issues identities in trust domain home\.arpa/,
      );
      assert.equal(finding.fix, "pulumi config set --path 'charmarr:platform.istio.trustDomain' home.arpa");
    } finally {
      api.close();
    }
  });

  it("reads the stack that marked a Gateway API CRD as its own", async () => {
    const api = await fakeApiServer({
      "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gateways.gateway.networking.k8s.io": {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: {
          name: GATEWAY_CRD,
          annotations: { "gateway.networking.k8s.io/bundle-version": "v1.6.1", "charmarr.io/installed-by": STACK },
          managedFields: [{ manager: "pulumi-kubernetes-1a2b3c4d" }, { manager: "pulumi-kubernetes-5e6f7a8b" }],
        },
        spec: {
          group: "gateway.networking.k8s.io",
          names: { plural: "gateways", kind: "Gateway" },
          scope: "Namespaced",
          versions: [],
        },
      },
    });
    try {
      const reading = await readClusterInventory({ kubeconfig: kubeconfig(api.url), context: "lab" });
      assert.ok(reading.reachable, JSON.stringify(reading));
      assert.deepEqual(reading.inventory.crds[GATEWAY_CRD], OURS);
    } finally {
      api.close();
    }
  });

  it("reads the cluster's Kubernetes version (/version) and the Istio version each istiod runs", async () => {
    const api = await fakeApiServer({
      "/version": { major: "1", minor: "31", gitVersion: "v1.31.14+k3s1", platform: "linux/amd64" },
      "/apis/apps/v1/deployments": {
        apiVersion: "apps/v1",
        kind: "DeploymentList",
        metadata: {},
        items: [
          {
            metadata: {
              name: "istiod",
              namespace: "istio-system",
              labels: { app: "istiod", "app.kubernetes.io/version": "1.27.9" },
            },
          },
        ],
      },
    });
    try {
      const reading = await readClusterInventory({ kubeconfig: kubeconfig(api.url), context: "lab" });
      assert.ok(reading.reachable, JSON.stringify(reading));
      assert.equal(reading.inventory.kubernetesVersion, "v1.31.14+k3s1");
      assert.deepEqual(reading.inventory.istiods, [
        { namespace: "istio-system", trustDomain: "corp.example", version: "1.27.9" },
      ]);
    } finally {
      api.close();
    }
  });

  it("takes an istiod's version from its discovery image's tag when it has no version label, and none from a digest", () => {
    const withImage = (image: string) => ({
      spec: { template: { spec: { containers: [{ name: "discovery", image }] } } },
    });
    assert.equal(istiodVersion(withImage("registry.istio.io/release/pilot:1.30.3")), "1.30.3");
    assert.equal(istiodVersion(withImage("localhost:5000/istio/pilot:1.31.0-distroless")), "1.31.0-distroless");
    assert.equal(istiodVersion(withImage("registry.istio.io/release/pilot@sha256:0123abcd")), undefined);
    assert.equal(
      istiodVersion({
        metadata: { labels: { "app.kubernetes.io/version": "1.31.0" } },
        ...withImage("x/pilot:1.30.3"),
      }),
      "1.31.0",
    );
  });

  it("says why when the API server cannot be reached", async () => {
    const api = await fakeApiServer();
    api.close();
    const reading = await readClusterInventory({ kubeconfig: kubeconfig(api.url) });
    assert.equal(reading.reachable, false);
  });
});
