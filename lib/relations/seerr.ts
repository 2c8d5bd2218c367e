import { HttpClient, HttpRequest, relationError, send, sendJson } from "./http";
import { Change, ownership } from "./servarr";

/** Seerr's API (`/api/v1`, seerr v3.1.0 seerr-api.yml), with the API key it reads from `API_KEY`. */
export interface SeerrTarget {
  readonly apiKey: string;
}

/** One arr app Seerr sends requests to, owned by name. */
export interface SeerrService {
  readonly kind: "radarr" | "sonarr";
  readonly name: string;
  /** In-cluster Service name of the arr app. */
  readonly hostname: string;
  readonly port: number;
  /** The arr app's URL base (`/radarr`), or "". */
  readonly baseUrl: string;
  readonly apiKey: string;
  /** Where Seerr's requests land: the arr app's root folder. */
  readonly activeDirectory: string;
}

/** The Plex server Seerr reads libraries from, and the token of the Plex account that owns it. */
export interface SeerrPlexLink {
  readonly hostname: string;
  readonly port: number;
  readonly token: string;
}

export interface SeerrReconcile {
  readonly services: readonly SeerrService[];
  /** Names the relation created before: only these are updated, and deleted once no longer desired; no other entry is touched. */
  readonly owned: readonly string[];
  /** Sign in to Seerr with this Plex token and link the Plex server when Seerr is not set up yet. */
  readonly plex?: SeerrPlexLink;
  /** Re-send API keys even when nothing else changed (the keys were rotated). */
  readonly rotateSecrets: boolean;
}

const APP = "seerr";

interface StoredService {
  id: number;
  name: string;
  hostname: string;
  port: number;
  baseUrl?: string;
  apiKey: string;
  activeDirectory: string;
  [property: string]: unknown;
}

function authed(target: SeerrTarget, request: HttpRequest): HttpRequest {
  return { ...request, headers: { ...request.headers, "X-Api-Key": target.apiKey } };
}

/** `GET /api/v1/status` needs no key: answers once Seerr has started. */
export async function seerrStatus(http: HttpClient): Promise<void> {
  await send(http, APP, { method: "GET", path: "/api/v1/status" }, [200]);
}

/**
 * Seerr's API key acts as its first user, which only exists after the Plex sign-in of its setup.
 * With a Plex token the relation does that sign-in itself (`POST /api/v1/auth/plex` creates the first
 * user as administrator), links the in-cluster Plex server and marks the setup done.
 */
async function ensureSetUp(
  http: HttpClient,
  target: SeerrTarget,
  plex: SeerrPlexLink | undefined,
): Promise<"ready" | "waiting"> {
  const settings = await sendJson<{ initialized?: boolean }>(
    http,
    APP,
    { method: "GET", path: "/api/v1/settings/public" },
    [200],
  );
  if (settings?.initialized === true) {
    return "ready";
  }
  if (plex === undefined) {
    return "waiting";
  }
  await send(http, APP, { method: "POST", path: "/api/v1/auth/plex", json: { authToken: plex.token } }, [200]);
  await send(
    http,
    APP,
    authed(target, {
      method: "POST",
      path: "/api/v1/settings/plex",
      json: { ip: plex.hostname, port: plex.port, useSsl: false },
    }),
    [200],
  );
  await send(http, APP, authed(target, { method: "POST", path: "/api/v1/settings/initialize" }), [200]);
  return "ready";
}

function owns(service: SeerrService, stored: StoredService, rotateSecrets: boolean): boolean {
  return (
    stored.hostname === service.hostname &&
    stored.port === service.port &&
    (stored.baseUrl ?? "") === service.baseUrl &&
    stored.activeDirectory === service.activeDirectory &&
    (!rotateSecrets || stored.apiKey === service.apiKey)
  );
}

