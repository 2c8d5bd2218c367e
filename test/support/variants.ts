import { ConfigChanges } from "./plan";

/**
 * Configurations whose plans must produce only valid Kubernetes objects: the shipped examples plus
 * variants that switch on what the examples leave off.
 */
export interface PlanVariant {
    readonly name: string;
    readonly core?: ConfigChanges;
    readonly downloads?: ConfigChanges;
}

export const PLAN_VARIANTS: readonly PlanVariant[] = [
    { name: "the shipped examples" },
    {
        name: "no LAN CIDR, admin gateway on the tailnet",
        core: { "charmarr:cluster.lanCidr": undefined, "charmarr:gateways.admin.tailscale.expose": true },
    },
];
