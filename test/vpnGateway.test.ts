import { strict as assert } from "node:assert";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { StackPlan } from "../plan/evaluate";
import { isSecretValue } from "../plan/runtime";
import {
  ClientRoute,
  GATEWAY_START_MARGIN_SECONDS,
  ROUTE_INIT_ATTEMPTS,
  ROUTE_RETRY_SECONDS,
  routePodTemplate,
} from "../lib/vpn/client";
import { renderShellSettings } from "../lib/vpn/settingsFile";
import { ROUTE_GROUP_ID } from "../lib/vpn/routeGuard";
import {
  WITHOUT_PORT_FORWARDING,
  assertConfigError,
  manifestOf,
  manifestsOf,
  planCore,
  planDownloads,
} from "./support/plan";
import {
  Container,
  PodTemplate,
  configMapFile,
  envOf,
  parseShellSettings,
  routedWorkloads,
  gatewayWorkload,
  podSpecOf,
} from "./support/networkPolicy";
import { GuardPacket, guardVerdict } from "./support/guard";
import { assertSelects } from "./support/selectors";

const SECRET_KEYS = ["charmarr:vpnPrivateKey", "charmarr:vpnPresharedKey", "charmarr:vpnUser", "charmarr:vpnPassword"];

function gatewaySide(plan: StackPlan) {
  const gateway = gatewayWorkload(plan);
  const settingsVolume = podSpecOf(gateway).volumes?.find(
    (v) => v.name === container(gateway.spec.template, "gateway-init").volumeMounts?.[0].name,
  );
  assert.ok(settingsVolume?.configMap, "gateway-init mounts a ConfigMap at /config");
  const settings = parseShellSettings(
    configMapFile(plan, gateway.metadata.namespace, settingsVolume.configMap.name, "settings.sh"),
  );
  const gluetun = envOf(container(gateway.spec.template, "gluetun"));
  return { gateway, settings, gluetun };
}

/** The lines gluetun runs from /iptables/post-rules.txt: those starting with `iptables `, split on spaces without a shell. */
function postRules(plan: StackPlan, gateway: ReturnType<typeof gatewayWorkload>): string[] {
  const mount = container(gateway.spec.template, "gluetun").volumeMounts?.find((m) => m.mountPath === "/iptables");
  const volume = podSpecOf(gateway).volumes?.find((v) => v.name === mount?.name);
  assert.ok(volume?.configMap, "gluetun mounts a ConfigMap at /iptables");
  const lines = configMapFile(plan, gateway.metadata.namespace, volume.configMap.name, "post-rules.txt").split("\n");
  assert.ok(
    lines.every((line) => line === "" || line.startsWith("# ") || line.startsWith("iptables ")),
    "only iptables lines and comments",
  );
  return lines.filter((line) => line.startsWith("iptables "));
}

function container(template: PodTemplate, name: string): Container {
  const found = [...(template.spec.initContainers ?? []), ...template.spec.containers].find((c) => c.name === name);
  assert.ok(found, `no container ${name}`);
  return found;
}

function clientSide(plan: StackPlan) {
  const workloads = routedWorkloads(plan);
  assert.ok(workloads.length >= 1, "the plan routes at least one workload");
  return workloads.map((workload) => {
    const init = container(workload.spec.template, "vpn-route-init");
    const volume = podSpecOf(workload).volumes?.find(
      (v) => v.name === init.volumeMounts?.find((m) => m.mountPath === "/config")?.name,
    );
    assert.ok(volume?.configMap, `${workload.metadata.name}: vpn-route-init mounts a ConfigMap at /config`);
    return {
      workload,
      settings: parseShellSettings(
        configMapFile(plan, workload.metadata.namespace, volume.configMap.name, "settings.sh"),
      ),
      initEnv: envOf(init),
      sidecarEnv: envOf(container(workload.spec.template, "vpn-route-sidecar")),
    };
  });
}

