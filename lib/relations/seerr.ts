import {
  HttpClient,
  HttpRequest,
  HttpResponse,
  answerStart,
  credentialsRefused,
  describe,
  relationError,
  send,
  sendJson,
} from "./http";
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

/**
 * The media server Seerr reads libraries from and signs its first admin in through. Plex: the
 * account token that owns the server (none: the user signs in by hand), and whether a claim token
 * was given to Plex. Jellyfin: the administrator the program made through Jellyfin's startup wizard.
 */
export type SeerrMediaServer =
  | {
      readonly kind: "plex";
      readonly hostname: string;
      readonly port: number;
      /** `charmarr:plexToken`: a plex.tv account token. */
      readonly token?: string;
      /** Whether `charmarr:plexClaim` was given to Plex (PLEX_CLAIM), for the message when the link fails. */
      readonly claimGiven: boolean;
    }
  | {
      readonly kind: "jellyfin";
      readonly hostname: string;
      readonly port: number;
      readonly username: string;
      readonly password: string;
    };

export interface SeerrReconcile {
  readonly services: readonly SeerrService[];
  /** Names the relation created before: only these are updated, and deleted once no longer desired; no other entry is touched. */
  readonly owned: readonly string[];
  /** The media server to sign Seerr in through and link while Seerr is not set up yet. */
  readonly mediaServer?: SeerrMediaServer;
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

/** Sends a request whatever the answer's status; no answer at all is a RelationError naming the request. */
async function ask(http: HttpClient, request: HttpRequest): Promise<HttpResponse> {
  try {
    return await http.send(request);
  } catch (error) {
    throw relationError(`${APP} did not answer ${describe(request)}: ${(error as Error).message}`);
  }
}

/**
 * Sends a request with the API key. Seerr answers 403 when the key is not its `API_KEY` or has no
 * user 1 yet (seerr v3.1.0 server/middleware/auth.ts L13-23, L47-56): asking again cannot help.
 */
async function sendAuthed(
  http: HttpClient,
  target: SeerrTarget,
  request: HttpRequest,
  accept: readonly number[],
): Promise<HttpResponse> {
  const signed = authed(target, request);
  const answer = await ask(http, signed);
  if (answer.status === 403) {
    throw credentialsRefused(
      `seerr refused the program's API key on ${describe(signed)} (HTTP 403: ${answerStart(answer)}): Seerr takes its key from API_KEY (the Secret seerr-credentials) at start, and it acts as Seerr's first user; restart Seerr if the key changed since it started`,
    );
  }
  return send({ send: async () => answer }, APP, signed, accept);
}

async function sendAuthedJson<T>(
  http: HttpClient,
  target: SeerrTarget,
  request: HttpRequest,
  accept: readonly number[],
): Promise<T> {
  const answer = await sendAuthed(http, target, request, accept);
  return sendJson<T>({ send: async () => answer }, APP, request, accept);
}

/** `GET /api/v1/status` needs no key: answers once Seerr has started. */
export async function seerrStatus(http: HttpClient): Promise<void> {
  await send(http, APP, { method: "GET", path: "/api/v1/status" }, [200]);
}

/** `main.mediaServerType` (seerr v3.1.0 server/constants/server.ts L1-6): 4 until a first sign-in sets it. */
const NOT_CONFIGURED = 4;
/** `serverType` of a Jellyfin sign-in (server/constants/server.ts: JELLYFIN = 2). */
const JELLYFIN = 2;

/** What the user does by hand, when the program cannot set Seerr up. */
const SIGN_IN_BY_HAND =
  "the next pulumi up adds Radarr and Sonarr once Seerr is set up (Seerr's address: pulumi stack output urls)";

/**
 * Seerr's API key acts as its first user, whom only the sign-in of its setup creates (seerr v3.1.0
 * server/middleware/auth.ts L13-23). The relation does that sign-in itself when it can: with a Plex
 * account token (`POST /auth/plex`, routes/auth.ts L82-97), or with the Jellyfin administrator the
 * program made (`POST /auth/jellyfin`, L314-412), then links Plex and marks the setup done. When it
 * cannot, it says at once what the user has to do, as the detail of a `waiting` change. A sign-in
 * that happened before (`mediaServerType` set) is not repeated: Seerr refuses a second Jellyfin
 * hostname (L254-257), and the API key already has its user.
 */
async function ensureSetUp(
  http: HttpClient,
  target: SeerrTarget,
  media: SeerrMediaServer | undefined,
): Promise<{ ready: true } | { ready: false; detail: string }> {
  const settings = await sendJson<{ initialized?: boolean; mediaServerType?: number }>(
    http,
    APP,
    { method: "GET", path: "/api/v1/settings/public" },
    [200],
  );
  if (settings?.initialized === true) {
    return { ready: true };
  }
  const signedIn = settings?.mediaServerType !== undefined && settings.mediaServerType !== NOT_CONFIGURED;
  if (media === undefined || (media.kind === "plex" && media.token === undefined)) {
    return {
      ready: false,
      detail: signedIn
        ? `Seerr's setup is not finished: finish it in Seerr's web UI; ${SIGN_IN_BY_HAND}`
        : `Seerr has no admin yet: sign in to Seerr once with the Plex account that owns the server and finish its setup, or give the program that account's token (pulumi config set --secret charmarr:plexToken <token>); ${SIGN_IN_BY_HAND}`,
    };
  }
  if (!signedIn) {
    const refused = await signIn(http, media);
    if (refused !== undefined) {
      return { ready: false, detail: refused };
    }
  }
  if (media.kind === "plex") {
    await linkPlex(http, target, media);
  }
  await sendAuthed(http, target, { method: "POST", path: "/api/v1/settings/initialize" }, [200]);
  return { ready: true };
}

/** The first sign-in; a reason the user must act when Jellyfin refuses the program's administrator. */
async function signIn(http: HttpClient, media: SeerrMediaServer): Promise<string | undefined> {
  if (media.kind === "plex") {
    const answer = await ask(http, { method: "POST", path: "/api/v1/auth/plex", json: { authToken: media.token } });
    if (answer.status !== 200) {
      throw relationError(
        `seerr could not sign in with charmarr:plexToken (POST /api/v1/auth/plex answered HTTP ${answer.status}: ${answerStart(answer)}): Seerr asks plex.tv, so it needs the internet, and plex.tv must know the token; set a valid one with pulumi config set --secret charmarr:plexToken <token>, or remove it and sign in to Seerr by hand`,
      );
    }
    return undefined;
  }
  // The body the setup page sends (seerr v3.1.0 src/components/Setup/JellyfinSetup.tsx L120-129):
  // Seerr builds the URL from hostname, port and urlBase (server/utils/getHostname.ts L15).
  const answer = await ask(http, {
    method: "POST",
    path: "/api/v1/auth/jellyfin",
    json: {
      username: media.username,
      password: media.password,
      hostname: media.hostname,
      port: media.port,
      useSsl: false,
      urlBase: "",
      serverType: JELLYFIN,
    },
  });
  if (answer.status === 200) {
    return undefined;
  }
  // Jellyfin does not know the program's administrator (401 INVALID_CREDENTIALS, server/api/jellyfin.ts
  // L194-204), or it is no longer an administrator there (403 NOT_ADMIN, server/routes/auth.ts L319-322).
  if (answer.status === 401 || answer.status === 403) {
    const why =
      answer.status === 401
        ? "so Jellyfin's startup wizard was finished by hand"
        : "which is no longer an administrator in Jellyfin";
    return `Jellyfin refuses the administrator the program made (POST /api/v1/auth/jellyfin answered HTTP ${answer.status}: ${answerStart(answer)}), ${why}: sign in to Seerr once with a Jellyfin administrator of yours; ${SIGN_IN_BY_HAND}`;
  }
  throw relationError(
    `seerr could not sign in through Jellyfin at ${media.hostname}:${media.port} (POST /api/v1/auth/jellyfin answered HTTP ${answer.status}: ${answerStart(answer)})`,
  );
}

/**
 * Links the in-cluster Plex server: Seerr asks it with the admin's Plex token and refuses with 500
 * `Unable to connect to Plex.` when it does not answer as that account's server (seerr v3.1.0
 * server/routes/settings/index.ts L118-153). A new server belongs to no account until it is claimed.
 */
async function linkPlex(
  http: HttpClient,
  target: SeerrTarget,
  plex: SeerrMediaServer & { kind: "plex" },
): Promise<void> {
  const request: HttpRequest = {
    method: "POST",
    path: "/api/v1/settings/plex",
    json: { ip: plex.hostname, port: plex.port, useSsl: false },
  };
  const answer = await sendAuthed(http, target, request, [200, 500]);
  if (answer.status === 200) {
    return;
  }
  const claim = plex.claimGiven
    ? "Plex was given charmarr:plexClaim, so the claim failed: a claim token lasts 4 minutes and must be of the same account as charmarr:plexToken; set a fresh one from https://plex.tv/claim (pulumi config set --secret charmarr:plexClaim <token>) and run pulumi up at once (Plex restarts and claims itself)"
    : "a new Plex server belongs to no account until it is claimed: get a claim token of that account from https://plex.tv/claim and run pulumi config set --secret charmarr:plexClaim <token>, then pulumi up within 4 minutes (Plex restarts and claims itself); or claim it in Plex's web UI signed in with that account, then run pulumi up";
  throw relationError(
    `seerr could not read the Plex server at ${plex.hostname}:${plex.port} with the account of charmarr:plexToken (${describe(request)} answered HTTP ${answer.status}: ${answerStart(answer)}); ${claim}`,
  );
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
  const answer = await sendAuthedJson<{ profiles?: { id: number; name: string }[] }>(
    http,
    target,
    {
      method: "POST",
      path: `/api/v1/settings/${service.kind}/test`,
      json: {
        hostname: service.hostname,
        port: service.port,
        apiKey: service.apiKey,
        useSsl: false,
        baseUrl: service.baseUrl,
      },
    },
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
 * service, saying what the user has to do, while Seerr is not set up and the relation cannot do it.
 */
export async function reconcileSeerr(
  http: HttpClient,
  target: SeerrTarget,
  spec: SeerrReconcile,
  changes: Change[] = [],
): Promise<Change[]> {
  const setUp = await ensureSetUp(http, target, spec.mediaServer);
  if (!setUp.ready) {
    changes.push(
      ...spec.services.map((service): Change => ({
        app: APP,
        collection: service.kind,
        name: service.name,
        action: "waiting",
        detail: setUp.detail,
      })),
    );
    return changes;
  }
  const mine = ownership(spec.owned, (name) => name.toLowerCase());
  for (const kind of ["radarr", "sonarr"] as const) {
    const path = `/api/v1/settings/${kind}`;
    const stored = (await sendAuthedJson<StoredService[]>(http, target, { method: "GET", path }, [200])) ?? [];
    const find = (name: string) => stored.find((entry) => entry.name.toLowerCase() === name.toLowerCase());
    const desired = spec.services.filter((service) => service.kind === kind);
    for (const service of desired) {
      const found = find(service.name);
      if (found !== undefined && !mine(service.name)) {
        changes.push({ app: APP, collection: kind, name: service.name, action: "unmanaged" });
      } else if (found === undefined) {
        const profile = await firstProfile(http, target, service);
        const isDefault = !stored.some((entry) => entry.is4k !== true);
        await sendAuthed(
          http,
          target,
          { method: "POST", path, json: createBody(service, profile, isDefault) },
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
        await sendAuthed(http, target, { method: "PUT", path: `${path}/${id}`, json: body }, [200]);
        changes.push({ app: APP, collection: kind, name: service.name, action: "updated" });
      } else {
        changes.push({ app: APP, collection: kind, name: service.name, action: "unchanged" });
      }
    }
    const wanted = new Set(desired.map((service) => service.name.toLowerCase()));
    for (const name of spec.owned.filter((owned) => !wanted.has(owned.toLowerCase()))) {
      const found = find(name);
      if (found !== undefined) {
        await sendAuthed(http, target, { method: "DELETE", path: `${path}/${found.id}` }, [200]);
        changes.push({ app: APP, collection: kind, name, action: "deleted" });
      }
    }
  }
  return changes;
}
