import { configSetCommand } from "../settings";
import { freePoolAddress, poolContains } from "./addresses";
import { coerce, lt } from "semver";
import type { PlatformSettings } from "./settings";
import {
  GATEWAY_API_PROGRAM_MINIMUM,
  ISTIO_MINORS,
  ISTIO_RELEASES,
  IstioMinor,
  IstioRelease,
  istioRelease,
  minorOf,
} from "./versions";
import { NetworkPolicyFacts, enforcementGaps } from "./networkPolicy";

/**
 * What the preflight needs to know about the cluster before anything is created: the objects a
 * platform install would create, or needs to find, as they are now. Read by
 * `readClusterInventory` during `pulumi preview`/`up`; the offline plan uses
 * {@link declaredInventory}.
 */
export interface ClusterInventory {
  /** The CustomResourceDefinitions of {@link PREFLIGHT_CRDS} that exist, by name. */
  readonly crds: Readonly<Record<string, CrdFacts>>;
  /** The namespaces of {@link PREFLIGHT_NAMESPACES} that exist, with their labels. */
  readonly namespaces: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /**
   * Every istiod Deployment in the cluster: its namespace, its `istio.io/rev` revision (absent for
   * the default one) and the trust domain of its mesh config.
   */
  readonly istiods: readonly {
    readonly namespace: string;
    readonly revision?: string;
    readonly trustDomain: string;
    /** The Istio version it runs: its `app.kubernetes.io/version` label (the chart's appVersion), else its image tag. */
    readonly version?: string;
  }[];
  /** The cluster's Kubernetes version (`/version`'s gitVersion, `v1.37.1+k3s1`), when it was read. */
  readonly kubernetesVersion?: string;
  /** The `spec.addresses` of every MetalLB IPAddressPool, when MetalLB is installed and they were read. */
  readonly metallbPools?: readonly (readonly string[])[];
  /** The DaemonSets and nodes that tell whether NetworkPolicy is enforced, when they could be read. */
  readonly networkPolicy?: NetworkPolicyFacts;
}

/** A LAN IP the configuration pins (a gateway's, Plex's), with the key that sets it. */
export interface PinnedAddress {
  readonly key: string;
  readonly ip: string;
}

export interface CrdFacts {
  /** Field managers of the object (`metadata.managedFields[].manager`). */
  readonly managers: readonly string[];
  /** The Helm release that owns it (`meta.helm.sh/release-namespace`/`-name` annotations), as `namespace/name`. */
  readonly helmRelease?: string;
  /** Gateway API CRDs: the `gateway.networking.k8s.io/bundle-version` annotation. */
  readonly bundleVersion?: string;
  /** The stack that installed it ({@link INSTALLED_BY_ANNOTATION}), when a stack of this program did. */
  readonly installedBy?: string;
}

/** The cluster as read, or why it could not be. */
export type ClusterReading =
  | { readonly reachable: true; readonly inventory: ClusterInventory }
  | { readonly reachable: false; readonly reason: string };

/** The CRD whose presence says each add-on's CRDs are installed. */
export const PREFLIGHT_CRDS = {
  gatewayApi: "gateways.gateway.networking.k8s.io",
  istio: "peerauthentications.security.istio.io",
  metallb: "ipaddresspools.metallb.io",
} as const;

/** The namespaces the platform charts install into (see PLATFORM_NAMESPACES). */
export const PREFLIGHT_NAMESPACES = ["istio-system", "metallb-system", "tailscale"] as const;

/**
 * The annotation with which the core stack marks the Gateway API CRD it installs (a
 * CustomResourceDefinitionPatch after the manifest), valued {@link stackIdentity}: on a later
 * `pulumi up` a CRD carrying this stack's identity is its own, not a collision. The field manager
 * alone cannot tell: every pulumi-kubernetes program applies as `pulumi-kubernetes-<random>`
 * (`pulumi-kubernetes` in client-side mode; provider/pkg/provider/provider.go fieldManagerName),
 * another project's as much as this one's.
 */
export const INSTALLED_BY_ANNOTATION = "charmarr.io/installed-by";

/** Who a stack is, as {@link INSTALLED_BY_ANNOTATION} records it: `<organization>/<project>/<stack>`. */
export const stackIdentity = (organization: string, project: string, stack: string) =>
  `${organization}/${project}/${stack}`;

