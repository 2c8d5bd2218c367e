import { coerce } from "semver";

/**
 * The versions table: every upstream release this program installs, and what each Istio minor
 * needs around it. The next Istio minor is one more row here plus its published CRDs and chart
 * values (the `schemas` folder); MetalLB and the Tailscale operator are one row each.
 */

/** One Istio minor this program can install. */
export interface IstioRelease {
  /** The chart version (no `v`) installed for this minor: its newest patch this program was tested with. */
  readonly version: string;
  /**
   * The Gateway API release installed with it: the minor Istio's `go.mod` requires at that tag
   * (`sigs.k8s.io/gateway-api`), at the newest patch of that minor.
   */
  readonly gatewayApi: string;
  /**
   * The Kubernetes minors Istio supports for this minor, oldest and newest, from Istio's published
   * support matrix (istio/istio.io data/compatibility/supportStatus.yml, `k8sVersions`).
   */
  readonly kubernetes: { readonly oldest: string; readonly newest: string };
  /**
   * `<name>-<version>` of the published CRDs and chart values this minor installs, as the
   * upstream artifacts name them; absent for a minor this program only steps through on an
   * upgrade, whose manifests are not validated against its own schemas.
   */
  readonly schemas?: string;
}

/**
 * Istio minors, oldest first, each one minor after the previous: the upgrade steps the preflight
 * prints are consecutive rows. 1.28 and 1.29 are out of upstream support and are here only as the
 * steps between 1.27 and 1.30 (istio.io ambient upgrade guide: one minor at a time).
 * - go.mod at istio/istio tags 1.28.10 and 1.29.6: gateway-api v1.4.1; 1.30.3: v1.5.1;
 *   release-1.31: v1.6.0 (v1.6.1 is that minor's newest patch, kubernetes-sigs/gateway-api tags).
 * - Kubernetes ranges: supportStatus.yml rows 1.28 ["1.30" … "1.34"], 1.29 ["1.31" … "1.35"],
 *   1.30 ["1.32" … "1.36"]. The matrix row of 1.31 is not in the copy read; its oldest minor is
 *   istioctl's `MinK8SVersion = 32` at release-1.31 (istioctl/pkg/install/k8sversion/version.go),
 *   its newest the matrix's window moved on by one minor, as it has for every minor since 1.27.
 */
export const ISTIO_RELEASES = {
  "1.28": { version: "1.28.10", gatewayApi: "v1.4.1", kubernetes: { oldest: "1.30", newest: "1.34" } },
  "1.29": { version: "1.29.6", gatewayApi: "v1.4.1", kubernetes: { oldest: "1.31", newest: "1.35" } },
  "1.30": {
    version: "1.30.3",
    gatewayApi: "v1.5.1",
    kubernetes: { oldest: "1.32", newest: "1.36" },
    schemas: "istio-1.30.3",
  },
  "1.31": {
    version: "1.31.0",
    gatewayApi: "v1.6.1",
    kubernetes: { oldest: "1.32", newest: "1.37" },
    schemas: "istio-1.31.0",
  },
} as const satisfies Readonly<Record<string, IstioRelease>>;

export type IstioMinor = keyof typeof ISTIO_RELEASES;

/** The Istio minor installed when `charmarr:platform.istio.version` is not set. */
export const DEFAULT_ISTIO_MINOR: IstioMinor = "1.31";

/** The Istio minors in order, oldest first. */
export const ISTIO_MINORS = Object.keys(ISTIO_RELEASES) as IstioMinor[];

/** The `major.minor` of a version (`1.30.3`, `v1.5.1`), or undefined when it is not one. */
export function minorOf(version: string): string | undefined {
  const parsed = coerce(version);
  return parsed === null ? undefined : `${parsed.major}.${parsed.minor}`;
}

/** The table's row for the minor of `version`, when it has one. */
export function istioRelease(version: string): IstioRelease | undefined {
  const minor = minorOf(version);
  return minor !== undefined && minor in ISTIO_RELEASES ? ISTIO_RELEASES[minor as IstioMinor] : undefined;
}

/** A chart this program installs besides Istio, at one version, with the folder of its CRDs. */
export interface AddonRelease {
  /** The chart version (no `v`). */
  readonly version: string;
  /** `<name>-<version>` of the published CRDs the chart installs, as the upstream artifacts name them. */
  readonly schemas: string;
}

/**
 * MetalLB 0.16.1 (metallb/metallb v0.16.1; its chart's frr-k8s stack is switched off, see
 * metallbValues) and the Tailscale operator 1.102.3 (tailscale/tailscale v1.102.3).
 */
export const ADDON_RELEASES = {
  metallb: { version: "0.16.1", schemas: "metallb-v0.16.1" },
  tailscaleOperator: { version: "1.102.3", schemas: "tailscale-v1.102.3" },
} as const satisfies Readonly<Record<string, AddonRelease>>;

/** Pinned upstream versions installed when `charmarr:platform` does not name one: the rows above. */
export const DEFAULT_VERSIONS = {
  gatewayApi: ISTIO_RELEASES[DEFAULT_ISTIO_MINOR].gatewayApi,
  istio: ISTIO_RELEASES[DEFAULT_ISTIO_MINOR].version,
  metallb: ADDON_RELEASES.metallb.version,
  tailscaleOperator: ADDON_RELEASES.tailscaleOperator.version,
} as const;

/**
 * The oldest Gateway API bundle (`gateway.networking.k8s.io/bundle-version`) whose standard CRDs
 * hold every field the program's Gateways and HTTPRoutes set: the Gateway's `spec.infrastructure`
 * (its `parametersRef` and annotations) entered the standard channel in v1.2.0
 * (kubernetes-sigs/gateway-api CHANGELOG/1.2-CHANGELOG.md, GEP-1867).
 */
export const GATEWAY_API_PROGRAM_MINIMUM = "v1.2.0";
