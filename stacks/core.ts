import * as k8s from "@pulumi/kubernetes";
import { CoreConfig } from "../lib/config";
import { CORE_CONTRACT_VERSION, CoreStackExports } from "../lib/contract";
import { charmarrLabels } from "../lib/k8s/labels";

/** The core stack: arr apps, the media server and the three ingress gateways, in one namespace. */
export function coreProgram(config: CoreConfig): CoreStackExports {
    const namespace = new k8s.core.v1.Namespace("core-namespace", {
        metadata: { name: config.namespace, labels: charmarrLabels("core") },
    });

    return {
        contractVersion: CORE_CONTRACT_VERSION,
        cluster: config.cluster,
        namespace: namespace.metadata.name,
    };
}