describe("vpn gateway: gateway and clients agree (read from the plan)", () => {
  let plan: StackPlan;
  before(async () => {
    plan = await planDownloads();
  });

  it("VXLAN id, port and network are equal on both sides, and the port is 4789", () => {
    const { settings: gateway } = gatewaySide(plan);
    for (const { workload, settings } of clientSide(plan)) {
      for (const key of ["VXLAN_ID", "VXLAN_PORT", "VXLAN_IP_NETWORK"]) {
        assert.ok(settings[key], `${workload.metadata.name}: client ${key} set`);
        assert.equal(settings[key], gateway[key], `${workload.metadata.name}: ${key}`);
      }
      assert.equal(settings.VXLAN_PORT, "4789");
    }
    assert.equal(gateway.VXLAN_ID, "42");
    assert.equal(gateway.VXLAN_IP_NETWORK, "172.16.0");
  });

  it("vpn-route-init retries at least as long as gluetun's startup probe allows, plus a margin for image pulls and init containers", () => {
    const probe = container(gatewaySide(plan).gateway.spec.template, "gluetun").startupProbe;
    assert.ok(
      probe?.periodSeconds && probe.failureThreshold,
      "gluetun has a startup probe with a period and a threshold",
    );
    const gatewayStartup = probe.periodSeconds * probe.failureThreshold;
    assert.ok(GATEWAY_START_MARGIN_SECONDS >= 120, `margin ${GATEWAY_START_MARGIN_SECONDS} s`);
    assert.ok(
      ROUTE_INIT_ATTEMPTS * ROUTE_RETRY_SECONDS >= gatewayStartup + GATEWAY_START_MARGIN_SECONDS,
      `${ROUTE_INIT_ATTEMPTS} attempts every ${ROUTE_RETRY_SECONDS} s < ${gatewayStartup} s of startup probe + ${GATEWAY_START_MARGIN_SECONDS} s`,
    );
    for (const workload of routedWorkloads(plan)) {
      const init = container(workload.spec.template, "vpn-route-init");
      assert.deepEqual(init.command, ["/bin/bash", "/config/route-init.sh"]);
      const script = configMapFile(plan, workload.metadata.namespace, "vpn-gateway-client", "route-init.sh");
      assert.ok(script.includes(`seq ${ROUTE_INIT_ATTEMPTS}`), `${workload.metadata.name} runs that many attempts`);
    }
  });

  it("pod-gateway forwards on the interface gluetun creates, blocks other traffic, and the MTUs agree", () => {
    const { settings, gluetun } = gatewaySide(plan);
    assert.equal(gluetun.VPN_INTERFACE, "wg0");
    assert.equal(settings.VPN_INTERFACE, gluetun.VPN_INTERFACE);
    assert.equal(settings.VPN_BLOCK_OTHER_TRAFFIC, "true");
    assert.equal(settings.VPN_INTERFACE_MTU, gluetun.WIREGUARD_MTU);
    assert.equal(gluetun.WIREGUARD_MTU, "1370");
    assert.equal(settings.VPN_TRAFFIC_PORT, "51820");
    for (const client of clientSide(plan)) {
      assert.equal(
        client.settings.VPN_INTERFACE_MTU,
        gluetun.WIREGUARD_MTU,
        `${client.workload.metadata.name}: client vxlan0 MTU`,
      );
      assert.equal(
        client.settings.VPN_INTERFACE,
        undefined,
        `${client.workload.metadata.name}: VPN_INTERFACE is the gateway's device name, not the client's`,
      );
    }
  });

  it("switching to OpenVPN switches the interface on both sides", async () => {
    const openvpn = await planDownloads(
      {
        ...WITHOUT_PORT_FORWARDING,
        "charmarr:vpn.provider": "nordvpn",
        "charmarr:vpn.type": "openvpn",
        "charmarr:vpn.addresses": undefined,
        "charmarr:vpnPrivateKey": undefined,
        "charmarr:vpnUser": "u",
        "charmarr:vpnPassword": "p",
      },
      {},
      SECRET_KEYS,
    );
    const { settings, gluetun } = gatewaySide(openvpn);
    assert.equal(gluetun.VPN_INTERFACE, "tun0");
    assert.equal(settings.VPN_INTERFACE, "tun0");
    assert.equal(settings.VPN_TRAFFIC_PORT, "1194");
    assert.equal(gluetun.OPENVPN_PROTOCOL, "udp", "the protocol the gateway's firewall opens");
    assert.equal(gluetun.WIREGUARD_MTU, undefined);
    assert.equal(settings.VPN_INTERFACE_MTU, "1350", "1450 - max(VXLAN 50, OpenVPN 100)");
    const rules = postRules(openvpn, gatewaySide(openvpn).gateway);
    assert.ok(rules.includes("iptables -I FORWARD -o tun0 -j ACCEPT"));
    const gluetunContainer = container(gatewaySide(openvpn).gateway.spec.template, "gluetun");
    assert.equal(gluetunContainer.command, undefined, "no WireGuard rule to clear: gluetun's own entrypoint");
  });

  it("a changed vxlanId, network or MTU reaches both sides and rolls both pods", async () => {
    const changed = await planDownloads({
      "charmarr:vpn.vxlanId": 7,
      "charmarr:vpn.vxlanNetwork": "172.20.5",
      "charmarr:vpn.mtu": 1280,
    });
    const before = gatewaySide(plan).gateway.spec.template.metadata.annotations ?? {};
    const { gateway, settings, gluetun } = gatewaySide(changed);
    assert.equal(settings.VXLAN_ID, "7");
    assert.equal(settings.VXLAN_IP_NETWORK, "172.20.5");
    assert.equal(gluetun.WIREGUARD_MTU, "1280");
    assert.equal(settings.VPN_INTERFACE_MTU, "1280");
    for (const client of clientSide(changed)) {
      assert.equal(client.settings.VPN_INTERFACE_MTU, "1280");
      assert.equal(client.settings.VXLAN_ID, "7");
      assert.equal(client.settings.VXLAN_IP_NETWORK, "172.20.5");
    }
    const hashKey = "charmarr.io/vpn-gateway-settings-hash";
    assert.ok(before[hashKey] && gateway.spec.template.metadata.annotations?.[hashKey]);
    assert.notEqual(gateway.spec.template.metadata.annotations?.[hashKey], before[hashKey]);
    const clientHash = "charmarr.io/vpn-client-settings-hash";
    const oldClient = clientSide(plan)[0].workload.spec.template.metadata.annotations?.[clientHash];
    const newClient = clientSide(changed)[0].workload.spec.template.metadata.annotations?.[clientHash];
    assert.ok(oldClient && newClient && oldClient !== newClient, "the client settings hash changes");
  });

  it("clients resolve the headless Service that selects the gateway pod", () => {
    const { gateway } = gatewaySide(plan);
    const services = manifestsOf(plan, "Service").filter(
      (s) => s.metadata.namespace === gateway.metadata.namespace,
    ) as unknown as {
      metadata: { name: string; namespace: string };
      spec: { clusterIP?: string; selector?: Record<string, string> };
    }[];
    assert.equal(services.length, 1);
    const [service] = services;
    assert.equal(service.spec.clusterIP, "None");
    assertSelects(service.spec.selector, gateway.spec.template.metadata.labels, "the headless Service");
    const fqdn = `${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`;
    for (const { workload, initEnv, sidecarEnv } of clientSide(plan)) {
      assert.equal(initEnv.gateway, fqdn, workload.metadata.name);
      assert.equal(sidecarEnv.gateway, fqdn, workload.metadata.name);
    }
    assert.equal(plan.outputs.vpnGateway, fqdn);
  });

  it("the kubectl commands docs/vpn.md gives find the planned gateway: its namespace, pod labels, Deployment, containers and Secret", () => {
    const { gateway } = gatewaySide(plan);
    const namespace = gateway.metadata.namespace;
    const doc = readFileSync(resolve(__dirname, "..", "docs", "vpn.md"), "utf8");
    const selectors = [...doc.matchAll(/kubectl -n (\S+) (?:delete|get) pods? -l (\S+)/g)];
    assert.ok(selectors.length > 0, "docs/vpn.md restarts the gateway by its pod's labels");
    for (const [command, inNamespace, selector] of selectors) {
      assert.equal(inNamespace, namespace, command);
      const terms = Object.fromEntries(selector.split(",").map((term) => term.split("=") as [string, string]));
      assertSelects(terms, gateway.spec.template.metadata.labels, command);
    }
    const deployments = [
      ...doc.matchAll(/kubectl -n ([\w-]+) (?:exec|logs|rollout restart) deploy\/([\w-]+)(?: -c ([\w-]+))?/g),
    ];
    assert.ok(deployments.length >= 4, "exec, logs and rollout restart of the gateway");
    for (const [command, inNamespace, name, containerName] of deployments) {
      assert.deepEqual([inNamespace, name], [namespace, gateway.metadata.name], command);
      if (containerName !== undefined) {
        assert.ok(container(gateway.spec.template, containerName), command);
      }
    }
    const secrets = [...doc.matchAll(/kubectl -n ([\w-]+) get secret ([\w-]+)/g)];
    assert.ok(secrets.length > 0);
    for (const [command, inNamespace, name] of secrets) {
      assert.equal(inNamespace, namespace, command);
      assert.ok(
        manifestsOf(plan, "Secret", name).some((secret) => secret.metadata.namespace === namespace),
        command,
      );
    }
  });

  it("clients keep cluster and ambient-probe traffic off the tunnel, the LAN only with allowLan; DNS goes to kube-dns", async () => {
    for (const { settings } of clientSide(plan)) {
      assert.equal(settings.NOT_ROUTED_TO_GATEWAY_CIDRS, "10.42.0.0/16 10.43.0.0/16 169.254.7.127/32");
      assert.equal(settings.K8S_DNS_IPS, "10.43.0.10");
    }
    const lan = await planDownloads({ "charmarr:vpn.killSwitch.allowLan": true });
    for (const { settings } of clientSide(lan)) {
      assert.equal(settings.NOT_ROUTED_TO_GATEWAY_CIDRS, "10.42.0.0/16 10.43.0.0/16 169.254.7.127/32 192.168.1.0/24");
    }
    const { settings, gluetun } = gatewaySide(plan);
    assert.equal(settings.VPN_LOCAL_CIDRS, "10.42.0.0/16 10.43.0.0/16 192.168.1.0/24");
    assert.equal(gluetun.FIREWALL_OUTBOUND_SUBNETS, "10.42.0.0/16,10.43.0.0/16,192.168.1.0/24");
    assert.equal(settings.DNS_LOCAL_CIDRS, "cluster.local");
    assert.equal(settings.DNS_LOCAL_SERVER, "10.43.0.10");
  });

  it("without a LAN CIDR, nothing names a LAN", async () => {
    const noLan = await planDownloads({}, { "charmarr:cluster.lanCidr": undefined });
    for (const { settings } of clientSide(noLan)) {
      assert.equal(settings.NOT_ROUTED_TO_GATEWAY_CIDRS, "10.42.0.0/16 10.43.0.0/16 169.254.7.127/32");
    }
    assert.equal(gatewaySide(noLan).gluetun.FIREWALL_OUTBOUND_SUBNETS, "10.42.0.0/16,10.43.0.0/16");
  });

  it("gluetun's post-rules accept the pod CIDR (VXLAN, ping) on eth0 and nothing from the LAN (the gateway's probes are exec), and bring back pod-gateway's filter rules", () => {
    const { gateway } = gatewaySide(plan);
    const rules = postRules(plan, gateway);
    assert.deepEqual(
      rules.filter((line) => line.includes(" -i eth0 -s ")),
      ["iptables -I INPUT -i eth0 -s 10.42.0.0/16 -j ACCEPT"],
    );
    for (const each of [
      ...(gateway.spec.template.spec.initContainers ?? []),
      ...gateway.spec.template.spec.containers,
    ]) {
      for (const probe of [each.startupProbe, each.livenessProbe, each.readinessProbe]) {
        assert.ok(
          probe === undefined || (probe.exec && !probe.httpGet && !probe.tcpSocket && !probe.grpc),
          `${each.name}'s probes are exec: ${JSON.stringify(probe)}`,
        );
      }
    }
    // After a fallback flushed the filter table, the next firewall start must restore what
    // pod-gateway v1.13.0's gateway_init.sh installed, or every client is black-holed.
    for (const rule of [
      "iptables -I FORWARD -o wg0 -j ACCEPT",
      "iptables -A FORWARD -i wg0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
      "iptables -A FORWARD -i wg0 -j REJECT",
      "iptables -A INPUT -i eth0 -p udp --dport 4789 -j ACCEPT",
      "iptables -A OUTPUT -o eth0 -p udp --dport 4789 -j ACCEPT",
      "iptables -A INPUT -i vxlan0 -p udp --sport 68 --dport 67 -j ACCEPT",
      "iptables -A INPUT -i vxlan0 -p udp --dport 53 -j ACCEPT",
      "iptables -A OUTPUT -o vxlan0 -j ACCEPT",
    ]) {
      assert.ok(rules.includes(rule), `post-rules.txt lacks: ${rule}`);
    }
    const settingsVolume = podSpecOf(gateway).volumes?.find(
      (v) => v.name === container(gateway.spec.template, "gateway-sidecar").volumeMounts?.[0].name,
    );
    assert.ok(settingsVolume?.configMap);
    assert.equal(configMapFile(plan, gateway.metadata.namespace, settingsVolume.configMap.name, "nat.conf"), "");
  });

  it("the gateway: one replica, no overlap, pinned images, exec health checks, control server behind an API key", () => {
    const { gateway, gluetun } = gatewaySide(plan);
    assert.equal(gateway.spec.replicas, 1);
    assert.deepEqual(gateway.spec.strategy, { type: "Recreate" });
    const spec = podSpecOf(gateway);
    assert.deepEqual(
      spec.initContainers?.map((c) => c.name),
      ["vpn-forward-guard", "gateway-init"],
      "the guard is in place before gateway-init enables forwarding",
    );
    assert.deepEqual(spec.containers.map((c) => c.name).sort(), ["gateway-sidecar", "gluetun"]);
    assert.equal(
      (spec as { automountServiceAccountToken?: boolean }).automountServiceAccountToken,
      false,
      "no Kubernetes API token in a pod that talks to the internet",
    );
    assert.equal(container(gateway.spec.template, "gateway-init").securityContext?.privileged, true);
    assert.deepEqual(
      container(gateway.spec.template, "gateway-sidecar").securityContext?.capabilities?.add,
      ["NET_ADMIN", "NET_RAW"],
      "dnsmasq's DHCP needs both; CRI-O grants no NET_RAW",
    );
    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
      assert.match(c.image ?? "", /:v\d+\.\d+\.\d+$/, `${c.name} image is pinned`);
    }
    const probe = container(gateway.spec.template, "gluetun");
    assert.deepEqual(probe.startupProbe?.exec?.command, ["/gluetun-entrypoint", "healthcheck"]);
    assert.equal(probe.readinessProbe, undefined, "no readiness probe pulls the gateway out of DNS on a tunnel blip");
    assert.equal(gluetun.HTTP_CONTROL_SERVER_AUTH_DEFAULT_ROLE, "secretKeyRef");
  });

  it("the gateway namespace admits the privileged init container and is never in the mesh", () => {
    const { gateway } = gatewaySide(plan);
    const namespace = manifestOf(plan, "Namespace", gateway.metadata.namespace) as unknown as {
      metadata: { labels: Record<string, string> };
    };
    assert.equal(namespace.metadata.labels["pod-security.kubernetes.io/enforce"], "privileged");
    assert.equal(namespace.metadata.labels["istio.io/dataplane-mode"], undefined);
    assert.equal(gateway.spec.template.metadata.labels?.["istio.io/dataplane-mode"], "none");
  });

  it("routed pods: vpn-route-init first, only NET_ADMIN and NET_RAW, not privileged, in the route group, DNS capture off", () => {
    for (const { workload } of clientSide(plan)) {
      const spec = podSpecOf(workload);
      assert.equal(spec.initContainers?.[0].name, "vpn-route-init", workload.metadata.name);
      for (const name of ["vpn-route-init", "vpn-route-sidecar"]) {
        const c = container(workload.spec.template, name);
        assert.deepEqual(
          c.securityContext?.capabilities?.add,
          ["NET_ADMIN", "NET_RAW"],
          "busybox ping and udhcpc need NET_RAW, which CRI-O does not grant by default",
        );
        assert.deepEqual(c.securityContext?.capabilities?.drop, ["ALL"], "none of the runtime's defaults");
        assert.equal(c.securityContext?.privileged, undefined);
        assert.equal(c.securityContext?.runAsGroup, ROUTE_GROUP_ID, "the group the guard lets DNS out for");
      }
      for (const c of [...(spec.initContainers ?? []), ...spec.containers].filter(
        (c) => !c.name.startsWith("vpn-route"),
      )) {
        assert.notEqual(c.securityContext?.runAsGroup, ROUTE_GROUP_ID, c.name);
        assert.notEqual(c.env?.find((e) => e.name === "PGID")?.value, String(ROUTE_GROUP_ID), c.name);
      }
      assert.equal(workload.spec.template.metadata.annotations?.["ambient.istio.io/dns-capture"], "false");
    }
  });

  it("routed pods resolve through the gateway's dnsmasq on the overlay, with the search list and ndots of a ClusterFirst pod", () => {
    for (const { workload } of clientSide(plan)) {
      const spec = podSpecOf(workload);
      assert.equal(spec.dnsPolicy, "None", workload.metadata.name);
      assert.deepEqual(spec.dnsConfig, {
        nameservers: ["172.16.0.1"],
        searches: ["charmarr-downloads.svc.cluster.local", "svc.cluster.local", "cluster.local"],
        options: [{ name: "ndots", value: "5" }],
      });
    }
    // dnsmasq answers the cluster domain from kube-dns and nothing else from it.
    const { settings } = gatewaySide(plan);
    assert.equal(settings.DNS_LOCAL_CIDRS, "cluster.local");
    assert.equal(settings.DNS_LOCAL_SERVER, "10.43.0.10");
  });

  it("one process on port 53: gluetun's DNS server is off, its plaintext resolver is the gateway pod's only nameserver from the start", () => {
    const { gateway, gluetun } = gatewaySide(plan);
    assert.equal(gluetun.DNS_SERVER, "off");
    assert.equal(gluetun.DNS_ADDRESS, "1.1.1.1");
    assert.equal(gluetun.DNS_KEEP_NAMESERVER, undefined, "on, dnsmasq's upstream would be kube-dns");
    const spec = podSpecOf(gateway);
    assert.equal(
      spec.dnsPolicy,
      "None",
      "gateway_sidecar.sh copies resolv.conf for dnsmasq at start: it must never name kube-dns",
    );
    assert.deepEqual(spec.dnsConfig, { nameservers: ["1.1.1.1"] });
  });

  it("the forward guard: only vxlan0 <-> tunnel is forwarded, the resolver only through the tunnel, even with gluetun's filter rules flushed", () => {
    const { gateway } = gatewaySide(plan);
    const guard = container(gateway.spec.template, "vpn-forward-guard");
    assert.equal(guard.securityContext?.privileged, true);
    assert.deepEqual(guard.command, ["/bin/sh", "/config/forward-guard.sh"]);
    const settingsVolume = podSpecOf(gateway).volumes?.find((v) => v.name === guard.volumeMounts?.[0].name);
    assert.ok(settingsVolume?.configMap);
    const script = configMapFile(plan, gateway.metadata.namespace, settingsVolume.configMap.name, "forward-guard.sh");
    // Only the mangle table, which gluetun v3.41.1 never flushes (it flushes the filter table).
    const iptables = script.split("\n").filter((line) => line.startsWith("iptables"));
    assert.ok(iptables.length > 0 && iptables.every((line) => line.startsWith("iptables -t mangle ")));
    assert.match(script, /echo 1 > \/proc\/sys\/net\/ipv6\/conf\/\$scope\/disable_ipv6/);
    const forward = (packet: GuardPacket) => guardVerdict(script, "CHARMARR-FORWARD", "FORWARD", packet);
    const output = (packet: GuardPacket) => guardVerdict(script, "CHARMARR-OUTPUT", "OUTPUT", packet);
    const internetHost = "198.51.100.7";
    assert.equal(forward({ in: "vxlan0", out: "wg0", dst: internetHost, protocol: "tcp", port: 443 }), "RETURN");
    assert.equal(forward({ in: "wg0", out: "vxlan0", dst: "172.16.0.23", protocol: "tcp", port: 6881 }), "RETURN");
    for (const port of [51820, 53, 443]) {
      assert.equal(
        forward({ in: "vxlan0", out: "eth0", dst: internetHost, protocol: "udp", port }),
        "DROP",
        `a client's UDP ${port} out of eth0`,
      );
    }
    assert.equal(
      forward({ in: "vxlan0", out: "eth0", dst: "10.42.3.4", protocol: "tcp", port: 80 }),
      "DROP",
      "no forwarding into the cluster either",
    );
    assert.equal(
      output({ out: "eth0", dst: "1.1.1.1", protocol: "udp", port: 53 }),
      "DROP",
      "dnsmasq's upstream outside the tunnel",
    );
    assert.equal(output({ out: "eth0", dst: "1.1.1.1", protocol: "tcp", port: 853 }), "DROP");
    assert.equal(output({ out: "wg0", dst: "1.1.1.1", protocol: "udp", port: 53 }), "RETURN");
    assert.equal(
      output({ out: "eth0", dst: "10.43.0.10", protocol: "udp", port: 53 }),
      "RETURN",
      "the cluster domain from kube-dns",
    );
    assert.equal(output({ out: "eth0", dst: "10.42.1.9", protocol: "udp", port: 4789 }), "RETURN", "VXLAN to a client");
    assert.equal(output({ out: "vxlan0", dst: "172.16.0.255", protocol: "udp", port: 68 }), "RETURN", "DHCP answers");
    assert.equal(
      output({ out: "eth0", dst: internetHost, protocol: "udp", port: 51820 }),
      "RETURN",
      "the tunnel's own packets",
    );
    assert.equal(
      output({ out: "eth0", dst: internetHost, protocol: "tcp", port: 443 }),
      "DROP",
      "the gateway's own traffic outside the tunnel",
    );
    assert.equal(output({ out: "eth0", dst: "8.8.8.8", protocol: "udp", port: 53 }), "DROP");
  });

  it("the downloads namespace admits its routed pods: Pod Security privileged (NET_ADMIN and NET_RAW are outside baseline)", () => {
    const [{ workload }] = clientSide(plan);
    const namespace = manifestOf(plan, "Namespace", workload.metadata.namespace) as unknown as {
      metadata: { labels: Record<string, string> };
    };
    for (const mode of ["enforce", "audit", "warn"]) {
      assert.equal(namespace.metadata.labels[`pod-security.kubernetes.io/${mode}`], "privileged", mode);
    }
  });

  it("the gateway's dnsmasq keeps its leases on an emptyDir and is authoritative, so a restarted sidecar still renews the clients' leases", () => {
    const { gateway } = gatewaySide(plan);
    const sidecar = container(gateway.spec.template, "gateway-sidecar");
    const [shell, flag, script] = sidecar.command ?? [];
    assert.deepEqual([shell, flag], ["/bin/sh", "-c"]);
    // The image's /etc/dnsmasq.conf reads /etc/dnsmasq.d/*.conf; pod-gateway's script then starts dnsmasq.
    assert.match(
      script,
      /^cp \/config\/dnsmasq-charmarr\.conf \/etc\/dnsmasq\.d\/charmarr\.conf && exec \/bin\/gateway_sidecar\.sh$/,
    );
    const extraFile = configMapFile(plan, gateway.metadata.namespace, "vpn-gateway-settings", "dnsmasq-charmarr.conf");
    // dnsmasq refuses to start on a line it does not understand: the file as dnsmasq itself reads it.
    const checkDir = mkdtempSync(join(tmpdir(), "dnsmasq-"));
    try {
      writeFileSync(join(checkDir, "charmarr.conf"), extraFile);
      const check = spawnSync("dnsmasq", ["--test", "-C", join(checkDir, "charmarr.conf")], { encoding: "utf8" });
      assert.equal(check.status, 0, `dnsmasq --test: ${check.stderr}`);
    } finally {
      rmSync(checkDir, { recursive: true, force: true });
    }
    const extra = extraFile.split("\n").filter((line) => line && !line.startsWith("#"));
    assert.ok(extra.includes("dhcp-authoritative"), "a renewal of a lease dnsmasq does not know is not ignored");
    assert.ok(extra.includes("no-ping"), "an offer does not wait for a ping that no free address answers");
    assert.ok(
      extra.includes("dhcp-host=00:00:5e:00:53:ff,172.16.0.255"),
      "the overlay's broadcast address, the last of pod-gateway's pool, is never leased",
    );
    const leaseFile = extra.find((line) => line.startsWith("dhcp-leasefile="))?.split("=")[1] ?? "";
    const mount = sidecar.volumeMounts?.find((m) => leaseFile.startsWith(`${m.mountPath}/`));
    assert.ok(mount, `the lease file ${leaseFile} is on a volume`);
    const volume = podSpecOf(gateway).volumes?.find((v) => v.name === mount.name) as { emptyDir?: unknown } | undefined;
    assert.deepEqual(volume?.emptyDir, {}, "an emptyDir outlives the container");
  });

  it("gluetun's startup probe runs every second (the gateway's name resolves only once it passes), for the same 300 s", () => {
    const probe = container(gatewaySide(plan).gateway.spec.template, "gluetun").startupProbe;
    assert.equal(probe?.periodSeconds, 1);
    assert.equal((probe?.periodSeconds ?? 0) * (probe?.failureThreshold ?? 0), 300);
  });

  it("gluetun clears its leftover WireGuard routing rule (table 51820) before it starts, then runs its own entrypoint", () => {
    const gluetun = container(gatewaySide(plan).gateway.spec.template, "gluetun");
    assert.deepEqual(gluetun.command?.slice(0, 2), ["/bin/sh", "-c"]);
    const script = gluetun.command?.[2] ?? "";
    assert.match(
      script,
      /^ip rule del table 51820 2>\/dev\/null; ip -6 rule del table 51820 2>\/dev\/null; exec \/gluetun-entrypoint$/,
    );
  });

  it("routed workloads are created only after the gateway workload and the client settings", () => {
    const gatewayUrn = plan.resources.find(
      (r) =>
        r.type === "kubernetes:apps/v1:Deployment" && (r.inputs.metadata as { name?: string }).name === "vpn-gateway",
    )?.urn;
    const clientSettingsUrn = plan.resources.find(
      (r) =>
        r.type === "kubernetes:core/v1:ConfigMap" &&
        (r.inputs.metadata as { name?: string }).name === "vpn-gateway-client",
    )?.urn;
    assert.ok(gatewayUrn && clientSettingsUrn);
    for (const { workload } of clientSide(plan)) {
      const resource = plan.resources.find(
        (r) =>
          r.type.startsWith("kubernetes:apps/v1:") &&
          (r.inputs.metadata as { name?: string }).name === workload.metadata.name,
      );
      assert.ok(resource);
      assert.ok(resource.dependencies.includes(gatewayUrn), `${workload.metadata.name} waits for the gateway`);
      assert.ok(
        resource.dependencies.includes(clientSettingsUrn),
        `${workload.metadata.name} waits for the client settings`,
      );
    }
  });

  it("routed workloads are created only after their own kill switch, so no pod ever runs unfenced", () => {
    for (const { workload } of clientSide(plan)) {
      const name = workload.metadata.name as string;
      const resource = plan.resources.find(
        (r) => r.type.startsWith("kubernetes:apps/v1:") && (r.inputs.metadata as { name?: string }).name === name,
      );
      const killSwitch = plan.resources.find(
        (r) =>
          r.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy" &&
          (r.inputs.metadata as { name?: string }).name === `${name}-vpn-kill-switch`,
      );
      assert.ok(resource && killSwitch, name);
      assert.ok(resource.dependencies.includes(killSwitch.urn), `${name} waits for ${name}-vpn-kill-switch`);
    }
  });
});

