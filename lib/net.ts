/**
 * IPv4 address and CIDR arithmetic. Plain functions over 32-bit integers so that config rules,
 * builders and the tests' NetworkPolicy evaluator all share one implementation.
 */

export interface Cidr {
    /** Network address as an unsigned 32-bit integer. */
    readonly network: number;
    /** Prefix length, 0–32. */
    readonly prefix: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Parses dotted-quad IPv4 text; `undefined` when it is not exactly four decimal octets. */
export function parseIpv4(text: string): number | undefined {
    const parts = text.split(".");
    if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) {
        return undefined;
    }
    return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function formatIpv4(value: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

function mask(prefix: number): number {
    return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `a.b.c.d/n`, ignoring host bits (use {@link isCanonicalCidr} to insist on none). */
export function parseCidr(text: string): Cidr | undefined {
    const match = /^([^/]+)\/(\d{1,2})$/.exec(text);
    if (!match) {
        return undefined;
    }
    const address = parseIpv4(match[1]);
    const prefix = Number(match[2]);
    if (address === undefined || prefix > 32) {
        return undefined;
    }
    return { network: (address & mask(prefix)) >>> 0, prefix };
}

/** True when the text is a CIDR whose address is its own network address (no host bits set). */
export function isCanonicalCidr(text: string): boolean {
    const cidr = parseCidr(text);
    return cidr !== undefined && formatCidr(cidr) === text;
}

export function formatCidr(cidr: Cidr): string {
    return `${formatIpv4(cidr.network)}/${cidr.prefix}`;
}

/** The network form of a CIDR, e.g. `10.42.0.1/16` → `10.42.0.0/16`. */
export function canonicalCidr(text: string): string | undefined {
    const cidr = parseCidr(text);
    return cidr && formatCidr(cidr);
}

export function cidrContains(cidr: Cidr, address: number): boolean {
    return ((address & mask(cidr.prefix)) >>> 0) === cidr.network;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
    const shorter = Math.min(a.prefix, b.prefix);
    return ((a.network & mask(shorter)) >>> 0) === ((b.network & mask(shorter)) >>> 0);
}

/** The /24 that a three-octet VXLAN network such as `172.16.0` names. */
export function vxlanCidr(network: string): string {
    return `${network}.0/24`;
}

/** Address space never routed on the internet: RFC 1918, and RFC 6598 shared space (CGNAT). */
export const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"] as const;

/** True when the whole block lies inside one of {@link PRIVATE_RANGES}. */
export function isPrivateCidr(cidr: Cidr): boolean {
    return PRIVATE_RANGES.some((range) => {
        const block = parseCidr(range) as Cidr;
        return block.prefix <= cidr.prefix && cidrContains(block, cidr.network);
    });
}
