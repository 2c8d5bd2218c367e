import * as path from "node:path";
import { ADDON_RELEASES, DEFAULT_VERSIONS, istioRelease } from "../../lib/platform/versions";
import { DeclaredFields, isBuiltinKind, modelErrors, objectMetaErrors } from "./builtinSchemas";
import { CrdSchemas, RuleCounts } from "./crdSchemas";
import { ObjectMetadata, embeddedMetadataProblems, metadataProblems } from "./objectMeta";

/**
 * Strict validation of planned manifests: what `kubectl apply --validate=strict` (the API server
 * with strict field validation) would refuse on create. Built-in kinds against the
 * `kubernetes-models` package, custom resources against the published CRDs of the versions the
 * program installs with the chosen Istio minor (the versions table), with their CEL rules.
 */

/**
 * Where the published CRDs live: `shared/upstream/schemas` in the directory that holds the
 * repository (CI lays the shared upstream artifacts beside its clone).
 */
export const UPSTREAM_SCHEMAS = path.resolve(__dirname, "..", "..", "..", "shared", "upstream", "schemas");

/** The folders of the published CRDs one plan installs: the Istio minor's row, and MetalLB's and the Tailscale operator's. */
export type CrdDirectories = Readonly<Record<"gatewayApi" | "istio" | "metallb" | "tailscaleOperator", string>>;

/** The published CRDs each component installs with the Istio minor of `istioVersion` (the versions table). */
export function crdDirectories(istioVersion: string = DEFAULT_VERSIONS.istio): CrdDirectories {
  const release = istioRelease(istioVersion);
  if (release?.schemas === undefined) {
    throw new Error(`the versions table has no schema folder for Istio ${istioVersion}`);
  }
  return {
    gatewayApi: `gateway-api-${release.gatewayApi}`,
    istio: release.schemas,
    metallb: ADDON_RELEASES.metallb.schemas,
    tailscaleOperator: ADDON_RELEASES.tailscaleOperator.schemas,
  };
}

/** The published CRDs of each component at the version the program installs by default. */
export const INSTALLED_CRD_DIRECTORIES = crdDirectories();

const loaded = new Map<string, CrdSchemas>();

/** The published CRDs of the versions installed with the Istio minor of `istioVersion`, loaded once per minor. */
export function installedCrds(istioVersion: string = DEFAULT_VERSIONS.istio): CrdSchemas {
  const directories = Object.values(crdDirectories(istioVersion));
  const key = directories.join(",");
  let crds = loaded.get(key);
  if (!crds) {
    crds = new CrdSchemas(directories.map((directory) => path.join(UPSTREAM_SCHEMAS, directory)));
    loaded.set(key, crds);
  }
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
  private readonly crds: CrdSchemas;

  /**
   * `manifests`: every manifest this validator will see, so the built-in kinds' declarations load
   * once. A kind neither built in nor published by an installed CRD is an error. `istioVersion`:
   * the Istio chart version the plan installs, which picks the CRDs of its row of the versions table.
   */
  constructor(manifests: readonly KubernetesObject[], istioVersion: string = DEFAULT_VERSIONS.istio) {
    this.crds = installedCrds(istioVersion);
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
