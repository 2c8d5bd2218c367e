import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { ClusterFacts } from "../cluster/settings";
import type { VpnSettings } from "./settings";
import { GATEWAY_STARTUP_BUDGET_SECONDS, POD_GATEWAY_CONFIG_DIR } from "./gateway";
import { tunnelMtu } from "./mtu";
import { VXLAN_PORT, overlayGatewayAddress } from "./overlay";
import {
  MONITOR_INTERVAL_SECONDS,
  MONITOR_MISSES,
  ROUTE_GROUP_ID,
  routeCommonScript,
  routeGuardScript,
  routedEgressCidrs,
} from "./routeGuard";
import { ShellSettings, renderShellSettings, settingsHash } from "./settingsFile";
import {
  PORT_FOLLOWER_API_KEY,
  PORT_FOLLOWER_CONTAINER,
  PORT_FOLLOW_INTERVAL_SECONDS,
  PORT_FOLLOW_SCRIPT_FILE,
  PortFollowerInputs,
  clientNatConf,
  portFollowScript,
  portFollowerSecurityContext,
} from "./portForward";

export type PodTemplateSpec = pulumi.Unwrap<k8s.types.input.core.v1.PodTemplateSpec>;
export type PodDnsConfig = pulumi.Unwrap<k8s.types.input.core.v1.PodDNSConfig>;

/**
 * pod-gateway's client-side `settings.sh` values (pod-gateway v1.13.0 bin/client_init.sh,
 * docs/upstream.md#client-side); VXLAN values equal the gateway's.
 */
export function clientSettings(vpn: VpnSettings, cluster: ClusterFacts): ShellSettings {
  return {
    // client_init.sh resolves the gateway with `dig @` the first of these.
    K8S_DNS_IPS: cluster.dnsServiceIp,
    // Space-separated (shell words): what the guard lets out of eth0 — pods, Services, 169.254.7.127
    // (ambient's kubelet probes) and the LAN only with allowLan; everything else goes to the tunnel.
    NOT_ROUTED_TO_GATEWAY_CIDRS: routedEgressCidrs(vpn, cluster).join(" "),
    VXLAN_ID: vpn.vxlanId,
    VXLAN_PORT,
    VXLAN_IP_NETWORK: vpn.vxlanNetwork,
    // client_init.sh sets vxlan0 to it as given. VPN_INTERFACE itself is a gateway-side name and
    // stays unset here.
    VPN_INTERFACE_MTU: tunnelMtu(vpn, cluster),
  };
}

/**
 * The files of the client ConfigMap every routed pod mounts at /config: settings and the route
 * containers' scripts; with port forwarding also `nat.conf` (qBittorrent's fixed overlay address)
 * and the port follower's script.
 */
export function clientSettingsFiles(vpn: VpnSettings, cluster: ClusterFacts): Record<string, string> {
  return {
    "settings.sh": renderShellSettings(clientSettings(vpn, cluster)),
    [ROUTE_FILES.guard]: routeGuardScript(vpn, cluster),
    [ROUTE_FILES.common]: routeCommonScript(),
    [ROUTE_FILES.init]: routeInitScript(),
    [ROUTE_FILES.monitor]: routeMonitorScript(),
    ...(vpn.portForwarding ? { "nat.conf": clientNatConf(), [PORT_FOLLOW_SCRIPT_FILE]: portFollowScript() } : {}),
  };
}

/**
 * A routed pod's resolver: the gateway's dnsmasq on the overlay, which answers the cluster domain
 * from kube-dns and sends every other name through the tunnel — what pod-gateway's own admission
 * webhook sets. The search list and `ndots` are the ones the kubelet gives a `ClusterFirst` pod,
 * so short cluster names keep working. (`udhcpc`'s script cannot do this: it replaces
 * /etc/resolv.conf by rename, which fails on the file the kubelet bind-mounts.)
 */
export function routedPodDns(vpn: VpnSettings, cluster: ClusterFacts, namespace: string): PodDnsConfig {
  return {
    nameservers: [overlayGatewayAddress(vpn.vxlanNetwork)],
    searches: [`${namespace}.svc.${cluster.domain}`, `svc.${cluster.domain}`, cluster.domain],
    options: [{ name: "ndots", value: "5" }],
  };
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
  /** The routed pods' resolver settings (`dnsPolicy: None`). */
  readonly dns: PodDnsConfig;
}