/** The quality profile a new entry starts with: the arr app's first (Seerr's own test call lists them). */
async function firstProfile(
  http: HttpClient,
  target: SeerrTarget,
  service: SeerrService,
): Promise<{ id: number; name: string }> {
  const answer = await sendJson<{ profiles?: { id: number; name: string }[] }>(
    http,
    APP,
    authed(target, {
      method: "POST",
      path: `/api/v1/settings/${service.kind}/test`,
      json: {
        hostname: service.hostname,
        port: service.port,
        apiKey: service.apiKey,
        useSsl: false,
        baseUrl: service.baseUrl,
      },
    }),
    [200],
  );
  const profile = answer?.profiles?.[0];
  if (profile === undefined) {
    throw relationError(
      `seerr reached ${service.kind} (POST /api/v1/settings/${service.kind}/test) but ${service.kind} lists no quality profile`,
    );
  }
  return profile;
}

/**
 * A new entry is the default only when its kind has no (non-4K) server yet: Seerr clears the
 * default of every other server of that kind and is4k when a new one is the default (seerr v3.1.0
 * server/routes/settings/radarr.ts L22-31, sonarr.ts), which would take the user's choice away.
 */
function createBody(
  service: SeerrService,
  profile: { id: number; name: string },
  isDefault: boolean,
): Record<string, unknown> {
  const common = {
    name: service.name,
    hostname: service.hostname,
    port: service.port,
    apiKey: service.apiKey,
    useSsl: false,
    baseUrl: service.baseUrl,
    activeProfileId: profile.id,
    activeProfileName: profile.name,
    activeDirectory: service.activeDirectory,
    is4k: false,
    isDefault,
  };
  return service.kind === "radarr"
    ? { ...common, minimumAvailability: "released" }
    : { ...common, enableSeasonFolders: true };
}

/**
 * Brings Seerr's owned Radarr/Sonarr entries to `services`. Returns a `waiting` change per
 * service while Seerr is not set up and no Plex token lets the relation do it.
 */
export async function reconcileSeerr(
  http: HttpClient,
  target: SeerrTarget,
  spec: SeerrReconcile,
  changes: Change[] = [],
): Promise<Change[]> {
  if ((await ensureSetUp(http, target, spec.plex)) === "waiting") {
    changes.push(
      ...spec.services.map((service): Change => ({
        app: APP,
        collection: service.kind,
        name: service.name,
        action: "waiting",
      })),
    );
    return changes;
  }
  const mine = ownership(spec.owned, (name) => name.toLowerCase());
  for (const kind of ["radarr", "sonarr"] as const) {
    const path = `/api/v1/settings/${kind}`;
    const stored = (await sendJson<StoredService[]>(http, APP, authed(target, { method: "GET", path }), [200])) ?? [];
    const find = (name: string) => stored.find((entry) => entry.name.toLowerCase() === name.toLowerCase());
    const desired = spec.services.filter((service) => service.kind === kind);
    for (const service of desired) {
      const found = find(service.name);
      if (found !== undefined && !mine(service.name)) {
        changes.push({ app: APP, collection: kind, name: service.name, action: "unmanaged" });
      } else if (found === undefined) {
        const profile = await firstProfile(http, target, service);
        const isDefault = !stored.some((entry) => entry.is4k !== true);
        await send(
          http,
          APP,
          authed(target, { method: "POST", path, json: createBody(service, profile, isDefault) }),
          [200, 201],
        );
        changes.push({ app: APP, collection: kind, name: service.name, action: "created" });
      } else if (!owns(service, found, spec.rotateSecrets)) {
        const { id, ...rest } = found;
        const body = {
          ...rest,
          hostname: service.hostname,
          port: service.port,
          baseUrl: service.baseUrl,
          apiKey: service.apiKey,
          activeDirectory: service.activeDirectory,
        };
        await send(http, APP, authed(target, { method: "PUT", path: `${path}/${id}`, json: body }), [200]);
        changes.push({ app: APP, collection: kind, name: service.name, action: "updated" });
      } else {
        changes.push({ app: APP, collection: kind, name: service.name, action: "unchanged" });
      }
    }
    const wanted = new Set(desired.map((service) => service.name.toLowerCase()));
    for (const name of spec.owned.filter((owned) => !wanted.has(owned.toLowerCase()))) {
      const found = find(name);
      if (found !== undefined) {
        await send(http, APP, authed(target, { method: "DELETE", path: `${path}/${found.id}` }), [200]);
        changes.push({ app: APP, collection: kind, name, action: "deleted" });
      }
    }
  }
  return changes;
}