/** pulumi-kubernetes' field managers (see {@link INSTALLED_BY_ANNOTATION}). */
const PULUMI_FIELD_MANAGER = /^pulumi-kubernetes(-|$)/;

/** The label this program puts on the namespaces it creates (charmarrLabels). */
const OWN_NAMESPACE_LABEL = { "app.kubernetes.io/part-of": "charmarr" } as const;

/** One thing the preflight found: refused before anything is created, or worth a warning. */
export interface PreflightFinding {
  readonly severity: "refuse" | "warn";
  /** The `charmarr:` key whose value collides with the cluster. */
  readonly key: string;
  readonly problem: string;
  readonly fix: string;
}

const setInstall = (addon: string, value: boolean) =>
  `pulumi config set --path 'charmarr:platform.${addon}.install' ${value}`;

function crdOrigin(crd: CrdFacts): string {
  if (crd.helmRelease === "kube-system/traefik-crd") {
    return "Helm release kube-system/traefik-crd, k3s's bundled Traefik (k3s 1.34–1.36)";
  }
  if (crd.helmRelease === "kube-system/gateway-api-crd") {
    return "Helm release kube-system/gateway-api-crd, bundled with k3s 1.37 and later";
  }
  if (crd.helmRelease !== undefined) {
    return `Helm release ${crd.helmRelease}`;
  }
  if (crd.installedBy !== undefined) {
    return `the Pulumi stack ${crd.installedBy}`;
  }
  return crd.managers.length > 0 ? `field manager ${crd.managers.join(", ")}` : "another tool";
}

const ownedBy = (crd: CrdFacts, stack: string | undefined) => stack !== undefined && crd.installedBy === stack;
const unmarkedPulumi = (crd: CrdFacts) =>
  crd.installedBy === undefined && crd.managers.some((manager) => PULUMI_FIELD_MANAGER.test(manager));
const ownNamespace = (labels: Readonly<Record<string, string>>) =>
  Object.entries(OWN_NAMESPACE_LABEL).every(([key, value]) => labels[key] === value);

const REMOVE_GATEWAY_API_CRDS =
  "on k3s start the server with --disable traefik (1.34–1.36) or --disable gateway-api-crd (1.37 and later) and delete the CRDs: kubectl get crd -o name | grep gateway.networking.k8s.io | xargs kubectl delete";

/**
 * Why a Gateway API CRD bundle the cluster has does not fit, if it does not: older than the fields
 * the program sets ({@link GATEWAY_API_PROGRAM_MINIMUM}) is a refusal — the API server's schema
 * would refuse or prune the Gateways' `spec.infrastructure`, losing their Service overlay and
 * MetalLB annotations; another minor than the chosen Istio's (ISTIO_RELEASES) is a warning — the
 * `v1` fields the program sets are in every later bundle, but Istio is built and tested against
 * its own minor only.
 */
function bundleMisfit(
  settings: PlatformSettings,
  bundleVersion: string | undefined,
): { severity: "refuse" | "warn"; reason: string } | undefined {
  const bundle = bundleVersion === undefined ? null : coerce(bundleVersion);
  if (bundle === null) {
    return undefined;
  }
  if (lt(bundle, GATEWAY_API_PROGRAM_MINIMUM)) {
    return {
      severity: "refuse",
      reason: `bundle ${bundleVersion} predates Gateway API ${GATEWAY_API_PROGRAM_MINIMUM}, the first whose standard CRDs have the Gateway field spec.infrastructure that this program's Gateways set`,
    };
  }
  const release = istioRelease(settings.istio.version);
  const supported = release === undefined ? undefined : `v${minorOf(release.gatewayApi)}`;
  if (supported !== undefined && `v${bundle.major}.${bundle.minor}` !== supported) {
    return {
      severity: "warn",
      reason: `bundle ${bundleVersion} is outside Gateway API ${supported}, the version Istio ${minorOf(settings.istio.version)} (charmarr:platform.istio.version) supports`,
    };
  }
  return undefined;
}

/**
 * A Gateway API bundle older than the one this stack installed: never applied. Objects stored
 * under the newer CRDs may use fields or versions the older ones drop, and from v1.5 the bundle
 * installs the `safe-upgrades.gateway.networking.k8s.io` ValidatingAdmissionPolicy, which refuses
 * any Gateway API CRD before v1.5.0 (kubernetes-sigs/gateway-api v1.5.1
 * config/crd/standard/gateway.networking.k8s.io_vap_safeupgrades.yaml) — the preflight says so
 * before the API server refuses half an update.
 */
