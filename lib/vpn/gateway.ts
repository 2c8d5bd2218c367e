import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ClusterFacts } from "../cluster/settings";
import type { VpnSettings } from "./settings";
import { GluetunEnvValue, VPN_INTERFACES, VpnCredentialName, providerEnvironment, vpnServerPort } from "./providers";
import { forwardGuardScript, gluetunPostRules } from "./guard";
import { VXLAN_PORT, clusterLocalCidrs } from "./overlay";
import { tunnelMtu } from "./mtu";
import { ShellSettings, renderShellSettings, settingsHash } from "./settingsFile";
import {
  CONTROL_AUTH_DIR,
  PORT_FORWARD_SCRIPT_FILE,
  portForwardGluetunEnvironment,
  portForwardScript,
} from "./portForward";

type Plain<T> = pulumi.Unwrap<T>;
export type PodSpec = Plain<k8s.types.input.core.v1.PodSpec>;
export type EnvVar = Plain<k8s.types.input.core.v1.EnvVar>;

/** DHCP pool start on the overlay; addresses below it are left for static leases. */
export const VXLAN_FIRST_DYNAMIC_IP = 20;
/**
 * Source of kubelet probes to Istio ambient pods; routed clients keep it on eth0
 * (docs/upstream.md#istio-ambient).
 */
export const AMBIENT_PROBE_SOURCE = "169.254.7.127/32";
/** gluetun's control server (`/v1/publicip/ip`, `/v1/vpn/status`). */
export const CONTROL_SERVER_PORT = 8000;
/**
 * Seconds between two runs of gluetun's startup probe: the shortest the kubelet allows, since the
 * gateway's headless Service lists the pod (and clients find a moved gateway) only once it passes.
 */
export const GLUETUN_STARTUP_PERIOD_SECONDS = 1;
/** Failed startup probes before the kubelet restarts gluetun: the tunnel's time to come up (300 s). */
export const GLUETUN_STARTUP_FAILURE_THRESHOLD = 300;
/**
 * The longest gluetun may take to become ready (and the gateway's name to resolve, since its
 * headless Service lists only Ready pods), counted from gluetun's start.
 */
export const GATEWAY_STARTUP_BUDGET_SECONDS = GLUETUN_STARTUP_PERIOD_SECONDS * GLUETUN_STARTUP_FAILURE_THRESHOLD;
/** Where pod-gateway sources its settings from, and gluetun reads `post-rules.txt` from. */
export const POD_GATEWAY_CONFIG_DIR = "/config";
export const GLUETUN_IPTABLES_DIR = "/iptables";

/** Names of the Kubernetes objects that make up one gateway, fixed so clients can find it. */
export interface GatewayNames {
  /** The gateway's own namespace (`vpn.namespace`), where all of the objects below live. */
  readonly namespace: string;
  /** The Deployment, the headless Service and the `app.kubernetes.io/instance` label. */
  readonly gateway: string;
  /** ConfigMap with pod-gateway's `settings.sh` and `nat.conf` and the `forward-guard.sh` script, mounted at /config. */
  readonly settingsConfigMap: string;
  /** ConfigMap with gluetun's `post-rules.txt`, mounted at /iptables. */
  readonly postRulesConfigMap: string;
  /** Secret with the VPN credentials that are set, one key per credential. */
  readonly credentialsSecret: string;
  /** Secret with gluetun's control-server API key and the auth role embedding it. */
  readonly controlServerSecret: string;
  /**
   * With port forwarding: the Secret holding gluetun's control-server auth file (the port
   * follower's role) in the gateway's namespace, and the follower's API key in the clients'.
   */
  readonly portFollowerSecret: string;
}

export function gatewayNames(namespace: string, gateway = "vpn-gateway"): GatewayNames {
  return {
    namespace,
    gateway,
    settingsConfigMap: `${gateway}-settings`,
    postRulesConfigMap: `${gateway}-post-rules`,
    credentialsSecret: `${gateway}-credentials`,
    controlServerSecret: `${gateway}-control-server`,
    portFollowerSecret: `${gateway}-port-follower`,
  };
}