describe("vpn gateway: secrets never leave Secrets", () => {
  /** The value gluetun's `variable` receives: the Secret key its secretKeyRef names, read from the planned Secret. */
  function secretEnvValue(plan: StackPlan, variable: string): unknown {
    const { gateway } = gatewaySide(plan);
    const ref = container(gateway.spec.template, "gluetun").env?.find((e) => e.name === variable)?.valueFrom as
      { secretKeyRef?: { name: string; key: string } } | undefined;
    assert.ok(ref?.secretKeyRef, `gluetun's ${variable} comes from a Secret`);
    const { name, key } = ref.secretKeyRef;
    const secret = plan.rawResources.find(
      (r) =>
        r.inputs.kind === "Secret" &&
        (r.inputs.metadata as { name?: string; namespace?: string }).name === name &&
        (r.inputs.metadata as { namespace?: string }).namespace === gateway.metadata.namespace,
    );
    assert.ok(secret, `the Secret ${name} gluetun reads is in the plan`);
    const data = secret.inputs.stringData;
    const plain = (isSecretValue(data) ? data.value : data) as Record<string, unknown>;
    assert.ok(key in plain, `the Secret ${name} has the key ${key}`);
    const value = plain[key];
    return isSecretValue(value) ? value.value : value;
  }

  it("a rotated credential changes the Secret only, not the gateway's pod template (docs/vpn.md: roll it by hand)", async () => {
    const before = await planDownloads();
    const rotated = await planDownloads({ "charmarr:vpnPrivateKey": "plan-rotated-key-31b7" }, {}, SECRET_KEYS);
    assert.deepEqual(gatewaySide(rotated).gateway.spec.template, gatewaySide(before).gateway.spec.template);
    assert.equal(
      secretEnvValue(rotated, "WIREGUARD_PRIVATE_KEY"),
      "plan-rotated-key-31b7",
      "gluetun's WIREGUARD_PRIVATE_KEY reads the rotated key from the Secret",
    );
    assert.notEqual(secretEnvValue(before, "WIREGUARD_PRIVATE_KEY"), "plan-rotated-key-31b7");
  });

  const secrets = {
    "charmarr:vpnUser": "plan-user-5f1c",
    "charmarr:vpnPassword": "plan-password-9a2e",
  };
  const cases: [string, Record<string, unknown>, string[]][] = [
    [
      "WireGuard (private + preshared key)",
      {
        ...WITHOUT_PORT_FORWARDING,
        "charmarr:vpn.provider": "airvpn",
        "charmarr:vpn.addresses": ["10.64.222.21/32"],
        "charmarr:vpnPresharedKey": "plan-psk-77d0",
      },
      ["plan-placeholder-not-a-real-key", "plan-psk-77d0"],
    ],
    [
      "OpenVPN (user + password)",
      {
        "charmarr:vpn.provider": "protonvpn",
        "charmarr:vpn.type": "openvpn",
        "charmarr:vpn.addresses": undefined,
        "charmarr:vpnPrivateKey": undefined,
        ...secrets,
      },
      Object.values(secrets),
    ],
  ];
  for (const [name, changes, values] of cases) {
    it(`${name}: only in Secrets, referenced by secretKeyRef`, async () => {
      const plan = await planDownloads(changes, {}, SECRET_KEYS);
      const apiKey = "plan-vpn-control-api-key-0123456789abcdef";
      for (const resource of plan.rawResources) {
        const kind = resource.inputs.kind;
        if (kind === "Secret" || resource.type.startsWith("random:")) {
          continue;
        }
        const text = JSON.stringify(resource.inputs);
        for (const value of [...values, apiKey]) {
          assert.ok(!text.includes(value), `${resource.type} ${resource.name} contains a secret value`);
        }
      }
      for (const configMap of plan.rawResources.filter((r) => r.inputs.kind === "ConfigMap")) {
        for (const value of Object.values((configMap.inputs.data ?? {}) as Record<string, unknown>)) {
          assert.ok(!isSecretValue(value), `ConfigMap ${configMap.name} holds a secret`);
        }
      }
      const { gluetun } = gatewaySide(plan);
      const expected =
        changes["charmarr:vpn.type"] === "openvpn"
          ? ["OPENVPN_USER", "OPENVPN_PASSWORD"]
          : ["WIREGUARD_PRIVATE_KEY", "WIREGUARD_PRESHARED_KEY"];
      for (const variable of [...expected, "HTTP_CONTROL_SERVER_AUTH_DEFAULT_ROLE"]) {
        assert.equal(gluetun[variable], "secretKeyRef", variable);
      }
      // A Secret's stringData reaches the engine as one Pulumi secret (or one per value).
      const stored = plan.rawResources
        .filter((r) => r.inputs.kind === "Secret")
        .flatMap((r) => {
          const data = r.inputs.stringData;
          assert.ok(
            isSecretValue(data) || Object.values(data as object).every(isSecretValue),
            `Secret ${r.name} holds plain values`,
          );
          const plain = (isSecretValue(data) ? data.value : data) as Record<string, unknown>;
          return Object.values(plain).map((entry) => (isSecretValue(entry) ? entry.value : entry));
        });
      for (const value of values) {
        assert.ok(stored.includes(value), `a Secret holds ${value}`);
      }
      assert.ok(
        stored.includes(JSON.stringify({ auth: "apikey", apikey: apiKey })),
        "the control-server role carries the generated key",
      );
    });
  }
});

