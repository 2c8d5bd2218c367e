import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ClusterFacts, DownloadsConfig, checkAgainstCore } from "../lib/config";
import { readCoreOutputs } from "../lib/contract";
import { charmarrLabels } from "../lib/k8s/labels";

export interface DownloadsStackExports {
    /** The core stack this stack was deployed against. */
    coreStack: string;
    /** Cluster facts as read from the core stack. */
    cluster: ClusterFacts;
    /** The core stack's namespace, as read from it. */
    coreNamespace: string;
    /** Namespace of the download clients. */
    namespace: pulumi.Input<string>;
}

/**
 * The downloads stack: download clients and the VPN gateway. Everything it knows about the cluster
 * comes from the core stack, read and checked before anything is created.
 */
export async function downloadsProgram(config: DownloadsConfig): Promise<DownloadsStackExports> {
    const coreReference = new pulumi.StackReference("core", { name: config.coreStack });
    const core = await readCoreOutputs(coreReference, config.coreStack);
    checkAgainstCore(config, core.cluster, core.namespace);

    const namespace = new k8s.core.v1.Namespace("downloads-namespace", {
        metadata: { name: config.namespace, labels: charmarrLabels("downloads") },
    });

    return {
        coreStack: config.coreStack,
        cluster: core.cluster,
        coreNamespace: core.namespace,
        namespace: namespace.metadata.name,
    };
}
