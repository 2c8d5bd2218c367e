/**
 * The VPN settings' rules that need more than `charmarr:vpn` itself: the downloads stack's own
 * namespace, and the cluster's ranges read from the core stack.
 */
import type { ClusterFacts } from "../cluster/settings";
import { PRIVATE_RANGES, cidrsOverlap, isPrivateCidr, parseCidr, vxlanCidr } from "../net";
import { ConfigProblem, SettingsIssue, configKey, configSetCommand } from "../settings";
import { wireguardAddresses } from "./providers";
import type { VpnSettings } from "./settings";

/** The VPN gateway stays out of the mesh, so it cannot share the (enrolled) download clients' namespace. */
export function vpnNamespaceIssues(vpn: VpnSettings, clientNamespace: string): SettingsIssue[] {
    return vpn.namespace === clientNamespace
        ? [
              {
                  path: ["vpn", "namespace"],
                  message: `"${vpn.namespace}" is also the download clients' namespace; the VPN gateway needs a namespace of its own that stays out of the mesh`,
                  params: { suggest: "charmarr-vpn" },
              },
          ]
        : [];
}

const VXLAN_KEY = configKey(["vpn", "vxlanNetwork"]);

/** Every VPN rule against the cluster's ranges (from the core stack). */
export function vpnClusterProblems(vpn: VpnSettings, cluster: ClusterFacts): ConfigProblem[] {
    return [...vxlanOverlapProblems(vpn, cluster), ...vxlanNetworkProblems(vpn, cluster), ...vpnProblemsAgainstCluster(vpn, cluster)];
}

function clusterRanges(cluster: ClusterFacts) {
    return [
        ["podCidr", cluster.podCidr],
        ["serviceCidr", cluster.serviceCidr],
        ["lanCidr", cluster.lanCidr],
    ] as const;
}

/** The VXLAN overlay needs addresses no pod, Service or LAN host uses. */
function vxlanOverlapProblems(vpn: VpnSettings, cluster: ClusterFacts): ConfigProblem[] {
    const vxlan = parseCidr(vxlanCidr(vpn.vxlanNetwork));
    return clusterRanges(cluster).flatMap(([name, range]) => {
        const block = range === undefined ? undefined : parseCidr(range);
        return vxlan && block && cidrsOverlap(vxlan, block)
            ? [
                  {
                      key: VXLAN_KEY,
                      problem: `${vxlanCidr(vpn.vxlanNetwork)} overlaps the cluster's ${name} ${range} (from the core stack); the VXLAN overlay needs addresses no pod, Service or LAN host uses`,
                      fix: configSetCommand(VXLAN_KEY, suggestVxlanNetwork(cluster)),
                  },
              ]
            : [];
    });
}

/**
 * The overlay must be private address space (clients route it on vxlan0, never to the internet)
 * and clear of the tunnel's own addresses, which gluetun routes through wg0.
 */
function vxlanNetworkProblems(vpn: VpnSettings, cluster: ClusterFacts): ConfigProblem[] {
    const overlay = parseCidr(vxlanCidr(vpn.vxlanNetwork));
    if (!overlay) {
        return [];
    }
    const tunnelAddresses = vpn.type === "wireguard" ? wireguardAddresses(vpn) : [];
    const fix = configSetCommand(VXLAN_KEY, suggestVxlanNetwork(cluster, tunnelAddresses));
    const problems: ConfigProblem[] = [];
    if (!isPrivateCidr(overlay)) {
        problems.push({
            key: VXLAN_KEY,
            problem: `${vxlanCidr(vpn.vxlanNetwork)} is not private address space (${PRIVATE_RANGES.join(", ")}); the overlay between clients and the gateway must not shadow internet or link-local addresses`,
            fix,
        });
    }
    for (const address of tunnelAddresses) {
        const tunnel = parseCidr(address);
        if (tunnel && cidrsOverlap(tunnel, overlay)) {
            problems.push({
                key: VXLAN_KEY,
                problem: `${vxlanCidr(vpn.vxlanNetwork)} contains the VPN interface address ${address}; the overlay and the tunnel need separate addresses`,
                fix,
            });
        }
    }
    return problems;
}

/** VPN settings that only the cluster's ranges can rule out. */
function vpnProblemsAgainstCluster(vpn: VpnSettings, cluster: ClusterFacts): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const allowLanKey = configKey(["vpn", "killSwitch", "allowLan"]);
    if (vpn.killSwitch.allowLan && cluster.lanCidr === undefined) {
        problems.push({
            key: allowLanKey,
            problem: "is true, but the core stack has no cluster.lanCidr, so there is no LAN range to allow",
            fix: `set it on the core stack: pulumi config set --path --stack core charmarr:cluster.lanCidr 192.168.1.0/24 (then pulumi up --stack core), or ${configSetCommand(allowLanKey, "false")}`,
        });
    }
    // gluetun refuses FIREWALL_OUTBOUND_SUBNETS that overlap the tunnel's own addresses
    // (docs/upstream.md#gluetun).
    for (const address of vpn.type === "wireguard" ? wireguardAddresses(vpn) : []) {
        const tunnel = parseCidr(address);
        for (const [name, range] of clusterRanges(cluster)) {
            const block = range === undefined ? undefined : parseCidr(range);
            if (tunnel && block && cidrsOverlap(tunnel, block)) {
                problems.push({
                    key: configKey(["vpn", "addresses"]),
                    problem: `the VPN interface address ${address} lies inside the cluster's ${name} ${range} (from the core stack); gluetun cannot route the cluster and the tunnel through the same addresses`,
                    fix: "use the address your VPN provider assigned to your key: pulumi config set --path 'charmarr:vpn.addresses[0]' <address>/32",
                });
            }
        }
    }
    return problems;
}

/** The first 172.16–31.x /24 clear of every cluster range, to suggest in a fix. */
function suggestVxlanNetwork(cluster: ClusterFacts, tunnelAddresses: readonly string[] = []): string {
    const taken = [cluster.podCidr, cluster.serviceCidr, cluster.lanCidr, ...tunnelAddresses].flatMap((range) => {
        const block = range === undefined ? undefined : parseCidr(range);
        return block ? [block] : [];
    });
    for (let second = 16; second < 32; second++) {
        for (let third = 0; third < 256; third++) {
            const candidate = `172.${second}.${third}`;
            const block = parseCidr(vxlanCidr(candidate));
            if (block && !taken.some((range) => cidrsOverlap(range, block))) {
                return candidate;
            }
        }
    }
    return "<a.b.c>";
}
