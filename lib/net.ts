/**
 * IPv4 addresses and CIDR blocks, parsed and compared with ipaddr.js. A thin layer over it: the
 * program accepts only four-part decimal IPv4 (what Kubernetes and MetalLB take), and keeps a
 * block's network address as a 32-bit integer so MetalLB's address ranges and the tests'
 * NetworkPolicy evaluator compare blocks and ranges with plain arithmetic.
 */
import ipaddr from "ipaddr.js";

export interface Cidr {
  /** Network address as an unsigned 32-bit integer. */
  readonly network: number;
  /** Prefix length, 0–32. */
  readonly prefix: number;
}

function toNumber(address: ipaddr.IPv4): number {
  return address.octets.reduce((acc, octet) => acc * 256 + octet, 0);
}

function toAddress(value: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256));
}

/** Parses dotted-quad IPv4 text; `undefined` when it is not exactly four decimal octets. */
export function parseIpv4(text: string): number | undefined {
  return ipaddr.IPv4.isValidFourPartDecimal(text) ? toNumber(ipaddr.IPv4.parse(text)) : undefined;
}

export function formatIpv4(value: number): string {
  return toAddress(value).toString();
}

/** Parses `a.b.c.d/n`, ignoring host bits (use {@link isCanonicalCidr} to insist on none). */
export function parseCidr(text: string): Cidr | undefined {
  if (!ipaddr.IPv4.isValidCIDRFourPartDecimal(text)) {
    return undefined;
  }
  const [, prefix] = ipaddr.IPv4.parseCIDR(text);
  return { network: toNumber(ipaddr.IPv4.networkAddressFromCIDR(text)), prefix };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIpv4(cidr.network)}/${cidr.prefix}`;
}

/** True when the text is a CIDR whose address is its own network address (no host bits set). */
export function isCanonicalCidr(text: string): boolean {
  const cidr = parseCidr(text);
  return cidr !== undefined && formatCidr(cidr) === text;
}

/** The network form of a CIDR, e.g. `10.42.0.1/16` → `10.42.0.0/16`. */
export function canonicalCidr(text: string): string | undefined {
  const cidr = parseCidr(text);
  return cidr && formatCidr(cidr);
}

export function cidrContains(cidr: Cidr, address: number): boolean {
  return toAddress(address).match(toAddress(cidr.network), cidr.prefix);
}

/** Whether two blocks share an address: the larger one holds the smaller one's network address. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const [larger, smaller] = a.prefix <= b.prefix ? [a, b] : [b, a];
  return cidrContains(larger, smaller.network);
}

/** The last address of a block. */
export function lastAddress(cidr: Cidr): number {
  return cidr.network + 2 ** (32 - cidr.prefix) - 1;
}

/** The /24 that a three-octet VXLAN network such as `172.16.0` names. */
export function vxlanCidr(network: string): string {
  return `${network}.0/24`;
}

/** Address space never routed on the internet: RFC 1918, and RFC 6598 shared space (CGNAT). */
export const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"] as const;

const PRIVATE_BLOCKS: readonly Cidr[] = PRIVATE_RANGES.map((range) => parseCidr(range) as Cidr);

/** True when the whole block lies inside one of {@link PRIVATE_RANGES}. */
export function isPrivateCidr(cidr: Cidr): boolean {
  return PRIVATE_BLOCKS.some((block) => block.prefix <= cidr.prefix && cidrContains(block, cidr.network));
}

/**
 * The first private block of the given prefix length that overlaps none of `avoid`, preferring
 * the private range `near` lies in: a value to suggest when a configured block collides.
 */
export function freePrivateBlock(prefix: number, avoid: readonly Cidr[], near?: Cidr): string | undefined {
  const ranges = [...PRIVATE_BLOCKS].sort(
    (a, b) =>
      Number(near !== undefined && cidrContains(b, near.network)) -
      Number(near !== undefined && cidrContains(a, near.network)),
  );
  for (const range of ranges) {
    if (range.prefix > prefix) {
      continue;
    }
    const size = 2 ** (32 - prefix);
    const count = Math.min(2 ** (prefix - range.prefix), 65536);
    for (let index = 0; index < count; index++) {
      const candidate = { network: range.network + index * size, prefix };
      if (!avoid.some((block) => cidrsOverlap(block, candidate))) {
        return formatCidr(candidate);
      }
    }
  }
  return undefined;
}
