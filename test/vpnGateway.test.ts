import { strict as assert } from "node:assert";
import type { StackPlan } from "../plan/evaluate";
import { isSecretValue } from "../plan/runtime";
import { ClientRoute, routePodTemplate } from "../lib/vpn/client";
import { renderShellSettings } from "../lib/vpn/settingsFile";
import { assertConfigError, manifestOf, manifestsOf, planDownloads } from "./support/plan";
import { Container, PodTemplate, configMapFile, envOf, parseShellSettings, routedWorkloads, gatewayWorkload, podSpecOf } from "./support/networkPolicy";

const SECRET_KEYS = ["charmarr:vpnPrivateKey", "charmarr:vpnPresharedKey", "charmarr:vpnUser", "charmarr:vpnPassword"];

function gatewaySide(plan: StackPlan) {
    const gateway = gatewayWorkload(plan);
    const settingsVolume = podSpecOf(gateway).volumes?.find((v) => v.name === container(gateway.spec.template, "gateway-init").volumeMounts?.[0].name);
    assert.ok(settingsVolume?.configMap, "gateway-init mounts a ConfigMap at /config");
    const settings = parseShellSettings(configMapFile(plan, gateway.metadata.namespace, settingsVolume.configMap.name, "settings.sh"));
    const gluetun = envOf(container(gateway.spec.template, "gluetun"));
    return { gateway, settings, gluetun };
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
        const volume = podSpecOf(workload).volumes?.find((v) => v.name === init.volumeMounts?.find((m) => m.mountPath === "/config")?.name);
        assert.ok(volume?.configMap, `${workload.metadata.name}: vpn-route-init mounts a ConfigMap at /config`);
        return {
            workload,
            settings: parseShellSettings(configMapFile(plan, workload.metadata.namespace, volume.configMap.name, "settings.sh")),
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

    it("pod-gateway forwards on the interface gluetun creates, blocks other traffic, and the MTUs agree", () => {
        const { settings, gluetun } = gatewaySide(plan);
        assert.equal(gluetun.VPN_INTERFACE, "wg0");
        assert.equal(settings.VPN_INTERFACE, gluetun.VPN_INTERFACE);
        assert.equal(settings.VPN_BLOCK_OTHER_TRAFFIC, "true");
        assert.equal(settings.VPN_INTERFACE_MTU, gluetun.WIREGUARD_MTU);
        assert.equal(gluetun.WIREGUARD_MTU, "1320");
        assert.equal(settings.VPN_TRAFFIC_PORT, "51820");
        for (const client of clientSide(plan)) {
            assert.equal(client.settings.VPN_INTERFACE_MTU, gluetun.WIREGUARD_MTU, `${client.workload.metadata.name}: client vxlan0 MTU`);
            assert.equal(client.settings.VPN_INTERFACE, undefined, `${client.workload.metadata.name}: VPN_INTERFACE is the gateway's device name, not the client's`);
        }
    });

    it("switching to OpenVPN switches the interface on both sides", async () => {
        const openvpn = await planDownloads(
            { "charmarr:vpn.provider": "nordvpn", "charmarr:vpn.type": "openvpn", "charmarr:vpn.addresses": undefined, "charmarr:vpnPrivateKey": undefined, "charmarr:vpnUser": "u", "charmarr:vpnPassword": "p" },
            {},
            SECRET_KEYS,
        );
        const { settings, gluetun } = gatewaySide(openvpn);
        assert.equal(gluetun.VPN_INTERFACE, "tun0");
        assert.equal(settings.VPN_INTERFACE, "tun0");
        assert.equal(settings.VPN_TRAFFIC_PORT, "1194");
        assert.equal(gluetun.OPENVPN_PROTOCOL, "udp", "the protocol the gateway's firewall opens");
        assert.equal(gluetun.WIREGUARD_MTU, undefined);
    });

    it("a changed vxlanId, network or MTU reaches both sides and rolls both pods", async () => {
        const changed = await planDownloads({ "charmarr:vpn.vxlanId": 7, "charmarr:vpn.vxlanNetwork": "172.20.5", "charmarr:vpn.mtu": 1280 });
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
        const services = manifestsOf(plan, "Service").filter((s) => s.metadata.namespace === gateway.metadata.namespace) as unknown as {
            metadata: { name: string; namespace: string };
            spec: { clusterIP?: string; selector?: Record<string, string> };
        }[];
        assert.equal(services.length, 1);
        const [service] = services;
        assert.equal(service.spec.clusterIP, "None");
        const podLabels = gateway.spec.template.metadata.labels ?? {};
        assert.ok(Object.entries(service.spec.selector ?? {}).every(([k, v]) => podLabels[k] === v), "the Service selects the gateway pod");
        const fqdn = `${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`;
        for (const { workload, initEnv, sidecarEnv } of clientSide(plan)) {
            assert.equal(initEnv.gateway, fqdn, workload.metadata.name);
            assert.equal(sidecarEnv.gateway, fqdn, workload.metadata.name);
        }
        assert.equal(plan.outputs.vpnGateway, fqdn);
    });

    it("clients keep cluster, LAN and ambient-probe traffic off the tunnel; DNS goes to kube-dns", () => {
        for (const { settings } of clientSide(plan)) {
            assert.equal(settings.NOT_ROUTED_TO_GATEWAY_CIDRS, "10.42.0.0/16 10.43.0.0/16 192.168.1.0/24 169.254.7.127/32");
            assert.equal(settings.K8S_DNS_IPS, "10.43.0.10");
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

    it("gluetun's post-rules accept the pod CIDR (VXLAN, ping) and the LAN (probes) on eth0", () => {
        const { gateway } = gatewaySide(plan);
        const gluetun = container(gateway.spec.template, "gluetun");
        const mount = gluetun.volumeMounts?.find((m) => m.mountPath === "/iptables");
        const volume = podSpecOf(gateway).volumes?.find((v) => v.name === mount?.name);
        assert.ok(volume?.configMap);
        const rules = configMapFile(plan, gateway.metadata.namespace, volume.configMap.name, "post-rules.txt").trim().split("\n");
        assert.ok(rules.every((line) => line.startsWith("iptables ")));
        assert.deepEqual(rules, ["iptables -I INPUT -i eth0 -s 10.42.0.0/16 -j ACCEPT", "iptables -I INPUT -i eth0 -s 192.168.1.0/24 -j ACCEPT"]);
        const settingsVolume = podSpecOf(gateway).volumes?.find((v) => v.name === container(gateway.spec.template, "gateway-sidecar").volumeMounts?.[0].name);
        assert.ok(settingsVolume?.configMap);
        assert.equal(configMapFile(plan, gateway.metadata.namespace, settingsVolume.configMap.name, "nat.conf"), "");
    });

    it("the gateway: one replica, no overlap, pinned images, exec health checks, control server behind an API key", () => {
        const { gateway, gluetun } = gatewaySide(plan);
        assert.equal(gateway.spec.replicas, 1);
        assert.deepEqual(gateway.spec.strategy, { type: "Recreate" });
        const spec = podSpecOf(gateway);
        assert.deepEqual(spec.initContainers?.map((c) => c.name), ["gateway-init"]);
        assert.deepEqual(spec.containers.map((c) => c.name).sort(), ["gateway-sidecar", "gluetun"]);
        assert.equal(container(gateway.spec.template, "gateway-init").securityContext?.privileged, true);
        assert.deepEqual(container(gateway.spec.template, "gateway-sidecar").securityContext?.capabilities?.add, ["NET_ADMIN"]);
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
        const namespace = manifestOf(plan, "Namespace", gateway.metadata.namespace) as unknown as { metadata: { labels: Record<string, string> } };
        assert.equal(namespace.metadata.labels["pod-security.kubernetes.io/enforce"], "privileged");
        assert.equal(namespace.metadata.labels["istio.io/dataplane-mode"], undefined);
        assert.equal(gateway.spec.template.metadata.labels?.["istio.io/dataplane-mode"], "none");
    });

    it("routed pods: vpn-route-init first, the sidecar with NET_ADMIN only, DNS capture off", () => {
        for (const { workload } of clientSide(plan)) {
            const spec = podSpecOf(workload);
            assert.equal(spec.initContainers?.[0].name, "vpn-route-init", workload.metadata.name);
            for (const name of ["vpn-route-init", "vpn-route-sidecar"]) {
                const c = container(workload.spec.template, name);
                assert.deepEqual(c.securityContext?.capabilities?.add, ["NET_ADMIN"]);
                assert.equal(c.securityContext?.privileged, undefined);
                assert.equal(c.securityContext?.capabilities?.drop, undefined, "NET_RAW stays: the scripts ping");
            }
            assert.equal(workload.spec.template.metadata.annotations?.["ambient.istio.io/dns-capture"], "false");
        }
    });

    it("routed workloads are created only after the gateway workload and the client settings", () => {
        const gatewayUrn = plan.resources.find((r) => r.type === "kubernetes:apps/v1:Deployment" && (r.inputs.metadata as { name?: string }).name === "vpn-gateway")?.urn;
        const clientSettingsUrn = plan.resources.find((r) => r.type === "kubernetes:core/v1:ConfigMap" && (r.inputs.metadata as { name?: string }).name === "vpn-gateway-client")?.urn;
        assert.ok(gatewayUrn && clientSettingsUrn);
        for (const { workload } of clientSide(plan)) {
            const resource = plan.resources.find((r) => r.type.startsWith("kubernetes:apps/v1:") && (r.inputs.metadata as { name?: string }).name === workload.metadata.name);
            assert.ok(resource);
            assert.ok(resource.dependencies.includes(gatewayUrn), `${workload.metadata.name} waits for the gateway`);
            assert.ok(resource.dependencies.includes(clientSettingsUrn), `${workload.metadata.name} waits for the client settings`);
        }
    });

    it("routed workloads are created only after their own kill switch, so no pod ever runs unfenced", () => {
        for (const { workload } of clientSide(plan)) {
            const name = workload.metadata.name as string;
            const resource = plan.resources.find((r) => r.type.startsWith("kubernetes:apps/v1:") && (r.inputs.metadata as { name?: string }).name === name);
            const killSwitch = plan.resources.find(
                (r) => r.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy" && (r.inputs.metadata as { name?: string }).name === `${name}-vpn-kill-switch`,
            );
            assert.ok(resource && killSwitch, name);
            assert.ok(resource.dependencies.includes(killSwitch.urn), `${name} waits for ${name}-vpn-kill-switch`);
        }
    });
});

describe("vpn gateway: secrets never leave Secrets", () => {
    it("a rotated credential changes the Secret only, not the gateway's pod template (docs/vpn.md: roll it by hand)", async () => {
        const before = await planDownloads();
        const rotated = await planDownloads({ "charmarr:vpnPrivateKey": "plan-rotated-key-31b7" }, {}, SECRET_KEYS);
        assert.deepEqual(gatewaySide(rotated).gateway.spec.template, gatewaySide(before).gateway.spec.template);
    });

    const secrets = {
        "charmarr:vpnUser": "plan-user-5f1c",
        "charmarr:vpnPassword": "plan-password-9a2e",
    };
    const cases: [string, Record<string, unknown>, string[]][] = [
        ["WireGuard (private + preshared key)", { "charmarr:vpn.provider": "airvpn", "charmarr:vpnPresharedKey": "plan-psk-77d0" }, ["plan-placeholder-not-a-real-key", "plan-psk-77d0"]],
        [
            "OpenVPN (user + password)",
            { "charmarr:vpn.provider": "protonvpn", "charmarr:vpn.type": "openvpn", "charmarr:vpn.addresses": undefined, "charmarr:vpnPrivateKey": undefined, ...secrets },
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
            const expected = changes["charmarr:vpn.type"] === "openvpn" ? ["OPENVPN_USER", "OPENVPN_PASSWORD"] : ["WIREGUARD_PRIVATE_KEY", "WIREGUARD_PRESHARED_KEY"];
            for (const variable of [...expected, "HTTP_CONTROL_SERVER_AUTH_DEFAULT_ROLE"]) {
                assert.equal(gluetun[variable], "secretKeyRef", variable);
            }
            // A Secret's stringData reaches the engine as one Pulumi secret (or one per value).
            const stored = plan.rawResources
                .filter((r) => r.inputs.kind === "Secret")
                .flatMap((r) => {
                    const data = r.inputs.stringData;
                    assert.ok(isSecretValue(data) || Object.values(data as object).every(isSecretValue), `Secret ${r.name} holds plain values`);
                    const plain = (isSecretValue(data) ? data.value : data) as Record<string, unknown>;
                    return Object.values(plain).map((entry) => (isSecretValue(entry) ? entry.value : entry));
                });
            for (const value of values) {
                assert.ok(stored.includes(value), `a Secret holds ${value}`);
            }
            assert.ok(stored.includes(JSON.stringify({ auth: "apikey", apikey: apiKey })), "the control-server role carries the generated key");
        });
    }
});

describe("vpn gateway: config-time refusals", () => {
    it("refuses an unpinned gluetun image", async () => {
        await assertConfigError(planDownloads({ "charmarr:vpn.images.gluetun": "ghcr.io/qdm12/gluetun:latest" }), "charmarr:vpn.images.gluetun", "is not pinned to a version");
        await assertConfigError(planDownloads({ "charmarr:vpn.images.podGateway": "ghcr.io/angelnu/pod-gateway" }), "charmarr:vpn.images.podGateway", "is not pinned to a version");
    });

    it("accepts a digest-pinned image", async () => {
        const digest = `ghcr.io/qdm12/gluetun@sha256:${"a".repeat(64)}`;
        const plan = await planDownloads({ "charmarr:vpn.images.gluetun": digest });
        assert.equal(container(gatewaySide(plan).gateway.spec.template, "gluetun").image, digest);
    });

    it("refuses VPN interface addresses inside a cluster range", async () => {
        await assertConfigError(
            planDownloads({ "charmarr:vpn.addresses": ["10.42.7.2/32"] }),
            "charmarr:vpn.addresses",
            "the VPN interface address 10.42.7.2/32 lies inside the cluster's podCidr 10.42.0.0/16",
        );
    });
});

describe("vpn gateway: tunnel MTU", () => {
    it("refuses an MTU above 1420 and says why; accepts 1280 to 1420", async () => {
        await assertConfigError(
            planDownloads({ "charmarr:vpn.mtu": 1421 }),
            "charmarr:vpn.mtu",
            "must be at most 1420: WireGuard over a 1500-byte link leaves 1420 bytes for the tunnel",
            "pulumi config set --path charmarr:vpn.mtu 1320",
        );
        await assertConfigError(planDownloads({ "charmarr:vpn.mtu": 1500 }), "charmarr:vpn.mtu", "must be at most 1420");
        await assertConfigError(planDownloads({ "charmarr:vpn.mtu": 1279 }), "charmarr:vpn.mtu", "must be at least 1280");
        const largest = await planDownloads({ "charmarr:vpn.mtu": 1420 });
        assert.equal(gatewaySide(largest).settings.VPN_INTERFACE_MTU, "1420");
    });
});

describe("vpn gateway: routePodTemplate (pure builder)", () => {
    const route: ClientRoute = {
        image: "ghcr.io/angelnu/pod-gateway:v1.13.0",
        configMapName: "vpn-gateway-client",
        gatewayFqdn: "vpn-gateway.charmarr-vpn.svc.cluster.local",
        settingsHash: "abc",
        dns: { nameservers: ["172.16.0.1"], searches: ["d.svc.cluster.local", "svc.cluster.local", "cluster.local"], options: [{ name: "ndots", value: "5" }] },
    };
    const template = {
        metadata: { labels: { app: "x" }, annotations: { keep: "me" } },
        spec: { initContainers: [{ name: "fetch", image: "busybox:1.36" }], containers: [{ name: "app", image: "app:1.0" }], volumes: [{ name: "data", emptyDir: {} }] },
    };

    it("routes before any other init container and keeps everything else", () => {
        const routed = routePodTemplate(template, route);
        assert.deepEqual(routed.spec?.initContainers?.map((c) => c.name), ["vpn-route-init", "fetch"]);
        assert.deepEqual(routed.spec?.containers.map((c) => c.name), ["app", "vpn-route-sidecar"]);
        assert.deepEqual(routed.spec?.volumes?.map((v) => v.name), ["data", "vpn-route-settings"]);
        assert.deepEqual(routed.metadata?.annotations, { keep: "me", "charmarr.io/vpn-client-settings-hash": "abc", "ambient.istio.io/dns-capture": "false" });
        assert.deepEqual(routed.metadata?.labels, { app: "x", "charmarr.io/vpn-routed": "true" });
        assert.deepEqual(template.spec.initContainers.map((c) => c.name), ["fetch"], "the input is not modified");
    });

    it("refuses a host-network pod: routing would replace the node's default route, and NetworkPolicy does not bind host-network pods", () => {
        const hostNetwork = { ...template, spec: { ...template.spec, hostNetwork: true } };
        assert.throws(() => routePodTemplate(hostNetwork, route), /hostNetwork: true/);
        assert.ok(routePodTemplate({ ...template, spec: { ...template.spec, hostNetwork: false } }, route));
    });

    it("refuses to route a template twice", () => {
        assert.throws(() => routePodTemplate(routePodTemplate(template, route), route), /already has a container named vpn-route-init/);
    });
});

describe("vpn gateway: settings.sh rendering", () => {
    it("quotes values and refuses anything that could escape the quotes", () => {
        assert.equal(renderShellSettings({ A: "1 2", B: true }).split("\n").slice(1).join("\n"), 'A="1 2"\nB="true"\n');
        assert.throws(() => renderShellSettings({ A: "$(reboot)" }), /unsafe in a sourced shell file/);
        assert.throws(() => renderShellSettings({ A: 'x"; rm -rf /' }), /unsafe/);
    });
});