/** Labels of the gateway pod: what clients' kill switches and the headless Service select. */
export function gatewayPodLabels(names: GatewayNames): Record<string, string> {
  return { "app.kubernetes.io/name": "vpn-gateway", "app.kubernetes.io/instance": names.gateway };
}

/** The headless Service's FQDN, which clients resolve to the gateway pod's IP. */
export function gatewayFqdn(names: GatewayNames, cluster: ClusterFacts): string {
  return `${names.gateway}.${names.namespace}.svc.${cluster.domain}`;
}

/** pod-gateway's gateway-side `settings.sh` values (docs/upstream.md#settings). */
export function gatewaySettings(vpn: VpnSettings, cluster: ClusterFacts): ShellSettings {
  return {
    VXLAN_ID: vpn.vxlanId,
    VXLAN_PORT,
    VXLAN_IP_NETWORK: vpn.vxlanNetwork,
    VXLAN_GATEWAY_FIRST_DYNAMIC_IP: VXLAN_FIRST_DYNAMIC_IP,
    VPN_INTERFACE: VPN_INTERFACES[vpn.type],
    VPN_INTERFACE_MTU: tunnelMtu(vpn, cluster),
    VPN_BLOCK_OTHER_TRAFFIC: true,
    VPN_TRAFFIC_PORT: vpnServerPort(vpn),
    VPN_LOCAL_CIDRS: clusterLocalCidrs(cluster).join(" "),
    DNS_LOCAL_CIDRS: cluster.domain,
    DNS_LOCAL_SERVER: cluster.dnsServiceIp,
  };
}

/** The forward guard's file in the settings ConfigMap, run by the gateway's first init container. */
export const FORWARD_GUARD_FILE = "forward-guard.sh";
/** dnsmasq settings beside pod-gateway's own, in the settings ConfigMap; the sidecar copies them into /etc/dnsmasq.d. */
export const DNSMASQ_EXTRA_FILE = "dnsmasq-charmarr.conf";
/** Where the gateway sidecar keeps dnsmasq's leases: an emptyDir, so a restarted sidecar keeps them. */
export const DHCP_LEASES_DIR = "/var/lib/charmarr-dhcp";

/**
 * dnsmasq options pod-gateway v1.13.0's `gateway_sidecar.sh` does not write. The image's
 * `/etc/dnsmasq.conf` reads every `*.conf` in /etc/dnsmasq.d (Alpine's dnsmasq package), where the
 * sidecar writes its own `pod-gateway.conf`.
 * - `dhcp-leasefile` on the pod's emptyDir: the container's own filesystem, where the leases
 *   live otherwise, is gone when the sidecar restarts.
 * - `dhcp-authoritative`: dnsmasq is the only DHCP server on the overlay. Without it dnsmasq ignores
 *   "DHCP requests on unknown leases from unknown hosts" (dnsmasq(8), `--dhcp-authoritative`), so
 *   a client renewing a lease the restarted dnsmasq does not know is refused, and busybox udhcpc
 *   then deconfigures vxlan0 (its default route with it); with it dnsmasq rebuilds its lease
 *   database from the renewals.
 * - `no-ping`: dnsmasq pings an address before it offers it (dnsmasq(8), `--no-ping`) and waits
 *   for an answer that never comes for a free address, so the offer misses busybox udhcpc's first
 *   3 s discover timeout and every lease costs a second discover: measured in the lab, two
 *   DHCPDISCOVERs per lease. The check guards against hosts that took an address without a lease;
 *   on this overlay every host is a routed client that leases its address, and a client rebuilds
 *   vxlan0 and leases anew whenever the gateway stops answering (the route sidecar pings every
 *   second), so a new gateway pod with no leases meets no client still holding an old address.
 * - `dhcp-host` reserving the overlay's broadcast address `<vxlan network>.255` for a MAC no client
 *   has ({@link UNUSED_MAC}): `gateway_sidecar.sh` ends its pool there (pod-gateway v1.13.0, line
 *   28: `dhcp-range=${VXLAN_IP_NETWORK}.${VXLAN_GATEWAY_FIRST_DYNAMIC_IP},${VXLAN_IP_NETWORK}.255`),
 *   and dnsmasq skips `.255` on its own only in class C networks (dnsmasq `src/dhcp.c`,
 *   `address_allocate`), not in the default 172.16.0.0/24. A client that leased `.255` (measured in
 *   the lab) sent from the broadcast address, got no answer to `client_init.sh`'s closing ping of
 *   the gateway, and rebuilt its tunnel ten seconds later. dnsmasq never hands a reserved address
 *   to anyone else.
 */
