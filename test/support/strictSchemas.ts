import * as path from "node:path";
import { DEFAULT_VERSIONS } from "../../lib/platform/versions";
import { DeclaredFields, isBuiltinKind, modelErrors, objectMetaErrors } from "./builtinSchemas";
import { CrdSchemas, RuleCounts } from "./crdSchemas";

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

/** The CRD directory of each component at the version the program installs. */
export const INSTALLED_CRD_DIRECTORIES = {
    gatewayApi: `gateway-api-${DEFAULT_VERSIONS.gatewayApi}`,
    istio: `istio-${DEFAULT_VERSIONS.istio}`,
    metallb: `metallb-v${DEFAULT_VERSIONS.metallb}`,
    tailscaleOperator: `tailscale-v${DEFAULT_VERSIONS.tailscaleOperator}`,
} as const satisfies Record<keyof typeof DEFAULT_VERSIONS, string>;

let crds: CrdSchemas | undefined;

/** The published CRDs of the installed versions, loaded once. */
export function installedCrds(): CrdSchemas {
    crds ??= new CrdSchemas(Object.values(INSTALLED_CRD_DIRECTORIES).map((directory) => path.join(UPSTREAM_SCHEMAS, directory)));
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
                throw new Error(`no schema for ${manifest.apiVersion} ${manifest.kind}: neither kubernetes-models nor the installed versions' CRDs define it`);
            }
        }
        this.declared = new DeclaredFields([...builtin]);
    }

    /** What the API server would refuse in `manifest`, one line per problem; empty when it would accept it. */
    problems(manifest: KubernetesObject): string[] {
        const key = `${manifest.apiVersion}/${manifest.kind}`;
        const found: string[] = [];
        if (isBuiltinKind(manifest.apiVersion, manifest.kind)) {
            found.push(...modelErrors(manifest));
            found.push(...this.declared.unknownFields(key, manifest).map((field) => `${field}: unknown field`));
        } else {
            found.push(...objectMetaErrors(manifest.metadata));
            found.push(...this.declared.unknownFields("ObjectMeta", manifest.metadata, ".metadata").map((field) => `${field}: unknown field`));
            found.push(...this.crds.validate(manifest as unknown as Record<string, unknown>, this.counts));
        }
        return found.map((problem) => `${label(manifest)}: ${problem}`);
    }
}
