// Stand-ins for Seerr and the media servers it links, built from their sources: Seerr v3.1.0
// (seerr-team/seerr, paths below are that tag's), Jellyfin v10.11.11 (jellyfin/jellyfin), and Plex,
// whose server is closed source. Seerr calls the other stand-ins the way it calls the real apps: the
// arr apps and the media server through the in-cluster address the relation gives it, which the
// FakeNetwork resolves to a stand-in (the cluster's DNS and Services).
import { DocumentValidator, SeenRequest } from "./apiDocuments";
import { FakeApp, Reply } from "./fakeApps";
import { FakeNetwork } from "./fakeNetwork";

/** A plex.tv account, as `GET https://plex.tv/users/account.json` answers for its token (server/api/plextv.ts L212-225). */
export interface PlexAccount {
  readonly id: number;
  readonly email: string;
  readonly username: string;
  readonly authToken: string;
}

/** `main.mediaServerType` (server/constants/server.ts L1-6). */
const MEDIA_SERVER = { plex: 1, jellyfin: 2, emby: 3, notConfigured: 4 } as const;

interface SeerrUser {
  readonly id: number;
  readonly email: string;
  readonly plexToken?: string;
  readonly jellyfinUserId?: string;
  readonly admin: boolean;
}

type Service = Record<string, unknown> & { id: number; name: string };

/** An answer another app gave Seerr, or none (connection refused). */
interface Upstream {
  status: number;
  body: unknown;
}

