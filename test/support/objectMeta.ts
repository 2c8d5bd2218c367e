/**
 * What the API server refuses in an object's metadata before any schema applies
 * (k8s.io/apimachinery pkg/api/validation/objectmeta.go and pkg/util/validation/validation.go):
 * names, the namespace, label keys and values, annotation keys.
 */

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

type NameRule = "dns1123-label" | "dns1123-subdomain" | "dns1035-label";

/**
 * How each kind's name is checked (pkg/apis/core/validation: ValidateNamespaceName,
 * ValidateServiceName). Every other kind here, custom resources included, takes a DNS-1123 subdomain.
 */
const NAME_RULES: Readonly<Record<string, NameRule>> = {
  "v1/Namespace": "dns1123-label",
  "v1/Service": "dns1035-label",
};

function nameProblem(name: string, rule: NameRule): string | undefined {
  switch (rule) {
    case "dns1123-label":
      return name.length <= 63 && DNS1123_LABEL.test(name)
        ? undefined
        : "must be a DNS-1123 label (lower case alphanumerics and '-', at most 63 characters)";
    case "dns1035-label":
      return name.length <= 63 && DNS1035_LABEL.test(name)
        ? undefined
        : "must be a DNS-1035 label (a lower case letter, then lower case alphanumerics and '-', at most 63 characters)";
    case "dns1123-subdomain":
      return name.length <= 253 && DNS1123_SUBDOMAIN.test(name)
        ? undefined
        : "must be a DNS-1123 subdomain (lower case alphanumerics, '-' and '.', at most 253 characters)";
  }
}

/** A label or annotation key: an optional DNS subdomain prefix and `/`, then a name of at most 63 characters. */
function keyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf("/");
  const [prefix, name] = slash === -1 ? [undefined, key] : [key.slice(0, slash), key.slice(slash + 1)];
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) {
    return "has a prefix that is not a DNS-1123 subdomain";
  }
  return name.length <= 63 && QUALIFIED_NAME.test(name)
    ? undefined
    : "is not a qualified name (alphanumerics, '-', '_' and '.', starting and ending alphanumeric, at most 63 characters)";
}

export interface ObjectMetadata {
  readonly name?: string;
  readonly generateName?: string;
  readonly namespace?: string;
  readonly labels?: Record<string, unknown>;
  readonly annotations?: Record<string, unknown>;
}

/**
 * Problems in the metadata of the objects a workload embeds (its pod template, its volume claim
 * templates): their labels and annotations are validated like any object's.
 */
export function embeddedMetadataProblems(spec: unknown): string[] {
  const workload = (spec ?? {}) as {
    template?: { metadata?: ObjectMetadata };
    volumeClaimTemplates?: { metadata?: ObjectMetadata }[];
  };
  const embedded: [string, ObjectMetadata | undefined][] = [
    [".spec.template", workload.template?.metadata],
    ...(workload.volumeClaimTemplates ?? []).map((claim, index): [string, ObjectMetadata | undefined] => [
      `.spec.volumeClaimTemplates[${index}]`,
      claim.metadata,
    ]),
  ];
  return embedded.flatMap(([at, metadata]) =>
    metadata ? labelAndAnnotationProblems(metadata).map((problem) => `${at}${problem}`) : [],
  );
}

/** Problems in an object's metadata, as `.metadata.<field>: message`. */
export function metadataProblems(apiVersion: string, kind: string, metadata: ObjectMetadata): string[] {
  const problems: string[] = [];
  if (metadata.name === undefined) {
    if (!metadata.generateName) {
      problems.push(".metadata.name: Required value: name or generateName is required");
    }
  } else {
    const problem = nameProblem(metadata.name, NAME_RULES[`${apiVersion}/${kind}`] ?? "dns1123-subdomain");
    if (problem) {
      problems.push(`.metadata.name: Invalid value ${JSON.stringify(metadata.name)}: ${problem}`);
    }
  }
  if (metadata.namespace !== undefined) {
    const problem = nameProblem(metadata.namespace, "dns1123-label");
    if (problem) {
      problems.push(`.metadata.namespace: Invalid value ${JSON.stringify(metadata.namespace)}: ${problem}`);
    }
  }
  problems.push(...labelAndAnnotationProblems(metadata));
  return problems;
}

function labelAndAnnotationProblems(metadata: ObjectMetadata): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(metadata.labels ?? {})) {
    const problem = keyProblem(key);
    if (problem) {
      problems.push(`.metadata.labels: Invalid value ${JSON.stringify(key)}: the key ${problem}`);
    }
    if (typeof value !== "string" || value.length > 63 || !LABEL_VALUE.test(value)) {
      problems.push(
        `.metadata.labels[${JSON.stringify(key)}]: Invalid value ${JSON.stringify(value)}: a label value must be empty or alphanumerics, '-', '_' and '.', starting and ending alphanumeric, at most 63 characters`,
      );
    }
  }
  for (const key of Object.keys(metadata.annotations ?? {})) {
    const problem = keyProblem(key);
    if (problem) {
      problems.push(`.metadata.annotations: Invalid value ${JSON.stringify(key)}: the key ${problem}`);
    }
  }
  return problems;
}