describe("vpn gateway: config-time refusals", () => {
  it("refuses an unpinned gluetun image", async () => {
    await assertConfigError(
      planDownloads({ "charmarr:vpn.images.gluetun": "ghcr.io/qdm12/gluetun:latest" }),
      "charmarr:vpn.images.gluetun",
      "is not pinned to a version",
    );
    await assertConfigError(
      planDownloads({ "charmarr:vpn.images.podGateway": "ghcr.io/angelnu/pod-gateway" }),
      "charmarr:vpn.images.podGateway",
      "is not pinned to a version",
    );
  });

  it("accepts a digest-pinned image", async () => {
    const digest = `ghcr.io/qdm12/gluetun@sha256:${"a".repeat(64)}`;
    const plan = await planDownloads({ "charmarr:vpn.images.gluetun": digest });
    assert.equal(container(gatewaySide(plan).gateway.spec.template, "gluetun").image, digest);
  });

  it("refuses IPv6 WireGuard addresses (the gateway is IPv4-only, and gluetun would not start), with the IPv4 entry as the fix", async () => {
    const error = await assertConfigError(
      planDownloads({ "charmarr:vpn.addresses": ["10.64.1.2/32", "fc00:bbbb:bbbb:bb01::1:2/128"] }),
      "charmarr:vpn.addresses",
      "fc00:bbbb:bbbb:bb01::1:2/128 is an IPv6 address; the VPN gateway is IPv4-only",
      "gluetun refuses to start with an IPv6 WireGuard address",
      "keep only the IPv4 entry: pulumi config rm --path charmarr:vpn.addresses; pulumi config set --path 'charmarr:vpn.addresses[0]' 10.64.1.2/32",
    );
    assert.equal(error.message.split("is an IPv6 address").length, 2, "one problem for the list");
    await assertConfigError(
      planDownloads({ "charmarr:vpn.addresses": ["fc00:bbbb:bbbb:bb01::1:2/128"] }),
      "charmarr:vpn.addresses",
      "fc00:bbbb:bbbb:bb01::1:2/128 is an IPv6 address",
      "use the IPv4 address your provider assigned to your key: pulumi config rm --path charmarr:vpn.addresses; pulumi config set --path 'charmarr:vpn.addresses[0]' <IPv4 address>/32",
    );
  });

  it("refuses VPN interface addresses inside a cluster range", async () => {
    await assertConfigError(
      planDownloads({ "charmarr:vpn.addresses": ["10.42.7.2/32"] }),
      "charmarr:vpn.addresses",
      "the VPN interface address 10.42.7.2/32 lies inside the cluster's podCidr 10.42.0.0/16",
    );
  });
});

