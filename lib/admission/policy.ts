import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";

type PodSpec = pulumi.Unwrap<k8s.types.input.core.v1.PodSpec>;
type Container = pulumi.Unwrap<k8s.types.input.core.v1.Container>;
export type ValidatingAdmissionPolicy =
  pulumi.Unwrap<k8s.types.input.admissionregistration.v1.ValidatingAdmissionPolicy>;
export type ValidatingAdmissionPolicyBinding =
  pulumi.Unwrap<k8s.types.input.admissionregistration.v1.ValidatingAdmissionPolicyBinding>;

/**
 * The capabilities Pod Security's `baseline` level lets any container add (kubernetes/pod-security-admission
 * policy/check_capabilities_baseline.go, `capabilities_allowed_1_0`). Anything beyond them — NET_ADMIN,
 * NET_RAW, SYS_ADMIN, ALL — only a container granted it by name and image may add.
 */
export const BASELINE_CAPABILITIES = [
  "AUDIT_WRITE",
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "KILL",
  "MKNOD",
  "NET_BIND_SERVICE",
  "SETFCAP",
  "SETGID",
  "SETPCAP",
  "SETUID",
  "SYS_CHROOT",
] as const;

/** One container the program plans with privileges beyond `baseline`: what exactly it may hold. */
export interface ContainerGrant {
  readonly name: string;
  /** The pinned image the privilege is tied to: the same name with another image gets none. */
  readonly image: string;
  readonly privileged: boolean;
  /** Capabilities beyond {@link BASELINE_CAPABILITIES} it adds, as Kubernetes names them. */
  readonly capabilities: readonly string[];
}

/** How runtimes read a capability name: case-insensitive, with or without `CAP_` (containerd, CRI-O). */
export function capabilityName(raw: string): string {
  const upper = raw.toUpperCase();
  return upper.startsWith("CAP_") ? upper.slice(4) : upper;
}

/** The containers of a planned pod that hold more than `baseline` allows: privileged, or adding other capabilities. */
export function privilegeGrants(spec: PodSpec): ContainerGrant[] {
  const containers: Container[] = [...(spec.initContainers ?? []), ...spec.containers];
  return containers.flatMap((container) => {
    const privileged = container.securityContext?.privileged === true;
    const capabilities = (container.securityContext?.capabilities?.add ?? [])
      .map(capabilityName)
      .filter((name) => !(BASELINE_CAPABILITIES as readonly string[]).includes(name));
    if (!privileged && capabilities.length === 0) {
      return [];
    }
    if (container.image === undefined) {
      throw new Error(`container ${container.name} holds privileges but names no image to tie them to`);
    }
    return [{ name: container.name, image: container.image, privileged, capabilities }];
  });
}

/** What makes a pod routed, and what a routed pod must look like. */
export interface RoutedPods {
  /** The label routed pods carry, valued `"true"`. */
  readonly label: string;
  /** The route containers' names: a pod with any of them is routed, labelled or not. */
  readonly routeContainers: readonly string[];
  /** The only nameserver a routed pod may have: the gateway on the overlay. */
  readonly nameserver: string;
}

export interface NamespacePolicyInput {
  /** The namespace the policy binds to (by its `kubernetes.io/metadata.name` label). */
  readonly namespace: string;
  /** The only containers that may hold more than `baseline`: name, image and what exactly. */
  readonly grants: readonly ContainerGrant[];
  /** hostPath volumes allowed, by exact path (the media library on a node directory); none otherwise. */
  readonly hostPaths: readonly string[];
  /** Set in the routed clients' namespace: the rules for routed pods. */
  readonly routed?: RoutedPods;
  /** Labels of the two objects. */
  readonly labels?: Readonly<Record<string, string>>;
}

/** A CEL string literal. */
const str = (value: string) => JSON.stringify(value);
const list = (values: readonly string[]) => `[${values.map(str).join(", ")}]`;

/** The capability named by the CEL expression `raw`, normalized as {@link capabilityName} does. */
const celCapability = (raw: string) =>
  `(${raw}.upperAscii().startsWith('CAP_') ? ${raw}.upperAscii().substring(4) : ${raw}.upperAscii())`;

/** `c` is the granted container of this name with this image. */
const isGranted = (grant: ContainerGrant) => `(c.name == ${str(grant.name)} && c.image == ${str(grant.image)})`;
const anyOf = (terms: readonly string[]) => (terms.length === 0 ? "false" : terms.join(" || "));

const isPrivileged = "(has(c.securityContext) && has(c.securityContext.privileged) && c.securityContext.privileged)";
const addedCapabilities =
  "(has(c.securityContext) && has(c.securityContext.capabilities) && has(c.securityContext.capabilities.add) ? c.securityContext.capabilities.add : [])";
