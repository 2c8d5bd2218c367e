/**
 * The scenarios: each a fault injected into the running data path (none for the baseline and DNS
 * checks), then the same probes from the routed client. Data, not control flow: lab/lab.ts runs
 * every one the same way.
 */
import { dnsPath } from "../verify/probes";
import { dnsVerdict } from "../verify/verdicts";
import type { Lab, Observation } from "./lab";
import { resolve } from "./probes";
import { GLUETUN_IMAGE } from "./plan";
import { must } from "./sys";

export interface Check {
    readonly ok: boolean;
    readonly text: string;
}

export interface Scenario {
    readonly name: string;
    /** Whether layer 2 (the gateway) alone must stop every leak here; false where only layer 1 can. */
    readonly layer2MustHold: boolean;
    /** The fault; the pod it breaks is recreated after it. */
    readonly inject?: (lab: Lab) => void | Promise<void>;
    /** Which pod the fault breaks (default the gateway). */
    readonly breaks?: "gateway" | "client";
    /** Inject again before the layer-2-only round: the pod repairs this fault by itself within seconds. */
    readonly reinject?: boolean;
    /** Probe rounds per layer setting (default 1). */
    readonly rounds?: number;
    /** Assertions on what the client saw with both layers on. */
    readonly checks?: (lab: Lab, seen: Observation, dnsSources: readonly string[]) => Promise<Check[]> | Check[];
    /** Measure the seconds until traffic flows again (the gateway pod is replaced). */
    readonly recovery?: boolean;
    readonly recoveryLimitSeconds?: number;
}

function inGateway(lab: Lab, ...argv: string[]): void {
    must(["ip", "netns", "exec", lab.gateway.netns, ...argv]);
}

function inClient(lab: Lab, ...argv: string[]): void {
    must(["ip", "netns", "exec", lab.client.netns, ...argv]);
}

function noTraffic(seen: Observation): Check {
    const answered = seen.seen.filter((s) => s !== undefined);
    return { ok: answered.length === 0, text: answered.length === 0 ? "no HTTP answer reached the client" : `the client still got answers, seen as ${[...new Set(answered)].join(", ")}` };
}

export const SCENARIOS: readonly Scenario[] = [
    {
        name: "baseline",
        layer2MustHold: true,
        rounds: 2,
        checks: (lab, seen) => {
            const exit = lab.addresses.vpnExit;
            const all = seen.seen.every((s) => s === exit);
            return [{ ok: all, text: all ? `the internet saw the VPN exit ${exit}` : `the internet saw ${seen.seen.map((s) => s ?? "nothing").join(", ")}, not only the VPN exit ${exit}` }];
        },
    },
    {
        name: "DNS: internet and cluster names",
        layer2MustHold: true,
        rounds: 2,
        checks: async (lab, seen, dnsSources) => {
            const exit = lab.addresses.vpnExit;
            const resolved = seen.internetAnswers.every((a) => a === lab.addresses.web);
            const throughTunnel = dnsSources.length > 0 && dnsSources.every((s) => s === exit);
            const clusterName = `kubernetes.default.svc.${lab.world.plan.cluster.domain}`;
            const cluster = await resolve(lab.clientExec(), clusterName, 2);
            // The verifier's DNS-path check, run on this client through its netns transport.
            const path = await dnsPath(lab.transport, lab.clientTarget(), { internet: lab.nextName(), cluster: clusterName }, 2000);
            const verdict = dnsVerdict(lab.clientTarget().name, path, { gatewayDns: `${lab.world.plan.gatewaySettings.VXLAN_IP_NETWORK}.1`, kubeDns: lab.world.plan.cluster.dnsServiceIp });
            return [
                { ok: verdict.status === "pass", text: `npm run verify's DNS check: ${verdict.status.toUpperCase()} ${verdict.message}` },
                { ok: resolved, text: resolved ? "internet names resolved" : `internet names answered ${seen.internetAnswers.map((a) => a ?? "nothing").join(", ")}` },
                { ok: throughTunnel, text: throughTunnel ? `the resolver saw the queries from the VPN exit ${exit}` : `the resolver saw the queries from ${dnsSources.join(", ") || "nowhere"}` },
                {
                    ok: cluster.ok && cluster.value === lab.addresses.kubernetesService,
                    text: cluster.ok ? `kubernetes.default.svc resolved to ${cluster.value}` : `kubernetes.default.svc did not resolve: ${cluster.message}`,
                },
            ];
        },
    },
    {
        name: "tunnel device down",
        layer2MustHold: true,
        inject: (lab) => inGateway(lab, "ip", "link", "set", "wg0", "down"),
        checks: (_lab, seen) => [noTraffic(seen)],
    },
    {
        name: "VPN process killed",
        layer2MustHold: true,
        // The gluetun container's processes die at once (WireGuard lives in gluetun's process):
        // the tunnel device goes with them, the WireGuard routing rule stays behind.
        inject: (lab) => lab.killContainer(lab.gateway, GLUETUN_IMAGE),
        checks: (_lab, seen) => [noTraffic(seen)],
    },
    {
        name: "gateway filter rules flushed",
        layer2MustHold: true,
        inject: (lab) => inGateway(lab, "iptables", "--flush"),
    },
    {
        name: "gluetun firewall fallback, tunnel down",
        layer2MustHold: true,
        inject: (lab) => {
            inGateway(lab, "ip", "link", "set", "wg0", "down");
            lab.world.fallback(lab.gateway);
        },
        checks: (_lab, seen) => [noTraffic(seen)],
    },
    {
        name: "gateway vxlan0 deleted",
        layer2MustHold: true,
        inject: (lab) => inGateway(lab, "ip", "link", "del", "vxlan0"),
        checks: (_lab, seen) => [noTraffic(seen)],
    },
    {
        name: "client vxlan0 deleted, default route restored",
        // Only layer 1 can stop a client whose own routes bypass the gateway.
        layer2MustHold: false,
        breaks: "client",
        reinject: true,
        inject: (lab) => {
            inClient(lab, "sh", "-c", "! ip link show vxlan0 >/dev/null 2>&1 || ip link del vxlan0");
            inClient(lab, "ip", "route", "replace", "default", "via", lab.addresses.nodeBridge);
        },
    },
    {
        name: "gateway pod replaced (new address)",
        layer2MustHold: true,
        recovery: true,
        recoveryLimitSeconds: 60,
    },
];
