import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { principal } from "../lib/mesh/policies";
import {
  RECYCLARR,
  RecyclarrTarget,
  buildRecyclarrConfigMap,
  buildRecyclarrCronJob,
  buildRecyclarrServiceAccount,
  manualRunCommand,
} from "../lib/recyclarr/cronJob";
import type { RecyclarrSettings } from "../lib/recyclarr/settings";
import type { RecyclarrApp } from "../lib/recyclarr/templates";

export interface RecyclarrArgs {
  /** The namespace of the apps it syncs into (core's): the CronJob runs beside them, in the mesh. */
  namespace: string;
  /** `charmarr:recyclarr`: schedule, image and the templates per app. */
  settings: RecyclarrSettings;
  /** Each app with templates: its in-cluster URL and the Secret with its API key. */
  targets: Partial<Record<RecyclarrApp, RecyclarrTarget>>;
  /** The mesh's trust domain, the first part of Recyclarr's principal. */
  trustDomain: string;
  /** Labels for every object. */
  labels: Record<string, string>;
}

/**
 * Quality profiles and custom formats as code: a Recyclarr CronJob that syncs the chosen TRaSH
 * Guides templates into Radarr and Sonarr, with its own ServiceAccount (its mesh identity, which
 * the apps' authorization policies allow).
 */
export class Recyclarr extends pulumi.ComponentResource {
  /** Recyclarr's mesh identity, `<trust domain>/ns/<ns>/sa/recyclarr`. */
  readonly principal: string;
  readonly cronJob: k8s.batch.v1.CronJob;
  /** The command that runs a sync now. */
  readonly manualRun: string;

  constructor(name: string, args: RecyclarrArgs, opts?: pulumi.ComponentResourceOptions) {
    super("charmarr:recyclarr:Recyclarr", name, {}, opts);
    const input = {
      namespace: args.namespace,
      settings: args.settings,
      targets: args.targets,
      labels: args.labels,
    };
    const serviceAccount = new k8s.core.v1.ServiceAccount(
      `${name}-service-account`,
      buildRecyclarrServiceAccount(input),
      { parent: this },
    );
    const configMap = new k8s.core.v1.ConfigMap(`${name}-config`, buildRecyclarrConfigMap(input), { parent: this });
    this.cronJob = new k8s.batch.v1.CronJob(`${name}-cron-job`, buildRecyclarrCronJob(input), {
      parent: this,
      dependsOn: [serviceAccount, configMap],
    });
    this.principal = principal(args.trustDomain, args.namespace, RECYCLARR);
    this.manualRun = manualRunCommand(args.namespace);
    this.registerOutputs({ cronJob: this.cronJob.metadata.name, manualRun: this.manualRun });
  }
}
