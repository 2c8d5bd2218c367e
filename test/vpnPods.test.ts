/**
 * The VPN pods' builders (lib/vpn/gateway.ts, lib/vpn/client.ts) where a plan shows too little: what
 * rolls the gateway pod, what the port follower may take from the node, and the templates the
 * builders refuse.
 */
import { strict as assert } from "node:assert";
import { vpnSchema } from "../lib/vpn/settings";
import { GatewayPodInputs, gatewayNames, gatewaySettingsHash } from "../lib/vpn/gateway";
import {
  CLIENT_SETTINGS_VOLUME,
  ClientRoute,
  PodTemplateSpec,
  followForwardedPort,
  routePodTemplate,
} from "../lib/vpn/client";
import { PORT_FOLLOWER_CONTAINER, PORT_FOLLOW_SCRIPT_FILE, PortFollowerInputs } from "../lib/vpn/portForward";
import { TEST_CLUSTER } from "./support/clusterFacts";

const INPUTS: GatewayPodInputs = {
  vpn: vpnSchema.parse({ provider: "protonvpn", portForwarding: true }),
  cluster: TEST_CLUSTER,
  credentials: new Set(["privateKey"]),
  names: gatewayNames("charmarr-vpn"),
};

describe("the gateway pod rolls when anything it runs changes", () => {
  const before = gatewaySettingsHash(INPUTS, 8080);

  it("pod-gateway's settings alone (settings.sh: another VXLAN id)", () => {
    const vpn = { ...INPUTS.vpn, vxlanId: 7 };
    assert.notEqual(gatewaySettingsHash({ ...INPUTS, vpn }, 8080), before);
  });

  it("gluetun's port-forward script alone (the WebUI port it refuses to forward)", () => {
    assert.notEqual(gatewaySettingsHash(INPUTS, 9090), before);
  });

  it("the pod template alone (another gluetun image)", () => {
    const vpn = { ...INPUTS.vpn, images: { ...INPUTS.vpn.images, gluetun: "ghcr.io/qdm12/gluetun:v3.41.0" } };
    assert.notEqual(gatewaySettingsHash({ ...INPUTS, vpn }, 8080), before);
  });

  it("and not when nothing does", () => {
    assert.equal(gatewaySettingsHash({ ...INPUTS, names: gatewayNames("charmarr-vpn") }, 8080), before);
  });
});

const ROUTE: ClientRoute = {
  image: "ghcr.io/angelnu/pod-gateway:v1.13.0",
  configMapName: "vpn-gateway-client",
  gatewayFqdn: "vpn-gateway.charmarr-vpn.svc.cluster.local",
  settingsHash: "abc",
  dns: { nameservers: ["172.16.0.1"] },
};
const APP: PodTemplateSpec = { spec: { containers: [{ name: "qbittorrent", image: "qbittorrent:5.1.4" }] } };
const FOLLOWER: PortFollowerInputs = {
  image: "qbittorrent:5.1.4",
  webUiPort: 8080,
  credentials: { secret: "qbittorrent-credentials", usernameKey: "username", passwordKey: "password" },
  apiKeySecret: "vpn-gateway-port-follower",
  gluetunUrl: "http://vpn-gateway.charmarr-vpn.svc.cluster.local:8000/v1/portforward",
};

/** Kubernetes quantities as bytes or cores (the suffixes these builders use). */
function quantity(text: string | undefined): number {
  const match = /^(\d+)(m|Mi|Gi)?$/.exec(text ?? "");
  assert.ok(match, `not a quantity: ${text}`);
  const unit = { m: 1e-3, Mi: 2 ** 20, Gi: 2 ** 30 }[match[2] as "m" | "Mi" | "Gi"] ?? 1;
  return Number(match[1]) * unit;
}

