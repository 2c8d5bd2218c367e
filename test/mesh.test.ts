import { strict as assert } from "node:assert";
import { ORGANIZATION, PROJECT } from "../plan/evaluate";
import type { Manifest, StackPlan } from "../plan/evaluate";
import { APP_NAMES } from "../lib/apps/catalog";
import { resolveApps } from "../lib/apps/resolve";
import { meshEnrollmentProblems } from "../lib/mesh/enrollment";
import { CALLERS, buildAppPolicy, buildPeerPortException } from "../lib/mesh/policies";
import { AuthorizationModel, Workload, l7Fields } from "./support/authz";
import {
  DOWNLOADS_EXAMPLE,
  assertConfigError,
  manifestOf,
  manifestsOf,
  planCore,
  planDownloads,
  WITHOUT_PORT_FORWARDING,
  planStack,
  referenceTo,
  withConfig,
} from "./support/plan";

const CORE = "charmarr-core";
const DOWNLOADS = "charmarr-downloads";
const principalOf = (namespace: string, serviceAccount: string) => `cluster.local/ns/${namespace}/sa/${serviceAccount}`;

/** Every app's pods as the plans deploy them: namespace, pod labels and web port. */
function appWorkloads(
  manifests: readonly Manifest[],
): Map<string, Workload & { port: number; serviceAccount: string }> {
  const workloads = new Map<string, Workload & { port: number; serviceAccount: string }>();
  for (const statefulSet of manifests.filter((m) => m.kind === "StatefulSet")) {
    const template = (
      statefulSet.spec as {
        template: {
          metadata: { labels: Record<string, string> };
          spec: {
            serviceAccountName: string;
            containers: { name: string; ports?: { name: string; containerPort: number }[] }[];
          };
        };
      }
    ).template;
    const app = template.spec.containers.find((c) => c.name === statefulSet.metadata.name);
    workloads.set(statefulSet.metadata.name as string, {
      namespace: statefulSet.metadata.namespace as string,
      labels: template.metadata.labels,
      port: app?.ports?.find((p) => p.name === "http")?.containerPort as number,
      serviceAccount: template.spec.serviceAccountName,
    });
  }
  return workloads;
}

/** Who may reach whom, per the design's security domains; every other pair is denied. */
const INTENDED: Readonly<Record<string, readonly string[]>> = {
  "gateway:arr": ["radarr", "sonarr", "lidarr", "prowlarr"],
  "gateway:media": ["plex", "seerr"],
  "gateway:admin": ["qbittorrent", "sabnzbd"],
  // FlareSolverr has no UI and no gateway: Prowlarr is the only identity that may call it.
  prowlarr: ["radarr", "sonarr", "lidarr", "qbittorrent", "sabnzbd", "flaresolverr"],
  radarr: ["prowlarr", "plex", "qbittorrent", "sabnzbd"],
  sonarr: ["prowlarr", "plex", "qbittorrent", "sabnzbd"],
  lidarr: ["prowlarr", "plex", "qbittorrent", "sabnzbd"],
  seerr: ["radarr", "sonarr", "plex"],
  plex: [],
  qbittorrent: [],
  sabnzbd: [],
  flaresolverr: [],
  "outsider:default": [],
  "outsider:vpn-gateway": [],
};

function sourcePrincipal(source: string, workloads: ReturnType<typeof appWorkloads>): string {
  if (source.startsWith("gateway:")) {
    return principalOf(CORE, `${source.slice("gateway:".length)}-istio`);
  }
  if (source === "outsider:default") {
    return principalOf("default", "default");
  }
  if (source === "outsider:vpn-gateway") {
    return principalOf("charmarr-vpn", "default");
  }
  const workload = workloads.get(source);
  assert.ok(workload, `no workload ${source}`);
  return principalOf(workload.namespace, workload.serviceAccount);
}