function gatewayApiDowngrade(settings: PlatformSettings, bundle: string): PreflightFinding {
  const policy = lt(settings.gatewayApi.version, "v1.5.0") && !lt(bundle, "v1.5.0");
  const paired = ISTIO_MINORS.map((minor) => ISTIO_RELEASES[minor]).filter(
    (release) => !lt(release.gatewayApi, bundle) && "schemas" in release,
  );
  const keep = paired[0];
  return {
    severity: "refuse",
    key: "charmarr:platform.gatewayApi.version",
    problem: `is ${settings.gatewayApi.version}, older than the Gateway API CRDs this stack installed (bundle ${bundle}): they are never downgraded, since objects stored under the newer CRDs may use what the older ones drop${policy ? `, and the bundle's safe-upgrades.gateway.networking.k8s.io ValidatingAdmissionPolicy refuses any Gateway API CRD before v1.5.0` : ""}`,
    fix:
      keep === undefined
        ? setGatewayApiVersion(bundle)
        : `keep Gateway API ${bundle} or newer with an Istio built against it: ${moveTo(settings, keep)}`,
  };
}

/** Gateway API: install on a cluster that has them (k3s), off on one that has none, or off on one whose bundle does not fit. */
function gatewayApiFindings(
  settings: PlatformSettings,
  inventory: ClusterInventory,
  _pinned: readonly PinnedAddress[],
  stack: string | undefined,
): PreflightFinding[] {
  const key = "charmarr:platform.gatewayApi.install";
  const crd = inventory.crds[PREFLIGHT_CRDS.gatewayApi];
  const installed = crd?.bundleVersion === undefined ? null : coerce(crd.bundleVersion);
  if (settings.gatewayApi.install && crd !== undefined && ownedBy(crd, stack) && installed !== null) {
    return lt(settings.gatewayApi.version, installed)
      ? [gatewayApiDowngrade(settings, crd.bundleVersion as string)]
      : [];
  }
  if (settings.gatewayApi.install && crd !== undefined && !ownedBy(crd, stack)) {
    const misfit = bundleMisfit(settings, crd.bundleVersion);
    const removeFirst = `remove them first, so that this stack installs Gateway API ${settings.gatewayApi.version} — ${REMOVE_GATEWAY_API_CRDS}`;
    return [
      {
        severity: "refuse",
        key,
        problem: `is true, but the cluster already has the Gateway API CRDs (bundle ${crd.bundleVersion ?? "of unknown version"}, from ${crdOrigin(crd)}); creating them again fails, since pulumi-kubernetes refuses to create an object that exists`,
        fix: [
          misfit?.severity === "refuse"
            ? `${removeFirst} (the cluster's will not do: ${misfit.reason})`
            : `use the cluster's CRDs (${setInstall("gatewayApi", false)}${misfit === undefined ? "" : `; but ${misfit.reason}`}), or ${removeFirst}`,
          // A Pulumi program applied them but did not mark them: another project's, or this
          // stack's from before it marked its CRDs — only the user can tell which.
          ...(unmarkedPulumi(crd) && stack !== undefined
            ? [
                `if this stack installed them itself, mark them as its own: kubectl annotate crd ${PREFLIGHT_CRDS.gatewayApi} ${INSTALLED_BY_ANNOTATION}=${stack}`,
              ]
            : []),
        ].join("; "),
      },
    ];
  }
  if (!settings.gatewayApi.install && crd !== undefined) {
    const misfit = bundleMisfit(settings, crd.bundleVersion);
    return misfit === undefined
      ? []
      : [
          {
            severity: misfit.severity,
            key,
            problem: `is false, so the cluster's Gateway API CRDs (from ${crdOrigin(crd)}) are used, but their ${misfit.reason}`,
            fix: `remove them (${REMOVE_GATEWAY_API_CRDS}), then let this stack install Gateway API ${settings.gatewayApi.version}: ${setInstall("gatewayApi", true)}`,
          },
        ];
  }
  if (!settings.gatewayApi.install && crd === undefined) {
    return [
      {
        severity: "refuse",
        key,
        problem:
          "is false, but the cluster has no Gateway API CRDs (no gateways.gateway.networking.k8s.io): the Gateways and HTTPRoutes could not be created",
        fix: setInstall("gatewayApi", true),
      },
    ];
  }
  return [];
}

