import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ClusterFacts } from "../cluster/settings";
import type { VpnSettings } from "./settings";
import { AMBIENT_PROBE_SOURCE, POD_GATEWAY_CONFIG_DIR, VXLAN_PORT, clusterLocalCidrs } from "./gateway";
import { ShellSettings, renderShellSettings, settingsHash } from "./settingsFile";

export type PodTemplateSpec = pulumi.Unwrap<k8s.types.input.core.v1.PodTemplateSpec>;

/**
 * pod-gateway's client-side `settings.sh` values (pod-gateway v1.13.0 bin/client_init.sh,
 * docs/upstream.md#client-side); VXLAN values equal the gateway's.
 */
export function clientSettings(vpn: VpnSettings, cluster: ClusterFacts): ShellSettings {
    return {
        K8S_DNS_IPS: cluster.dnsServiceIp,
        // Space-separated (shell words). 169.254.7.127 keeps ambient's kubelet probes answered on eth0.
        NOT_ROUTED_TO_GATEWAY_CIDRS: [...clusterLocalCidrs(cluster), AMBIENT_PROBE_SOURCE].join(" "),
        VXLAN_ID: vpn.vxlanId,
        VXLAN_PORT,
        VXLAN_IP_NETWORK: vpn.vxlanNetwork,
        // Newer client_init.sh sizes vxlan0 from it; older ones ignore it. VPN_INTERFACE itself is a
        // gateway-side name and stays unset here.
        VPN_INTERFACE_MTU: vpn.mtu,
    };
}

/** The files of the client ConfigMap every routed pod mounts at /config. */
export function clientSettingsFiles(vpn: VpnSettings, cluster: ClusterFacts): Record<string, string> {
    return { "settings.sh": renderShellSettings(clientSettings(vpn, cluster)) };
}

/** Everything needed to route a pod template through one gateway; plain values known at plan time. */
export interface ClientRoute {
    /** pod-gateway image (same as the gateway's). */
    readonly image: string;
    /** Name of the client settings ConfigMap in the routed pod's namespace. */
    readonly configMapName: string;
    /** FQDN of the gateway's headless Service: the `gateway` env the client scripts resolve. */
    readonly gatewayFqdn: string;
    /** Hash of the client settings; a change rolls routed pods. */
    readonly settingsHash: string;
}

export function clientRoute(vpn: VpnSettings, cluster: ClusterFacts, configMapName: string, gatewayFqdn: string): ClientRoute {
    return {
        image: vpn.images.podGateway,
        configMapName,
        gatewayFqdn,
        settingsHash: settingsHash(...Object.values(clientSettingsFiles(vpn, cluster)), gatewayFqdn),
    };
}

export const ROUTE_INIT_CONTAINER = "vpn-route-init";
export const ROUTE_SIDECAR_CONTAINER = "vpn-route-sidecar";
export const CLIENT_SETTINGS_VOLUME = "vpn-route-settings";
export const CLIENT_SETTINGS_HASH_ANNOTATION = "charmarr.io/vpn-client-settings-hash";
/** Istio ≥ 1.25 captures DNS by default, which would resolve routed pods' names outside the tunnel. */
export const DNS_CAPTURE_ANNOTATION = "ambient.istio.io/dns-capture";
/** Marks routed pods, so checks (and people) can find every pod that must have a kill switch. */
export const ROUTED_LABEL = "charmarr.io/vpn-routed";

const RESERVED_NAMES = [ROUTE_INIT_CONTAINER, ROUTE_SIDECAR_CONTAINER];

/**
 * Returns `template` routed through the gateway (pod-gateway v1.13.0 bin/client_init.sh,
 * docs/upstream.md#client-side): `vpn-route-init` runs first of all init containers, so nothing in the pod
 * reaches the network before its default route is the tunnel;
 * `vpn-route-sidecar` keeps the tunnel up; both mount the client settings at /config. The input is
 * not modified.
 */
export function routePodTemplate(template: PodTemplateSpec, route: ClientRoute): PodTemplateSpec {
    const spec = template.spec;
    if (!spec) {
        throw new Error("cannot route a pod template without a spec");
    }
    if (spec.hostNetwork) {
        // client_init.sh deletes the default route of the network namespace it runs in: here the
        // node's. And NetworkPolicy does not apply to host-network pods, so no kill switch would hold.
        throw new Error("cannot route a pod template with hostNetwork: true: routing would replace the node's default route, and no kill switch applies to host-network pods");
    }
    const taken = [...(spec.initContainers ?? []), ...spec.containers].map((c) => c.name);
    const clash = RESERVED_NAMES.find((name) => taken.includes(name));
    if (clash) {
        throw new Error(`pod template already has a container named ${clash}; is it routed twice?`);
    }
    if ((spec.volumes ?? []).some((volume) => volume.name === CLIENT_SETTINGS_VOLUME)) {
        throw new Error(`pod template already has a volume named ${CLIENT_SETTINGS_VOLUME}`);
    }
    const routeContainer = (name: string, script: string) => ({
        name,
        image: route.image,
        command: [script],
        env: [{ name: "gateway", value: route.gatewayFqdn }],
        // Not privileged, and NET_RAW stays: the scripts ping the gateway.
        securityContext: { capabilities: { add: ["NET_ADMIN"] } },
        volumeMounts: [{ name: CLIENT_SETTINGS_VOLUME, mountPath: POD_GATEWAY_CONFIG_DIR, readOnly: true }],
    });
    const metadata = template.metadata ?? {};
    return {
        ...template,
        metadata: {
            ...metadata,
            labels: { ...(metadata.labels ?? {}), [ROUTED_LABEL]: "true" },
            annotations: {
                ...(metadata.annotations ?? {}),
                [CLIENT_SETTINGS_HASH_ANNOTATION]: route.settingsHash,
                [DNS_CAPTURE_ANNOTATION]: "false",
            },
        },
        spec: {
            ...spec,
            initContainers: [routeContainer(ROUTE_INIT_CONTAINER, "/bin/client_init.sh"), ...(spec.initContainers ?? [])],
            containers: [...spec.containers, routeContainer(ROUTE_SIDECAR_CONTAINER, "/bin/client_sidecar.sh")],
            volumes: [...(spec.volumes ?? []), { name: CLIENT_SETTINGS_VOLUME, configMap: { name: route.configMapName } }],
        },
    };
}