describe("mesh: ambient enrolment and mTLS", () => {
  let core: StackPlan;
  let downloads: StackPlan;
  let downloadsWithoutPortForwarding: StackPlan;
  before(async () => {
    core = await planCore();
    downloads = await planDownloads();
    downloadsWithoutPortForwarding = await planDownloads(WITHOUT_PORT_FORWARDING);
  });

  it("enrols the core and downloads namespaces in ambient mode, never the VPN namespace", () => {
    const labelsOf = (plan: StackPlan, name: string) =>
      (manifestOf(plan, "Namespace", name).metadata.labels ?? {}) as Record<string, string>;
    assert.equal(labelsOf(core, CORE)["istio.io/dataplane-mode"], "ambient");
    assert.equal(labelsOf(downloads, DOWNLOADS)["istio.io/dataplane-mode"], "ambient");
    assert.equal(labelsOf(downloads, "charmarr-vpn")["istio.io/dataplane-mode"], undefined);
    const enrolled = [...core.manifests, ...downloads.manifests].filter(
      (m) =>
        m.kind === "Namespace" &&
        (m.metadata.labels as Record<string, string> | undefined)?.["istio.io/dataplane-mode"] === "ambient",
    );
    assert.deepEqual(enrolled.map((m) => m.metadata.name).sort(), [CORE, DOWNLOADS]);
  });

  it("runs STRICT mTLS in both app namespaces, PERMISSIVE only on qBittorrent's peer port (with port forwarding, every port but its WebUI's) and Plex's own port", () => {
    const peerAuthentications = [
      ...manifestsOf(core, "PeerAuthentication"),
      ...manifestsOf(downloads, "PeerAuthentication"),
    ];
    const namespaceWide = peerAuthentications.filter(
      (pa) => (pa.spec as { selector?: unknown }).selector === undefined,
    );
    assert.deepEqual(
      namespaceWide.map((pa) => [pa.metadata.namespace, (pa.spec as { mtls: { mode: string } }).mtls.mode]),
      [
        [CORE, "STRICT"],
        [DOWNLOADS, "STRICT"],
      ],
    );
    const exceptions = peerAuthentications.filter(
      (pa) => (pa.spec as { portLevelMtls?: unknown }).portLevelMtls !== undefined,
    );
    assert.deepEqual(
      exceptions.map((pa) => ({ namespace: pa.metadata.namespace, spec: pa.spec })),
      [
        {
          namespace: CORE,
          spec: {
            selector: { matchLabels: { "app.kubernetes.io/name": "plex" } },
            mtls: { mode: "STRICT" },
            portLevelMtls: { "32400": { mode: "PERMISSIVE" } },
          },
        },
        {
          namespace: DOWNLOADS,
          spec: {
            selector: { matchLabels: { "app.kubernetes.io/name": "qbittorrent" } },
            mtls: { mode: "PERMISSIVE" },
            portLevelMtls: { "8080": { mode: "STRICT" } },
          },
        },
      ],
    );
    assert.deepEqual(
      manifestsOf(downloadsWithoutPortForwarding, "PeerAuthentication")
        .filter((pa) => pa.metadata.name === "qbittorrent-peers")
        .map((pa) => pa.spec),
      [
        {
          selector: { matchLabels: { "app.kubernetes.io/name": "qbittorrent" } },
          mtls: { mode: "STRICT" },
          portLevelMtls: { "6881": { mode: "PERMISSIVE" } },
        },
      ],
    );
  });

  it("uses only L4 fields ztunnel enforces, in security.istio.io/v1", () => {
    for (const policy of [
      ...manifestsOf(core, "AuthorizationPolicy"),
      ...manifestsOf(downloads, "AuthorizationPolicy"),
    ]) {
      assert.equal(policy.apiVersion, "security.istio.io/v1");
      assert.deepEqual(l7Fields(policy), [], `${policy.metadata.namespace}/${policy.metadata.name}`);
    }
  });

  it("lets each app be reached only by its gateway and the apps that call it", () => {
    const manifests = [...core.manifests, ...downloads.manifests];
    const workloads = appWorkloads(manifests);
    const model = new AuthorizationModel(manifests);
    assert.deepEqual([...workloads.keys()].sort(), [
      "flaresolverr",
      "lidarr",
      "plex",
      "prowlarr",
      "qbittorrent",
      "radarr",
      "sabnzbd",
      "seerr",
      "sonarr",
    ]);
    const wrong: string[] = [];
    for (const [source, allowed] of Object.entries(INTENDED)) {
      const principal = sourcePrincipal(source, workloads);
      for (const [destination, workload] of workloads) {
        const verdict = model.allows({ principal, destination: workload, port: workload.port });
        // Plex's port takes anyone: its LAN and tailnet clients arrive with no mesh identity.
        if (verdict !== (allowed.includes(destination) || destination === "plex")) {
          wrong.push(`${source} → ${destination}: ${verdict ? "allowed" : "denied"}`);
        }
        // Only the app's own port: another port of an allowed destination stays closed. qBittorrent's
        // peer port is the VPN's forwarded port, any port the provider picks (the next test).
        if (destination !== "qbittorrent" && model.allows({ principal, destination: workload, port: 9999 })) {
          wrong.push(`${source} → ${destination}:9999 allowed`);
        }
      }
    }
    assert.deepEqual(wrong, []);
  });

  it("leaves qBittorrent's peer port and Plex's own port open to plaintext, and nothing else", () => {
    const manifests = [...core.manifests, ...downloads.manifests];
    const workloads = appWorkloads(manifests);
    const model = new AuthorizationModel(manifests);
    const qbittorrent = workloads.get("qbittorrent") as Workload & { port: number };
    // With port forwarding (the example) the peer port is whichever the provider forwards.
    for (const port of [6881, 9999, 51413]) {
      assert.equal(model.allows({ destination: qbittorrent, port }), true, `plaintext to qBittorrent's port ${port}`);
    }
    assert.equal(model.allows({ destination: qbittorrent, port: qbittorrent.port }), false);
    const fixedPeerPort = new AuthorizationModel([...core.manifests, ...downloadsWithoutPortForwarding.manifests]);
    assert.equal(fixedPeerPort.allows({ destination: qbittorrent, port: 6881 }), true);
    assert.equal(fixedPeerPort.allows({ destination: qbittorrent, port: 9999 }), false);
    assert.equal(fixedPeerPort.allows({ destination: qbittorrent, port: qbittorrent.port }), false);
    for (const [name, workload] of workloads) {
      assert.equal(
        model.allows({ destination: workload, port: workload.port }),
        name === "plex",
        `plaintext to ${name}`,
      );
    }
  });

  it("denies by default any workload of an app namespace that has no policy of its own", () => {
    const manifests = [...core.manifests, ...downloads.manifests];
    const model = new AuthorizationModel(manifests);
    for (const namespace of [CORE, DOWNLOADS]) {
      const stray = { namespace, labels: { "app.kubernetes.io/name": "something-else" } };
      assert.equal(
        model.allows({ principal: principalOf(CORE, "arr-istio"), destination: stray, port: 80 }),
        false,
        namespace,
      );
    }
  });

  it("lets anyone reach the gateways' own pods, which Envoy guards with the namespace's policies", () => {
    const model = new AuthorizationModel([...core.manifests, ...downloads.manifests]);
    for (const gateway of ["arr", "media", "admin"]) {
      // Labels Istio's gateway controller gives the pods it deploys for a Gateway.
      const pods = {
        namespace: CORE,
        labels: {
          "gateway.networking.k8s.io/gateway-name": gateway,
          "gateway.istio.io/managed": "istio.io-gateway-controller",
        },
      };
      assert.equal(
        model.allows({ destination: pods, port: 80 }),
        true,
        `LAN or tailnet client (plaintext) to the ${gateway} gateway`,
      );
      assert.equal(
        model.allows({ principal: principalOf("tailscale", "default"), destination: pods, port: 80 }),
        true,
        `tailnet proxy to ${gateway}`,
      );
    }
    const notAGateway = { namespace: CORE, labels: { "gateway.networking.k8s.io/gateway-name": "unknown" } };
    assert.equal(model.allows({ destination: notAGateway, port: 80 }), false, "only the planned gateways are opened");
  });

  it("exports the core apps' identities, which the download clients' policies allow", () => {
    const identities = core.outputs.identities as Record<string, string>;
    assert.equal(identities.radarr, principalOf(CORE, "radarr"));
    assert.equal(identities.jellyfin, undefined, "only enabled apps");
    const sabnzbd = manifestOf(downloads, "AuthorizationPolicy", "sabnzbd");
    const principals = (sabnzbd.spec as { rules: { from: { source: { principals: string[] } }[] }[] }).rules[0].from[0]
      .source.principals;
    assert.deepEqual(principals, [
      principalOf(CORE, "admin-istio"),
      identities.radarr,
      identities.sonarr,
      identities.lidarr,
      identities.prowlarr,
    ]);
  });
});

