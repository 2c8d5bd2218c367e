import { strict as assert } from "node:assert";
import type { Manifest, StackPlan } from "../plan/evaluate";
import { isSecretValue } from "../plan/runtime";
import { APP_LABEL } from "../lib/k8s/labels";
import { AuthorizationModel } from "./support/authz";
import {
  Destination,
  NetworkPolicyManifest,
  Pod,
  Workload,
  configMapFile,
  evaluateEgress,
  gatewayWorkload,
  networkPoliciesOf,
  podOf,
  routedWorkloads,
} from "./support/networkPolicy";
import {
  DOWNLOADS_EXAMPLE,
  assertConfigError,
  manifestOf,
  manifestsOf,
  planCore,
  planDownloads,
  withConfig,
} from "./support/plan";
import { DownloadsConfig, loadConfig, problemsAgainstCore } from "../lib/config";
import type { CoreStackOutputs } from "../lib/contract";
import { RouteTable } from "./support/routes";

// charmarr:indexers.routeThroughVpn: Prowlarr moves from core to downloads, routed through the VPN
// gateway like the download clients. Addresses are the shipped example cluster's (pods 10.42.0.0/16,
// Services 10.43.0.0/16, LAN 192.168.1.0/24, kube-dns 10.43.0.10).

const CORE = "charmarr-core";
const DOWNLOADS = "charmarr-downloads";
const ROUTED = { "charmarr:indexers.routeThroughVpn": true };
const CORE_WITHOUT_PROWLARR = { "charmarr:apps.prowlarr.enabled": false };
const DYNAMIC = "pulumi-nodejs:dynamic:Resource";
const principalOf = (namespace: string, serviceAccount: string) => `cluster.local/ns/${namespace}/sa/${serviceAccount}`;
const appPod = (namespace: string, app: string): Pod => ({
  namespace,
  labels: { [APP_LABEL]: app },
  namespaceLabels: { "istio.io/dataplane-mode": "ambient" },
});
const relationNames = (plan: StackPlan) =>
  plan.rawResources
    .filter((r) => r.type === DYNAMIC)
    .map((r) => r.name)
    .sort();

function prowlarrWorkload(plan: StackPlan): Workload {
  const found = routedWorkloads(plan).find((workload) => workload.metadata.name === "prowlarr");
  assert.ok(found, "Prowlarr is a routed workload of the downloads stack");
  return found;
}

