import { strict as assert } from "node:assert";
import type { Manifest, StackPlan } from "../plan/evaluate";
import { capabilityName } from "../lib/admission/policy";
import { ROUTE_INIT_CONTAINER, ROUTE_SIDECAR_CONTAINER, ROUTED_LABEL } from "../lib/vpn/client";
import {
  AdmissionPolicyExpressions,
  admissionDenials,
  admissionExpressions,
  unboundFunctions,
} from "./support/kubernetesCel";
import { planDownloads } from "./support/plan";
import { PLAN_VARIANTS } from "./support/variants";

interface Container {
  name: string;
  image: string;
  ports?: { containerPort: number; hostPort?: number }[];
  securityContext?: {
    privileged?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
  };
}
interface Pod {
  apiVersion: "v1";
  kind: "Pod";
  metadata: {
    name?: string;
    generateName?: string;
    namespace: string;
    labels?: Record<string, string>;
    ownerReferences?: { kind: string; name: string }[];
  };
  spec: {
    containers: Container[];
    initContainers?: Container[];
    ephemeralContainers?: Container[];
    hostNetwork?: boolean;
    hostPID?: boolean;
    hostIPC?: boolean;
    dnsPolicy?: string;
    dnsConfig?: { nameservers?: string[] };
    volumes?: Record<string, unknown>[];
  };
}
interface Policy {
  metadata: { name: string };
  spec: AdmissionPolicyExpressions & {
    failurePolicy: string;
    matchConstraints: { resourceRules: { resources: string[]; operations: string[] }[] };
  };
}
interface Binding {
  spec: {
    policyName: string;
    validationActions: string[];
    matchResources: { namespaceSelector: { matchExpressions: { key: string; operator: string; values: string[] }[] } };
  };
}

const CLIENTS = "charmarr-downloads";
const VPN = "charmarr-vpn";

/** The pods a plan's controllers would create, as the API server receives them: name, namespace, owner, template. */
function plannedPods(plan: StackPlan): Pod[] {
  return plan.manifests.flatMap((manifest: Manifest) => {
    const template = (
      manifest.spec as { template?: { metadata?: { labels?: Record<string, string> }; spec: Pod["spec"] } }
    )?.template;
    if (template === undefined) {
      return [];
    }
    const owner = { kind: manifest.kind, name: manifest.metadata.name as string };
    return [
      structuredClone({
        apiVersion: "v1" as const,
        kind: "Pod" as const,
        metadata: {
          ...(manifest.kind === "StatefulSet"
            ? { name: `${manifest.metadata.name}-0` }
            : { generateName: `${manifest.metadata.name}-` }),
          namespace: manifest.metadata.namespace as string,
          labels: template.metadata?.labels,
          ownerReferences: [owner],
        },
        spec: template.spec,
      }),
    ];
  });
}

function policyFor(plan: StackPlan, name: string): Policy {
  const found = plan.manifests.find((m) => m.kind === "ValidatingAdmissionPolicy" && m.metadata.name === name);
  assert.ok(found, `no ValidatingAdmissionPolicy ${name}`);
  return found as unknown as Policy;
}