const istiodPlace = (istiod: ClusterInventory["istiods"][number]) =>
  istiod.revision === undefined ? istiod.namespace : `${istiod.namespace}, revision ${istiod.revision}`;

/** Istio: a second control plane, leftovers of one, none at all, or a trust domain that is not the mesh's. */
function istioFindings(settings: PlatformSettings, inventory: ClusterInventory): PreflightFinding[] {
  const key = "charmarr:platform.istio.install";
  const systemLabels = inventory.namespaces["istio-system"];
  const ours = systemLabels !== undefined && ownNamespace(systemLabels);
  const running = inventory.istiods;
  if (settings.istio.install) {
    if (ours) {
      return [];
    }
    if (running.length > 0) {
      const trustDomain = running[0].trustDomain;
      return [
        {
          severity: "refuse",
          key,
          problem: `is true, but Istio already runs in this cluster (istiod in ${running.map(istiodPlace).join(", ")}); a second install collides with its CRDs, webhooks and istio-system`,
          fix: `use it: ${setInstall("istio", false)}${trustDomain !== settings.istio.trustDomain ? ` && pulumi config set --path 'charmarr:platform.istio.trustDomain' ${trustDomain}` : ""} (it must run the ambient profile with istio-cni and ztunnel)`,
        },
      ];
    }
    if (inventory.crds[PREFLIGHT_CRDS.istio] !== undefined || systemLabels !== undefined) {
      return [
        {
          severity: "refuse",
          key,
          problem: `is true, but an earlier Istio install left ${[
            ...(inventory.crds[PREFLIGHT_CRDS.istio] !== undefined ? ["its CRDs (*.istio.io)"] : []),
            ...(systemLabels !== undefined ? ["the istio-system namespace"] : []),
          ].join(" and ")} behind, which the charts cannot create again`,
          fix: "remove the leftovers (kubectl delete namespace istio-system; kubectl get crd -o name | grep istio.io | xargs kubectl delete), then run pulumi up again",
        },
      ];
    }
    return [];
  }
  if (running.length === 0) {
    return [
      {
        severity: "refuse",
        key,
        problem:
          "is false, but no istiod runs in the cluster: nothing would deploy the gateways or enforce mTLS and the authorization policies",
        fix: setInstall("istio", true),
      },
    ];
  }
  const others = running.filter((istiod) => istiod.trustDomain !== settings.istio.trustDomain);
  if (others.length === running.length) {
    return [
      {
        severity: "refuse",
        key: "charmarr:platform.istio.trustDomain",
        problem: `is ${settings.istio.trustDomain}, but the running Istio (istiod in ${istiodPlace(running[0])}) issues identities in trust domain ${running[0].trustDomain}: no principal would match and every call between apps would be denied`,
        fix: `pulumi config set --path 'charmarr:platform.istio.trustDomain' ${running[0].trustDomain}`,
      },
    ];
  }
  return [];
}

/** MetalLB: a second install, or none to give the gateways their addresses. */
function metallbFindings(settings: PlatformSettings, inventory: ClusterInventory): PreflightFinding[] {
  const key = "charmarr:platform.metallb.install";
  const crd = inventory.crds[PREFLIGHT_CRDS.metallb];
  const systemLabels = inventory.namespaces["metallb-system"];
  if (settings.metallb.install && crd !== undefined && !(systemLabels !== undefined && ownNamespace(systemLabels))) {
    return [
      {
        severity: "refuse",
        key,
        problem: `is true, but MetalLB is already installed (its CRDs, from ${crdOrigin(crd)}); a second install collides with them`,
        fix: `use it: ${setInstall("metallb", false)}, and make sure one of its IPAddressPools holds every gateway lanIp`,
      },
    ];
  }
  if (!settings.metallb.install && crd === undefined) {
    return [
      {
        severity: "warn",
        key,
        problem:
          "is false and the cluster has no MetalLB: the gateways' LoadBalancer Services get an address only if another load balancer serves them (k3s's ServiceLB, a cloud's), and pinned lanIps are MetalLB annotations",
        fix: setInstall("metallb", true),
      },
    ];
  }
  return [];
}