describe("vpn gateway: tunnel MTU against the pod network's (cluster.podMtu, from the core stack)", () => {
  it("unset, it is the largest that fits: pod MTU minus the larger of VXLAN (50) and WireGuard (80), which sit on different hops, at most 1420, on both sides", async () => {
    // The default plan (podMtu 1450) is checked in "pod-gateway forwards on the interface ...": 1370.
    const wide = await planDownloads({}, { "charmarr:cluster.podMtu": 1480 });
    assert.equal(
      wide.outputs.cluster && (wide.outputs.cluster as { podMtu?: number }).podMtu,
      1480,
      "the downloads stack read it from core",
    );
    const { settings, gluetun } = gatewaySide(wide);
    assert.equal(gluetun.WIREGUARD_MTU, "1400");
    assert.equal(settings.VPN_INTERFACE_MTU, "1400");
    for (const client of clientSide(wide)) {
      assert.equal(client.settings.VPN_INTERFACE_MTU, "1400");
    }
    const jumbo = await planDownloads({}, { "charmarr:cluster.podMtu": 9000 });
    assert.equal(
      gatewaySide(jumbo).gluetun.WIREGUARD_MTU,
      "1420",
      "never above what a 1500-byte internet link carries",
    );
  });

  it("refuses an MTU the pod network cannot carry, says why, and how to fix it", async () => {
    await assertConfigError(
      planDownloads({ "charmarr:vpn.mtu": 1380 }),
      "charmarr:vpn.mtu",
      "1380 does not fit the pod network's MTU 1450 (cluster.podMtu, from the core stack): a client's packet crosses the pod network inside VXLAN (50 bytes) to the gateway, " +
        "and the gateway sends it on inside WireGuard (80 bytes), each on a pod network link, so the larger overhead bounds the tunnel MTU, so at most 1370 bytes fit",
      "pod-gateway sets vxlan0 to this value without lowering it",
      "fix: pulumi config rm --path charmarr:vpn.mtu  (the program then uses 1370)",
      "pulumi config set --path --stack core charmarr:cluster.podMtu <mtu>",
    );
    const fits = await planDownloads({ "charmarr:vpn.mtu": 1420 }, { "charmarr:cluster.podMtu": 1500 });
    assert.equal(gatewaySide(fits).settings.VPN_INTERFACE_MTU, "1420");
  });

  it("refuses a pod network too small for any tunnel (the derived MTU would be below 1280), whether vpn.mtu is set or not", async () => {
    for (const vpnConfig of [{}, { "charmarr:vpn.mtu": 1280 }]) {
      const error = await assertConfigError(
        planDownloads(vpnConfig, { "charmarr:cluster.podMtu": 1350 }),
        "charmarr:cluster.podMtu",
        "the pod network's MTU 1350 (from the core stack) is too small for a WireGuard tunnel",
        "which leaves 1270 bytes, below the 1280 a tunnel needs; the pod network needs an MTU of at least 1360",
        "pulumi config set --path --stack core charmarr:cluster.podMtu <mtu>",
      );
      assert.ok(!error.message.includes("does not fit"), `one problem, on the pod network's MTU:\n${error.message}`);
    }
  });

  it("refuses an MTU outside 1280-1420 before reading the core stack", async () => {
    await assertConfigError(
      planDownloads({ "charmarr:vpn.mtu": 1421 }),
      "charmarr:vpn.mtu",
      "must be at most 1420: WireGuard over a 1500-byte link leaves 1420 bytes for the tunnel",
      "pulumi config set --path charmarr:vpn.mtu 1320",
    );
    await assertConfigError(planDownloads({ "charmarr:vpn.mtu": 1279 }), "charmarr:vpn.mtu", "must be at least 1280");
  });

  it("the core stack refuses a pod MTU outside 1280-9216", async () => {
    await assertConfigError(
      planCore({ "charmarr:cluster.podMtu": 1200 }),
      "charmarr:cluster.podMtu",
      "must be at least 1280",
    );
  });
});