describe("indexers through the VPN (charmarr:indexers.routeThroughVpn)", () => {
  let core: StackPlan;
  let downloads: StackPlan;
  let policies: NetworkPolicyManifest[];
  let prowlarr: Pod;
  before(async () => {
    core = await planCore(CORE_WITHOUT_PROWLARR);
    downloads = await planDownloads(ROUTED, CORE_WITHOUT_PROWLARR);
    policies = networkPoliciesOf(downloads);
    prowlarr = podOf(prowlarrWorkload(downloads));
  });

  describe("placement: Prowlarr runs in downloads, routed like the download clients", () => {
    it("downloads runs Prowlarr's StatefulSet, core none", () => {
      assert.equal(manifestsOf(core, "StatefulSet", "prowlarr").length, 0);
      assert.equal(manifestOf(downloads, "StatefulSet", "prowlarr").metadata.namespace, DOWNLOADS);
    });

    it("its pod is routed: the route init container first, the sidecar, the routed label, DNS through the gateway only, no DNS capture", () => {
      const workload = prowlarrWorkload(downloads);
      const template = workload.spec.template;
      const spec = template.spec as typeof template.spec & {
        dnsPolicy?: string;
        dnsConfig?: { nameservers?: string[] };
        volumes?: { name: string; configMap?: { name: string } }[];
      };
      assert.equal(spec.initContainers?.[0].name, "vpn-route-init");
      assert.ok(spec.containers.some((c) => c.name === "vpn-route-sidecar"));
      assert.equal(template.metadata.labels?.["charmarr.io/vpn-routed"], "true");
      assert.equal(spec.dnsPolicy, "None");
      assert.deepEqual(spec.dnsConfig?.nameservers, ["172.16.0.1"]);
      const annotations = (template.metadata as { annotations?: Record<string, string> }).annotations ?? {};
      assert.equal(annotations["ambient.istio.io/dns-capture"], "false");
      // The route init container installs the in-pod guard from the client settings every routed pod mounts.
      assert.ok(spec.volumes?.some((volume) => volume.configMap?.name === "vpn-gateway-client"));
    });

    it("it installs the same in-pod guard as the download clients (test/routeGuard.test.ts checks that guard), before anything else runs", () => {
      const command = (name: string) =>
        routedWorkloads(downloads)
          .find((workload) => workload.metadata.name === name)
          ?.spec.template.spec.initContainers?.find((c) => c.name === "vpn-route-init")?.command;
      assert.deepEqual(command("prowlarr"), command("qbittorrent"));
      const init = configMapFile(downloads, DOWNLOADS, "vpn-gateway-client", "route-init.sh");
      assert.ok(init.indexOf("route-guard.sh") < init.indexOf("reconnect"), "the guard first, then the tunnel");
    });

    it("the gateway takes its VXLAN: the gateway's ingress policy admits routed pods of the clients' namespace", () => {
      const ingress = manifestOf(downloads, "NetworkPolicy", "vpn-gateway-ingress") as unknown as NetworkPolicyManifest;
      const from = ingress.spec?.ingress?.[0].from?.[0];
      assert.deepEqual(from, {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": DOWNLOADS } },
        podSelector: { matchLabels: { "charmarr.io/vpn-routed": "true" } },
      });
    });
  });

  describe("kill switch layer 1: no way to the internet but the gateway", () => {
    const INTERNET: Destination[] = [
      { ip: "203.0.113.10", protocol: "TCP", port: 443 },
      { ip: "198.51.100.7", protocol: "TCP", port: 80 },
      { ip: "192.0.2.53", protocol: "UDP", port: 53 },
      { ip: "1.1.1.1", protocol: "TCP", port: 443 },
      { ip: "2606:4700:4700::1111", protocol: "TCP", port: 443 },
    ];

    it("Prowlarr's own kill switch selects it, and only it", () => {
      const killSwitch = policies.find((p) => p.metadata.name === "prowlarr-vpn-kill-switch");
      assert.ok(killSwitch);
      for (const workload of routedWorkloads(downloads)) {
        const isolated: boolean = evaluateEgress([killSwitch], podOf(workload), INTERNET[0]).isolatedBy.length > 0;
        assert.equal(isolated, workload.metadata.name === "prowlarr", workload.metadata.name);
      }
    });

    for (const ipBlockMatchesPods of [true, false]) {
      it(`${ipBlockMatchesPods ? "Calico" : "Cilium"}: internet hosts on any port, the LAN, Service IPs and other core apps are denied`, () => {
        const denied: Destination[] = [
          ...INTERNET,
          { ip: "192.168.1.50", protocol: "TCP", port: 445 },
          { ip: "10.43.12.34", protocol: "TCP", port: 3128 },
          { ip: "10.43.200.1", protocol: "TCP", port: 443 },
          { ip: "10.42.1.30", pod: appPod(CORE, "seerr"), protocol: "TCP", port: 5055 },
          { ip: "10.42.1.31", pod: appPod(CORE, "plex"), protocol: "TCP", port: 32400 },
          // Another core app on a callee's port or on HBONE: the callee rules select the callee's pods only.
          { ip: "10.42.1.30", pod: appPod(CORE, "seerr"), protocol: "TCP", port: 15008 },
          { ip: "10.42.1.30", pod: appPod(CORE, "seerr"), protocol: "TCP", port: 7878 },
          // An arr app on a port it does not serve.
          { ip: "10.42.1.20", pod: appPod(CORE, "radarr"), protocol: "TCP", port: 22 },
          // The arr app's name in another namespace is not the arr app.
          { ip: "10.42.5.5", pod: appPod("default", "radarr"), protocol: "TCP", port: 7878 },
        ];
        for (const destination of denied) {
          const verdict = evaluateEgress(policies, prowlarr, destination, { ipBlockMatchesPods });
          assert.equal(verdict.allowed, false, `${JSON.stringify(destination)}: ${JSON.stringify(verdict)}`);
        }
        for (const ip of ["0.0.0.1", "100.64.0.1", "172.16.0.1", "203.0.113.10", "255.255.255.254"]) {
          for (const [protocol, port] of [
            ["TCP", 443],
            ["TCP", 15008],
            ["TCP", 7878],
            ["UDP", 4789],
            ["UDP", 51820],
          ] as const) {
            assert.equal(
              evaluateEgress(policies, prowlarr, { ip, protocol, port }, { ipBlockMatchesPods }).allowed,
              false,
            );
          }
        }
      });

      it(`${ipBlockMatchesPods ? "Calico" : "Cilium"}: the gateway, kube-dns on 53 and the apps it calls (by selector, on their port and HBONE 15008) are allowed`, () => {
        const gateway = podOf(gatewayWorkload(downloads));
        const allowed: Destination[] = [
          { ip: "10.42.3.7", pod: gateway, protocol: "UDP", port: 4789 },
          { ip: "10.42.3.7", pod: gateway, protocol: "ICMP" },
          {
            ip: "10.42.0.5",
            pod: { namespace: "kube-system", labels: { "k8s-app": "kube-dns" } },
            protocol: "UDP",
            port: 53,
          },
          ...(
            [
              [CORE, "radarr", 7878],
              [CORE, "sonarr", 8989],
              [CORE, "lidarr", 8686],
              [DOWNLOADS, "qbittorrent", 8080],
              [DOWNLOADS, "sabnzbd", 8080],
            ] as const
          ).flatMap(([namespace, app, port]) =>
            [port, 15008].map((p): Destination => ({
              ip: "10.42.1.20",
              pod: appPod(namespace, app),
              protocol: "TCP",
              port: p,
            })),
          ),
        ];
        for (const destination of allowed) {
          const verdict = evaluateEgress(policies, prowlarr, destination, { ipBlockMatchesPods });
          assert.equal(verdict.allowed, true, `${JSON.stringify(destination)}: ${JSON.stringify(verdict)}`);
        }
      });
    }

    it("the download clients still reach no app in the cluster", () => {
      for (const workload of routedWorkloads(downloads).filter((w) => w.metadata.name !== "prowlarr")) {
        for (const [namespace, app, port] of [
          [CORE, "radarr", 15008],
          [DOWNLOADS, "prowlarr", 15008],
          [DOWNLOADS, "prowlarr", 9696],
        ] as const) {
          assert.equal(
            evaluateEgress(policies, podOf(workload), {
              ip: "10.42.1.20",
              pod: appPod(namespace, app),
              protocol: "TCP",
              port,
            }).allowed,
            false,
            `${workload.metadata.name} → ${app}:${port}`,
          );
        }
      }
    });
  });

  describe("mesh: the arr apps and Prowlarr still call each other, across the namespaces", () => {
    let model: AuthorizationModel;
    before(() => {
      model = new AuthorizationModel([...core.manifests, ...downloads.manifests]);
    });

    it("the routed Prowlarr reaches Radarr, Sonarr and Lidarr on their ports, and nothing else of core", () => {
      const caller = principalOf(DOWNLOADS, "prowlarr");
      for (const [app, port] of [
        ["radarr", 7878],
        ["sonarr", 8989],
        ["lidarr", 8686],
      ] as const) {
        assert.ok(model.allows({ principal: caller, destination: appPod(CORE, app), port }), app);
        assert.ok(!model.allows({ principal: caller, destination: appPod(CORE, app), port: 9999 }), `${app}:9999`);
      }
      // Seerr (Plex's own port takes plaintext from anyone: Plex checks its tokens itself).
      assert.ok(!model.allows({ principal: caller, destination: appPod(CORE, "seerr"), port: 5055 }), "seerr");
      // Each policy the downloads stack adds governs its own app only: not another arr app on this
      // one's port, nor an app Prowlarr never calls.
      for (const [app, port] of [
        ["radarr", 8989],
        ["sonarr", 7878],
        ["lidarr", 7878],
        ["seerr", 7878],
        ["seerr", 8989],
        ["seerr", 8686],
      ] as const) {
        assert.ok(!model.allows({ principal: caller, destination: appPod(CORE, app), port }), `${app}:${port}`);
      }
    });

    it("the policies the downloads stack adds in core name only its Prowlarr, and carry the downloads stack's label", () => {
      const added = downloads.manifests.filter(
        (m) => m.kind === "AuthorizationPolicy" && m.metadata.namespace === CORE,
      );
      assert.deepEqual(added.map((m) => m.metadata.name).sort(), [
        "lidarr-from-charmarr-downloads",
        "radarr-from-charmarr-downloads",
        "sonarr-from-charmarr-downloads",
      ]);
      for (const policy of added) {
        assert.equal((policy.metadata.labels as Record<string, string>)["charmarr.io/stack"], "downloads");
        assert.deepEqual(
          (policy.spec as { rules: { from: { source: { principals: string[] } }[] }[] }).rules[0].from[0].source
            .principals,
          [principalOf(DOWNLOADS, "prowlarr")],
        );
      }
      // Another downloads app, or a core app with Prowlarr's name in another namespace, gains nothing.
      for (const principal of [principalOf(DOWNLOADS, "qbittorrent"), principalOf("default", "prowlarr")]) {
        assert.ok(!model.allows({ principal, destination: appPod(CORE, "radarr"), port: 7878 }), principal);
      }
    });

    it("the arr apps and the arr gateway reach Prowlarr in downloads; Seerr and the download clients do not", () => {
      const destination = appPod(DOWNLOADS, "prowlarr");
      for (const caller of ["radarr", "sonarr", "lidarr", "arr-istio"]) {
        assert.ok(model.allows({ principal: principalOf(CORE, caller), destination, port: 9696 }), caller);
      }
      for (const caller of [
        principalOf(CORE, "seerr"),
        principalOf(DOWNLOADS, "qbittorrent"),
        principalOf(CORE, "admin-istio"),
      ]) {
        assert.ok(!model.allows({ principal: caller, destination, port: 9696 }), caller);
      }
    });

    it("Prowlarr's manual grabs still reach the download clients, in its own namespace now", () => {
      const caller = principalOf(DOWNLOADS, "prowlarr");
      assert.ok(model.allows({ principal: caller, destination: appPod(DOWNLOADS, "qbittorrent"), port: 8080 }));
      assert.ok(model.allows({ principal: caller, destination: appPod(DOWNLOADS, "sabnzbd"), port: 8080 }));
    });
  });

  describe("UI: Prowlarr stays on the arr gateway at /prowlarr", () => {
    it("its HTTPRoute lives beside its Service in downloads, so no ReferenceGrant is needed, and attaches to the arr gateway", () => {
      const route = manifestOf(downloads, "HTTPRoute", "prowlarr");
      assert.equal(route.metadata.namespace, DOWNLOADS);
      const backends = (
        route.spec as { rules: { backendRefs: { namespace?: string; name: string }[] }[] }
      ).rules.flatMap((rule) => rule.backendRefs);
      assert.ok(backends.every((backend) => backend.namespace === undefined || backend.namespace === DOWNLOADS));
      assert.equal(manifestsOf(downloads, "ReferenceGrant").length, 0);
      const namespace = manifestOf(downloads, "Namespace", DOWNLOADS);
      assert.equal((namespace.metadata.labels as Record<string, string>)["charmarr.io/routes-to-arr"], "true");
      const table = new RouteTable([...core.manifests, ...downloads.manifests]);
      assert.deepEqual(table.resolve("arr", 80, "/prowlarr/api/v1/health"), {
        kind: "backend",
        namespace: DOWNLOADS,
        service: "prowlarr",
        port: 9696,
        path: "/prowlarr/api/v1/health",
        route: `${DOWNLOADS}/prowlarr`,
      });
      // The other arr apps stay where they were.
      assert.equal((table.resolve("arr", 80, "/radarr") as { namespace: string }).namespace, CORE);
    });

    it("its URL moves from core's urls output to downloads', and its API key to downloads' apiKeys", () => {
      const coreUrls = core.outputs.urls as Record<string, unknown>;
      const downloadsUrls = downloads.outputs.urls as Record<string, unknown>;
      assert.equal(coreUrls.prowlarr, undefined);
      assert.deepEqual(downloadsUrls.prowlarr, {
        lan: "http://192.168.1.240/prowlarr",
        tailnet: "http://charmarr-arr/prowlarr",
      });
      assert.ok(downloads.secretOutputNames.includes("apiKeys"));
      assert.deepEqual(Object.keys(downloads.secretOutputs.apiKeys as object), ["prowlarr"]);
      assert.ok(!Object.keys(core.secretOutputs.apiKeys as object).includes("prowlarr"));
    });
  });

  describe("relations: Prowlarr still syncs its indexers to the arr apps", () => {
    it("downloads plans Prowlarr's applications beside the download clients, and says so in its relations output; core plans none", () => {
      assert.ok(relationNames(downloads).includes("relations-prowlarr-applications"));
      assert.ok(!relationNames(core).includes("relations-prowlarr-applications"));
      assert.deepEqual(downloads.outputs.relations, {
        radarr: ["qbittorrent", "sabnzbd"],
        sonarr: ["qbittorrent", "sabnzbd"],
        lidarr: ["qbittorrent", "sabnzbd"],
        prowlarr: ["radarr", "sonarr", "lidarr", "flaresolverr"],
      });
      // Seerr's relations are untouched.
      assert.deepEqual(core.outputs.relations, { seerr: ["radarr", "sonarr"] });
    });

    it("each application names Prowlarr's new address (the arr apps call it back there) and the arr app's, reached in downloads", () => {
      const relation = downloads.rawResources.find((r) => r.name === "relations-prowlarr-applications");
      assert.ok(relation && isSecretValue(relation.inputs.spec));
      // The relation provider reaches Prowlarr's pod where it now runs.
      assert.deepEqual(relation.inputs.reach, { namespace: DOWNLOADS, pod: "prowlarr-0", port: 9696 });
      const spec = (relation.inputs.spec as { value: { entries: { name: string; fields: Record<string, unknown> }[] } })
        .value;
      assert.deepEqual(
        spec.entries.map((entry) => [entry.name, entry.fields.prowlarrUrl, entry.fields.baseUrl]),
        [
          [
            "Radarr (Charmarr)",
            "http://prowlarr.charmarr-downloads.svc.cluster.local:9696/prowlarr",
            "http://radarr.charmarr-core.svc.cluster.local:7878/radarr",
          ],
          [
            "Sonarr (Charmarr)",
            "http://prowlarr.charmarr-downloads.svc.cluster.local:9696/prowlarr",
            "http://sonarr.charmarr-core.svc.cluster.local:8989/sonarr",
          ],
          [
            "Lidarr (Charmarr)",
            "http://prowlarr.charmarr-downloads.svc.cluster.local:9696/prowlarr",
            "http://lidarr.charmarr-core.svc.cluster.local:8686/lidarr",
          ],
        ],
      );
    });

    it("off (the default): core runs and relates Prowlarr, downloads neither", async () => {
      const defaultDownloads = await planDownloads();
      const defaultCore = await planCore();
      assert.equal(manifestsOf(defaultDownloads, "StatefulSet", "prowlarr").length, 0);
      assert.ok(!relationNames(defaultDownloads).includes("relations-prowlarr-applications"));
      assert.ok(relationNames(defaultCore).includes("relations-prowlarr-applications"));
      assert.equal(
        defaultDownloads.manifests.filter(
          (m: Manifest) => m.kind === "AuthorizationPolicy" && m.metadata.namespace === CORE,
        ).length,
        0,
      );
      assert.deepEqual(Object.keys(defaultDownloads.secretOutputs.apiKeys as object), []);
      assert.equal((defaultDownloads.outputs.urls as Record<string, unknown>).prowlarr, undefined);
    });
  });

  describe("FlareSolverr: routed with Prowlarr, reached by it alone", () => {
    it("runs in downloads as a routed pod with the gateway as its only resolver; core runs none", () => {
      assert.equal(manifestsOf(core, "StatefulSet", "flaresolverr").length, 0);
      const workload = routedWorkloads(downloads).find((w) => w.metadata.name === "flaresolverr");
      assert.ok(workload, "FlareSolverr is a routed workload of the downloads stack");
      assert.equal(workload.metadata.namespace, DOWNLOADS);
      const spec = workload.spec.template.spec as typeof workload.spec.template.spec & {
        dnsConfig?: { nameservers?: string[] };
      };
      assert.equal(spec.initContainers?.[0].name, "vpn-route-init");
      assert.deepEqual(spec.dnsConfig?.nameservers, ["172.16.0.1"]);
      // Its own kill switch fences it: the pages it loads leave through the tunnel or not at all.
      const killSwitch = policies.find((p) => p.metadata.name === "flaresolverr-vpn-kill-switch");
      assert.ok(killSwitch);
      assert.equal(
        evaluateEgress(policies, podOf(workload), { ip: "203.0.113.10", protocol: "TCP", port: 443 }).allowed,
        false,
      );
    });

    it("Prowlarr's indexer proxy names FlareSolverr's downloads address, planned by the downloads stack", () => {
      const relation = downloads.rawResources.find((r) => r.name === "relations-prowlarr-indexer-proxies");
      assert.ok(relation && isSecretValue(relation.inputs.spec));
      const spec = (
        relation.inputs.spec as {
          value: { entries: { fields: Record<string, unknown>; tags: string[]; refusedHelp?: string }[] };
        }
      ).value;
      assert.deepEqual(
        spec.entries.map((entry) => [entry.fields.host, entry.tags]),
        [["http://flaresolverr.charmarr-downloads.svc.cluster.local:8191", ["flaresolverr"]]],
      );
      // A refused proxy points at the tunnel, in the stack's VPN namespace.
      assert.ok(
        spec.entries[0].refusedHelp?.includes("`kubectl -n charmarr-vpn logs deploy/vpn-gateway -c gluetun`"),
        spec.entries[0].refusedHelp,
      );
      assert.ok(!relationNames(core).includes("relations-prowlarr-indexer-proxies"));
      // Core's internet-only fence stays with core: beside the kill switch it would let a routed
      // FlareSolverr out around the tunnel.
      assert.ok(!networkPoliciesOf(downloads).some((policy) => policy.metadata.name === "flaresolverr-egress"));
      assert.ok(!networkPoliciesOf(core).some((policy) => policy.metadata.name === "flaresolverr-egress"));
    });

    it("only Prowlarr reaches it: its kill switch lets Prowlarr out to it, and the mesh lets no one else in", () => {
      const flaresolverr = appPod(DOWNLOADS, "flaresolverr");
      for (const port of [8191, 15008]) {
        const verdict = evaluateEgress(policies, prowlarr, {
          ip: "10.42.1.40",
          pod: flaresolverr,
          protocol: "TCP",
          port,
        });
        assert.equal(verdict.allowed, true, `prowlarr → flaresolverr:${port}: ${JSON.stringify(verdict)}`);
      }
      const model = new AuthorizationModel([...core.manifests, ...downloads.manifests]);
      assert.ok(model.allows({ principal: principalOf(DOWNLOADS, "prowlarr"), destination: flaresolverr, port: 8191 }));
      for (const caller of [
        principalOf(DOWNLOADS, "qbittorrent"),
        principalOf(CORE, "radarr"),
        principalOf(CORE, "arr-istio"),
        principalOf(CORE, "prowlarr"),
      ]) {
        assert.ok(!model.allows({ principal: caller, destination: flaresolverr, port: 8191 }), caller);
      }
    });
  });

  describe("configuration", () => {
    it("refuses to route Prowlarr while core still runs it, naming both keys and both ways out", async () => {
      const error = await assertConfigError(
        planDownloads(ROUTED),
        "charmarr:indexers.routeThroughVpn",
        'the core stack "organization/charmarr/core" runs prowlarr too (its charmarr:apps.prowlarr.enabled is not false)',
        "pulumi config set --path charmarr:apps.prowlarr.enabled false --stack core, then pulumi up --stack core",
        "pulumi config rm --path charmarr:indexers.routeThroughVpn",
      );
      assert.equal(error.problems.length, 1, "one problem, not also a clash of the two Prowlarrs' paths");
      // Each way out, applied as written, clears it: core's key set on the core stack, or this stack's removed.
      const fix = error.problems[0].fix ?? "";
      const onCore = /pulumi config set --path (\S+) (\S+) --stack core/.exec(fix);
      assert.ok(onCore, fix);
      await planDownloads(ROUTED, { [onCore[1]]: JSON.parse(onCore[2]) as unknown });
      const here = /pulumi config rm --path (\S+)$/.exec(fix);
      assert.ok(here, fix);
      const unrouted = loadConfig({
        stack: "downloads",
        project: "charmarr",
        organization: "organization",
        values: withConfig(DOWNLOADS_EXAMPLE, { [here[1]]: undefined }).values,
        isSecret: () => true,
      }) as DownloadsConfig;
      const { cluster, namespace, gateways, identities } = (await planCore()).outputs as unknown as CoreStackOutputs;
      assert.deepEqual(problemsAgainstCore(unrouted, { cluster, namespace, gateways, identities }), []);
    });

    it("refuses Prowlarr settings on the downloads stack while it does not route Prowlarr", async () => {
      await assertConfigError(
        planDownloads({ "charmarr:apps.prowlarr.tag": "2.3.5.5327-ls148" }),
        "charmarr:apps.prowlarr",
        "prowlarr runs in the core stack unless charmarr:indexers.routeThroughVpn is true",
      );
      // With the setting, they are Prowlarr's own.
      const tagged = await planDownloads(
        { ...ROUTED, "charmarr:apps.prowlarr.tag": "2.3.5.5327-ls148", "charmarr:apps.prowlarr.path": "/indexers" },
        CORE_WITHOUT_PROWLARR,
      );
      const route = manifestOf(tagged, "HTTPRoute", "prowlarr");
      assert.match(JSON.stringify(route.spec), /"\/indexers"/);
    });

    it("a disabled Prowlarr in downloads leaves nothing of it in either stack", async () => {
      const plan = await planDownloads({ ...ROUTED, "charmarr:apps.prowlarr.enabled": false }, CORE_WITHOUT_PROWLARR);
      assert.equal(manifestsOf(plan, "StatefulSet", "prowlarr").length, 0);
      assert.equal(plan.manifests.filter((m) => m.metadata.namespace === CORE).length, 0);
      assert.equal((plan.outputs.relations as Record<string, unknown>).prowlarr, undefined);
    });
  });
});
