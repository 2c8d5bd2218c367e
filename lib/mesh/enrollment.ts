import type { ConfigProblem } from "../settings";
import { AMBIENT_LABELS } from "./policies";

/** A namespace the program enrols in the ambient mesh, and the config key that names it. */
export interface MeshNamespace {
  readonly namespace: string;
  /** e.g. `charmarr:namespace`, or a description of where it comes from. */
  readonly source: string;
  /** How to give it another name, for when the namespace that must stay out is already on its default. */
  readonly rename?: string;
}

/** A namespace that must stay out of the mesh, with the key that sets it and a safe default. */
export interface OutOfMeshNamespace {
  readonly namespace: string;
  readonly key: string;
  readonly suggestion: string;
  readonly reason: string;
}

/**
 * The enrolment problems: any namespace that must stay out of the mesh but is one the program
 * enrols (the VPN gateway's namespace is never enrolled, docs/upstream.md#istio-ambient).
 */
export function meshEnrollmentProblems(
  enrolled: readonly MeshNamespace[],
  outOfMesh: readonly OutOfMeshNamespace[],
): ConfigProblem[] {
  return outOfMesh.flatMap((excluded) => {
    const clash = enrolled.find((candidate) => candidate.namespace === excluded.namespace);
    return clash
      ? [
          {
            key: excluded.key,
            problem: `"${excluded.namespace}" is ${clash.source}, which is enrolled in the Istio ambient mesh; ${excluded.reason}`,
            // On its default already, the excluded namespace is right and the enrolled one moves.
            fix:
              excluded.namespace === excluded.suggestion
                ? (clash.rename ?? `give ${clash.source} another name`)
                : `pulumi config set --path '${excluded.key}' ${excluded.suggestion}`,
          },
        ]
      : [];
  });
}

/** Labels that enrol a namespace's pods in ambient mode. */
export function meshNamespaceLabels(): Record<string, string> {
  return { ...AMBIENT_LABELS };
}
