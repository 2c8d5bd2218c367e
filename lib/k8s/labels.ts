/** Labels every object of this program carries, so `kubectl get -l` finds them by stack. */
export function charmarrLabels(stack: "core" | "downloads", component?: string): Record<string, string> {
    return {
        "app.kubernetes.io/part-of": "charmarr",
        "app.kubernetes.io/managed-by": "pulumi",
        "charmarr.io/stack": stack,
        ...(component ? { "app.kubernetes.io/component": component } : {}),
    };
}