describe("vpn gateway: the resolver (vpn.dnsAddress) is reached only through the tunnel", () => {
  it("refuses a resolver inside the cluster, the LAN, the overlay or loopback: the gateway would reach it outside the tunnel", async () => {
    await assertConfigError(
      planDownloads({ "charmarr:vpn.dnsAddress": "10.43.0.10" }),
      "charmarr:vpn.dnsAddress",
      "10.43.0.10 lies in the cluster's serviceCidr 10.43.0.0/16; the gateway must reach its resolver only through the tunnel, or internet lookups leave from your home address",
      "fix: pulumi config set --path charmarr:vpn.dnsAddress 1.1.1.1",
    );
    await assertConfigError(
      planDownloads({ "charmarr:vpn.dnsAddress": "192.168.1.1" }),
      "charmarr:vpn.dnsAddress",
      "lies in the cluster's lanCidr 192.168.1.0/24",
    );
    await assertConfigError(
      planDownloads({ "charmarr:vpn.dnsAddress": "172.16.0.1" }),
      "charmarr:vpn.dnsAddress",
      "lies in the VXLAN overlay (vpn.vxlanNetwork) 172.16.0.0/24",
    );
    await assertConfigError(
      planDownloads({ "charmarr:vpn.dnsAddress": "127.0.0.1" }),
      "charmarr:vpn.dnsAddress",
      "lies in loopback 127.0.0.0/8",
    );
  });

  it("refuses the VPN server's own address, which the guard would cut off outside the tunnel; accepts a resolver inside the tunnel", async () => {
    const custom = {
      ...WITHOUT_PORT_FORWARDING,
      "charmarr:vpn.addresses": ["10.64.222.21/32"],
      "charmarr:vpn.provider": "custom",
      "charmarr:vpn.serverCountries": undefined,
      "charmarr:vpn.endpointIp": "203.0.113.10",
      "charmarr:vpn.endpointPort": 51820,
      "charmarr:vpn.publicKey": "uLhRPiUgK1oYyb8yhTcVSUTdXbLBOkfhL4jlGvVFJnE=",
    };
    await assertConfigError(
      planDownloads({ ...custom, "charmarr:vpn.dnsAddress": "203.0.113.10" }),
      "charmarr:vpn.dnsAddress",
      "203.0.113.10 is also the VPN server's address (vpn.endpointIp)",
    );
    const inTunnel = await planDownloads({ "charmarr:vpn.dnsAddress": "10.64.0.1" });
    assert.equal(gatewaySide(inTunnel).gluetun.DNS_ADDRESS, "10.64.0.1");
  });
});

describe("vpn gateway: routePodTemplate (pure builder)", () => {
  const route: ClientRoute = {
    image: "ghcr.io/angelnu/pod-gateway:v1.13.0",
    configMapName: "vpn-gateway-client",
    gatewayFqdn: "vpn-gateway.charmarr-vpn.svc.cluster.local",
    settingsHash: "abc",
    dns: {
      nameservers: ["172.16.0.1"],
      searches: ["d.svc.cluster.local", "svc.cluster.local", "cluster.local"],
      options: [{ name: "ndots", value: "5" }],
    },
  };
  const template = {
    metadata: { labels: { app: "x" }, annotations: { keep: "me" } },
    spec: {
      initContainers: [{ name: "fetch", image: "busybox:1.36" }],
      containers: [{ name: "app", image: "app:1.0" }],
      volumes: [{ name: "data", emptyDir: {} }],
    },
  };

  it("routes before any other init container and keeps everything else", () => {
    const routed = routePodTemplate(template, route);
    assert.deepEqual(
      routed.spec?.initContainers?.map((c) => c.name),
      ["vpn-route-init", "fetch"],
    );
    assert.deepEqual(
      routed.spec?.containers.map((c) => c.name),
      ["app", "vpn-route-sidecar"],
    );
    assert.deepEqual(
      routed.spec?.volumes?.map((v) => v.name),
      ["data", "vpn-route-settings"],
    );
    assert.deepEqual(routed.metadata?.annotations, {
      keep: "me",
      "charmarr.io/vpn-client-settings-hash": "abc",
      "ambient.istio.io/dns-capture": "false",
    });
    assert.deepEqual(routed.metadata?.labels, { app: "x", "charmarr.io/vpn-routed": "true" });
    assert.deepEqual(
      template.spec.initContainers.map((c) => c.name),
      ["fetch"],
      "the input is not modified",
    );
  });

  it("refuses a host-network pod: routing would replace the node's default route, and NetworkPolicy does not bind host-network pods", () => {
    const hostNetwork = { ...template, spec: { ...template.spec, hostNetwork: true } };
    assert.throws(() => routePodTemplate(hostNetwork, route), /hostNetwork: true/);
    assert.ok(routePodTemplate({ ...template, spec: { ...template.spec, hostNetwork: false } }, route));
  });

  it("refuses a template that publishes a hostPort: reached at the node's address, it would answer through the tunnel", () => {
    const app = template.spec.containers[0];
    const withPort = (hostPort: number) => ({
      ...template,
      spec: { ...template.spec, containers: [{ ...app, ports: [{ containerPort: 6881, hostPort }] }] },
    });
    assert.throws(
      () => routePodTemplate(withPort(6881), route),
      new RegExp(`container ${app.name} publishes a hostPort`),
    );
    assert.ok(routePodTemplate(withPort(0), route), "hostPort 0 is none");
  });

  it("refuses a template whose app runs as the route containers' group, the only one whose DNS the guard lets out of eth0", () => {
    const app = template.spec.containers[0];
    const asGroup = (patch: object) => ({
      ...template,
      spec: { ...template.spec, containers: [{ ...app, ...patch }] },
    });
    assert.throws(
      () => routePodTemplate(asGroup({ env: [{ name: "PGID", value: String(ROUTE_GROUP_ID) }] }), route),
      new RegExp(`container ${app.name} runs as group ${ROUTE_GROUP_ID}: that group is the route containers' own`),
    );
    assert.throws(
      () => routePodTemplate(asGroup({ securityContext: { runAsGroup: ROUTE_GROUP_ID } }), route),
      /runs as group/,
    );
    assert.throws(
      () =>
        routePodTemplate(
          { ...template, spec: { ...template.spec, securityContext: { runAsGroup: ROUTE_GROUP_ID } } },
          route,
        ),
      /pod runs as group/,
    );
    assert.ok(routePodTemplate(asGroup({ env: [{ name: "PGID", value: "1000" }] }), route));
    // The number as a user (linuxserver's PUID) puts no process in the group.
    assert.ok(routePodTemplate(asGroup({ env: [{ name: "PUID", value: String(ROUTE_GROUP_ID) }] }), route));
  });

  it("routing owns the pod's DNS: a template that sets dnsPolicy or dnsConfig is refused", () => {
    assert.throws(
      () => routePodTemplate({ ...template, spec: { ...template.spec, dnsPolicy: "ClusterFirst" } }, route),
      /sets dnsPolicy or dnsConfig: a routed pod resolves through the gateway/,
    );
    assert.throws(
      () =>
        routePodTemplate({ ...template, spec: { ...template.spec, dnsConfig: { nameservers: ["8.8.8.8"] } } }, route),
      /sets dnsPolicy or dnsConfig/,
    );
  });

  it("refuses to route a template twice", () => {
    assert.throws(
      () => routePodTemplate(routePodTemplate(template, route), route),
      /already has a container named vpn-route-init/,
    );
  });
});

