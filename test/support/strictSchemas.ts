import * as path from "node:path";
import { DEFAULT_VERSIONS } from "../../lib/platform/versions";
import { DeclaredFields, isBuiltinKind, modelErrors, objectMetaErrors } from "./builtinSchemas";
import { CrdSchemas, RuleCounts } from "./crdSchemas";
import { ObjectMetadata, embeddedMetadataProblems, metadataProblems } from "./objectMeta";

/**
 * Strict validation of planned manifests: what `kubectl apply --validate=strict` (the API server
 * with strict field validation) would refuse on create. Built-in kinds against the
 * `kubernetes-models` package, custom resources against the published CRDs of the versions the
 * program installs by default, with their CEL rules.
 */

/**
 * Where the published CRDs live: `shared/upstream/schemas` in the directory that holds the
 * repository (CI lays the shared upstream artifacts beside its clone).
 */
export const UPSTREAM_SCHEMAS = path.resolve(__dirname, "..", "..", "..", "shared", "upstream", "schemas");

/**
 * Installed versions whose CRDs are the same, schema for schema, as those of an earlier version
 * held under {@link UPSTREAM_SCHEMAS}, compared at the upstream release tags:
 * - istio/istio 1.27.9 manifests/charts/base/files/crd-all.gen.yaml: the 14 CRDs of 1.27.3, each
 *   version's openAPIV3Schema unchanged;
 * - metallb/metallb v0.15.3 config/crd/bases: every CRD of v0.15.2 with its schema unchanged (only
 *   the controller-gen annotation differs), plus ConfigurationState, a status object nothing here creates;
 * - tailscale/tailscale v1.86.5 cmd/k8s-operator/deploy/crds: byte for byte those of v1.86.4.
 * A version in neither place fails the suite with the directory it looked for.
 */
const SAME_SCHEMAS_AS: Readonly<Record<string, string>> = {
  "istio-1.27.9": "istio-1.27.3",
  "metallb-v0.15.3": "metallb-v0.15.2",
  "tailscale-v1.86.5": "tailscale-v1.86.4",
};

/** The published CRDs of each component at the version the program installs. */
export const INSTALLED_CRD_DIRECTORIES = Object.fromEntries(
  Object.entries({
    gatewayApi: `gateway-api-${DEFAULT_VERSIONS.gatewayApi}`,
    istio: `istio-${DEFAULT_VERSIONS.istio}`,
    metallb: `metallb-v${DEFAULT_VERSIONS.metallb}`,
    tailscaleOperator: `tailscale-v${DEFAULT_VERSIONS.tailscaleOperator}`,
  } satisfies Record<keyof typeof DEFAULT_VERSIONS, string>).map(([component, directory]) => [
    component,
    SAME_SCHEMAS_AS[directory] ?? directory,
  ]),
) as Record<keyof typeof DEFAULT_VERSIONS, string>;

let crds: CrdSchemas | undefined;

/** The published CRDs of the installed versions, loaded once. */
export function installedCrds(): CrdSchemas {
  crds ??= new CrdSchemas(
    Object.values(INSTALLED_CRD_DIRECTORIES).map((directory) => path.join(UPSTREAM_SCHEMAS, directory)),
  );
  return crds;
}

/** A Kubernetes object as planned (plan/evaluate's Manifest) or as a builder returns it. */
export interface KubernetesObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name?: string; readonly namespace?: string };
}

function label(manifest: KubernetesObject): string {
  return `${manifest.apiVersion} ${manifest.kind} ${manifest.metadata.namespace ?? ""}/${manifest.metadata.name ?? ""}`;
}

export class StrictValidator {
  /** CEL rules evaluated and transition rules passed over, across every manifest validated. */
  readonly counts: RuleCounts = { evaluated: 0, transition: 0 };
  private readonly declared: DeclaredFields;
  private readonly crds = installedCrds();

  /**
   * `manifests`: every manifest this validator will see, so the built-in kinds' declarations load
   * once. A kind neither built in nor published by an installed CRD is an error.
   */
  constructor(manifests: readonly KubernetesObject[]) {
    const builtin = new Set<string>();
    for (const manifest of manifests) {
      if (isBuiltinKind(manifest.apiVersion, manifest.kind)) {
        builtin.add(`${manifest.apiVersion}/${manifest.kind}`);
      } else if (!this.crds.has(manifest.apiVersion, manifest.kind)) {
        throw new Error(
          `no schema for ${manifest.apiVersion} ${manifest.kind}: neither kubernetes-models nor the installed versions' CRDs define it`,
        );
      }
    }
    this.declared = new DeclaredFields([...builtin]);
  }

  /** What the API server would refuse in `manifest`, one line per problem; empty when it would accept it. */
  problems(manifest: KubernetesObject): string[] {
    const key = `${manifest.apiVersion}/${manifest.kind}`;
    const found: string[] = metadataProblems(manifest.apiVersion, manifest.kind, manifest.metadata as ObjectMetadata);
    if (isBuiltinKind(manifest.apiVersion, manifest.kind)) {
      found.push(...modelErrors(manifest));
      found.push(...embeddedMetadataProblems((manifest as { spec?: unknown }).spec));
      found.push(...this.declared.unknownFields(key, manifest).map((field) => `${field}: unknown field`));
    } else {
      found.push(...objectMetaErrors(manifest.metadata));
      found.push(
        ...this.declared
          .unknownFields("ObjectMeta", manifest.metadata, ".metadata")
          .map((field) => `${field}: unknown field`),
      );
      found.push(...this.crds.validate(manifest as unknown as Record<string, unknown>, this.counts));
    }
    return found.map((problem) => `${label(manifest)}: ${problem}`);
  }
}
