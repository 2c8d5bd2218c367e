import type { IObjectMeta } from "@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta";

/**
 * MetalLB's `metallb.io/v1beta1` kinds. No schema package models them, so the fields used here
 * are typed after MetalLB's CRDs (config/crd/bases/metallb.io_ipaddresspools.yaml and
 * metallb.io_l2advertisements.yaml, v0.14/v0.15).
 */
export interface IIPAddressPool {
  apiVersion: "metallb.io/v1beta1";
  kind: "IPAddressPool";
  metadata: IObjectMeta & { name: string; namespace: string };
  spec: {
    /** CIDRs or inclusive `first-last` ranges MetalLB may hand out. */
    addresses: string[];
    /** Whether Services that do not ask for an address may get one from this pool. */
    autoAssign?: boolean;
    /** Skip addresses ending in .0 and .255 (some home routers mishandle them). */
    avoidBuggyIPs?: boolean;
  };
}

export interface IL2Advertisement {
  apiVersion: "metallb.io/v1beta1";
  kind: "L2Advertisement";
  metadata: IObjectMeta & { name: string; namespace: string };
  spec: {
    /** Pools announced with ARP/NDP; empty would announce every pool. */
    ipAddressPools?: string[];
  };
}

export interface MetallbPoolSpecs {
  readonly pool: IIPAddressPool;
  readonly advertisement: IL2Advertisement;
}

export const METALLB_POOL_NAME = "charmarr";

/**
 * The address pool the gateways draw their LAN IPs from, announced on the LAN by layer 2. Gateways
 * that pin an IP ask for it with `metallb.io/loadBalancerIPs`; the others take the next free one,
 * hence `autoAssign`.
 */
export function metallbPoolSpecs(
  namespace: string,
  addresses: readonly string[],
  labels: Record<string, string>,
): MetallbPoolSpecs {
  return {
    pool: {
      apiVersion: "metallb.io/v1beta1",
      kind: "IPAddressPool",
      metadata: { name: METALLB_POOL_NAME, namespace, labels },
      spec: { addresses: [...addresses], autoAssign: true },
    },
    advertisement: {
      apiVersion: "metallb.io/v1beta1",
      kind: "L2Advertisement",
      metadata: { name: METALLB_POOL_NAME, namespace, labels },
      spec: { ipAddressPools: [METALLB_POOL_NAME] },
    },
  };
}