export function dnsmasqExtraConfig(vxlanNetwork: string): string {
  return [
    "# Generated by Charmarr; read by dnsmasq beside pod-gateway's pod-gateway.conf.",
    `dhcp-leasefile=${DHCP_LEASES_DIR}/dnsmasq.leases`,
    "dhcp-authoritative",
    "no-ping",
    `dhcp-host=${UNUSED_MAC},${vxlanNetwork}.255`,
    "",
  ].join("\n");
}

/** A MAC address no client has: the last of the documentation range (RFC 7042, section 2.1.2). */
export const UNUSED_MAC = "00:00:5e:00:53:ff";

/** The files of the gateway's settings ConfigMap, mounted at /config. */
export function gatewaySettingsFiles(vpn: VpnSettings, cluster: ClusterFacts): Record<string, string> {
  return {
    "settings.sh": renderShellSettings(gatewaySettings(vpn, cluster)),
    // gateway_init.sh reads it under `set -e`, so it must exist; no static leases are needed.
    "nat.conf": "",
    [FORWARD_GUARD_FILE]: forwardGuardScript(vpn, cluster),
    [DNSMASQ_EXTRA_FILE]: dnsmasqExtraConfig(vpn.vxlanNetwork),
  };
}

/**
 * The files of gluetun's post-rules ConfigMap, mounted at /iptables: `post-rules.txt` and, with port
 * forwarding, the up/down command's script. `webUiPort` is qBittorrent's, which is never forwarded.
 */
export function gluetunIptablesFiles(
  vpn: VpnSettings,
  cluster: ClusterFacts,
  webUiPort: number,
): Record<string, string> {
  return {
    "post-rules.txt": gluetunPostRules(vpn, cluster),
    ...(vpn.portForwarding ? { [PORT_FORWARD_SCRIPT_FILE]: portForwardScript(vpn, webUiPort) } : {}),
  };
}

/** How gluetun reaches its credentials and the control-server role. */
export interface GluetunSecretRefs {
  /** Secret holding the VPN credentials under the keys of `VPN_SETTINGS[*].secretKey`. */
  readonly credentialsSecret: string;
  /** Secret holding the control server's auth role (it embeds the generated API key). */
  readonly controlServerSecret: string;
}

/** Key in the control-server Secret: the whole role JSON, since it contains the API key. */
export const CONTROL_SERVER_ROLE_KEY = "auth-default-role";
/** Key in the control-server Secret: the bare API key, for `X-API-Key` when checking by hand. */
export const CONTROL_SERVER_API_KEY = "api-key";

/**
 * gluetun's role JSON for `HTTP_CONTROL_SERVER_AUTH_DEFAULT_ROLE`: API-key auth (docs/upstream.md#gluetun).
 */
export function controlServerRole(apiKey: string): string {
  return JSON.stringify({ auth: "apikey", apikey: apiKey });
}