describe("the port follower's pod template", () => {
  it("is bounded: it asks for a little CPU and memory and cannot take more memory than its limit", () => {
    const routed = followForwardedPort(routePodTemplate(APP, ROUTE), FOLLOWER);
    const follower = routed.spec?.containers.find((c) => c.name === "vpn-port-follower");
    const { requests, limits } = (follower?.resources ?? {}) as {
      requests?: Record<string, string>;
      limits?: Record<string, string>;
    };
    assert.ok(quantity(requests?.cpu) > 0 && quantity(requests?.memory) > 0, JSON.stringify(follower?.resources));
    assert.ok(quantity(limits?.memory) >= quantity(requests?.memory), JSON.stringify(follower?.resources));
  });

  it("is refused for a pod that is not routed: the follower's script is in the client settings the route containers mount", () => {
    assert.throws(
      () => followForwardedPort(APP, FOLLOWER),
      /the port follower goes into a routed pod template: route it first/,
    );
    const withOtherVolume: PodTemplateSpec = { spec: { ...APP.spec!, volumes: [{ name: "config", emptyDir: {} }] } };
    assert.throws(
      () => followForwardedPort(withOtherVolume, FOLLOWER),
      /the port follower goes into a routed pod template: route it first/,
    );
  });

  it("runs its script from the client settings volume, mounted where its command looks", () => {
    const routed = followForwardedPort(routePodTemplate(APP, ROUTE), FOLLOWER);
    const follower = routed.spec?.containers.find((c) => c.name === PORT_FOLLOWER_CONTAINER);
    assert.ok(follower);
    const script = follower.command?.at(-1) ?? "";
    const mount = follower.volumeMounts?.find((m) => script === `${m.mountPath}/${PORT_FOLLOW_SCRIPT_FILE}`);
    assert.equal(mount?.name, CLIENT_SETTINGS_VOLUME, `${script} is on no mount of the client settings`);
    const volume = routed.spec?.volumes?.find((v) => v.name === mount?.name);
    assert.equal(volume?.configMap?.name, ROUTE.configMapName);
  });
});

describe("routePodTemplate's route containers", () => {
  it("go into a pod whose containers declare ports without publishing them on the node", () => {
    const template: PodTemplateSpec = {
      spec: {
        containers: [
          { ...APP.spec!.containers[0], ports: [{ containerPort: 8080 }, { containerPort: 6881, hostPort: 0 }] },
        ],
      },
    };
    assert.ok(routePodTemplate(template, ROUTE).spec?.initContainers?.some((c) => c.name === "vpn-route-init"));
  });

  it("start in a pod that asks for non-root: root in their own context, which overrides the pod's runAsNonRoot", () => {
    // The kubelet refuses to start a container whose effective runAsNonRoot is true and whose user is 0
    // (kubernetes/api core/v1/types.go `SecurityContext.RunAsNonRoot`); the container's own field wins.
    const template: PodTemplateSpec = {
      spec: { ...APP.spec!, securityContext: { runAsNonRoot: true, runAsUser: 1000 } },
    };
    const routed = routePodTemplate(template, ROUTE);
    const pod = routed.spec?.securityContext ?? {};
    for (const c of [...(routed.spec?.initContainers ?? []), ...(routed.spec?.containers ?? [])]) {
      if (!c.name.startsWith("vpn-route-")) {
        continue;
      }
      const user = c.securityContext?.runAsUser ?? pod.runAsUser;
      const nonRoot = c.securityContext?.runAsNonRoot ?? pod.runAsNonRoot;
      assert.equal(user, 0, `${c.name} runs as root: iptables and ip need its capabilities in the effective set`);
      assert.notEqual(nonRoot, true, `${c.name} would be refused by the kubelet`);
    }
  });
});

describe("routePodTemplate refuses", () => {
  it("a template without a spec, saying so", () => {
    assert.throws(
      () => routePodTemplate({ metadata: { name: "x" } }, ROUTE),
      /cannot route a pod template without a spec/,
    );
  });

  it("a template with a volume of the route containers' settings name", () => {
    const template: PodTemplateSpec = {
      spec: { ...APP.spec!, volumes: [{ name: CLIENT_SETTINGS_VOLUME, emptyDir: {} }] },
    };
    assert.throws(
      () => routePodTemplate(template, ROUTE),
      /pod template already has a volume named vpn-route-settings/,
    );
  });
});
