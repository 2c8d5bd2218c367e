import { cidrContains, formatIpv4, lastAddress, parseCidr, parseIpv4 } from "../net";

/** An inclusive IPv4 range, as 32-bit integers. */
export interface AddressRange {
  readonly first: number;
  readonly last: number;
}

/**
 * Parses one entry of a MetalLB `IPAddressPool.spec.addresses`: a CIDR (`192.168.1.240/28`) or an
 * inclusive range (`192.168.1.240-192.168.1.250`). IPv4 only, like the rest of this program.
 */
export function parsePoolAddress(text: string): AddressRange | undefined {
  const dash = text.split("-");
  if (dash.length === 2) {
    const first = parseIpv4(dash[0].trim());
    const last = parseIpv4(dash[1].trim());
    return first !== undefined && last !== undefined && first <= last ? { first, last } : undefined;
  }
  const cidr = parseCidr(text);
  if (cidr === undefined) {
    return undefined;
  }
  return { first: cidr.network, last: lastAddress(cidr) };
}

/** True when `ip` lies inside any entry of the pool. Unparseable entries contain nothing. */
export function poolContains(addresses: readonly string[], ip: string): boolean {
  const address = parseIpv4(ip);
  if (address === undefined) {
    return false;
  }
  return addresses.some((entry) => {
    const range = parsePoolAddress(entry);
    return range !== undefined && address >= range.first && address <= range.last;
  });
}

/** Whether the pool entry lies inside the LAN block; entries MetalLB would announce off-LAN are a mistake. */
export function rangeInsideCidr(range: AddressRange, cidrText: string): boolean {
  const cidr = parseCidr(cidrText);
  return cidr !== undefined && cidrContains(cidr, range.first) && cidrContains(cidr, range.last);
}

/** The first address of the pool that is not in `taken` (at most 256 tried per entry), to suggest in a fix. */
export function freePoolAddress(addresses: readonly string[], taken: readonly string[] = []): string | undefined {
  const used = new Set(taken.map(parseIpv4));
  for (const entry of addresses) {
    const range = parsePoolAddress(entry);
    for (
      let address = range?.first ?? 1, tried = 0;
      range && address <= range.last && tried < 256;
      address++, tried++
    ) {
      if (!used.has(address)) {
        return formatIpv4(address);
      }
    }
  }
  return undefined;
}