/** With a MetalLB of the cluster's own, every pinned LAN IP must lie in one of its pools. */
function poolFindings(
  settings: PlatformSettings,
  inventory: ClusterInventory,
  pinned: readonly PinnedAddress[],
): PreflightFinding[] {
  const pools = inventory.metallbPools;
  if (settings.metallb.install || pools === undefined) {
    return [];
  }
  const addresses = pools.flat();
  return pinned
    .filter(({ ip }) => !poolContains(addresses, ip))
    .map(({ key, ip }) => ({
      severity: "refuse" as const,
      key,
      problem: `${ip} is in none of the cluster's MetalLB IPAddressPools (${addresses.length > 0 ? addresses.join(", ") : "there are none"}), so MetalLB would never assign it and pulumi up would wait for the address until it times out`,
      fix: `pick an address of a pool (${configSetCommand(
        key,
        freePoolAddress(
          addresses,
          pinned.map((address) => address.ip),
        ) ?? "<address>",
      )}), or add an IPAddressPool holding ${ip}`,
    }));
}

/** A namespace a chart installs into that exists already and is not this program's. */
function namespaceFindings(settings: PlatformSettings, inventory: ClusterInventory): PreflightFinding[] {
  const installs: readonly [string, boolean, string][] = [
    ["metallb-system", settings.metallb.install, "metallb"],
    ["tailscale", settings.tailscale.operator.install, "tailscale.operator"],
  ];
  return installs.flatMap(([namespace, install, addon]) => {
    const labels = inventory.namespaces[namespace];
    if (!install || labels === undefined || ownNamespace(labels)) {
      return [];
    }
    return [
      {
        severity: "refuse" as const,
        key: `charmarr:platform.${addon}.install`,
        problem: `is true, but the namespace ${namespace} already exists and this program did not create it (an install of its own?); creating it fails`,
        fix: `use what runs there (${setInstall(addon, false)}), or delete it (kubectl delete namespace ${namespace})`,
      },
    ];
  });
}

/**
 * A cluster known not to enforce NetworkPolicy (flannel alone, k3s with --disable-network-policy,
 * Docker Desktop): a warning, since the VPN kill switch's first layer and the gateway's policies
 * would do nothing there; the downloads stack's routed clients still have the gateway's own rules.
 */
function networkPolicyFindings(_settings: PlatformSettings, inventory: ClusterInventory): PreflightFinding[] {
  return inventory.networkPolicy === undefined
    ? []
    : enforcementGaps(inventory.networkPolicy).map((gap) => ({
        severity: "warn" as const,
        key: "kubernetes:context",
        problem: gap.problem,
        fix: gap.fix,
      }));
}

const setIstioVersion = (version: string) => `pulumi config set --path 'charmarr:platform.istio.version' ${version}`;
const setGatewayApiVersion = (version: string) =>
  `pulumi config set --path 'charmarr:platform.gatewayApi.version' ${version}`;

/** `major.minor` as a comparable number pair: `1.31` → [1, 31]. */
function minorParts(version: string): readonly [number, number] | undefined {
  const parsed = coerce(version);
  return parsed === null ? undefined : [parsed.major, parsed.minor];
}

/** Whether Kubernetes minor `minor` lies in a versions-table range. */
function withinRange(minor: readonly [number, number], range: IstioRelease["kubernetes"]): boolean {
  const [oldest, newest] = [minorParts(range.oldest), minorParts(range.newest)] as [number, number][];
  const at = minor[0] * 1000 + minor[1];
  return oldest[0] * 1000 + oldest[1] <= at && at <= newest[0] * 1000 + newest[1];
}

/** The commands that move this stack to one row of the versions table: its Istio and, when installed here, its Gateway API. */
function moveTo(settings: PlatformSettings, release: IstioRelease): string {
  return [
    setIstioVersion(release.version),
    ...(settings.gatewayApi.install ? [setGatewayApiVersion(release.gatewayApi)] : []),
  ].join(" && ");
}

/**
 * Istio upgraded as upstream allows: one minor at a time (Istio's ambient upgrade guide: ztunnel
 * and the CNI agent work with a control plane of their own minor or one newer; its Helm upgrade
 * guide upgrades istiod first, which the plan's order does), never downgraded in place. Read from
 * the version the running istiod of this stack's own install reports.
 */