export function clientRoute(
  vpn: VpnSettings,
  cluster: ClusterFacts,
  configMapName: string,
  gatewayFqdn: string,
  namespace: string,
): ClientRoute {
  return {
    image: vpn.images.podGateway,
    configMapName,
    gatewayFqdn,
    settingsHash: settingsHash(...Object.values(clientSettingsFiles(vpn, cluster)), gatewayFqdn),
    dns: routedPodDns(vpn, cluster, namespace),
  };
}

/** Seconds between two attempts of the route init container to reach the gateway. */
export const ROUTE_RETRY_SECONDS = 1;
/**
 * What the gateway pod may need before gluetun's startup probe even starts counting: scheduling,
 * pulling the gluetun and pod-gateway images on a fresh node, its init containers.
 */
export const GATEWAY_START_MARGIN_SECONDS = 300;
/**
 * Attempts of the route init container before it gives up (and the kubelet's back-off, up to five
 * minutes, takes over): enough to wait out a gateway that starts as slowly as its own startup probe
 * allows, plus the margin. Each attempt takes some time of its own, so the wait is at least this.
 */
export const ROUTE_INIT_ATTEMPTS = Math.ceil(
  (GATEWAY_STARTUP_BUDGET_SECONDS + GATEWAY_START_MARGIN_SECONDS) / ROUTE_RETRY_SECONDS,
);

/** Files of the client ConfigMap the route containers run (beside pod-gateway's `settings.sh`). */
export const ROUTE_FILES = {
  guard: "route-guard.sh",
  common: "route-common.sh",
  init: "route-init.sh",
  monitor: "route-monitor.sh",
} as const;

const SOURCE_SETTINGS = [
  "# pod-gateway's settings, as its scripts load them (bin/client_init.sh lines 6-9).",
  ". /default_config/settings.sh",
  `. ${POD_GATEWAY_CONFIG_DIR}/settings.sh`,
  `. ${POD_GATEWAY_CONFIG_DIR}/${ROUTE_FILES.common}`,
];

/**
 * `route-init.sh`, the route init container: installs the guard first (and fails the pod if it
 * cannot), then reconnects — resolve the gateway, open VXLAN to it, `client_init.sh` — until it
 * works. `client_init.sh` fails (`set -e`) while the gateway is not resolvable or not answering
 * yet (its headless Service lists the pod only once gluetun is Ready); as the container's command
 * each failure would cost a kubelet restart with back-off that grows to minutes.
 */
export function routeInitScript(): string {
  return [
    "#!/bin/bash",
    "# Generated by Charmarr: the route init container.",
    ...SOURCE_SETTINGS,
    `/bin/sh ${POD_GATEWAY_CONFIG_DIR}/${ROUTE_FILES.guard} || { echo "the guard could not be installed"; exit 1; }`,
    `for attempt in $(seq ${ROUTE_INIT_ATTEMPTS}); do`,
    "  reconnect && exit 0",
    `  echo "reconnect failed (attempt $attempt of ${ROUTE_INIT_ATTEMPTS}); again in ${ROUTE_RETRY_SECONDS} s"`,
    `  sleep ${ROUTE_RETRY_SECONDS}`,
    "done",
    "exit 1",
    "",
  ].join("\n");
}

/**
 * `route-monitor.sh`, the route sidecar, instead of pod-gateway's `client_sidecar.sh`, which pings
 * the gateway only every 10 s (pod-gateway v1.13.0 bin/client_sidecar.sh line 21, `sleep 10`) and
 * exits (`set -e`) when the moved gateway does not resolve yet. This one pings the gateway's overlay
 * address every second; after {@link MONITOR_MISSES} unanswered pings in a row it reconnects every
 * second until the tunnel is back, and never exits on its own. SIGTERM ends it.
 */
export function routeMonitorScript(): string {
  return [
    "#!/bin/bash",
    "# Generated by Charmarr: the route sidecar's monitor.",
    ...SOURCE_SETTINGS,
    'VXLAN_GATEWAY_IP="${VXLAN_IP_NETWORK}.1"',
    "trap 'exit 0' TERM INT",
    "misses=0",
    "while true; do",
    `  if ping -c 1 -W ${MONITOR_INTERVAL_SECONDS} "$VXLAN_GATEWAY_IP" >/dev/null 2>&1; then`,
    "    misses=0",
    `    sleep ${MONITOR_INTERVAL_SECONDS} & wait $!`,
    "    continue",
    "  fi",
    "  misses=$((misses + 1))",
    `  echo "no answer from $VXLAN_GATEWAY_IP ($misses of ${MONITOR_MISSES})"`,
    `  [ "$misses" -lt ${MONITOR_MISSES} ] && continue`,
    '  echo "reconnecting to $GATEWAY_NAME"',
    "  until reconnect; do",
    `    echo "reconnect failed; again in ${MONITOR_INTERVAL_SECONDS} s"`,
    `    sleep ${MONITOR_INTERVAL_SECONDS} & wait $!`,
    "  done",
    "  misses=0",
    "done",
    "",
  ].join("\n");
}

