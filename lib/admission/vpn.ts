import type { ClusterFacts } from "../cluster/settings";
import type { VpnSettings } from "../vpn/settings";
import type { VpnCredentialName } from "../vpn/providers";
import { ROUTED_LABEL, clientRoute, routePodTemplate } from "../vpn/client";
import { gatewayFqdn, gatewayNames, gatewayPodSpec } from "../vpn/gateway";
import { overlayGatewayAddress } from "../vpn/overlay";
import { NamespacePolicyInput, privilegeGrants } from "./policy";

/** What the downloads stack's two namespaces are admitted against. */
export interface VpnAdmissionInput {
  readonly vpn: VpnSettings;
  readonly cluster: ClusterFacts;
  /** The VPN credentials that are set (they shape only the gateway's environment, not its privileges). */
  readonly credentials: ReadonlySet<VpnCredentialName>;
  /** The routed download clients' namespace. */
  readonly clientNamespace: string;
  /** The media library's node directory, when it is one (not NFS): the routed pods mount it. */
  readonly libraryHostPath?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * The pod policies of the routed clients' namespace and of the gateway's, their grants taken from the
 * pods the program plans: the route containers (NET_ADMIN, NET_RAW) in the first, the gateway's
 * privileged and NET_ADMIN containers in the second, each tied to its name and pinned image.
 */
export function vpnNamespacePolicies(input: VpnAdmissionInput): NamespacePolicyInput[] {
  const { vpn, cluster, clientNamespace } = input;
  const names = gatewayNames(vpn.namespace);
  // The route containers exactly as routePodTemplate adds them to every routed pod (the ConfigMap
  // name only names a volume, which no rule reads).
  const routed = routePodTemplate(
    { spec: { containers: [] } },
    clientRoute(vpn, cluster, `${names.gateway}-client`, gatewayFqdn(names, cluster), clientNamespace),
  ).spec ?? { containers: [] };
  const routeContainers = [...(routed.initContainers ?? []), ...routed.containers].map((container) => container.name);
  return [
    {
      namespace: clientNamespace,
      grants: privilegeGrants(routed),
      hostPaths: input.libraryHostPath !== undefined ? [input.libraryHostPath] : [],
      routed: {
        label: ROUTED_LABEL,
        routeContainers,
        nameserver: overlayGatewayAddress(vpn.vxlanNetwork),
      },
      labels: input.labels,
    },
    {
      namespace: vpn.namespace,
      grants: privilegeGrants(gatewayPodSpec({ vpn, cluster, credentials: input.credentials, names })),
      hostPaths: [],
      labels: input.labels,
    },
  ];
}