const droppedCapabilities =
  "(has(c.securityContext) && has(c.securityContext.capabilities) && has(c.securityContext.capabilities.drop) ? c.securityContext.capabilities.drop : [])";

/** A rule of a policy: the expression that must hold, and the message the API server answers with when it does not. */
interface Rule {
  readonly expression: string;
  readonly message: string;
}

/**
 * Who the refused pod is: its name (or generateName) and the controller that asked for it, so a
 * StatefulSet's or Deployment's event names the rule and the pod it refused.
 */
const POD_IDENTITY =
  "'pod ' + (has(object.metadata.name) ? object.metadata.name : (has(object.metadata.generateName) ? object.metadata.generateName + '*' : '(unnamed)')) + (has(object.metadata.ownerReferences) && size(object.metadata.ownerReferences) > 0 ? ' (of ' + object.metadata.ownerReferences[0].kind + ' ' + object.metadata.ownerReferences[0].name + ')' : '')";

function podRules(input: NamespacePolicyInput): Rule[] {
  const { grants, namespace, routed } = input;
  const privilegedGrants = grants.filter((grant) => grant.privileged).map(isGranted);
  const capabilityGrants = grants
    .filter((grant) => grant.capabilities.length > 0)
    .map((grant) => `(${isGranted(grant)} && ${celCapability("cap")} in ${list(grant.capabilities)})`);
  const grantedNames = grants.map((grant) => grant.name);
  const who = grantedNames.length > 0 ? grantedNames.join(", ") : "no container";
  const rules: Rule[] = [
    {
      expression: `variables.containers.all(c, !${isPrivileged} || ${anyOf(privilegedGrants)}) && variables.ephemeral.all(c, !${isPrivileged})`,
      message: `no container in namespace ${namespace} may be privileged${
        privilegedGrants.length > 0
          ? ` but ${grants
              .filter((grant) => grant.privileged)
              .map((grant) => `${grant.name} (${grant.image})`)
              .join(", ")}`
          : ""
      }`,
    },
    {
      expression: `variables.containers.all(c, ${addedCapabilities}.all(cap, ${celCapability("cap")} in variables.baseline || ${anyOf(capabilityGrants)})) && variables.ephemeral.all(c, ${addedCapabilities}.all(cap, ${celCapability("cap")} in variables.baseline))`,
      message: `a container in namespace ${namespace} adds a capability beyond Pod Security baseline's (${BASELINE_CAPABILITIES.join(", ")}); only ${who} may, each exactly its own (${
        grants
          .filter((grant) => grant.capabilities.length > 0)
          .map((grant) => `${grant.name}: ${grant.capabilities.join(", ")} with ${grant.image}`)
          .join("; ") || "none"
      })`,
    },
    {
      expression:
        "!(has(object.spec.hostNetwork) && object.spec.hostNetwork) && !(has(object.spec.hostPID) && object.spec.hostPID) && !(has(object.spec.hostIPC) && object.spec.hostIPC)",
      message: `no pod in namespace ${namespace} may share the node's network, PID or IPC namespace (hostNetwork, hostPID, hostIPC): no NetworkPolicy and no in-pod rule applies to the node's network`,
    },
    {
      expression: "variables.containers.all(c, !has(c.ports) || c.ports.all(p, !has(p.hostPort) || p.hostPort == 0))",
      message: `no container in namespace ${namespace} may publish a hostPort: it is reached at the node's address, outside every NetworkPolicy, and a routed pod's replies would tie that address to the VPN's`,
    },
    {
      expression: `!has(object.spec.volumes) || object.spec.volumes.all(v, !has(v.hostPath) || v.hostPath.path in ${list(input.hostPaths)})`,
      message: `no pod in namespace ${namespace} may mount a hostPath volume${
        input.hostPaths.length > 0 ? ` other than the media library (${input.hostPaths.join(", ")})` : ""
      }: a node directory gives the pod the node's files`,
    },
  ];
  if (routed !== undefined) {
    const routeGrants = grants.filter((grant) => routed.routeContainers.includes(grant.name)).map(isGranted);
    rules.push(
      {
        expression: `!variables.routed || (has(object.spec.dnsPolicy) && object.spec.dnsPolicy == 'None' && has(object.spec.dnsConfig) && has(object.spec.dnsConfig.nameservers) && object.spec.dnsConfig.nameservers == [${str(routed.nameserver)}])`,
        message: `a routed pod (label ${routed.label}=true, or a ${routed.routeContainers.join("/")} container) must have dnsPolicy: None with the gateway ${routed.nameserver} as its only nameserver: any other resolver looks names up outside the tunnel`,
      },
      {
        expression: `!variables.routed || (variables.containers.all(c, ${anyOf(routeGrants)} || ${droppedCapabilities}.exists(d, d == 'ALL' || ${celCapability("d")} == 'NET_RAW')) && variables.ephemeral.all(c, ${droppedCapabilities}.exists(d, d == 'ALL' || ${celCapability("d")} == 'NET_RAW')))`,
        message: `in a routed pod every container but the route containers (${routed.routeContainers.join(", ")}) must drop NET_RAW (capabilities.drop: [ALL] or [NET_RAW]), which containerd grants by default: raw frames bypass the pod's routes and netfilter`,
      },
    );
  }
  return rules;
}