export const ROUTE_INIT_COMMAND = ["/bin/bash", `${POD_GATEWAY_CONFIG_DIR}/${ROUTE_FILES.init}`];
export const ROUTE_SIDECAR_COMMAND = ["/bin/bash", `${POD_GATEWAY_CONFIG_DIR}/${ROUTE_FILES.monitor}`];

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
 * Pod Security labels for a namespace whose pods carry the route containers (or the gateway).
 * Their NET_ADMIN and NET_RAW capabilities are outside the `baseline` level, and the gateway runs
 * privileged containers, so only `privileged` admits them; clusters that enforce `baseline` by
 * default (Talos, hardened k3s/RKE2) would otherwise refuse the pods.
 */
export const ROUTED_NAMESPACE_POD_SECURITY: Readonly<Record<string, string>> = {
  "pod-security.kubernetes.io/enforce": "privileged",
  "pod-security.kubernetes.io/audit": "privileged",
  "pod-security.kubernetes.io/warn": "privileged",
};

/**
 * Returns `template` routed through the gateway (pod-gateway v1.13.0 bin/client_init.sh,
 * docs/upstream.md#client-side): `vpn-route-init` runs first of all init containers, so nothing
 * in the pod reaches the network before its default route is the tunnel; `vpn-route-sidecar`
 * keeps the tunnel up; both mount the client settings at /config and retry pod-gateway's scripts
 * instead of leaving it to the kubelet's back-off. The pod resolves through the gateway
 * (`dnsPolicy: None`). The input is not modified.
 */
export function routePodTemplate(template: PodTemplateSpec, route: ClientRoute): PodTemplateSpec {
  const spec = template.spec;
  if (!spec) {
    throw new Error("cannot route a pod template without a spec");
  }
  if (spec.hostNetwork) {
    // client_init.sh deletes the default route of the network namespace it runs in: here the
    // node's. And NetworkPolicy does not apply to host-network pods, so no kill switch would hold.
    throw new Error(
      "cannot route a pod template with hostNetwork: true: routing would replace the node's default route, and no kill switch applies to host-network pods",
    );
  }
  const published = [...(spec.initContainers ?? []), ...spec.containers].find((c) =>
    (c.ports ?? []).some((port) => port.hostPort !== undefined && port.hostPort !== 0),
  );
  if (published) {
    // A hostPort takes connections at the node's (home) address, outside every NetworkPolicy, and
    // the routed pod answers them through the tunnel: the two addresses would be linked.
    throw new Error(
      `cannot route a pod template whose container ${published.name} publishes a hostPort: it would be reached at the node's address and answer through the tunnel, linking your home address to the VPN's`,
    );
  }
  const taken = [...(spec.initContainers ?? []), ...spec.containers].map((c) => c.name);
  const clash = RESERVED_NAMES.find((name) => taken.includes(name));
  if (clash) {
    throw new Error(`pod template already has a container named ${clash}; is it routed twice?`);
  }
  if ((spec.volumes ?? []).some((volume) => volume.name === CLIENT_SETTINGS_VOLUME)) {
    throw new Error(`pod template already has a volume named ${CLIENT_SETTINGS_VOLUME}`);
  }
  if (spec.dnsPolicy !== undefined || spec.dnsConfig !== undefined) {
    // Any other resolver would answer internet names outside the tunnel.
    throw new Error(
      "cannot route a pod template that sets dnsPolicy or dnsConfig: a routed pod resolves through the gateway, and any other resolver would look names up outside the tunnel",
    );
  }
  const sharesRouteGroup = [...(spec.initContainers ?? []), ...spec.containers].find(
    (c) =>
      c.securityContext?.runAsGroup === ROUTE_GROUP_ID ||
      (c.env ?? []).some((e) => e.name === "PGID" && e.value === String(ROUTE_GROUP_ID)),
  );
  if (spec.securityContext?.runAsGroup === ROUTE_GROUP_ID || sharesRouteGroup) {
    // The guard lets DNS out of eth0 only from the route containers' group.
    throw new Error(
      `cannot route a pod template whose ${sharesRouteGroup ? `container ${sharesRouteGroup.name}` : "pod"} runs as group ${ROUTE_GROUP_ID}: that group is the route containers' own, the only one whose DNS may leave outside the tunnel`,
    );
  }
  const routeContainer = (name: string, command: readonly string[]) => ({
    name,
    image: route.image,
    command: [...command],
    env: [{ name: "gateway", value: route.gatewayFqdn }],
    securityContext: {
      // Root, whatever user the pod runs as (FlareSolverr's pod runs as its image's user 1000): a
      // non-root process gets an added capability only in its bounding set, not its effective one,
      // so iptables and `ip route` would fail (kubernetes/kubernetes#56374, open; runtimes add no
      // ambient capabilities: containerd/containerd#5668 closed unmerged). Root without the
      // runtime's default capabilities holds only the two below.
      runAsUser: 0,
      runAsNonRoot: false,
      // The guard lets DNS out of eth0 only from this group (./routeGuard.ts).
      runAsGroup: ROUTE_GROUP_ID,
      // Not privileged, nothing of the runtime's defaults: NET_ADMIN for iptables, routes and
      // vxlan0; NET_RAW for busybox `ping` (a raw ICMP socket) and `udhcpc` (a packet socket),
      // asked for explicitly because CRI-O does not grant it by default.
      capabilities: { drop: ["ALL"], add: ["NET_ADMIN", "NET_RAW"] },
    },
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
      dnsPolicy: "None",
      dnsConfig: route.dns,
      initContainers: [routeContainer(ROUTE_INIT_CONTAINER, ROUTE_INIT_COMMAND), ...(spec.initContainers ?? [])],
      containers: [...spec.containers, routeContainer(ROUTE_SIDECAR_CONTAINER, ROUTE_SIDECAR_COMMAND)],
      volumes: [...(spec.volumes ?? []), { name: CLIENT_SETTINGS_VOLUME, configMap: { name: route.configMapName } }],
    },
  };
}

