import * as pulumi from "@pulumi/pulumi";
import { ConfigError, loadConfig, readConfigSource } from "./config";
import { ClusterReader, readClusterInventory } from "./platform/clusterReader";
import type { KubernetesConnection } from "./platform/kubeConnection";
import { preflightFindings, stackIdentity } from "./platform/preflight";
import { GATEWAY_DOMAINS } from "./domains";
import { coreProgram } from "../stacks/core";
import { downloadsProgram } from "../stacks/downloads";

export interface RunOptions {
  /**
   * The environment to read the Tailscale provider's credential variables from; the process's own
   * unless given (`pulumi up` calls this with no options). The offline plan passes its own.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * How the core stack's preflight reads the cluster: the Kubernetes API unless given. The offline
   * plan passes a reader of the cluster its configuration declares.
   */
  readonly readCluster?: ClusterReader;
}

/**
 * The whole program: validate the stack's configuration, check the core stack's platform against
 * the cluster, then run the stack its role names. Returns the stack outputs.
 */
export async function runCharmarr(options: RunOptions = {}): Promise<Record<string, unknown>> {
  const source = readConfigSource(options.env);
  const config = loadConfig(source);
  // The default provider's connection (pulumi-kubernetes reads the same two keys): the preflight
  // reads the cluster with it, the relations reach the apps' pods with it.
  const connection: KubernetesConnection = {
    kubeconfig: source.values["kubernetes:kubeconfig"],
    context: source.values["kubernetes:context"],
  };
  switch (config.role) {
    case "core": {
      const pinned = [
        ...GATEWAY_DOMAINS.flatMap((domain) => {
          const { enabled, lanIp } = config.gateways[domain];
          return enabled && lanIp !== undefined ? [{ key: `charmarr:gateways.${domain}.lanIp`, ip: lanIp }] : [];
        }),
        ...config.apps.flatMap((app) =>
          app.ownLoadBalancer?.lanIp !== undefined
            ? [{ key: `charmarr:apps.${app.name}.lanIp`, ip: app.ownLoadBalancer.lanIp }]
            : [],
        ),
      ];
      const findings = preflightFindings(
        config.platform,
        await (options.readCluster ?? readClusterInventory)(connection, config.platform),
        pinned,
        stackIdentity(source.organization, source.project, source.stack),
      );
      const refusals = findings.filter((finding) => finding.severity === "refuse");
      if (refusals.length > 0) {
        throw new ConfigError(
          config.stack,
          refusals.map(({ key, problem, fix }) => ({ key, problem, fix })),
        );
      }
      for (const warning of findings) {
        void pulumi.log.warn(`${warning.key} ${warning.problem}. Fix: ${warning.fix}`);
      }
      return { ...coreProgram(config, connection) };
    }
    case "downloads":
      return { ...(await downloadsProgram(config, connection)) };
  }
}