function policyName(namespace: string, what: string): string {
  return `${namespace}-${what}.charmarr.io`;
}

/**
 * The ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1, Kubernetes 1.30+) for the pods of
 * one namespace, and its binding: nothing privileged and no capability beyond `baseline` except the
 * granted containers with their pinned images, no host namespaces, hostPort or hostPath (but the
 * library's), and in the routed clients' namespace, routed pods resolve only through the gateway and
 * their other containers drop NET_RAW. It matches Pods themselves — whatever controller creates them,
 * and `kubectl debug`'s ephemeral containers — so a StatefulSet whose pod is refused reports the
 * rule's message in its events.
 */
export function namespacePodPolicy(input: NamespacePolicyInput): {
  policy: ValidatingAdmissionPolicy;
  binding: ValidatingAdmissionPolicyBinding;
} {
  const name = policyName(input.namespace, "pods");
  const variables = [
    {
      name: "containers",
      expression: "object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : [])",
    },
    {
      name: "ephemeral",
      expression: "has(object.spec.ephemeralContainers) ? object.spec.ephemeralContainers : []",
    },
    { name: "baseline", expression: list(BASELINE_CAPABILITIES) },
    ...(input.routed !== undefined
      ? [
          {
            name: "routed",
            expression: `(has(object.metadata.labels) && ${str(input.routed.label)} in object.metadata.labels && object.metadata.labels[${str(input.routed.label)}] == 'true') || variables.containers.exists(c, c.name in ${list(input.routed.routeContainers)})`,
          },
        ]
      : []),
  ];
  return {
    policy: {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicy",
      metadata: { name, labels: { ...input.labels } },
      spec: {
        failurePolicy: "Fail",
        matchConstraints: {
          resourceRules: [
            {
              apiGroups: [""],
              apiVersions: ["v1"],
              operations: ["CREATE", "UPDATE"],
              resources: ["pods", "pods/ephemeralcontainers"],
            },
          ],
        },
        variables,
        validations: podRules(input).map((rule) => ({
          expression: rule.expression,
          message: rule.message,
          messageExpression: `${POD_IDENTITY} + ': ' + ${str(rule.message)}`,
          reason: "Forbidden",
        })),
      },
    },
    binding: binding(name, [input.namespace], input.labels),
  };
}

/**
 * Services of the given namespaces stay inside the cluster: no NodePort or LoadBalancer type and no
 * externalIPs. Such a Service selecting a routed pod would take connections at the node's (home)
 * address and answer them through the tunnel, linking the two addresses; selecting the gateway it
 * would open gluetun's control server to the LAN. Services cannot see the pods they select, so the
 * rule holds for every Service of these namespaces.
 */
export function serviceExposurePolicy(
  namespaces: readonly string[],
  labels?: Readonly<Record<string, string>>,
): { policy: ValidatingAdmissionPolicy; binding: ValidatingAdmissionPolicyBinding } {
  const name = policyName(namespaces[0], "services");
  const message = `no Service in namespace ${namespaces.join(" or ")} may be exposed on the nodes (type NodePort or LoadBalancer, or externalIPs): it would take connections at the node's address for the VPN-routed pods and the gateway`;
  return {
    policy: {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicy",
      metadata: { name, labels: { ...labels } },
      spec: {
        failurePolicy: "Fail",
        matchConstraints: {
          resourceRules: [
            { apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["services"] },
          ],
        },
        validations: [
          {
            expression:
              "(!has(object.spec.type) || object.spec.type in ['ClusterIP', 'ExternalName']) && (!has(object.spec.externalIPs) || size(object.spec.externalIPs) == 0)",
            message,
            messageExpression: `'Service ' + object.metadata.name + ': ' + ${str(message)}`,
            reason: "Forbidden",
          },
        ],
      },
    },
    binding: binding(name, namespaces, labels),
  };
}

function binding(
  policyName: string,
  namespaces: readonly string[],
  labels?: Readonly<Record<string, string>>,
): ValidatingAdmissionPolicyBinding {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicyBinding",
    metadata: { name: policyName, labels: { ...labels } },
    spec: {
      policyName,
      validationActions: ["Deny"],
      matchResources: {
        // The API server sets this label to the namespace's name on every namespace (1.22+).
        namespaceSelector: {
          matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: [...namespaces] }],
        },
      },
    },
  };
}
