/**
 * The lab internet's DNS under DNSSEC. pod-gateway's image validates: v1.13.0's
 * `bin/gateway_sidecar.sh` writes `conf-file=/usr/share/dnsmasq/trust-anchors.conf` and `dnssec`
 * into dnsmasq's config when `GATEWAY_ENABLE_DNSSEC` is true (`config/settings.sh` sets it true),
 * and its Dockerfile installs Alpine's `dnsmasq-dnssec`, whose trust-anchors.conf holds the DS of
 * the real root's key-signing key (dnsmasq's `trust-anchors.conf`). So every answer the gateway
 * hands a routed pod must validate from the root down, and an unsigned or tampered one from a
 * signed zone is refused (SERVFAIL); dnsmasq 2.80 and later also check that unsigned answers
 * really come from unsigned zones (dnsmasq(8), `--dnssec-check-unsigned`, on by default).
 *
 * The lab's internet has a root of its own: a zone signed with a key made per run
 * (`ldns-keygen`, `ldns-signzone`), served by NSD, holding the names the probes look up. The lab's
 * image of pod-gateway carries that root's DS in its trust-anchors.conf, where the real image
 * carries the real root's: the same file, the same config lines, a different root.
 * Pure text in, text out; lab/world.ts runs the tools and the servers.
 */

/** Where the probes' internet names live (`probe<N>.tracker.example.net`): signed, a wildcard. */
export const TRACKER_DOMAIN = "tracker.example.net";
/** A second signed wildcard: the forger serves it unsigned (signatures stripped). */
export const MIRROR_DOMAIN = "mirror.example.net";
/** What the forger points both names at: an internet address that is not the echo server. */
export const FORGED_ADDRESS = "192.0.2.66";

/** The internet's root zone: every probe name resolves to the echo server. */
export function rootZone(addresses: { readonly resolver: string; readonly web: string }): string {
  return [
    "$TTL 300",
    ". IN SOA a.root-servers.example.net. hostmaster.example.net. 1 3600 600 86400 300",
    ". IN NS a.root-servers.example.net.",
    `a.root-servers.example.net. IN A ${addresses.resolver}`,
    `*.${TRACKER_DOMAIN}. IN A ${addresses.web}`,
    `*.${MIRROR_DOMAIN}. IN A ${addresses.web}`,
    "",
  ].join("\n");
}

/** One record of `ldns-signzone`'s output (one record per line: owner, TTL, class, type, data). */
interface ZoneLine {
  readonly owner: string;
  readonly type: string;
  /** The type an RRSIG covers. */
  readonly covers?: string;
}

function parseLine(line: string): ZoneLine | undefined {
  const fields = line.trim().split(/\s+/);
  if (fields.length < 5 || line.trim().startsWith(";")) {
    return undefined;
  }
  const [owner, , , type, first] = fields;
  return { owner, type, ...(type === "RRSIG" ? { covers: first } : {}) };
}

/**
 * What a lying resolver serves, made from the signed zone: the tracker names point at
 * {@link FORGED_ADDRESS} under their genuine signatures (tampered: the signature no longer
 * matches), the mirror names point there with their signatures removed (unsigned where the zone is
 * signed). Everything else is the signed zone as it was.
 */
export function forgedZone(signed: string, forged: string = FORGED_ADDRESS): string {
  const tracker = `*.${TRACKER_DOMAIN}.`;
  const mirror = `*.${MIRROR_DOMAIN}.`;
  const out: string[] = [];
  for (const line of signed.split("\n")) {
    const record = parseLine(line);
    if (record?.owner === mirror && record.type === "RRSIG" && record.covers === "A") {
      continue;
    }
    if ((record?.owner === tracker || record?.owner === mirror) && record.type === "A") {
      const fields = line.trim().split(/\s+/);
      out.push([...fields.slice(0, 4), forged].join("\t"));
      continue;
    }
    out.push(line);
  }
  return out.join("\n");
}

/**
 * dnsmasq's `trust-anchor=` line (dnsmasq(8), `--trust-anchor=[<class>],<domain>,<key-tag>,
 * <algorithm>,<digest-type>,<digest>`) for a DS record as `ldns-keygen` writes it
 * (`.	IN	DS	16803 13 2 0dbe…`).
 */
export function trustAnchorLine(ds: string): string {
  const fields = ds.trim().split(/\s+/);
  const at = fields.indexOf("DS");
  if (at < 1 || fields.length < at + 5 || !/^[0-9a-fA-F]+$/.test(fields[at + 4])) {
    throw new Error(`not a DS record: ${ds.trim()}`);
  }
  const [tag, algorithm, digestType, digest] = fields.slice(at + 1, at + 5);
  return `trust-anchor=${fields[0]},${tag},${algorithm},${digestType},${digest.toUpperCase()}`;
}

/** NSD's configuration for one server of the lab's root zone, in the foreground, all files under `dir`. */
export function nsdConfig(options: {
  readonly address: string;
  readonly dir: string;
  readonly zoneFile: string;
}): string {
  const { address, dir, zoneFile } = options;
  return [
    "server:",
    `  ip-address: ${address}`,
    "  port: 53",
    // The lab runs as root in its own namespaces: no user to drop to, no chroot.
    '  username: ""',
    '  chroot: ""',
    `  zonesdir: "${dir}"`,
    '  database: ""',
    `  zonelistfile: "${dir}/zone.list"`,
    `  xfrdfile: "${dir}/xfrd.state"`,
    `  xfrdir: "${dir}"`,
    `  pidfile: "${dir}/nsd.pid"`,
    `  logfile: "${dir}/nsd.log"`,
    "  server-count: 1",
    "remote-control:",
    "  control-enable: no",
    "zone:",
    '  name: "."',
    `  zonefile: "${zoneFile}"`,
    "",
  ].join("\n");
}

/** dig's header flags (`;; flags: qr rd ra ad;`) and status (`status: SERVFAIL`). */
export function digHeader(output: string): { status?: string; flags: string[] } {
  const status = /status: ([A-Z]+)/.exec(output)?.[1];
  const flags = /;; flags:([a-z ]*);/.exec(output)?.[1].trim().split(/\s+/).filter(Boolean) ?? [];
  return { ...(status ? { status } : {}), flags };
}
