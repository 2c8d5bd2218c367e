import { z } from "zod";
import {
  Cidr,
  PRIVATE_RANGES,
  cidrContains,
  cidrsOverlap,
  formatIpv4,
  freePrivateBlock,
  isPrivateCidr,
  parseCidr,
  parseIpv4,
} from "../net";
import { DNS_SUBDOMAIN, IssueParams, configKey, configSetCommand, integer, ipv4Address, ipv4Cidr } from "../settings";

/** `charmarr:cluster`: facts about the cluster the program cannot look up, copied from its settings. */
export const clusterSchema = z
  .strictObject({
    podCidr: ipv4Cidr.describe("The cluster's pod network (k3s --cluster-cidr, default 10.42.0.0/16)."),
    serviceCidr: ipv4Cidr.describe("The cluster's Service network (k3s --service-cidr, default 10.43.0.0/16)."),
    lanCidr: ipv4Cidr
      .optional()
      .describe(
        "Your home network; must not overlap the cluster's ranges. Download clients reach it only with vpn.killSwitch.allowLan.",
      ),
    dnsServiceIp: ipv4Address.describe(
      "ClusterIP of kube-dns, inside serviceCidr (kubectl -n kube-system get svc kube-dns).",
    ),
    domain: z
      .string()
      .regex(DNS_SUBDOMAIN, { message: "is not a DNS domain (e.g. cluster.local)" })
      .default("cluster.local")
      .describe("The cluster's DNS domain."),
    /** MTU of the pod network (eth0 in a pod); 1450 is flannel's and Calico's VXLAN default. */
    podMtu: integer(1280, 9216)
      .default(1450)
      .describe(
        "MTU of the pod network (ip link show eth0 in any pod; 1450 is flannel's and Calico's VXLAN default); the VPN tunnel's MTU is checked against it.",
      ),
  })
  // Runs even when a field is invalid, on the fields that parse, so every range problem shows at once.
  .superRefine(
    (cluster, ctx) => {
      if (typeof cluster !== "object" || cluster === null) {
        return;
      }
      const block = (value: unknown) => (typeof value === "string" ? parseCidr(value) : undefined);
      const pods = block(cluster.podCidr);
      const services = block(cluster.serviceCidr);
      const lan = block(cluster.lanCidr);
      const dns = typeof cluster.dnsServiceIp === "string" ? parseIpv4(cluster.dnsServiceIp) : undefined;
      // Traffic to these ranges never enters the tunnel (clients route them on eth0, the gateway
      // forwards to them unencrypted), so a public range here would reach the internet unprotected.
      for (const [name, range] of [
        ["podCidr", pods],
        ["serviceCidr", services],
        ["lanCidr", lan],
      ] as const) {
        if (range && !isPrivateCidr(range)) {
          const others = [pods, services, lan].filter((other): other is Cidr => other !== undefined && other !== range);
          ctx.addIssue({
            code: "custom",
            path: [name],
            message: `${cluster[name]} is not private address space (${PRIVATE_RANGES.join(", ")}); traffic to the cluster's ranges bypasses the VPN, so a public range here would leave with your real IP`,
            params: { suggest: freePrivateBlock(range.prefix, others) } satisfies IssueParams,
          });
        }
      }
      if (services && dns !== undefined && !cidrContains(services, dns)) {
        ctx.addIssue({
          code: "custom",
          path: ["dnsServiceIp"],
          message: `${cluster.dnsServiceIp} is not inside serviceCidr ${cluster.serviceCidr}; it must be the ClusterIP of the kube-dns Service (kubectl -n kube-system get svc kube-dns)`,
          // kubeadm and k3s give kube-dns the tenth address of the Service range.
          params: { suggest: formatIpv4(services.network + 10) } satisfies IssueParams,
        });
      }
      if (pods && services && cidrsOverlap(pods, services)) {
        const free = freePrivateBlock(services.prefix, [pods, ...(lan ? [lan] : [])], services);
        ctx.addIssue({
          code: "custom",
          path: ["serviceCidr"],
          message: `serviceCidr ${cluster.serviceCidr} overlaps podCidr ${cluster.podCidr}; a cluster never shares addresses between pods and Services, so one of the two is not your cluster's`,
          params: {
            fix: `copy both from your cluster's settings (k3s: --cluster-cidr and --service-cidr; kubeadm: networking.podSubnet and serviceSubnet)${free ? `, e.g. ${configSetCommand(configKey(["cluster", "serviceCidr"]), free)}` : ""}`,
          } satisfies IssueParams,
        });
      }
      for (const [name, range] of [
        ["podCidr", pods],
        ["serviceCidr", services],
      ] as const) {
        if (lan && range && cidrsOverlap(lan, range)) {
          const free = freePrivateBlock(
            lan.prefix,
            [pods, services].filter((other): other is Cidr => other !== undefined),
            lan,
          );
          ctx.addIssue({
            code: "custom",
            path: ["lanCidr"],
            message: `lanCidr ${cluster.lanCidr} overlaps ${name} ${cluster[name]}; lanCidr is your home network, outside the cluster's own ranges`,
            params: {
              fix: `set your home network's range (your router's LAN settings)${free ? `, e.g. ${configSetCommand(configKey(["cluster", "lanCidr"]), free)}` : ""}`,
            } satisfies IssueParams,
          });
        }
      }
    },
    { when: () => true },
  );

export type ClusterFacts = z.output<typeof clusterSchema>;

/** Example values, by path inside the key, for suggested fixes. */
export const CLUSTER_EXAMPLES: Readonly<Record<string, string>> = {
  "cluster.podCidr": "10.42.0.0/16",
  "cluster.serviceCidr": "10.43.0.0/16",
  "cluster.lanCidr": "192.168.1.0/24",
  "cluster.dnsServiceIp": "10.43.0.10",
  "cluster.domain": "cluster.local",
  "cluster.podMtu": "1450",
};