function istioUpgradeFindings(settings: PlatformSettings, inventory: ClusterInventory): PreflightFinding[] {
  const labels = inventory.namespaces["istio-system"];
  const installed = inventory.istiods.find(
    (istiod) => istiod.namespace === "istio-system" && istiod.revision === undefined && istiod.version !== undefined,
  );
  if (!settings.istio.install || labels === undefined || !ownNamespace(labels) || installed?.version === undefined) {
    return [];
  }
  const from = minorParts(installed.version);
  const to = minorParts(settings.istio.version);
  if (from === undefined || to === undefined || from[0] !== to[0] || to[1] - from[1] === 1 || to[1] === from[1]) {
    return [];
  }
  const key = "charmarr:platform.istio.version";
  const running = `Istio ${from.join(".")} (istiod reports ${installed.version})`;
  if (to[1] < from[1]) {
    const release = istioRelease(installed.version);
    return [
      {
        severity: "refuse",
        key,
        problem: `is ${settings.istio.version}, older than the ${running} this stack runs: Istio is not downgraded in place (its data plane works only with a control plane of its own minor or newer)`,
        fix: release === undefined ? `pick Istio ${from.join(".")} or newer` : moveTo(settings, release),
      },
    ];
  }
  const minors = Array.from({ length: to[1] - from[1] }, (_, index) => `${from[0]}.${from[1] + 1 + index}`);
  const missing = minors.find((minor) => !(minor in ISTIO_RELEASES));
  if (missing !== undefined) {
    const oldest = ISTIO_MINORS[0];
    return [
      {
        severity: "refuse",
        key,
        problem: `is ${settings.istio.version}, but this stack runs ${running}: Istio is upgraded one minor at a time, and this program steps through Istio ${oldest} and later only`,
        fix: `upgrade the running Istio to ${minorParts(oldest)?.[0]}.${(minorParts(oldest)?.[1] ?? 0) - 1} with Istio's own upgrade guide first, then run pulumi up again for the steps from there`,
      },
    ];
  }
  const kubernetes = inventory.kubernetesVersion === undefined ? undefined : minorParts(inventory.kubernetesVersion);
  const steps = minors.map((minor, index) => {
    const release = ISTIO_RELEASES[minor as IstioMinor];
    const outside =
      kubernetes !== undefined && !withinRange(kubernetes, release.kubernetes)
        ? ` (Istio ${minor} supports Kubernetes ${release.kubernetes.oldest}–${release.kubernetes.newest}, not this cluster's ${kubernetes.join(".")})`
        : "";
    return `${index + 1}. ${moveTo(settings, release)} && pulumi up${outside}`;
  });
  return [
    {
      severity: "refuse",
      key,
      problem: `is ${settings.istio.version}, but this stack runs ${running}: ztunnel and the CNI agent work only with a control plane of their own minor or one newer, so Istio is upgraded one minor at a time`,
      fix: `upgrade one minor per pulumi up: ${steps.join("; ")}`,
    },
  ];
}

/**
 * The cluster's Kubernetes minor (`/version`) inside the range the chosen Istio supports (its
 * row of the versions table, from Istio's support matrix).
 */
function kubernetesFindings(settings: PlatformSettings, inventory: ClusterInventory): PreflightFinding[] {
  const release = istioRelease(settings.istio.version);
  const kubernetes = inventory.kubernetesVersion === undefined ? undefined : minorParts(inventory.kubernetesVersion);
  if (!settings.istio.install || release === undefined || kubernetes === undefined) {
    return [];
  }
  if (withinRange(kubernetes, release.kubernetes)) {
    return [];
  }
  const supported = `${release.kubernetes.oldest}–${release.kubernetes.newest}`;
  const fitting = ISTIO_MINORS.map((minor) => ISTIO_RELEASES[minor]).filter(
    (other) => "schemas" in other && withinRange(kubernetes, other.kubernetes),
  );
  const newest = fitting.at(-1);
  return [
    {
      severity: "refuse",
      key: "charmarr:platform.istio.version",
      problem: `is ${settings.istio.version}: Istio ${minorOf(settings.istio.version)} supports Kubernetes ${supported}, but the cluster runs Kubernetes ${kubernetes.join(".")} (${inventory.kubernetesVersion})`,
      fix: [
        `upgrade the cluster to a Kubernetes of ${supported}`,
        ...(newest === undefined
          ? []
          : [`install an Istio that supports Kubernetes ${kubernetes.join(".")}: ${moveTo(settings, newest)}`]),
      ].join(", or "),
    },
  ];
}