describe("mesh: variants", () => {
  it("lets Seerr and the arr apps reach Jellyfin when Jellyfin is the media server", async () => {
    const core = await planCore({ "charmarr:mediaServer": "jellyfin" });
    const workloads = appWorkloads(core.manifests);
    const model = new AuthorizationModel(core.manifests);
    const jellyfin = workloads.get("jellyfin") as Workload & { port: number };
    assert.equal(model.allows({ principal: principalOf(CORE, "seerr"), destination: jellyfin, port: 8096 }), true);
    assert.equal(
      model.allows({ principal: principalOf(CORE, "media-istio"), destination: jellyfin, port: 8096 }),
      true,
    );
    assert.equal(
      model.allows({ principal: principalOf(CORE, "radarr"), destination: jellyfin, port: 8096 }),
      true,
      "library refresh after an import",
    );
    assert.equal(model.allows({ principal: principalOf(CORE, "prowlarr"), destination: jellyfin, port: 8096 }), false);
  });

  it("drops a disabled app from its callers' policies", async () => {
    const downloads = await planDownloads({}, { "charmarr:apps.lidarr.enabled": false });
    const qbittorrent = manifestOf(downloads, "AuthorizationPolicy", "qbittorrent");
    const principals = (qbittorrent.spec as { rules: { from?: { source: { principals: string[] } }[] }[] }).rules[0]
      .from?.[0].source.principals;
    assert.ok(!principals?.includes(principalOf(CORE, "lidarr")));
  });
});