/**
 * Returns a routed `template` with the port follower (./portForward.ts `portFollowScript`) beside
 * its app: the script from the client ConfigMap the route containers mount, gluetun's URL and the
 * follower's API key, the app's WebUI credentials by reference. The input is not modified.
 */
export function followForwardedPort(template: PodTemplateSpec, follower: PortFollowerInputs): PodTemplateSpec {
  const spec = template.spec;
  if (!spec || !(spec.volumes ?? []).some((volume) => volume.name === CLIENT_SETTINGS_VOLUME)) {
    throw new Error("the port follower goes into a routed pod template: route it first");
  }
  const mountPath = "/charmarr/vpn";
  const secret = (name: string, key: string) => ({ secretKeyRef: { name, key } });
  return {
    ...template,
    spec: {
      ...spec,
      containers: [
        ...spec.containers,
        {
          name: PORT_FOLLOWER_CONTAINER,
          image: follower.image,
          command: ["/bin/sh", `${mountPath}/${PORT_FOLLOW_SCRIPT_FILE}`],
          env: [
            { name: "GLUETUN_PORTFORWARD_URL", value: follower.gluetunUrl },
            { name: "GLUETUN_API_KEY", valueFrom: secret(follower.apiKeySecret, PORT_FOLLOWER_API_KEY) },
            { name: "QBITTORRENT_WEBUI_PORT", value: String(follower.webUiPort) },
            {
              name: "QBITTORRENT_USERNAME",
              valueFrom: secret(follower.credentials.secret, follower.credentials.usernameKey),
            },
            {
              name: "QBITTORRENT_PASSWORD",
              valueFrom: secret(follower.credentials.secret, follower.credentials.passwordKey),
            },
            { name: "PORT_FOLLOW_INTERVAL_SECONDS", value: String(PORT_FOLLOW_INTERVAL_SECONDS) },
          ],
          securityContext: portFollowerSecurityContext(),
          resources: { requests: { cpu: "5m", memory: "16Mi" }, limits: { memory: "64Mi" } },
          volumeMounts: [{ name: CLIENT_SETTINGS_VOLUME, mountPath, readOnly: true }],
        },
      ],
    },
  };
}