describe("admission: the ValidatingAdmissionPolicies of the downloads stack", () => {
  let plan: StackPlan;
  let clients: Policy;
  let gateway: Policy;
  let services: Policy;
  /** A fresh copy of the planned pod of `owner`. */
  let pod: (owner: string) => Pod;
  const denials = (policy: Policy, object: unknown) => admissionDenials(policy.spec, object);
  const container = (target: Pod, name: string) =>
    [...(target.spec.initContainers ?? []), ...target.spec.containers].find((c) => c.name === name) as Container;
  /**
   * Asserts the policy refuses `object` with a message containing every fragment; assertOnlyRefusal
   * also that it is the one refusal (the bad pod breaks that rule and nothing else).
   */
  const assertRefused = (policy: Policy, object: unknown, ...fragments: string[]) => {
    const found = denials(policy, object);
    assert.ok(
      found.some((message) => fragments.every((fragment) => message.includes(fragment))),
      `expected a refusal with ${JSON.stringify(fragments)}, got:\n${found.join("\n")}`,
    );
    return found;
  };
  const assertOnlyRefusal = (policy: Policy, object: unknown, ...fragments: string[]) => {
    const found = assertRefused(policy, object, ...fragments);
    assert.equal(found.length, 1, `expected one refusal, got:\n${found.join("\n")}`);
  };

  before(async () => {
    plan = await planDownloads();
    clients = policyFor(plan, `${CLIENTS}-pods.charmarr.io`);
    gateway = policyFor(plan, `${VPN}-pods.charmarr.io`);
    services = policyFor(plan, `${CLIENTS}-services.charmarr.io`);
    const pods = plannedPods(plan);
    pod = (owner) => {
      const found = pods.find((candidate) => candidate.metadata.ownerReferences?.[0].name === owner);
      assert.ok(found, `no planned pod of ${owner}`);
      return structuredClone(found);
    };
  });

  /**
   * The variants whose downloads-stack pods differ in what the policies read: the examples and a
   * hostPath library (the one hostPath allowed). The grants are read from the planned pods, so other
   * variants change nothing the rules compare. The strict-schema test plans every variant; planning
   * them all again here would cost the suite seconds.
   */
  const POD_VARIANTS = PLAN_VARIANTS.filter((variant) =>
    ["the shipped examples", "hostPath library", "Prowlarr routed"].some((name) => variant.name.includes(name)),
  );

  it("admits every pod and Service of the plan variants whose pods differ, in both namespaces", async () => {
    assert.equal(POD_VARIANTS.length, 3);
    for (const variant of POD_VARIANTS) {
      const planned = await planDownloads(
        variant.downloads,
        variant.core,
        variant.downloadsSecrets,
        variant.coreSecrets,
      );
      const policies = planned.manifests.filter((m) => m.kind === "ValidatingAdmissionPolicy") as unknown as Policy[];
      const bindings = planned.manifests.filter(
        (m) => m.kind === "ValidatingAdmissionPolicyBinding",
      ) as unknown as Binding[];
      const pods = plannedPods(planned);
      assert.ok(pods.length >= 1, variant.name);
      for (const object of [...pods, ...planned.manifests.filter((m) => m.kind === "Service")]) {
        const namespace = (object as { metadata: { namespace?: string } }).metadata.namespace as string;
        const kind = (object as { kind: string }).kind;
        const bound = bindings.filter((binding) =>
          binding.spec.matchResources.namespaceSelector.matchExpressions[0].values.includes(namespace),
        );
        const applying = policies.filter(
          (policy) =>
            bound.some((binding) => binding.spec.policyName === policy.metadata.name) &&
            policy.spec.matchConstraints.resourceRules[0].resources.includes(kind === "Pod" ? "pods" : "services"),
        );
        assert.equal(
          applying.length,
          1,
          `${variant.name}: ${kind} in ${namespace} is checked by ${applying.length} policies`,
        );
        assert.deepEqual(
          denials(applying[0], object),
          [],
          `${variant.name}: ${kind} ${JSON.stringify(object.metadata)}`,
        );
      }
    }
  });

  it("binds each policy to its namespace, denying, and fails closed", () => {
    const bindings = plan.manifests.filter(
      (m) => m.kind === "ValidatingAdmissionPolicyBinding",
    ) as unknown as Binding[];
    const bound = Object.fromEntries(
      bindings.map((binding) => [
        binding.spec.policyName,
        [binding.spec.validationActions, binding.spec.matchResources.namespaceSelector.matchExpressions],
      ]),
    );
    const selector = (...namespaces: string[]) => [
      { key: "kubernetes.io/metadata.name", operator: "In", values: namespaces },
    ];
    assert.deepEqual(bound, {
      [clients.metadata.name]: [["Deny"], selector(CLIENTS)],
      [gateway.metadata.name]: [["Deny"], selector(VPN)],
      [services.metadata.name]: [["Deny"], selector(CLIENTS, VPN)],
    });
    for (const policy of [clients, gateway, services]) {
      assert.equal(policy.spec.failurePolicy, "Fail");
    }
    // Pods whoever creates them (a StatefulSet's controller, kubectl run), and kubectl debug's containers.
    assert.deepEqual(clients.spec.matchConstraints.resourceRules[0].resources, ["pods", "pods/ephemeralcontainers"]);
    assert.deepEqual(clients.spec.matchConstraints.resourceRules[0].operations, ["CREATE", "UPDATE"]);
  });

  it("uses only functions the API server's CEL environment has", () => {
    for (const policy of [clients, gateway, services]) {
      assert.deepEqual(admissionExpressions(policy.spec).flatMap(unboundFunctions), [], policy.metadata.name);
    }
  });

  it("names the refused pod and the controller that asked for it, so its events say which rule refused what", () => {
    const bad = pod("qbittorrent");
    bad.spec.hostNetwork = true;
    assertRefused(clients, bad, "pod qbittorrent-0 (of StatefulSet qbittorrent): ", "hostNetwork");
    const unnamed = pod("qbittorrent");
    unnamed.spec.hostPID = true;
    delete unnamed.metadata.name;
    delete unnamed.metadata.ownerReferences;
    unnamed.metadata.generateName = "debug-";
    assertRefused(clients, unnamed, "pod debug-*: ", "hostPID");
  });

  describe("the routed clients' namespace refuses", () => {
    it("a privileged container, the app's or a route container's", () => {
      for (const name of ["qbittorrent", ROUTE_SIDECAR_CONTAINER]) {
        const bad = pod("qbittorrent");
        container(bad, name).securityContext = { ...container(bad, name).securityContext, privileged: true };
        assertOnlyRefusal(clients, bad, `no container in namespace ${CLIENTS} may be privileged`);
      }
    });

    it("NET_ADMIN or NET_RAW added by the app, in any spelling, or anything beyond baseline (SYS_ADMIN, ALL)", () => {
      for (const capability of ["NET_ADMIN", "NET_RAW", "cap_net_raw", "SYS_ADMIN", "ALL"]) {
        const bad = pod("qbittorrent");
        container(bad, "qbittorrent").securityContext?.capabilities?.add?.push(capability);
        assertRefused(clients, bad, "adds a capability beyond Pod Security baseline's", ROUTE_INIT_CONTAINER);
      }
      assert.equal(capabilityName("cap_net_raw"), "NET_RAW");
    });

    it("a route container with another image than the pinned pod-gateway, or asking for more than its own", () => {
      const impostor = pod("sabnzbd");
      container(impostor, ROUTE_INIT_CONTAINER).image = "docker.io/library/busybox:1.37";
      assertRefused(clients, impostor, "adds a capability beyond", "ghcr.io/angelnu/pod-gateway:");
      const greedy = pod("sabnzbd");
      container(greedy, ROUTE_SIDECAR_CONTAINER).securityContext?.capabilities?.add?.push("SYS_ADMIN");
      assertRefused(clients, greedy, "adds a capability beyond");
    });

    it("an app container of a routed pod that keeps NET_RAW (no drop), while dropping NET_RAW alone is enough", () => {
      const bad = pod("qbittorrent");
      delete container(bad, "qbittorrent").securityContext;
      assertOnlyRefusal(clients, bad, "must drop NET_RAW");
      const narrow = pod("qbittorrent");
      const context = container(narrow, "qbittorrent").securityContext as NonNullable<Container["securityContext"]>;
      context.capabilities = { drop: ["NET_RAW"], add: context.capabilities?.add };
      assert.deepEqual(denials(clients, narrow), []);
    });

    it("a kubectl debug container in a routed pod unless it drops NET_RAW (kubectl debug --profile=restricted)", () => {
      const bad = pod("qbittorrent");
      bad.spec.ephemeralContainers = [{ name: "debugger", image: "busybox:1.37" }];
      assertRefused(clients, bad, "must drop NET_RAW");
      const restricted = pod("qbittorrent");
      restricted.spec.ephemeralContainers = [
        { name: "debugger", image: "busybox:1.37", securityContext: { capabilities: { drop: ["ALL"] } } },
      ];
      assert.deepEqual(denials(clients, restricted), []);
      const privileged = pod("qbittorrent");
      privileged.spec.ephemeralContainers = [
        {
          name: "debugger",
          image: "busybox:1.37",
          securityContext: { privileged: true, capabilities: { drop: ["ALL"] } },
        },
      ];
      assertRefused(clients, privileged, "may be privileged");
    });

    it("the node's network, PID or IPC namespace", () => {
      for (const field of ["hostNetwork", "hostPID", "hostIPC"] as const) {
        const bad = pod("sabnzbd");
        bad.spec[field] = true;
        assertOnlyRefusal(clients, bad, "may share the node's network, PID or IPC namespace");
      }
    });

    it("a hostPort", () => {
      const bad = pod("qbittorrent");
      container(bad, "qbittorrent").ports?.push({ containerPort: 6882, hostPort: 6882 });
      assertOnlyRefusal(clients, bad, "may publish a hostPort");
    });

    it("a hostPath volume other than the media library's node directory", async () => {
      const bad = pod("qbittorrent");
      bad.spec.volumes?.push({ name: "node", hostPath: { path: "/var/run/containerd" } });
      assertOnlyRefusal(clients, bad, "may mount a hostPath volume");
      // With a hostPath library (the Jellyfin variant), that one directory is allowed, and only it.
      const variant = PLAN_VARIANTS.find((candidate) => candidate.name.includes("hostPath library"));
      assert.ok(variant);
      const planned = await planDownloads(
        variant.downloads,
        variant.core,
        variant.downloadsSecrets,
        variant.coreSecrets,
      );
      const policy = policyFor(planned, `${CLIENTS}-pods.charmarr.io`);
      const library = plannedPods(planned).find((candidate) => candidate.metadata.namespace === CLIENTS) as Pod;
      const path = (library.spec.volumes?.find((volume) => "hostPath" in volume) as { hostPath: { path: string } })
        .hostPath.path;
      assert.deepEqual(denials(policy, library), []);
      library.spec.volumes?.push({ name: "above", hostPath: { path: `${path}/..` } });
      assertRefused(policy, library, `other than the media library (${path})`);
    });

    it("a routed pod that resolves through anything but the gateway: another dnsPolicy, or another nameserver", () => {
      const clusterFirst = pod("qbittorrent");
      clusterFirst.spec.dnsPolicy = "ClusterFirst";
      delete clusterFirst.spec.dnsConfig;
      assertOnlyRefusal(clients, clusterFirst, "must have dnsPolicy: None with the gateway 172.16.0.1");
      const kubeDns = pod("qbittorrent");
      kubeDns.spec.dnsConfig = { nameservers: ["172.16.0.1", "10.43.0.10"] };
      assertRefused(clients, kubeDns, "must have dnsPolicy: None");
    });

    it("a pod with the route containers but without the routed label is still a routed pod", () => {
      const bad = pod("qbittorrent");
      delete bad.metadata.labels?.[ROUTED_LABEL];
      bad.spec.dnsPolicy = "ClusterFirst";
      assertRefused(clients, bad, "must have dnsPolicy: None");
    });

    it("but admits a pod that is not routed and asks for nothing (an Istio waypoint, a job of your own)", () => {
      const plain: Pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          generateName: "waypoint-",
          namespace: CLIENTS,
          labels: { "gateway.istio.io/managed": "istio.io-mesh-controller" },
        },
        spec: {
          containers: [
            {
              name: "istio-proxy",
              image: "docker.io/istio/proxyv2:1.27.9",
              securityContext: { capabilities: { drop: ["ALL"] } },
            },
          ],
        },
      };
      assert.deepEqual(denials(clients, plain), []);
    });
  });

  describe("a routed Prowlarr (charmarr:indexers.routeThroughVpn) is held to the routed pods' rules", () => {
    let routed: Policy;
    let prowlarr: () => Pod;
    before(async () => {
      const variant = PLAN_VARIANTS.find((candidate) => candidate.name.includes("Prowlarr routed"));
      assert.ok(variant);
      const planned = await planDownloads(variant.downloads, variant.core);
      routed = policyFor(planned, `${CLIENTS}-pods.charmarr.io`);
      const found = plannedPods(planned).find((candidate) => candidate.metadata.name === "prowlarr-0");
      assert.ok(found, "the downloads stack plans Prowlarr");
      prowlarr = () => structuredClone(found);
    });

    it("admits it as planned: routed label, route containers with the pinned pod-gateway image, the gateway as resolver", () => {
      const planned = prowlarr();
      assert.equal(planned.metadata.labels?.[ROUTED_LABEL], "true");
      assert.deepEqual(denials(routed, planned), []);
    });

    it("refuses it resolving through kube-dns, keeping NET_RAW, adding NET_ADMIN, or a route container of another image", () => {
      const clusterFirst = prowlarr();
      clusterFirst.spec.dnsPolicy = "ClusterFirst";
      delete clusterFirst.spec.dnsConfig;
      assertOnlyRefusal(routed, clusterFirst, "pod prowlarr-0 (of StatefulSet prowlarr)", "must have dnsPolicy: None");
      const raw = prowlarr();
      delete container(raw, "prowlarr").securityContext;
      assertOnlyRefusal(routed, raw, "must drop NET_RAW");
      const admin = prowlarr();
      container(admin, "prowlarr").securityContext?.capabilities?.add?.push("NET_ADMIN");
      assertOnlyRefusal(routed, admin, "adds a capability beyond Pod Security baseline's");
      const impostor = prowlarr();
      container(impostor, ROUTE_INIT_CONTAINER).image = "docker.io/library/busybox:1.37";
      assertRefused(routed, impostor, "adds a capability beyond", "ghcr.io/angelnu/pod-gateway:");
      const unlabelled = prowlarr();
      delete unlabelled.metadata.labels?.[ROUTED_LABEL];
      unlabelled.spec.dnsPolicy = "ClusterFirst";
      delete unlabelled.spec.dnsConfig;
      assertOnlyRefusal(routed, unlabelled, "must have dnsPolicy: None");
    });
  });

  describe("the gateway's namespace refuses", () => {
    it("privilege for any container but the gateway's own, with their pinned images", () => {
      const stranger = pod("vpn-gateway");
      stranger.spec.containers.push({ name: "shell", image: "busybox:1.37", securityContext: { privileged: true } });
      assertRefused(gateway, stranger, `no container in namespace ${VPN} may be privileged but vpn-forward-guard`);
      const reimaged = pod("vpn-gateway");
      container(reimaged, "gluetun").image = "ghcr.io/qdm12/gluetun:latest";
      assertRefused(gateway, reimaged, "may be privileged but");
      const sidecar = pod("vpn-gateway");
      container(sidecar, "gateway-sidecar").securityContext = { privileged: true };
      assertRefused(gateway, sidecar, "may be privileged but");
    });

    it("capabilities beyond baseline for any container but the gateway sidecar's and gluetun's own", () => {
      const bad = pod("vpn-gateway");
      container(bad, "gateway-sidecar").securityContext?.capabilities?.add?.push("SYS_MODULE");
      assertOnlyRefusal(gateway, bad, "adds a capability beyond", "gateway-sidecar: NET_ADMIN, NET_RAW");
    });

    it("host namespaces, hostPort and any hostPath", () => {
      const host = pod("vpn-gateway");
      host.spec.hostNetwork = true;
      assertRefused(gateway, host, "hostNetwork");
      const port = pod("vpn-gateway");
      container(port, "gluetun").ports?.push({ containerPort: 8000, hostPort: 8000 });
      assertRefused(gateway, port, "hostPort");
      const path = pod("vpn-gateway");
      path.spec.volumes?.push({ name: "modules", hostPath: { path: "/lib/modules" } });
      assertRefused(gateway, path, "may mount a hostPath volume:");
    });
  });

  describe("Services in either namespace", () => {
    const service = (namespace: string, spec: Record<string, unknown>) => ({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "qbittorrent-peers", namespace },
      spec: { selector: { "app.kubernetes.io/name": "qbittorrent" }, ports: [{ port: 6881 }], ...spec },
    });
    it("refuses node-level exposure: NodePort, LoadBalancer, externalIPs", () => {
      for (const spec of [
        { type: "NodePort" },
        { type: "LoadBalancer" },
        { type: "ClusterIP", externalIPs: ["192.168.1.50"] },
      ]) {
        assertOnlyRefusal(
          services,
          service(CLIENTS, spec),
          "Service qbittorrent-peers: ",
          "may be exposed on the nodes",
        );
      }
    });
    it("admits ClusterIP and headless Services", () => {
      assert.deepEqual(denials(services, service(VPN, { type: "ClusterIP", clusterIP: "None" })), []);
    });
  });
});
