import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { NamespacePolicyInput, namespacePodPolicy, serviceExposurePolicy } from "../lib/admission/policy";

export interface AdmissionPoliciesArgs {
  /** One pod policy per namespace: its grants, allowed hostPaths and, for routed clients, their rules. */
  namespaces: NamespacePolicyInput[];
  /** Labels for the policies and bindings. */
  labels?: Record<string, string>;
}

/**
 * The API server's own check of every pod (and Service) of the given namespaces
 * (lib/admission/policy.ts): a ValidatingAdmissionPolicy and its binding per namespace, and one
 * Service exposure policy over all of them. Create it before anything in those namespaces, so no pod
 * is ever admitted without it.
 */
export class AdmissionPolicies extends pulumi.ComponentResource {
  /** The policies, pods' then Services'. */
  readonly policies: k8s.admissionregistration.v1.ValidatingAdmissionPolicy[] = [];
  /** Their bindings: a policy does nothing until bound. */
  readonly bindings: k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding[] = [];

  constructor(name: string, args: AdmissionPoliciesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("charmarr:admission:AdmissionPolicies", name, {}, opts);
    const objects = [
      ...args.namespaces.map((input) => ({ key: input.namespace, ...namespacePodPolicy(input) })),
      {
        key: "services",
        ...serviceExposurePolicy(
          args.namespaces.map((input) => input.namespace),
          args.labels,
        ),
      },
    ];
    for (const { key, policy, binding } of objects) {
      const created = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(`${name}-${key}`, policy, {
        parent: this,
      });
      this.policies.push(created);
      this.bindings.push(
        new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(`${name}-${key}-binding`, binding, {
          parent: this,
          dependsOn: [created],
        }),
      );
    }
    this.registerOutputs({ policies: this.policies.map((policy) => policy.metadata.name) });
  }
}
