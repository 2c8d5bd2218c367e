import { pbkdf2Sync } from "node:crypto";

/**
 * qBittorrent's stored WebUI password: PBKDF2-HMAC-SHA512, 100000 iterations, a 16-byte salt and a
 * 64-byte key, stored as `base64(salt):base64(key)` (qBittorrent release-5.1.4
 * src/base/utils/password.cpp, `hashIterations`, `hashMethod`, `generate`).
 */
export const QBITTORRENT_PBKDF2 = { iterations: 100000, digest: "sha512", keyLength: 64, saltLength: 16 } as const;

/**
 * Hashes already derived, by salt and password. 100000 iterations take tens of milliseconds, and a
 * test run or `npm run plan` derives the same hash (the same generated password and salt) once per
 * configuration it plans.
 */
const derivedHashes = new Map<string, string>();

/** The value qBittorrent keeps inside `WebUI\Password_PBKDF2="@ByteArray(...)"` for `password` and `salt`. */
export function qbittorrentPasswordHash(password: string, salt: Buffer): string {
  if (salt.length !== QBITTORRENT_PBKDF2.saltLength) {
    throw new Error(`qBittorrent's password salt is ${QBITTORRENT_PBKDF2.saltLength} bytes, not ${salt.length}`);
  }
  const cacheKey = `${salt.toString("base64")}:${password}`;
  const derived = derivedHashes.get(cacheKey);
  if (derived !== undefined) return derived;
  const key = pbkdf2Sync(
    Buffer.from(password, "utf8"),
    salt,
    QBITTORRENT_PBKDF2.iterations,
    QBITTORRENT_PBKDF2.keyLength,
    QBITTORRENT_PBKDF2.digest,
  );
  const hash = `${salt.toString("base64")}:${key.toString("base64")}`;
  derivedHashes.set(cacheKey, hash);
  return hash;
}

/** The WebUI user the program creates in qBittorrent (at least 3 characters, no `:`, as qBittorrent 5.2 requires). */
export const QBITTORRENT_USERNAME = "charmarr";