/** gluetun's whole environment: provider settings, firewall, MTU, DNS, control server. */
export function gluetunEnvironment(
  vpn: VpnSettings,
  cluster: ClusterFacts,
  credentials: ReadonlySet<VpnCredentialName>,
  refs: GluetunSecretRefs,
): EnvVar[] {
  const values: Record<string, GluetunEnvValue> = {
    ...providerEnvironment(vpn, credentials),
    // Comma-separated, no spaces: a space crashes gluetun's start-up (docs/upstream.md#gluetun).
    FIREWALL_OUTBOUND_SUBNETS: { value: clusterLocalCidrs(cluster).join(",") },
    ...(vpn.type === "wireguard" ? { WIREGUARD_MTU: { value: String(tunnelMtu(vpn, cluster)) } } : {}),
    // gluetun's DNS server would listen on :53, where the gateway sidecar's dnsmasq serves the
    // clients: whichever starts second fails. Off, gluetun v3.41.1 (internal/dns/run.go,
    // plaintext.go) writes DNS_ADDRESS into the pod's resolv.conf and uses it itself; dnsmasq
    // forwards internet names there, and the forward guard lets it out only through the tunnel.
    DNS_SERVER: { value: "off" },
    DNS_ADDRESS: { value: vpn.dnsAddress },
    HTTP_CONTROL_SERVER_ADDRESS: { value: `:${CONTROL_SERVER_PORT}` },
    ...(vpn.portForwarding
      ? Object.fromEntries(
          Object.entries(portForwardGluetunEnvironment(GLUETUN_IPTABLES_DIR)).map(([name, value]) => [name, { value }]),
        )
      : {}),
  };
  const env: EnvVar[] = Object.entries(values).map(([name, value]) =>
    "value" in value
      ? { name, value: value.value }
      : { name, valueFrom: { secretKeyRef: { name: refs.credentialsSecret, key: value.secretKey } } },
  );
  env.push({
    name: "HTTP_CONTROL_SERVER_AUTH_DEFAULT_ROLE",
    valueFrom: { secretKeyRef: { name: refs.controlServerSecret, key: CONTROL_SERVER_ROLE_KEY } },
  });
  return env;
}

/** Everything the gateway pod is built from; all plain values known at plan time. */
export interface GatewayPodInputs {
  /** Validated VPN settings: provider, type, MTU, VXLAN values, images. */
  readonly vpn: VpnSettings;
  /** Cluster facts from the core stack: CIDRs, kube-dns IP, domain. */
  readonly cluster: ClusterFacts;
  /** Which credentials are set; only those are referenced from gluetun's env. */
  readonly credentials: ReadonlySet<VpnCredentialName>;
  /** Names of the gateway's objects, which the pod mounts and references. */
  readonly names: GatewayNames;
}

const SETTINGS_VOLUME = "pod-gateway-settings";
const POST_RULES_VOLUME = "gluetun-post-rules";
const DHCP_LEASES_VOLUME = "dhcp-leases";
const CONTROL_AUTH_VOLUME = "control-server-auth";

/** The init container that installs the forward guard before anything in the pod forwards. */
export const FORWARD_GUARD_CONTAINER = "vpn-forward-guard";

/**
 * gluetun's routing rule for WireGuard (`internal/wireguard/rule.go`: table and mark 51820). It
 * outlives an abrupt gluetun exit, since the pod keeps its network namespace, and the next start
 * then fails with "file exists". The gluetun wiki's Kubernetes page deletes it in a `postStart`
 * hook (`ip rule del table 51820; ip -6 rule del table 51820`); a `postStart` hook runs beside the
 * entrypoint and could delete the rule the new gluetun just added, so the same commands run here
 * before gluetun starts instead.
 */
const WIREGUARD_RULE_CLEANUP =
  "ip rule del table 51820 2>/dev/null; ip -6 rule del table 51820 2>/dev/null; exec /gluetun-entrypoint";

/**
 * The gateway pod: forward guard, pod-gateway init and sidecar, gluetun; docs/upstream.md#gluetun
 * and #gateway-side give every choice's reason.
 */
