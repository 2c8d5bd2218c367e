import * as pulumi from "@pulumi/pulumi";
import type { KubernetesConnection } from "../lib/platform/kubeConnection";
import { RelationInputs, RelationState, relationLifecycle } from "../lib/relations/lifecycle";
import type { PlannedRelation } from "../lib/relations/plan";
import { portForwardConnect } from "../lib/relations/portForward";
import type { RetryPolicy } from "../lib/relations/ready";

/**
 * Runs each relation against its app's API, through a port-forward to the app's pod. Pulumi calls
 * `delete` before the app itself is deleted (the relation depends on it), so destroying a stack, or
 * dropping a relation, removes the entries it made.
 */
const relationProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: RelationInputs) {
    const state = await relationLifecycle(portForwardConnect).create(inputs);
    return { id: `${inputs.reach.namespace}/${inputs.reach.pod}/${inputs.spec.kind}`, outs: state };
  },
  async diff(_id: string, olds: RelationState, news: RelationInputs) {
    const { changes, replaces } = relationLifecycle(portForwardConnect).diff(olds, news);
    return { changes, replaces: [...replaces] };
  },
  async update(_id: string, olds: RelationState, news: RelationInputs) {
    return { outs: await relationLifecycle(portForwardConnect).update(olds, news) };
  },
  async delete(_id: string, olds: RelationState) {
    await relationLifecycle(portForwardConnect).delete(olds);
  },
};

interface RelationResourceInputs {
  reach: pulumi.Input<RelationInputs["reach"]>;
  spec: pulumi.Input<RelationInputs["spec"]>;
  retry: RetryPolicy;
  kubeconfig: pulumi.Input<string | undefined>;
  context: string | undefined;
}

/** One relation: the entries it owns in one app. */
class Relation extends pulumi.dynamic.Resource {
  constructor(name: string, inputs: RelationResourceInputs, opts: pulumi.CustomResourceOptions) {
    // The spec holds API keys and passwords, a kubeconfig may hold the cluster's credentials: both
    // are stored encrypted and shown as [secret]. The context is only a name.
    super(
      relationProvider,
      name,
      { ...inputs, owned: undefined, waiting: undefined, changes: undefined },
      { ...opts, additionalSecretOutputs: ["spec", "kubeconfig"] },
    );
  }
}

export interface RelationsArgs {
  /**
   * The relations, planned without their secrets (names, apps, where each app is reached) so their
   * number and names are known before any secret resolves.
   */
  planned: readonly PlannedRelation[];
  /** The same relations with their secrets: the spec each relation applies, by relation name. */
  specs: pulumi.Output<Record<string, PlannedRelation["spec"]>>;
  /** How long each relation waits for its app. */
  retry: RetryPolicy;
  /** The stack's Kubernetes connection (`kubernetes:kubeconfig`, `kubernetes:context`), which the relations reach the apps' pods through. */
  connection: KubernetesConnection;
  /** The apps' workloads, by app name: a relation waits for the apps it configures and calls. */
  apps: Readonly<Record<string, pulumi.Resource>>;
}

/** The relations a stack wires between its apps and the apps of the other stack. */
export class Relations extends pulumi.ComponentResource {
  constructor(name: string, args: RelationsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("charmarr:relations:Relations", name, {}, opts);
    const workloads = Object.values(args.apps);
    const created = new Map<string, Relation>();
    // Planned in dependency order: a relation's `after` names relations made before it.
    for (const relation of args.planned) {
      const first = (relation.after ?? []).flatMap((name) => created.get(name) ?? []);
      created.set(
        relation.name,
        new Relation(
          `${name}-${relation.name}`,
          {
            reach: relation.reach,
            spec: pulumi.secret(args.specs.apply((specs) => specs[relation.name])),
            retry: args.retry,
            kubeconfig:
              args.connection.kubeconfig === undefined ? undefined : pulumi.secret(args.connection.kubeconfig),
            context: args.connection.context,
          },
          { parent: this, dependsOn: [...workloads, ...first] },
        ),
      );
    }
    this.registerOutputs({});
  }
}