describe("mesh: a custom cluster domain and trust domain", () => {
  let core: StackPlan;
  let downloads: StackPlan;
  before(async () => {
    const changes = {
      "charmarr:cluster.domain": "cluster.internal",
      "charmarr:platform.istio.install": true,
      "charmarr:platform.istio.trustDomain": "mesh.example",
    };
    core = await planCore(changes);
    downloads = await planStack({
      stack: "downloads",
      config: withConfig(DOWNLOADS_EXAMPLE),
      referencedStacks: { [`${ORGANIZATION}/${PROJECT}/core`]: referenceTo(core) },
    });
  });
  const values = (step: string) =>
    (core.resources.find((r) => r.name === `platform-${step}`)?.inputs.values ?? {}) as Record<string, unknown>;

  it("reaches every Istio chart that takes one: istiod's proxies and mesh config, ztunnel's environment", () => {
    assert.deepEqual((values("istiod").global as { proxy: unknown }).proxy, { clusterDomain: "cluster.internal" });
    assert.deepEqual(values("istiod").meshConfig, { trustDomain: "mesh.example" });
    assert.deepEqual(values("ztunnel").env, { CLUSTER_DOMAIN: "cluster.internal", TRUST_DOMAIN: "mesh.example" });
  });

  it("is the trust domain of every principal of both stacks, and core hands it to downloads", () => {
    assert.deepEqual(core.outputs.mesh, { trustDomain: "mesh.example" });
    const principals = [...core.manifests, ...downloads.manifests]
      .filter((m) => m.kind === "AuthorizationPolicy")
      .flatMap((m) => (m.spec as { rules?: { from?: { source: { principals?: string[] } }[] }[] }).rules ?? [])
      .flatMap((rule) => rule.from ?? [])
      .flatMap((from) => from.source.principals ?? []);
    assert.ok(principals.length > 20, "the policies name the gateways and the callers");
    for (const principal of principals) {
      assert.match(principal, /^mesh\.example\/ns\/charmarr-(core|downloads)\/sa\/[a-z-]+$/);
    }
    for (const identity of Object.values(core.outputs.identities as Record<string, string>)) {
      assert.match(identity, /^mesh\.example\//);
    }
  });

  it("refuses a trust domain SPIFFE does not allow", async () => {
    await assertConfigError(
      planCore({ "charmarr:platform.istio.trustDomain": "Cluster.Local/" }),
      "charmarr:platform.istio.trustDomain",
      "is not a trust domain",
    );
  });
});

describe("mesh: the VPN namespace stays out", () => {
  it("refuses the download clients' namespace as the VPN namespace", async () => {
    await assertConfigError(
      planDownloads({ "charmarr:vpn.namespace": DOWNLOADS }),
      "charmarr:vpn.namespace",
      "stays out of the mesh",
    );
  });

  it("refuses the core namespace as the VPN namespace, naming the mesh", async () => {
    await assertConfigError(
      planDownloads({ "charmarr:vpn.namespace": CORE }),
      "charmarr:vpn.namespace",
      `"${CORE}" is the core stack's namespace, which is enrolled in the Istio ambient mesh`,
      "pulumi config set --path 'charmarr:vpn.namespace' charmarr-vpn",
    );
  });

  it("finds no problem when the VPN namespace is its own", () => {
    const reason = "must stay out";
    assert.deepEqual(
      meshEnrollmentProblems(
        [{ namespace: DOWNLOADS, source: "x" }],
        [{ namespace: "charmarr-vpn", key: "charmarr:vpn.namespace", suggestion: "charmarr-vpn", reason }],
      ),
      [],
    );
  });
});

describe("mesh: the authorization evaluator itself", () => {
  const policy = (name: string, spec: Record<string, unknown>): Manifest => ({
    apiVersion: "security.istio.io/v1",
    kind: "AuthorizationPolicy",
    metadata: { name, namespace: "ns" },
    spec,
  });
  const destination = { namespace: "ns", labels: { app: "a" } };
  const alice = principalOf("ns", "alice");

  it("allows everything with no policy, nothing with an allow-nothing policy", () => {
    assert.equal(new AuthorizationModel([]).allows({ principal: alice, destination, port: 1 }), true);
    assert.equal(
      new AuthorizationModel([policy("nothing", {})]).allows({ principal: alice, destination, port: 1 }),
      false,
    );
  });

  it("lets DENY win over ALLOW, and ignores policies for other workloads", () => {
    const allowAll = policy("all", { action: "ALLOW", rules: [{}] });
    const denyAlice = policy("deny", { action: "DENY", rules: [{ from: [{ source: { principals: [alice] } }] }] });
    const otherWorkload = policy("other", { selector: { matchLabels: { app: "b" } } });
    const model = new AuthorizationModel([allowAll, denyAlice, otherWorkload]);
    assert.equal(model.allows({ principal: alice, destination, port: 1 }), false);
    assert.equal(model.allows({ principal: principalOf("ns", "bob"), destination, port: 1 }), true);
  });

  it("treats a policy with L7 fields as dropping everything, as ztunnel does without a waypoint", () => {
    const l7 = policy("l7", { action: "ALLOW", rules: [{ to: [{ operation: { paths: ["/api"] } }] }] });
    assert.deepEqual(l7Fields(l7), ["paths"]);
    assert.equal(new AuthorizationModel([l7]).allows({ principal: alice, destination, port: 1 }), false);
  });
});

describe("mesh: pure builders", () => {
  const [qbittorrent] = resolveApps("downloads", {});
  const [radarr] = resolveApps("core", {}, "plex");

  it("allows the gateway and only the callers that are enabled", () => {
    const policy = buildAppPolicy({
      app: qbittorrent,
      namespace: DOWNLOADS,
      gatewayPrincipals: { admin: principalOf(CORE, "admin-istio") },
      identities: { radarr: principalOf(CORE, "radarr") },
    });
    assert.deepEqual(policy.spec?.rules, [
      {
        from: [{ source: { principals: [principalOf(CORE, "admin-istio"), principalOf(CORE, "radarr")] } }],
        to: [{ operation: { ports: ["8080"] } }],
      },
      { to: [{ operation: { ports: ["6881"] } }] },
    ]);
    assert.deepEqual(policy.spec?.selector, { matchLabels: { "app.kubernetes.io/name": "qbittorrent" } });
  });

  it("makes a port exception only for apps with inbound peer ports", () => {
    assert.equal(buildPeerPortException(radarr, CORE), undefined);
    assert.deepEqual(buildPeerPortException(qbittorrent, DOWNLOADS)?.spec?.portLevelMtls, {
      "6881": { mode: "PERMISSIVE" },
    });
  });

  it("lists every app in the who-calls-whom table", () => {
    assert.deepEqual(Object.keys(CALLERS).sort(), [...APP_NAMES].sort());
  });
});