describe("vpn gateway: settings.sh rendering", () => {
  it("quotes values and refuses anything that could escape the quotes", () => {
    assert.equal(renderShellSettings({ A: "1 2", B: true }).split("\n").slice(1).join("\n"), 'A="1 2"\nB="true"\n');
    assert.throws(() => renderShellSettings({ A: "$(reboot)" }), /unsafe in a sourced shell file/);
    assert.throws(() => renderShellSettings({ A: 'x"; rm -rf /' }), /unsafe/);
  });
});

describe("vpn gateway: the route containers' scripts (as planned, run by bash with stand-ins for the network tools)", () => {
  // The plan's client ConfigMap in a temporary /config; pod-gateway's pinned default settings;
  // stand-ins for client_init.sh, dig, ping and a stateful iptables; delays shortened.
  const upstreamSettings = resolve(
    __dirname,
    "..",
    "..",
    "shared",
    "upstream",
    "pod-gateway-v1.13.0",
    "config",
    "settings.sh",
  );
  let plan: StackPlan;
  let dir: string;
  before(async () => {
    plan = await planDownloads();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "charmarr-route-"));
    mkdirSync(join(dir, "config"));
    mkdirSync(join(dir, "bin"));
    const [workload] = routedWorkloads(plan);
    const configMap = manifestsOf(plan, "ConfigMap").find(
      (m) => m.metadata.name === "vpn-gateway-client" && m.metadata.namespace === workload.metadata.namespace,
    );
    for (const [file, text] of Object.entries((configMap?.data ?? {}) as Record<string, string>)) {
      writeFileSync(join(dir, "config", file), localized(text));
    }
    const tool = (name: string, body: string) =>
      writeFileSync(join(dir, "bin", name), `#!/bin/bash\necho "${name} $*" >> ${dir}/calls\n${body}\n`, {
        mode: 0o755,
      });
    tool("client_init.sh", `[ -e ${dir}/init-fails ] && exit 1; rm -f ${dir}/ping-fails; exit 0`);
    // dig answers with the address in ${dir}/gateway, or nothing while there is none.
    tool("dig", `date +%s.%N >> ${dir}/dig-times; cat ${dir}/gateway 2>/dev/null; exit 0`);
    // The gateway's overlay address stops answering while ${dir}/ping-fails exists; its pod address answers.
    // While ${dir}/ping-alternates exists, every other ping of it fails, the first one included (counted in ${dir}/pings).
    tool(
      "ping",
      [
        `[ -e ${dir}/ping-fails ] && [[ " $* " == *" 172.16.0.1 "* ]] && exit 1`,
        `[[ " $* " == *" 172.16.0.1 "* ]] && date +%s.%N >> ${dir}/ping-times`,
        `if [ -e ${dir}/ping-alternates ] && [[ " $* " == *" 172.16.0.1 "* ]]; then`,
        `  n=$(cat ${dir}/pings 2>/dev/null || echo 0); echo $((n + 1)) > ${dir}/pings`,
        "  [ $((n % 2)) = 0 ] && exit 1",
        "fi",
        "exit 0",
      ].join("\n"),
    );
    // iptables: fails where ${dir}/iptables-fails names the flag; keeps CHARMARR-VXLAN-IN's rules in a file.
    tool(
      "iptables",
      [
        `state=${dir}/vxlan-in; touch "$state"`,
        `[ -e ${dir}/iptables-fails ] && [[ " $* " == *" $(cat ${dir}/iptables-fails) "* ]] && exit 1`,
        'args=("$@"); [ "${args[0]}" = -w ] && args=("${args[@]:1}")',
        "# -C: no rule is there yet",
        '[ "${args[0]}" = -C ] && exit 1',
        'if [ "${args[1]}" = CHARMARR-VXLAN-IN ]; then',
        '  rule="${args[*]:2}"',
        '  case "${args[0]}" in',
        '    -F) : > "$state" ;;',
        '    -A) echo "$rule" >> "$state" ;;',
        '    -I) rule="${args[*]:3}"; { echo "$rule"; cat "$state"; } > "$state.new" && mv "$state.new" "$state" ;;',
        '    -D) sed -i "${args[2]}d" "$state" ;;',
        '    -S) echo "-N CHARMARR-VXLAN-IN"; sed "s/^/-A CHARMARR-VXLAN-IN /" "$state" ;;',
        "  esac",
        "fi",
        "exit 0",
      ].join("\n"),
    );
    writeFileSync(join(dir, "bin", "ip6tables"), "#!/bin/bash\nexit 0\n", { mode: 0o755 });
    // ip: recorded only (the scripts must never touch the test machine's own network).
    tool("ip", "exit 0");
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function localized(text: string): string {
    return text
      .split("/config/")
      .join(`${dir}/config/`)
      .split("/default_config/settings.sh")
      .join(upstreamSettings)
      .split("/bin/client_init.sh")
      .join(`${dir}/bin/client_init.sh`)
      .replace(/sleep 1\b/g, "sleep 0.05");
  }

  const env = () => ({
    ...process.env,
    PATH: `${dir}/bin:${process.env.PATH}`,
    gateway: "vpn-gateway.charmarr-vpn.svc.cluster.local",
  });
  const calls = () =>
    existsSync(join(dir, "calls")) ? readFileSync(join(dir, "calls"), "utf8").split("\n").filter(Boolean) : [];
  /** Polls (a loaded machine runs the scripts slowly) until `condition` holds; fails after 20 s. */
  async function waitFor(condition: () => boolean, what: string): Promise<void> {
    const end = Date.now() + 20_000;
    while (!condition()) {
      assert.ok(Date.now() < end, `timed out waiting for ${what}; calls: ${calls().join(" | ")}`);
      await new Promise((done) => setTimeout(done, 50));
    }
  }
  const vxlanIn = () => readFileSync(join(dir, "vxlan-in"), "utf8").split("\n").filter(Boolean);

  it("vpn-route-init installs the guard before anything else, retries while the gateway does not resolve, opens VXLAN to it only, then runs client_init.sh", async () => {
    const child = spawn("bash", [join(dir, "config", "route-init.sh")], { env: env() });
    let stdout = "";
    child.stdout.on("data", (data: Buffer) => (stdout += data.toString()));
    const exited = new Promise<number | null>((done) => child.on("exit", done));
    await waitFor(() => calls().filter((c) => c.startsWith("dig ")).length >= 3, "three lookups");
    assert.equal(child.exitCode, null, "still retrying while the gateway does not resolve");
    writeFileSync(join(dir, "gateway"), "10.42.0.31\n");
    assert.equal(await exited, 0, stdout);
    const log = calls();
    const firstDig = log.findIndex((c) => c.startsWith("dig "));
    const hook = log.findIndex((c) => c.includes("-I OUTPUT 1 -j CHARMARR-ROUTE-OUT"));
    assert.ok(hook >= 0 && hook < firstDig, "the OUTPUT guard is hooked before the first lookup");
    assert.match(stdout, /reconnect failed \(attempt 2 of \d+\)/);
    assert.deepEqual(vxlanIn(), ["-s 10.42.0.31/32 -j RETURN", "-j DROP"]);
    assert.equal(log.filter((c) => c.startsWith("client_init.sh")).length, 1);
    assert.ok(
      log.some((c) => c === "dig +short +time=1 +tries=2 vpn-gateway.charmarr-vpn.svc.cluster.local @10.43.0.10"),
    );
  });

  it("vpn-route-init fails, and never reaches the network, when the guard cannot be installed", () => {
    writeFileSync(join(dir, "iptables-fails"), "-A");
    writeFileSync(join(dir, "gateway"), "10.42.0.31\n");
    const result = spawnSync("bash", [join(dir, "config", "route-init.sh")], {
      env: env(),
      encoding: "utf8",
      timeout: 10_000,
    });
    assert.equal(result.status, 1, result.stdout + result.stderr);
    assert.match(result.stdout, /the guard could not be installed/);
    assert.equal(calls().filter((c) => c.startsWith("dig") || c.startsWith("client_init.sh")).length, 0);
  });

  it("vpn-route-init gives up with a failure once its attempts are spent, so the pod never starts unrouted", () => {
    // Its attempts cut to 2 and its interval to 0.15 s: the gateway never resolves.
    const script = join(dir, "config", "route-init.sh");
    writeFileSync(
      script,
      readFileSync(script, "utf8")
        .replace(/\$\(seq \d+\)/, "$(seq 2)")
        .replace(/sleep 0\.05\b/g, "sleep 0.15"),
    );
    const result = spawnSync("bash", [script], { env: env(), encoding: "utf8", timeout: 10_000 });
    assert.equal(result.status, 1, result.stdout + result.stderr);
    assert.match(result.stdout, /reconnect failed \(attempt 2 of \d+\)/);
    assert.equal(calls().filter((c) => c.startsWith("client_init.sh")).length, 0);
    const digs = readFileSync(join(dir, "dig-times"), "utf8").split("\n").filter(Boolean).map(Number);
    assert.equal(digs.length, 2, "one lookup per attempt");
    assert.ok(
      digs.every((time, i) => i === 0 || time - digs[i - 1] >= 0.12),
      `lookups at ${digs.join(", ")}: one per interval`,
    );
  });

  it("vpn-route-sidecar reconnects after three unanswered pings, moves VXLAN to the new gateway, keeps going while reconnecting fails, and ends at SIGTERM", async () => {
    writeFileSync(join(dir, "vxlan-in"), "-s 10.42.0.31/32 -j RETURN\n-j DROP\n");
    const child = spawn("bash", [join(dir, "config", "route-monitor.sh")], {
      env: env(),
      stdio: ["ignore", "pipe", "ignore"],
    });
    let stdout = "";
    child.stdout.on("data", (data: Buffer) => (stdout += data.toString()));
    const exited = new Promise<number | null>((done) => child.on("exit", done));
    // A failed assertion must not leave the monitor running (and mocha waiting for it).
    const stopped = () => child.exitCode !== null || child.signalCode !== null;
    try {
      const count = (prefix: string) => calls().filter((c) => c.startsWith(prefix)).length;
      await waitFor(() => count("ping -c 1 -W 1 172.16.0.1") >= 3, "three pings of the gateway");
      assert.equal(count("client_init.sh") + count("dig"), 0, "no reconnect while the gateway answers");
      // The gateway moves: pings fail, the new one resolves only later and its first client_init.sh fails.
      writeFileSync(join(dir, "ping-fails"), "");
      writeFileSync(join(dir, "init-fails"), "");
      await waitFor(() => count("dig") >= 2, "reconnect attempts while the gateway does not resolve");
      assert.equal(child.exitCode, null, "never exits on its own");
      writeFileSync(join(dir, "gateway"), "10.42.0.32\n");
      await waitFor(() => count("client_init.sh") >= 1, "client_init.sh run for the new gateway");
      rmSync(join(dir, "init-fails"));
      await waitFor(() => !existsSync(join(dir, "ping-fails")), "client_init.sh run again until it succeeds");
      assert.deepEqual(vxlanIn(), ["-s 10.42.0.32/32 -j RETURN", "-j DROP"], "VXLAN only from the new gateway");
      const log = calls();
      const firstPing = log.indexOf("ping -c 1 -W 1 10.42.0.32");
      const flushed = log.indexOf("ip neigh flush to 10.42.0.32");
      assert.ok(
        flushed >= 0 && flushed < firstPing,
        "the MAC an earlier pod at the new gateway's address left in the neighbour table is forgotten before the first ping",
      );
      const unrouted = log.indexOf("ip route del 10.42.0.32");
      assert.ok(
        unrouted >= 0 && unrouted < firstPing,
        "the new gateway is reached by the pod range's route, not through the node by client_init.sh's host route",
      );
      child.kill("SIGTERM");
      const code = await Promise.race([exited, new Promise((done) => setTimeout(() => done("timeout"), 5000))]);
      assert.equal(code, 0, "SIGTERM ends it");
      // What `kubectl logs -c vpn-route-sidecar` tells the user, in order.
      const said = [
        "no answer from 172.16.0.1 (1 of 3)",
        "no answer from 172.16.0.1 (3 of 3)",
        "reconnecting to vpn-gateway.charmarr-vpn.svc.cluster.local",
        "reconnect failed; again in 1 s",
      ].map((line) => stdout.indexOf(line));
      assert.ok(
        said.every((at, i) => at >= 0 && (i === 0 || at > said[i - 1])),
        stdout,
      );
    } finally {
      if (!stopped()) {
        child.kill("SIGKILL");
      }
    }
  });

  it("vpn-route-sidecar counts unanswered pings in a row: a lost ping now and then, even right after a reconnect, is no reason to reconnect", async () => {
    writeFileSync(join(dir, "gateway"), "10.42.0.31\n");
    // Three unanswered pings, one reconnect (client_init.sh ends them); then every other ping goes unanswered, the first at once.
    writeFileSync(join(dir, "ping-fails"), "");
    writeFileSync(join(dir, "ping-alternates"), "");
    const child = spawn("bash", [join(dir, "config", "route-monitor.sh")], { env: env(), stdio: "ignore" });
    try {
      const count = (prefix: string) => calls().filter((c) => c.startsWith(prefix)).length;
      await waitFor(() => count("client_init.sh") === 1, "the reconnect after three unanswered pings");
      await waitFor(
        () => existsSync(join(dir, "pings")) && Number(readFileSync(join(dir, "pings"), "utf8")) >= 10,
        "ten pings after the reconnect, every other one unanswered",
      );
      assert.equal(count("client_init.sh"), 1, "no second reconnect");
      assert.equal(count("dig"), 1, "no second lookup of the gateway");
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("vpn-route-sidecar pings the gateway once per interval while it answers, and tries to reconnect once per interval while that fails", async () => {
    // The interval cut to 0.15 s (the other tests' 0.05 s is too close to a stand-in's own start-up).
    const script = join(dir, "config", "route-monitor.sh");
    writeFileSync(script, readFileSync(script, "utf8").replace(/sleep 0\.05\b/g, "sleep 0.15"));
    const child = spawn("bash", [script], { env: env(), stdio: ["ignore", "pipe", "ignore"] });
    let stdout = "";
    child.stdout.on("data", (data: Buffer) => (stdout += data.toString()));
    const times = (file: string) =>
      existsSync(join(dir, file)) ? readFileSync(join(dir, file), "utf8").split("\n").filter(Boolean).map(Number) : [];
    const gaps = (file: string) => times(file).flatMap((time, i, all) => (i === 0 ? [] : [time - all[i - 1]]));
    try {
      await waitFor(() => times("ping-times").length >= 3, "three pings of the gateway");
      assert.ok(Math.min(...gaps("ping-times")) >= 0.12, `pings ${gaps("ping-times").join(", ")} s apart`);
      assert.equal(stdout, "", "an answered ping is no miss: nothing to report");
      // The gateway stops answering and no longer resolves: reconnects fail.
      writeFileSync(join(dir, "ping-fails"), "");
      await waitFor(() => times("dig-times").length >= 3, "three attempts to reconnect");
      assert.ok(Math.min(...gaps("dig-times")) >= 0.12, `reconnects ${gaps("dig-times").join(", ")} s apart`);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