/** What Seerr's axios calls see: the stand-in's answer, JSON when it is JSON, or none (connection refused). */
async function call(
  network: FakeNetwork,
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<Upstream | undefined> {
  try {
    const answer = await network.call(url, {
      method: init.method ?? "GET",
      // ExternalAPI's defaults (seerr v3.1.0 server/api/externalapi.ts L37-41).
      headers: { "content-type": "application/json", accept: "application/json", ...init.headers },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    let body: unknown = answer.text;
    try {
      body = answer.text === "" ? undefined : JSON.parse(answer.text);
    } catch {
      // not JSON: kept as text
    }
    return { status: answer.status, body };
  } catch {
    return undefined;
  }
}

const ok = (answer: Upstream | undefined): answer is Upstream =>
  answer !== undefined && answer.status >= 200 && answer.status < 300;

/**
 * Seerr v3.1.0, as the relation meets it: the API key from `API_KEY` acting as user 1, the first
 * sign-in through Plex or Jellyfin, `initialized`, the Plex link and the Radarr/Sonarr settings.
 *
 * Modelled (each with its source):
 * - every `/api/v1` request is checked against seerr-api.yml (express-openapi-validator,
 *   `validateRequests: true`, server/index.ts L223-228): 400 otherwise;
 * - `X-Api-Key` equal to the key makes the request user 1 (server/middleware/auth.ts L13-23); with no
 *   such user, or a wrong key, `/settings/*` answers 403 `You do not have permission to access this
 *   endpoint` (L47-56; routes/index.ts L150); `/status`, `/settings/public` and `/auth/*` need no
 *   user (routes/index.ts L50, L107, L174);
 * - errors are `{"message": …}` with the route's status (server/index.ts L248-262), except the
 *   routes that answer `{"error": …}` themselves (routes/auth.ts L66, L249-259);
 * - `POST /auth/plex` (routes/auth.ts L49-220): no token 500 (L54-59); a media server that is set
 *   and is not Plex 500 `Plex login is disabled` (L61-67); a token plex.tv does not know 500
 *   `Unable to authenticate.` (L209-218); with no user yet the account becomes user 1, the admin,
 *   and `mediaServerType` becomes Plex (L82-97);
 * - `POST /auth/jellyfin` (routes/auth.ts L226-594): the checks of L241-260; the login
 *   `POST /Users/AuthenticateByName` to `http(s)://<hostname>:<port><urlBase>`
 *   (server/utils/getHostname.ts L15; server/api/jellyfin.ts L162-217): no answer 404 INVALID_URL,
 *   401 INVALID_CREDENTIALS; the first user must be a Jellyfin administrator (403 NOT_ADMIN, L319-322)
 *   and `serverType` 2 or 3 (500 NO_ADMIN_USER, L324-329); then user 1 is created, a Jellyfin API key
 *   named Seerr is made (`POST /Auth/Keys?App=Seerr`, `GET /Auth/Keys`, jellyfin.ts L453-468) and the
 *   server's name read from `/System/Info/Public` (L234-249), and the Jellyfin settings saved (L394-412);
 * - `POST /settings/plex` (routes/settings/index.ts L118-153): merges the body, asks
 *   `GET http://<ip>:<port>/` with user 1's Plex token (server/api/plexapi.ts L107-128) and answers
 *   500 `Unable to connect to Plex.` unless the server answers a `machineIdentifier`;
 * - `POST /settings/initialize` (routes/settings/index.ts L809-820);
 * - `/settings/radarr|sonarr` (routes/settings/radarr.ts, sonarr.ts): POST stores the body with
 *   `id = last + 1` (first 0) and clears the other defaults of the same is4k (radarr.ts L15-37), PUT
 *   replaces it (L77-109), DELETE removes it (L137-152), 404 `Settings instance not found` for an
 *   unknown id; `/test` asks the arr app itself with `?apikey=` (server/api/servarr/base.ts L82-86,
 *   L117-183; server/api/externalapi.ts L33-42): system status (Radarr tolerates its failure,
 *   radarr.ts L50-53; Sonarr does not, sonarr.ts L46), quality profiles, root folders, tags, and
 *   answers 500 `Failed to connect to Radarr`/`Sonarr` when any fails (radarr.ts L67-74, sonarr.ts L66-73).
 *
 * Left out: the session cookie a sign-in sets (the relation uses the API key only); plex.tv itself
 * (the `plexTv` table stands for `users/account.json`); a Plex account other than the admin's signing
 * in (L98-200 ask plex.tv whether it shares the server: the stand-in refuses every other account,
 * stricter than Seerr); the `X-API-User` header (the relation never sends it); jobs Seerr starts
 * after a sign-in (`startJobs`); Sonarr's language profiles (asked only of Sonarr ≤ 3, sonarr.ts L52-53).
 */
export class FakeSeerr extends FakeApp {
  readonly name = "seerr";
  protected readonly readingPosts = ["/api/v1/settings/radarr/test", "/api/v1/settings/sonarr/test"];
  initialized = false;
  mediaServerType: number = MEDIA_SERVER.notConfigured;
  readonly users: SeerrUser[] = [];
  plex: Record<string, unknown> = { name: "", ip: "", port: 32400, useSsl: false, libraries: [] };
  jellyfin: Record<string, unknown> = { name: "", ip: "", port: 8096, useSsl: false, urlBase: "", apiKey: "" };
  readonly services: Record<"radarr" | "sonarr", Service[]> = { radarr: [], sonarr: [] };

  private constructor(
    private readonly validator: DocumentValidator,
    readonly apiKey: string,
    private readonly plexTv: readonly PlexAccount[],
    private readonly network: FakeNetwork,
  ) {
    super();
  }

  static async create(
    apiKey: string,
    options: { plexTv?: readonly PlexAccount[]; network?: FakeNetwork } = {},
  ): Promise<FakeSeerr> {
    const validator = await DocumentValidator.load("seerr-api.3.1.0.yml");
    return new FakeSeerr(validator, apiKey, options.plexTv ?? [], options.network ?? new FakeNetwork()).start();
  }

  /** A user signs in through the web UI (what the relation asks the user to do by hand). */
  signInByHand(email: string): void {
    this.users.push({ id: this.users.length + 1, email, admin: this.users.length === 0 });
    if (this.mediaServerType === MEDIA_SERVER.notConfigured) {
      this.mediaServerType = MEDIA_SERVER.plex;
    }
  }

  protected async handle(request: SeenRequest & { rawPath: string }): Promise<Reply> {
    if (!request.rawPath.startsWith("/api/v1/")) {
      return this.refuse(404, `${request.method} ${request.rawPath} is outside Seerr's API (/api/v1)`);
    }
    const path = request.rawPath.slice("/api/v1".length);
    const checked = this.validator.check({ ...request, path });
    if (checked.problem !== undefined) {
      return this.refuse(400, checked.problem);
    }
    const user = request.headers["x-api-key"] === this.apiKey ? this.users.find((u) => u.id === 1) : undefined;
    const body = (request.body ?? {}) as Record<string, unknown>;
    if (path === "/status") {
      return { status: 200, body: { version: "3.1.0", commitTag: "v3.1.0", updateAvailable: false, commitsBehind: 0 } };
    }
    if (path === "/settings/public") {
      return { status: 200, body: { initialized: this.initialized, mediaServerType: this.mediaServerType } };
    }
    if (path === "/auth/plex") {
      return this.plexSignIn(body);
    }
    if (path === "/auth/jellyfin") {
      return this.jellyfinSignIn(body);
    }
    if (!path.startsWith("/settings/")) {
      return this.refuse(404, `${request.method} ${path}: the stand-in does not serve this operation`);
    }
    if (user === undefined || !user.admin) {
      this.violations.push(
        `${request.method} ${path}: ${user === undefined ? "no user 1 for this API key" : "not an admin"}`,
      );
      return { status: 403, body: { status: 403, error: "You do not have permission to access this endpoint" } };
    }
    if (path === "/settings/plex") {
      return this.linkPlex(user, body);
    }
    if (path === "/settings/initialize") {
      this.initialized = true;
      return { status: 200, body: { initialized: true } };
    }
    return this.arrSettings(request.method, path, body);
  }

  private async plexSignIn(body: Record<string, unknown>): Promise<Reply> {
    if (!body.authToken) {
      return { status: 500, body: { message: "Authentication token required." } };
    }
    if (this.mediaServerType !== MEDIA_SERVER.notConfigured && this.mediaServerType !== MEDIA_SERVER.plex) {
      return { status: 500, body: { error: "Plex login is disabled" } };
    }
    const account = this.plexTv.find((candidate) => candidate.authToken === body.authToken);
    if (account === undefined) {
      return { status: 500, body: { message: "Unable to authenticate." } };
    }
    if (this.users.length === 0) {
      this.users.push({ id: 1, email: account.email, plexToken: account.authToken, admin: true });
      this.mediaServerType = MEDIA_SERVER.plex;
      return { status: 200, body: { id: 1, email: account.email } };
    }
    const existing = this.users.find((u) => u.plexToken === account.authToken);
    return existing === undefined
      ? { status: 403, body: { message: "Access denied." } }
      : { status: 200, body: { id: existing.id, email: existing.email } };
  }

  private async jellyfinSignIn(body: Record<string, unknown>): Promise<Reply> {
    if (this.mediaServerType !== MEDIA_SERVER.notConfigured && this.mediaServerType !== MEDIA_SERVER.jellyfin) {
      return { status: 500, body: { error: "Jellyfin login is disabled" } };
    }
    if (!body.username) {
      return { status: 500, body: { error: "You must provide an username" } };
    } else if (this.jellyfin.ip !== "" && body.hostname) {
      return { status: 500, body: { error: "Jellyfin hostname already configured" } };
    } else if (this.jellyfin.ip === "" && !body.hostname) {
      return { status: 500, body: { error: "No hostname provided." } };
    }
    const settings =
      this.jellyfin.ip !== ""
        ? this.jellyfin
        : { ip: body.hostname, port: body.port, urlBase: body.urlBase, useSsl: body.useSsl };
    // getHostname: `undefined` stays in the URL when the client leaves port or urlBase out.
    const base = `${settings.useSsl ? "https" : "http"}://${String(settings.ip)}:${String(settings.port)}${String(settings.urlBase)}`;
    const client = 'MediaBrowser Client="Seerr", Device="Seerr", DeviceId="BOT_seerr", Version="3.1.0"';
    const login = await call(this.network, `${base}/Users/AuthenticateByName`, {
      method: "POST",
      headers: { authorization: client },
      body: { Username: body.username, Pw: body.password },
    });
    if (login === undefined) {
      return { status: 404, body: { message: "INVALID_URL" } };
    }
    if (login.status === 401) {
      return { status: 401, body: { message: "INVALID_CREDENTIALS" } };
    }
    if (!ok(login)) {
      return { status: 500, body: { message: "Something went wrong." } };
    }
    const account = login.body as {
      User: { Id: string; Name: string; ServerId: string; Policy: { IsAdministrator: boolean } };
      AccessToken: string;
    };
    const known = this.users.find((u) => u.jellyfinUserId === account.User.Id);
    if ((known === undefined && this.users.length === 0) || this.mediaServerType === MEDIA_SERVER.notConfigured) {
      if (!account.User.Policy.IsAdministrator) {
        return { status: 403, body: { message: "NOT_ADMIN" } };
      }
      if (body.serverType !== MEDIA_SERVER.jellyfin && body.serverType !== MEDIA_SERVER.emby) {
        return { status: 500, body: { message: "NO_ADMIN_USER" } };
      }
      this.mediaServerType = Number(body.serverType);
      if (this.users.length === 0) {
        this.users.push({
          id: 1,
          email: String(body.email || account.User.Name),
          jellyfinUserId: account.User.Id,
          admin: true,
        });
      }
      const withToken = { authorization: `${client.slice(0, -1)}, Token="${account.AccessToken}"` };
      const created = await call(this.network, `${base}/Auth/Keys?App=Seerr`, { method: "POST", headers: withToken });
      const keys = ok(created) ? await call(this.network, `${base}/Auth/Keys`, { headers: withToken }) : undefined;
      const key = ok(keys)
        ? (keys.body as { Items: { AppName: string; AccessToken: string }[] }).Items.reverse().find(
            (item) => item.AppName === "Seerr",
          )
        : undefined;
      const info = await call(this.network, `${base}/System/Info/Public`);
      if (key === undefined || !ok(info)) {
        return { status: 500, body: { message: "INVALID_AUTH_TOKEN" } };
      }
      this.jellyfin = {
        name: (info.body as { ServerName: string }).ServerName,
        serverId: account.User.ServerId,
        ip: body.hostname ?? "",
        port: body.port ?? 8096,
        urlBase: body.urlBase ?? "",
        useSsl: body.useSsl ?? false,
        apiKey: key.AccessToken,
      };
      return { status: 200, body: { id: 1, email: this.users[0].email } };
    }
    return known === undefined
      ? { status: 403, body: { message: "Access denied." } }
      : { status: 200, body: { id: known.id, email: known.email } };
  }

  private async linkPlex(admin: SeerrUser, body: Record<string, unknown>): Promise<Reply> {
    this.plex = { ...this.plex, ...body };
    const status = await call(
      this.network,
      `${this.plex.useSsl ? "https" : "http"}://${String(this.plex.ip)}:${String(this.plex.port)}/`,
      { headers: { "x-plex-token": admin.plexToken ?? "" } },
    );
    const container = ok(status)
      ? (status.body as { MediaContainer?: { machineIdentifier?: string; friendlyName?: string } }).MediaContainer
      : undefined;
    if (container?.machineIdentifier === undefined) {
      return { status: 500, body: { message: "Unable to connect to Plex." } };
    }
    this.plex = { ...this.plex, machineId: container.machineIdentifier, name: container.friendlyName };
    return { status: 200, body: this.plex };
  }

  private async arrSettings(method: string, path: string, body: Record<string, unknown>): Promise<Reply> {
    const match = /^\/settings\/(radarr|sonarr)(?:\/(test|\d+))?$/.exec(path);
    if (match === null) {
      return this.refuse(404, `${method} ${path}: the stand-in does not serve this operation`);
    }
    const kind = match[1] as "radarr" | "sonarr";
    const list = this.services[kind];
    const title = kind === "radarr" ? "Radarr" : "Sonarr";
    if (match[2] === "test") {
      const base = `${body.useSsl ? "https" : "http"}://${String(body.hostname)}:${String(body.port)}${String(body.baseUrl ?? "")}/api/v3`;
      const get = (resource: string) =>
        call(this.network, `${base}/${resource}?apikey=${encodeURIComponent(String(body.apiKey))}`);
      const status = await get("system/status");
      const profiles = await get("qualityProfile");
      const folders = await get("rootfolder");
      const tags = await get("tag");
      if ((kind === "sonarr" && !ok(status)) || !ok(profiles) || !ok(folders) || !ok(tags)) {
        return { status: 500, body: { message: `Failed to connect to ${title}` } };
      }
      return {
        status: 200,
        body: {
          profiles: profiles.body,
          rootFolders: (folders.body as { id: number; path: string }[]).map(({ id, path }) => ({ id, path })),
          tags: tags.body,
          urlBase: ok(status) ? (status.body as { urlBase?: string }).urlBase : body.baseUrl,
        },
      };
    }
    if (match[2] === undefined) {
      if (method === "GET") {
        return { status: 200, body: list };
      }
      const created = { ...body, id: list.length > 0 ? list[list.length - 1].id + 1 : 0 } as Service;
      if (created.isDefault === true) {
        list.filter((service) => service.is4k === created.is4k).forEach((service) => (service.isDefault = false));
      }
      list.push(created);
      return { status: 201, body: created };
    }
    const index = list.findIndex((service) => service.id === Number(match[2]));
    if (index < 0) {
      return { status: 404, body: { message: "Settings instance not found" } };
    }
    if (method === "DELETE") {
      return { status: 200, body: list.splice(index, 1)[0] };
    }
    if (body.isDefault === true) {
      list.filter((service) => service.is4k === body.is4k).forEach((service) => (service.isDefault = false));
    }
    list[index] = { ...body, id: list[index].id } as Service;
    return { status: 200, body: list[index] };
  }
}

/**
 * Plex Media Server, which is closed source: only what Seerr asks of it. `GET /identity` answers
 * anyone; `GET /` answers `MediaContainer.machineIdentifier`/`friendlyName` to its owner's token
 * only. Until it is claimed (`PlexOnlineToken` in Preferences.xml, which the LinuxServer image writes
 * from PLEX_CLAIM: docker-plex root/etc/s6-overlay/s6-rc.d/init-plex-claim/run L6-12, L78-93) it
 * has no owner, so it refuses every token — stricter than a real server, which may let a client of
 * its own network in without one (that image's own advice is to claim such a server from its subnet,
 * L95). Left out: everything else (libraries, sessions).
 */
export class FakePlex extends FakeApp {
  readonly name = "plex";
  owner?: string;
  readonly machineIdentifier = "c0ffee00-plex-machine";

  static create(): Promise<FakePlex> {
    return new FakePlex().start();
  }

  /** The claim the image makes at start from PLEX_CLAIM: plex.tv binds the server to that account. */
  claimFor(accountToken: string): void {
    this.owner = accountToken;
  }

  protected handle(request: SeenRequest & { rawPath: string }): Reply {
    if (request.method === "GET" && request.rawPath === "/identity") {
      return {
        status: 200,
        body: { MediaContainer: { claimed: this.owner !== undefined, machineIdentifier: this.machineIdentifier } },
      };
    }
    if (request.method === "GET" && request.rawPath === "/") {
      if (this.owner === undefined || request.headers["x-plex-token"] !== this.owner) {
        return { status: 401, body: "<html><head><title>Unauthorized</title></head></html>" };
      }
      return {
        status: 200,
        body: { MediaContainer: { machineIdentifier: this.machineIdentifier, friendlyName: "charmarr-plex" } },
      };
    }
    return this.refuse(404, `${request.method} ${request.rawPath}: the stand-in does not serve this operation`);
  }
}

/**
 * The fields of a request's `Authorization: MediaBrowser Key="value", …` header, or of
 * `X-Emby-Authorization` when it has none; none for another scheme (jellyfin v10.11.11
 * Jellyfin.Server.Implementations/Security/AuthorizationContext.cs `GetAuthorizationDictionary`
 * L229-239 and `GetAuthorization` L246-269: the scheme before the first space, MediaBrowser or Emby
 * in any case, the legacy header and scheme with `EnableLegacyAuthorization`, on by default
 * (MediaBrowser.Model/Configuration/ServerConfiguration.cs L290); `GetParts` L276-316: pairs split
 * at commas outside quotes, keys trimmed, values unquoted and URL-decoded).
 */
function authorizationParts(headers: Record<string, string>): Record<string, string> {
  const header = (headers.authorization ?? "") === "" ? (headers["x-emby-authorization"] ?? "") : headers.authorization;
  const space = header.indexOf(" ");
  if (space === -1 || !["mediabrowser", "emby"].includes(header.slice(0, space).toLowerCase())) {
    return {};
  }
  const parts: Record<string, string> = {};
  for (const [, key, value] of header.slice(space + 1).matchAll(/\s*([^=,]+?)\s*=\s*("[^"]*"|[^,]*)\s*(?:,|$)/g)) {
    parts[key] = decodeURIComponent(value.replace(/^"|"$/g, "").replace(/\+/g, " "));
  }
  return parts;
}

/** A Jellyfin user, as `/Users/AuthenticateByName` answers it. */
interface JellyfinUser {
  id: string;
  name: string;
  password: string;
  admin: boolean;
}

/**
 * Jellyfin 10.11.11 (jellyfin/jellyfin v10.11.11), what the program and Seerr ask of it:
 * - `GET /System/Info/Public`, anonymous, with `StartupWizardCompleted`
 *   (Emby.Server.Implementations/SystemManager.cs L121; Jellyfin.Api/Controllers/SystemController.cs L92);
 * - the startup wizard (Jellyfin.Api/Controllers/StartupController.cs; routes `/Startup/<action>`,
 *   Jellyfin.Api/BaseJellyfinApiController.cs L13), open to anyone until it is completed and to
 *   administrators only afterwards (policy FirstTimeSetupOrElevated, StartupController.cs L19;
 *   Jellyfin.Api/Auth/FirstTimeSetupPolicy/FirstTimeSetupHandler.cs L29-44): `POST Configuration`
 *   204 (L74-84), `GET User` makes the first user if there is none and names it (L107-119),
 *   `POST User` 404 with no first user, 400 `Password must not be empty`, else renames it and sets
 *   its password, 204 (L130-160), `POST Complete` 204 (L41-48);
 * - `POST /Users/AuthenticateByName` `{Username, Pw}`: 200 with the user and an access token, 401
 *   otherwise (Jellyfin.Api/Controllers/UserController.cs L209-235); first 400 unless the
 *   `Authorization: MediaBrowser …` header names a Client, Device, DeviceId and Version
 *   (UserController.cs L213-226 passes them on; Emby.Server.Implementations/Session/SessionManager.cs
 *   L1589-1592 `ArgumentException.ThrowIfNullOrEmpty` each; Jellyfin.Api/Middleware/ExceptionMiddleware.cs
 *   L127 answers an ArgumentException 400, L92-98 with "Error processing request." outside development);
 *   the header parsed as Jellyfin.Server.Implementations/Security/AuthorizationContext.cs
 *   `GetAuthorization` and `GetParts` L246-316 do;
 * - `POST /Auth/Keys?App=` and `GET /Auth/Keys` for an administrator's token
 *   (Jellyfin.Api/Controllers/ApiKeyController.cs L16, L35-57, policy RequiresElevation).
 * Left out: the first user's
 * default name (the stand-in calls it `root` before `POST User` renames it); everything else.
 */
export class FakeJellyfin extends FakeApp {
  readonly name = "jellyfin";
  protected readonly readingPosts = ["/Users/AuthenticateByName"];
  wizardCompleted = false;
  readonly users: JellyfinUser[] = [];
  readonly apiKeys: { AppName: string; AccessToken: string }[] = [];
  private readonly sessions = new Map<string, JellyfinUser>();

  static create(): Promise<FakeJellyfin> {
    return new FakeJellyfin().start();
  }

  /** The user finishes the startup wizard in the web UI with an administrator of their own. */
  finishWizardByHand(name: string, password: string): void {
    this.users.push({ id: "user-by-hand", name, password, admin: true });
    this.wizardCompleted = true;
  }

  private caller(headers: Record<string, string>): JellyfinUser | undefined {
    const token = /Token="([^"]*)"/.exec(headers.authorization ?? "")?.[1];
    return token === undefined ? undefined : this.sessions.get(token);
  }

  protected handle(request: SeenRequest & { rawPath: string }): Reply {
    const route = `${request.method} ${request.rawPath}`;
    const body = (request.body ?? {}) as Record<string, unknown>;
    const caller = this.caller(request.headers);
    if (route === "GET /System/Info/Public") {
      return {
        status: 200,
        body: { ServerName: "charmarr-jellyfin", Version: "10.11.11", StartupWizardCompleted: this.wizardCompleted },
      };
    }
    if (request.rawPath.startsWith("/Startup/")) {
      if (this.wizardCompleted && caller?.admin !== true) {
        return { status: 401 };
      }
      switch (route) {
        case "POST /Startup/Configuration":
          return { status: 204 };
        case "GET /Startup/User":
          if (this.users.length === 0) {
            this.users.push({ id: "first-user", name: "root", password: "", admin: true });
          }
          return { status: 200, body: { Name: this.users[0].name } };
        case "POST /Startup/User":
          if (this.users.length === 0) {
            return { status: 404 };
          }
          if (typeof body.Password !== "string" || body.Password.trim() === "") {
            return { status: 400, body: "Password must not be empty" };
          }
          this.users[0].name = typeof body.Name === "string" ? body.Name : this.users[0].name;
          this.users[0].password = body.Password;
          return { status: 204 };
        case "POST /Startup/Complete":
          this.wizardCompleted = true;
          return { status: 204 };
      }
    }
    if (route === "POST /Users/AuthenticateByName") {
      const client = authorizationParts(request.headers);
      if (["Client", "DeviceId", "Device", "Version"].some((field) => (client[field] ?? "") === "")) {
        return { status: 400, body: "Error processing request." };
      }
      const user = this.users.find(
        (candidate) =>
          candidate.name.toLowerCase() === String(body.Username).toLowerCase() && candidate.password === body.Pw,
      );
      if (user === undefined) {
        return { status: 401, body: "Error processing request." };
      }
      const token = `token-${this.sessions.size + 1}`;
      this.sessions.set(token, user);
      return {
        status: 200,
        body: {
          User: { Id: user.id, Name: user.name, ServerId: "jellyfin-server", Policy: { IsAdministrator: user.admin } },
          AccessToken: token,
        },
      };
    }
    if (request.rawPath === "/Auth/Keys") {
      if (caller?.admin !== true) {
        return { status: 401 };
      }
      if (request.method === "POST") {
        this.apiKeys.push({ AppName: request.query.App, AccessToken: `key-${this.apiKeys.length + 1}` });
        return { status: 204 };
      }
      return { status: 200, body: { Items: this.apiKeys } };
    }
    return this.refuse(404, `${route}: the stand-in does not serve this operation`);
  }
}
