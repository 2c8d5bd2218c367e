/** The label naming an app's pods: Services, NetworkPolicies and AuthorizationPolicies select by it. */
export const APP_LABEL = "app.kubernetes.io/name";

/** Labels every object of this program carries, so `kubectl get -l` finds them by stack. */
export function charmarrLabels(stack: "core" | "downloads", component?: string): Record<string, string> {
  return {
    "app.kubernetes.io/part-of": "charmarr",
    "app.kubernetes.io/managed-by": "pulumi",
    "charmarr.io/stack": stack,
    ...(component ? { "app.kubernetes.io/component": component } : {}),
  };
}