export function gatewayPodSpec({ vpn, cluster, credentials, names }: GatewayPodInputs): PodSpec {
  const podGateway = vpn.images.podGateway;
  const healthcheck = { exec: { command: ["/gluetun-entrypoint", "healthcheck"] } };
  const settingsMount = { name: SETTINGS_VOLUME, mountPath: POD_GATEWAY_CONFIG_DIR, readOnly: true };
  return {
    // The gateway talks to no Kubernetes API; a token would only widen what a compromise reaches.
    automountServiceAccountToken: false,
    // The pod's only resolver is the one reached through the tunnel, from its first second:
    // gateway_sidecar.sh copies this file for dnsmasq at start, before gluetun rewrites it (to
    // the same address), so dnsmasq never forwards an internet name to kube-dns. Nothing in
    // the pod needs cluster DNS: dnsmasq reaches kube-dns by DNS_LOCAL_SERVER's address.
    dnsPolicy: "None",
    dnsConfig: { nameservers: [vpn.dnsAddress] },
    initContainers: [
      {
        name: FORWARD_GUARD_CONTAINER,
        image: podGateway,
        command: ["/bin/sh", `${POD_GATEWAY_CONFIG_DIR}/${FORWARD_GUARD_FILE}`],
        // Writes /proc/sys (IPv6 off) and iptables: privileged, like gateway-init.
        securityContext: { privileged: true },
        volumeMounts: [settingsMount],
      },
      {
        name: "gateway-init",
        image: podGateway,
        command: ["/bin/gateway_init.sh"],
        // Writes net.ipv4.ip_forward, which needs a privileged container.
        securityContext: { privileged: true },
        volumeMounts: [settingsMount],
      },
    ],
    containers: [
      {
        name: "gateway-sidecar",
        image: podGateway,
        command: [
          "/bin/sh",
          "-c",
          `cp ${POD_GATEWAY_CONFIG_DIR}/${DNSMASQ_EXTRA_FILE} /etc/dnsmasq.d/charmarr.conf && exec /bin/gateway_sidecar.sh`,
        ],
        // dnsmasq's DHCP sets ARP entries (NET_ADMIN) and pings an address before leasing it
        // (NET_RAW, which CRI-O does not grant by default).
        securityContext: { capabilities: { add: ["NET_ADMIN", "NET_RAW"] } },
        volumeMounts: [settingsMount, { name: DHCP_LEASES_VOLUME, mountPath: DHCP_LEASES_DIR }],
      },
      {
        name: "gluetun",
        image: vpn.images.gluetun,
        ...(vpn.type === "wireguard" ? { command: ["/bin/sh", "-c", WIREGUARD_RULE_CLEANUP] } : {}),
        env: gluetunEnvironment(vpn, cluster, credentials, {
          credentialsSecret: names.credentialsSecret,
          controlServerSecret: names.controlServerSecret,
        }),
        ports: [{ name: "control", containerPort: CONTROL_SERVER_PORT, protocol: "TCP" }],
        // /dev/net/tun needs privileged on current containerd/runc without a device plugin.
        securityContext: { privileged: true, capabilities: { add: ["NET_ADMIN"] } },
        volumeMounts: [
          { name: POST_RULES_VOLUME, mountPath: GLUETUN_IPTABLES_DIR, readOnly: true },
          ...(vpn.portForwarding ? [{ name: CONTROL_AUTH_VOLUME, mountPath: CONTROL_AUTH_DIR, readOnly: true }] : []),
        ],
        // The health server listens on 127.0.0.1 only, so probes must exec. No readiness
        // probe: a short tunnel blip must not pull the pod out of the headless Service.
        startupProbe: {
          ...healthcheck,
          periodSeconds: GLUETUN_STARTUP_PERIOD_SECONDS,
          failureThreshold: GLUETUN_STARTUP_FAILURE_THRESHOLD,
          timeoutSeconds: 5,
        },
        livenessProbe: { ...healthcheck, periodSeconds: 30, failureThreshold: 5, timeoutSeconds: 5 },
      },
    ],
    volumes: [
      { name: SETTINGS_VOLUME, configMap: { name: names.settingsConfigMap } },
      { name: POST_RULES_VOLUME, configMap: { name: names.postRulesConfigMap } },
      { name: DHCP_LEASES_VOLUME, emptyDir: {} },
      ...(vpn.portForwarding ? [{ name: CONTROL_AUTH_VOLUME, secret: { secretName: names.portFollowerSecret } }] : []),
    ],
  };
}

/** Annotation whose change rolls the gateway pod when any of its settings change. */
export const GATEWAY_SETTINGS_HASH_ANNOTATION = "charmarr.io/vpn-gateway-settings-hash";

/**
 * Hash over everything the gateway's behaviour depends on, secrets excluded. `webUiPort` is
 * qBittorrent's, which the port-forward script never forwards.
 */
export function gatewaySettingsHash(inputs: GatewayPodInputs, webUiPort: number): string {
  return settingsHash(
    ...Object.values(gatewaySettingsFiles(inputs.vpn, inputs.cluster)),
    ...Object.values(gluetunIptablesFiles(inputs.vpn, inputs.cluster, webUiPort)),
    JSON.stringify(gatewayPodSpec(inputs)),
  );
}
