/**
 * Kubernetes distributions that keep the CNI configuration and binaries somewhere other than the
 * kubeadm defaults (`/etc/cni/net.d`, `/opt/cni/bin`). Istio's `cni` chart knows their paths under
 * `global.platform` (Istio's Helm install guide, docs/upstream.md#istio-ambient); on any other cluster the
 * value stays unset.
 */
export const ISTIO_PLATFORMS = {
  /** kubeadm, kind, cloud clusters: the kubeadm CNI paths. */
  default: { globalPlatform: undefined },
  /** k3s keeps CNI config under /var/lib/rancher/k3s. */
  k3s: { globalPlatform: "k3s" },
  /** k3d runs k3s in containers: k3s paths. */
  k3d: { globalPlatform: "k3d" },
  /** MicroK8s keeps CNI config under /var/snap/microk8s. */
  microk8s: { globalPlatform: "microk8s" },
  /** minikube's own CNI layout. */
  minikube: { globalPlatform: "minikube" },
} as const satisfies Record<string, { readonly globalPlatform: string | undefined }>;

export type IstioPlatform = keyof typeof ISTIO_PLATFORMS;

export const ISTIO_PLATFORM_NAMES = Object.keys(ISTIO_PLATFORMS) as [IstioPlatform, ...IstioPlatform[]];