/**
 * The oldest Kubernetes minor this program runs on: 1.30, the first that serves
 * `admissionregistration.k8s.io/v1` ValidatingAdmissionPolicy and its bindings (GA in Kubernetes
 * 1.30, KEP-3488; before it only `v1beta1`, off by default), which the downloads stack's admission
 * policies are. An older API server refuses to create them after the apps already exist.
 */
export const KUBERNETES_MINIMUM = "1.30";

/** The cluster's Kubernetes minor (`/version`) at least {@link KUBERNETES_MINIMUM}. */
function kubernetesMinimumFindings(_settings: PlatformSettings, inventory: ClusterInventory): PreflightFinding[] {
  const kubernetes = inventory.kubernetesVersion === undefined ? undefined : minorParts(inventory.kubernetesVersion);
  const [major, minor] = minorParts(KUBERNETES_MINIMUM)!;
  if (kubernetes === undefined || kubernetes[0] * 1000 + kubernetes[1] >= major * 1000 + minor) {
    return [];
  }
  return [
    {
      severity: "refuse",
      key: "kubernetes:kubeconfig",
      problem: `reaches a cluster that runs Kubernetes ${kubernetes.join(".")} (${inventory.kubernetesVersion}), but this program needs Kubernetes ${KUBERNETES_MINIMUM} or later: its admission policies are admissionregistration.k8s.io/v1 ValidatingAdmissionPolicies, served from Kubernetes ${KUBERNETES_MINIMUM} on`,
      fix: `upgrade the cluster to Kubernetes ${KUBERNETES_MINIMUM} or later, or point Pulumi at one that runs it (kubernetes:kubeconfig, kubernetes:context, or KUBECONFIG)`,
    },
  ];
}

/** The checks, as a table: each reads the settings, the inventory, the pinned addresses and this stack's identity, and returns its findings. */
const CHECKS: readonly ((
  settings: PlatformSettings,
  inventory: ClusterInventory,
  pinned: readonly PinnedAddress[],
  stack: string | undefined,
) => PreflightFinding[])[] = [
  gatewayApiFindings,
  istioFindings,
  istioUpgradeFindings,
  kubernetesMinimumFindings,
  kubernetesFindings,
  metallbFindings,
  poolFindings,
  namespaceFindings,
  networkPolicyFindings,
];

/**
 * Where a platform install would collide with what the cluster already has, or what the stack
 * assumes present is missing. Pure: the cluster comes in as an inventory. An unreadable cluster is
 * one warning, not a refusal: pulumi-kubernetes still refuses to create what exists. `stack` is
 * this stack's {@link stackIdentity}: CRDs marked with it are its own; without it, none are.
 */
export function preflightFindings(
  settings: PlatformSettings,
  reading: ClusterReading,
  pinned: readonly PinnedAddress[] = [],
  stack?: string,
): PreflightFinding[] {
  if (!reading.reachable) {
    return [
      {
        severity: "warn",
        key: "kubernetes:kubeconfig",
        problem: `the cluster could not be read (${reading.reason}), so the preflight checks of charmarr:platform against it were skipped`,
        fix: "check that kubectl reaches the cluster with the kubeconfig and context Pulumi uses (kubernetes:kubeconfig, kubernetes:context, or KUBECONFIG)",
      },
    ];
  }
  return CHECKS.flatMap((check) => check(settings, reading.inventory, pinned, stack));
}

/**
 * The cluster the configuration describes: every add-on the stack does not install is there (Istio
 * with the configured trust domain), everything it installs is not. The offline plan uses it, so
 * that a configuration plans as it would on a cluster that matches it.
 */
export function declaredInventory(settings: PlatformSettings): ClusterInventory {
  const present = { managers: ["kubectl-client-side-apply"] };
  return {
    crds: {
      ...(settings.gatewayApi.install ? {} : { [PREFLIGHT_CRDS.gatewayApi]: present }),
      ...(settings.istio.install ? {} : { [PREFLIGHT_CRDS.istio]: present }),
      ...(settings.metallb.install ? {} : { [PREFLIGHT_CRDS.metallb]: present }),
    },
    namespaces: settings.istio.install ? {} : { "istio-system": {} },
    istiods: settings.istio.install ? [] : [{ namespace: "istio-system", trustDomain: settings.istio.trustDomain }],
  };
}
