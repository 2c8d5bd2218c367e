// In-process stand-ins for the apps, on 127.0.0.1: each checks every request against the app's
// published API (the OpenAPI documents, or the route tables below for qBittorrent's WebUI API and
// SABnzbd's API, from their published references), refuses what the API does not allow, and keeps
// state so a second run can be compared with the first.
import { IncomingMessage, Server, ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { strict as assert } from "node:assert";
import { DocumentName, DocumentValidator, SeenRequest } from "./apiDocuments";
import { FakeNetwork } from "./fakeNetwork";
import { ARR_KIND, SETTINGS, SettingsField, ValidationFailure, failure, validateSettings } from "./servarrSettings";

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** One stand-in app: a server, the requests it saw, what it refused as outside the API, and its state. */
export abstract class FakeApp {
  /** `GET /radarr/api/v3/rootfolder 200`, in order. */
  readonly log: string[] = [];
  /** Requests the published API does not allow (each was refused). */
  readonly violations: string[] = [];
  /** Successful POST/PUT/DELETE requests, except those that only read (a login). */
  mutations = 0;
  /** Paths whose POST changes nothing in the app. */
  protected readonly readingPosts: readonly string[] = [];
  /** While false, every request is answered 503 (an app still starting, or one that never starts). */
  ready = true;
  private server?: Server;

  abstract readonly name: string;
  protected abstract handle(request: SeenRequest & { rawPath: string }): Reply | Promise<Reply>;

  get url(): string {
    const address = this.server?.address() as AddressInfo;
    return `http://127.0.0.1:${address.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  protected refuse(status: number, problem: string): Reply {
    this.violations.push(problem);
    return { status, body: { message: problem } };
  }

  /** A refusal the app answers in plain text, not JSON. */
  protected refuseText(status: number, text: string): Reply {
    this.violations.push(text);
    return { status, body: text };
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) {
      chunks.push(chunk as Buffer);
    }
    const text = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", "http://stand-in");
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(", ") : (v ?? "")]),
    );
    const contentType = headers["content-type"] ?? "";
    let body: unknown = undefined;
    if (text !== "") {
      body = contentType.startsWith("application/json")
        ? safeJson(text)
        : contentType.startsWith("application/x-www-form-urlencoded")
          ? Object.fromEntries(new URLSearchParams(text))
          : text;
    }
    const request = {
      method: req.method ?? "GET",
      rawPath: url.pathname,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      body,
    };
    const reply = this.ready
      ? await this.handle(request)
      : { status: 503, body: { message: `${this.name} is starting` } };
    if (reply.status < 300 && request.method !== "GET" && !this.readingPosts.includes(request.path)) {
      this.mutations += 1;
    }
    this.log.push(`${request.method} ${url.pathname} ${reply.status}`);
    const payload =
      typeof reply.body === "string" ? reply.body : reply.body === undefined ? "" : JSON.stringify(reply.body);
    res.writeHead(reply.status, {
      "content-type": typeof reply.body === "string" ? "text/plain" : "application/json",
      ...reply.headers,
    });
    res.end(payload);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

type Resource = Record<string, unknown> & { id: number };
export type Field = { name: string; value: unknown };

/** What Servarr answers in place of a stored secret (Radarr v6.0.3.10276 src/Radarr.Http/ClientSchema/SchemaBuilder.cs L18). */
const MASKED = "********";

/** How a Servarr stand-in reaches the rest of the cluster, and what exists on its disk. */
export interface ServarrOptions {
  /** The apps it can reach by their cluster names: the download clients its test-on-save calls. */
  readonly network?: FakeNetwork;
  /** Folders that exist and the app's user can write: the only paths a root folder can take. */
  readonly folders?: Iterable<string>;
}

/**
 * Radarr, Sonarr, Lidarr or Prowlarr: provider collections, root folders and profiles, checked
 * against its OpenAPI document, and as strict as the app where it matters to a client:
 * - provider settings are the settings class's fields only, in its order, with its defaults for
 *   fields not sent ({@link SETTINGS}); a field the class does not have is dropped, as the app
 *   drops it, and recorded as a violation; a masked secret sent back keeps the stored value, and
 *   fails the save with HTTP 500 when the entry was stored under another settings class;
 * - a new provider that is enabled is tested before it is saved, and its errors refuse the POST
 *   even with `forceSave` (Radarr v6.0.3.10276 src/Radarr.Api.V3/ProviderControllerBase.cs L78-93,
 *   L307-320); a PUT with `forceSave` is saved untested (L95-125; Prowlarr v2.3.5.5327 L97-110), one
 *   without it tested when it changed (Radarr L113-117) — in Prowlarr always (L101-105);
 *   the tests are those of SABnzbd and qBittorrent ({@link FakeServarr.testSabnzbd},
 *   {@link FakeServarr.testQbittorrent}), Prowlarr's of an application
 *   ({@link FakeServarr.testApplication}) and of its FlareSolverr indexer proxy
 *   ({@link FakeServarr.testFlareSolverr}), which is enabled only with a tag;
 * - tags ({@link FakeServarr.tag});
 * - a root folder must exist and be writable ({@link ServarrOptions.folders}).
 * Sonarr, Lidarr and Prowlarr have the same ProviderControllerBase (Sonarr v4.0.19.2979 L78-125,
 * Lidarr v2.14.5.4836 L78-127, Prowlarr v2.3.5.5327 L77-110).
 */
export class FakeServarr extends FakeApp {
  readonly collections: Record<string, Resource[]> = {
    downloadclient: [],
    applications: [],
    indexerproxy: [],
    rootfolder: [],
  };
  /** The app's tags, as `/tag` answers them. */
  readonly tags: { id: number; label: string }[] = [];
  /**
   * The app's quality profiles and (Lidarr's) metadata profiles, as `/qualityprofile` and
   * `/metadataprofile` answer them. A user can delete every profile that nothing uses (Radarr
   * v6.0.3.10276 src/NzbDrone.Core/Profiles/Qualities/QualityProfileService.cs L65-73); the app adds
   * its defaults again only when it starts with none (L122-127).
   */
  readonly profiles: Record<"qualityprofile" | "metadataprofile", { id: number; name: string }[]> = {
    qualityprofile: [{ id: 3, name: "Standard" }],
    metadataprofile: [{ id: 3, name: "Standard" }],
  };
  readonly folders: Set<string>;
  readonly network: FakeNetwork;
  private nextId = 1;

  constructor(
    readonly name: string,
    private readonly validator: DocumentValidator,
    public basePath: string,
    readonly apiKey: string,
    options: ServarrOptions = {},
  ) {
    super();
    this.network = options.network ?? new FakeNetwork();
    this.folders = new Set(options.folders ?? []);
  }

  static async create(
    name: "radarr" | "sonarr" | "lidarr" | "prowlarr",
    basePath: string,
    apiKey: string,
    options: ServarrOptions = {},
  ): Promise<FakeServarr> {
    const documents: Record<string, DocumentName> = {
      radarr: "radarr-v3.6.0.3.10276.openapi.json",
      sonarr: "sonarr-v3.4.0.19.2979.openapi.json",
      lidarr: "lidarr-v1.2.14.5.4836.openapi.json",
      prowlarr: "prowlarr-v1.2.3.5.5327.openapi.json",
    };
    return new FakeServarr(name, await DocumentValidator.load(documents[name]), basePath, apiKey, options).start();
  }

  /** Entries as a user would see them in the app (secrets unmasked), by name. */
  entry(collection: string, name: string): Resource | undefined {
    return this.collections[collection].find((resource) => resource.name === name);
  }

  fieldOf(collection: string, name: string, field: string): unknown {
    return (this.entry(collection, name)?.fields as Field[] | undefined)?.find((f) => f.name === field)?.value;
  }

  /** A change made by hand in the app's UI. */
  editField(collection: string, name: string, field: string, value: unknown): void {
    const fields = this.entry(collection, name)?.fields as Field[];
    const found = fields.find((f) => f.name === field);
    assert.ok(found, `${this.name} ${collection} ${name} has no field ${field}`);
    found.value = value;
  }

  add(collection: string, resource: Record<string, unknown>): void {
    this.collections[collection].push({ ...resource, id: this.nextId++ });
  }

  protected async handle(request: SeenRequest & { rawPath: string }): Promise<Reply> {
    if (!request.rawPath.startsWith(`${this.basePath}/api/`)) {
      return this.refuse(
        404,
        `${request.method} ${request.rawPath} is outside ${this.name}'s URL base ${this.basePath}`,
      );
    }
    // ASP.NET Core matches routes case-insensitively: Seerr asks for `/api/v3/qualityProfile`
    // (seerr v3.1.0 server/api/servarr/base.ts L132).
    const path = request.rawPath.slice(this.basePath.length).toLowerCase();
    // ApiKeyAuthenticationHandler: the `apikey` query parameter, else X-Api-Key, else a Bearer token;
    // anything but the app's key is HTTP 401 with no body (Radarr v6.0.3.10276
    // src/Radarr.Http/Authentication/ApiKeyAuthenticationHandler.cs L36-84; the same in Sonarr
    // v4.0.19.2979, Lidarr v2.14.5.4836, Prowlarr v2.3.5.5327). The stand-in takes the header, the one way
    // the relations and Prowlarr send it, and the query parameter, which Seerr sends (seerr v3.1.0
    // server/api/servarr/base.ts L103-107); no Bearer token.
    if ((request.query.apikey ?? request.headers["x-api-key"]) !== this.apiKey) {
      this.violations.push(`${request.method} ${path} without ${this.name}'s API key in X-Api-Key`);
      return { status: 401, body: "" };
    }
    const checked = this.validator.check({ ...request, path });
    if (checked.problem !== undefined) {
      return this.refuse(400, checked.problem);
    }
    const match = /^\/api\/v\d\/([a-z/]+?)(?:\/(\d+))?$/.exec(path) as RegExpExecArray;
    const [, resource, idText] = match;
    const id = idText === undefined ? undefined : Number(idText);
    const body = request.body as Record<string, unknown>;
    // Every answer carries the app's version (src/Radarr.Http/Middleware/VersionMiddleware.cs L10),
    // which Prowlarr reads from the indexer test.
    const version = { "x-application-version": SERVARR_VERSION[this.name] };
    switch (resource) {
      case "system/status":
        return { status: 200, body: { appName: this.name, version: SERVARR_VERSION[this.name] }, headers: version };
      case "qualityprofile":
      case "metadataprofile":
        return { status: 200, body: this.profiles[resource] };
      case "downloadclient":
      case "applications":
      case "indexerproxy":
        return this.provider(resource, request.method, id, body, request.query.forceSave === "true");
      case "indexer/schema":
        return { status: 200, body: NEWZNAB_SCHEMAS, headers: version };
      case "indexer/test":
        return { ...this.indexerTest(body), headers: version };
      case "rootfolder":
        return this.rootFolder(request.method, id, body);
      case "tag":
        // Seerr's test of a server lists its tags (seerr v3.1.0 server/routes/settings/radarr.ts L56);
        // the indexer-proxy relation lists Prowlarr's and adds its own.
        return this.tag(request.method, path, id, body);
      default:
        return this.refuse(404, `${request.method} ${path}: the stand-in does not serve this operation`);
    }
  }

  private masked(resource: Resource): Resource {
    const schema = this.schemaOf(resource);
    const fields = (resource.fields as Field[]).map((f) =>
      schema?.find((s) => s.name === f.name)?.masked && f.value !== null && f.value !== ""
        ? { ...f, value: MASKED }
        : f,
    );
    return { ...resource, fields };
  }

  private schemaOf(resource: Record<string, unknown>): readonly SettingsField[] | undefined {
    return SETTINGS[this.name]?.[String(resource.configContract)];
  }

  /**
   * The settings a client's fields make: the class's defaults, then each field the client sent, in
   * the class's order; a masked secret sent back keeps the stored one (SchemaBuilder.cs L52-84).
   */
  private settingsFrom(schema: readonly SettingsField[], given: Field[], previous?: Field[]): Field[] {
    for (const unknown of given.filter((f) => !schema.some((s) => s.name === f.name))) {
      this.violations.push(`${this.name}: field ${unknown.name} is not one of the settings' fields: the app drops it`);
    }
    return schema.map((s) => {
      const sent = given.find((f) => f.name === s.name);
      if (sent === undefined) {
        return { name: s.name, value: structuredClone(s.value) };
      }
      const keep = s.masked && sent.value === MASKED && previous !== undefined;
      return { name: s.name, value: keep ? previous.find((p) => p.name === s.name)?.value : sent.value };
    });
  }

  private async provider(
    collection: string,
    method: string,
    id: number | undefined,
    body: Record<string, unknown>,
    forceSave: boolean,
  ): Promise<Reply> {
    const list = this.collections[collection];
    const index = list.findIndex((resource) => resource.id === id);
    if (method === "GET") {
      return id === undefined
        ? { status: 200, body: list.map((r) => this.masked(r)) }
        : index < 0
          ? { status: 404 }
          : { status: 200, body: this.masked(list[index]) };
    }
    if (method === "DELETE") {
      if (index < 0) {
        return this.refuse(404, `DELETE ${collection}/${id}: no such entry`);
      }
      list.splice(index, 1);
      return { status: 200 };
    }
    // ProviderControllerBase L44-49: name unique (case-insensitive), implementation and configContract required, fields not null.
    const name = String(body.name ?? "");
    if (name === "" || !body.implementation || !body.configContract || !Array.isArray(body.fields)) {
      return this.refuse(400, `${method} ${collection}: name, implementation, configContract and fields are required`);
    }
    if (list.some((resource) => resource.id !== id && String(resource.name).toLowerCase() === name.toLowerCase())) {
      return this.refuse(400, `${method} ${collection}: "${name}" is not unique`);
    }
    // DownloadClientController L17: priority 1..50 (Radarr, Lidarr, Prowlarr; Sonarr's has no such rule).
    if (
      collection === "downloadclient" &&
      this.name !== "sonarr" &&
      (Number(body.priority) < 1 || Number(body.priority) > 50)
    ) {
      return this.refuse(400, `${method} ${collection}: priority must be between 1 and 50`);
    }
    const schema = this.schemaOf(body);
    if (schema === undefined) {
      return this.refuse(400, `${method} ${collection}: ${this.name} has no provider ${String(body.configContract)}`);
    }
    if (method === "PUT" && index < 0) {
      return this.refuse(404, `PUT ${collection}/${id}: no such entry`);
    }
    // ReadFromSchema takes a masked secret's value from the stored settings, read with the sent
    // class's property (Radarr v6.0.3.10276 src/Radarr.Http/ClientSchema/SchemaBuilder.cs L68-75,
    // L176); on another class's settings .NET's PropertyInfo.GetValue throws a TargetException,
    // which the error pipeline answers with HTTP 500 (src/Radarr.Http/ErrorManagement/RadarrErrorPipeline.cs L32-37, L84).
    if (
      method === "PUT" &&
      list[index].configContract !== body.configContract &&
      (body.fields as Field[]).some((f) => f.value === MASKED && schema.some((s) => s.name === f.name && s.masked))
    ) {
      return { status: 500, body: { message: "Object does not match target type." } };
    }
    const previous = method === "PUT" ? (list[index].fields as Field[]) : undefined;
    const stored: Resource = {
      ...body,
      fields: this.settingsFrom(schema, body.fields as Field[], previous),
      id: method === "PUT" ? list[index].id : 0,
    };
    // Prowlarr's applications are enabled by their sync level (ApplicationDefinition.cs L9), an indexer
    // proxy by having a tag (Prowlarr v2.3.5.5327 src/NzbDrone.Core/IndexerProxies/IndexerProxyDefinition.cs L8).
    const enabled =
      collection === "applications"
        ? ["addOnly", "fullSync"].includes(String(body.syncLevel))
        : collection === "indexerproxy"
          ? Array.isArray(body.tags) && body.tags.length > 0
          : body.enable === true;
    const changed = method === "POST" || JSON.stringify(stored) !== JSON.stringify(list[index]);
    // GetDefinition (L168-178) validates an enabled provider's settings, then CreateProvider tests it
    // (L85-88); Radarr's UpdateProvider tests only without forceSave and when it changed (L113-117),
    // Prowlarr's on every PUT without forceSave, changed or not (Prowlarr v2.3.5.5327
    // src/Prowlarr.Api.V1/ProviderControllerBase.cs L101-105).
    const testsUpdate = !forceSave && (changed || this.name === "prowlarr");
    const settings = Object.fromEntries((stored.fields as Field[]).map((f) => [f.name, f.value]));
    const invalid = enabled ? validateSettings(this.name, String(body.configContract), settings) : [];
    const failures =
      invalid.some((f) => !f.isWarning || !forceSave) || !(enabled && (method === "POST" || testsUpdate))
        ? invalid
        : [...invalid, ...(await this.test(collection, stored))];
    // VerifyValidationResult L307-320: errors always refuse; warnings unless forceSave.
    const refused = failures.filter((f) => !f.isWarning || !forceSave);
    if (refused.length > 0) {
      return { status: 400, body: refused };
    }
    if (method === "POST") {
      stored.id = this.nextId++;
      list.push(stored);
      return { status: 201, body: this.masked(stored) };
    }
    list[index] = stored;
    return { status: 202, body: this.masked(stored) };
  }

  /** The provider's own test, as the app runs it before saving. */
  private test(collection: string, provider: Resource): Promise<ValidationFailure[]> {
    const settings = Object.fromEntries((provider.fields as Field[]).map((f) => [f.name, f.value]));
    if (collection === "applications") {
      return this.testApplication(settings);
    }
    if (collection === "indexerproxy") {
      return this.testFlareSolverr(settings);
    }
    return provider.implementation === "Sabnzbd" ? this.testSabnzbd(settings) : this.testQbittorrent(settings);
  }

  private clientUrl(settings: Record<string, unknown>, path: string): string {
    const urlBase = String(settings.urlBase ?? "")
      .replace(/^\/*/, "/")
      .replace(/\/+$/, "");
    return `${settings.useSsl === true ? "https" : "http"}://${String(settings.host)}:${String(settings.port)}${urlBase === "/" ? "" : urlBase}${path}`;
  }

  /**
   * SABnzbd's test (Radarr v6.0.3.10276 src/NzbDrone.Core/Download/Clients/Sabnzbd/Sabnzbd.cs
   * L286-292): `mode=version` (L368-414), `mode=get_config` with the key, whose refusal text names the
   * failure (L416-438), and the category, which must exist when one is set (L455-481; Sonarr
   * v4.0.19.2979 L455-479, Lidarr v2.14.5.4836 L450-470). Every request is
   * `<urlBase>/api?mode=…&apikey=…&output=json` (SabnzbdProxy.cs L162-185). Left out: the SABnzbd
   * version floor (0.7), `pre_check` on old versions and the sorting checks (L483-518), which the
   * stand-in SABnzbd's defaults pass.
   */
  private async testSabnzbd(settings: Record<string, unknown>): Promise<ValidationFailure[]> {
    const api = (mode: string) =>
      this.clientUrl(
        settings,
        `/api?mode=${mode}&apikey=${encodeURIComponent(String(settings.apiKey ?? ""))}&output=json`,
      );
    try {
      const version = await this.network.call(api("version"));
      if (version.status !== 200) {
        return [failure("Host", "Unable to connect to SABnzbd")];
      }
    } catch {
      return [failure("Host", "Unable to connect to SABnzbd")];
    }
    const config = await this.network.call(api("get_config"));
    if (config.status !== 200) {
      // SabnzbdProxy.ProcessRequest throws with the body, which TestAuthentication matches (L424-433).
      for (const text of ["API Key Incorrect", "API Key Required"]) {
        if (config.text.toLowerCase().includes(text.toLowerCase())) {
          return [failure("APIKey", text)];
        }
      }
      return [failure("Host", `Unable to connect to SABnzbd: HTTP ${config.status} ${config.text}`)];
    }
    const categories = (JSON.parse(config.text) as { config: { categories: { name: string; dir: string }[] } }).config
      .categories;
    const field = `${ARR_KIND[this.name]}Category`;
    const category = String(settings[field] ?? "");
    const found = categories.find((c) => c.name === category);
    if (found === undefined && category.trim() !== "") {
      return [failure(field[0].toUpperCase() + field.slice(1), "Category does not exist")];
    }
    if (found?.dir.endsWith("*")) {
      return [failure(field[0].toUpperCase() + field.slice(1), "Enable Job Folders")];
    }
    return [];
  }

  /**
   * qBittorrent's test (Radarr v6.0.3.10276 src/NzbDrone.Core/Download/Clients/QBittorrent/QBittorrent.cs
   * L418-429): the login (QBittorrentProxyV2.cs L394-455: skipped without username or password, the
   * body must be `Ok.`), `app/webapiVersion` (L73), `app/preferences` (L90) for the share-ratio removal
   * check (L466-474), then the category, which the app creates in qBittorrent when it is missing
   * (QBittorrent.cs L510-555, `createCategory` with the name only, proxy L214-216), and
   * `torrents/info?category=…` (L598-; proxy L98-101). Left out: the priority check (L557-596), which
   * only applies to non-default priorities.
   */
  private async testQbittorrent(settings: Record<string, unknown>): Promise<ValidationFailure[]> {
    const url = (path: string) => this.clientUrl(settings, path);
    let cookie = "";
    try {
      if (String(settings.username ?? "").trim() !== "" && String(settings.password ?? "").trim() !== "") {
        const login = await this.network.call(url("/api/v2/auth/login"), {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({
            username: String(settings.username),
            password: String(settings.password),
          }).toString(),
        });
        if (login.status !== 200 || login.text !== "Ok.") {
          return [failure("Username", "Authentication Failure")];
        }
        cookie = (login.headers["set-cookie"] ?? "").split(";")[0];
      }
      const headers = { cookie };
      const get = (path: string) => this.network.call(url(path), { headers });
      for (const path of ["/api/v2/app/webapiVersion", "/api/v2/app/preferences"]) {
        if ((await get(path)).status !== 200) {
          return [failure("Host", "Unable to connect to qBittorrent")];
        }
      }
      const field = `${ARR_KIND[this.name]}Category`;
      const category = String(settings[field] ?? "");
      if (category.trim() === "") {
        return [failure(field[0].toUpperCase() + field.slice(1), "Category is recommended", true)];
      }
      const categories = async () => JSON.parse((await get("/api/v2/torrents/categories")).text) as object;
      if (!(category in (await categories()))) {
        await this.network.call(url("/api/v2/torrents/createCategory"), {
          method: "POST",
          headers: { ...headers, "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ category }).toString(),
        });
        if (!(category in (await categories()))) {
          return [failure(field[0].toUpperCase() + field.slice(1), "Configuration of category failed")];
        }
      }
      if ((await get(`/api/v2/torrents/info?category=${encodeURIComponent(category)}`)).status !== 200) {
        return [failure("", "Failed to get the list of torrents")];
      }
    } catch {
      return [failure("Host", "Unable to connect to qBittorrent")];
    }
    return [];
  }

  /**
   * Prowlarr's test of an arr application (Prowlarr v2.3.5.5327 src/NzbDrone.Core/Applications/Radarr/Radarr.cs
   * L33-89; Sonarr/Sonarr.cs and Lidarr/Lidarr.cs alike): `GET <baseUrl>/api/v3/indexer/schema` with
   * the app's key (Radarr.cs L231, RadarrV3Proxy.cs L207-223), then `POST …/indexer/test` with a
   * Newznab indexer pointing at `<prowlarrUrl>/0/` (Radarr.cs L228-263, RadarrV3Proxy.cs L125-157):
   * 401 is "API Key is invalid", 400 "Prowlarr URL is invalid", a redirect a missing URL base.
   */
  private async testApplication(settings: Record<string, unknown>): Promise<ValidationFailure[]> {
    const baseUrl = String(settings.baseUrl ?? "").replace(/\/+$/, "");
    const version = SERVARR_API_VERSION_OF[new URL(baseUrl).hostname.split(".")[0]] ?? "v3";
    const headers = { "x-api-key": String(settings.apiKey ?? ""), "content-type": "application/json" };
    try {
      const schema = await this.network.call(`${baseUrl}/api/${version}/indexer/schema`, { headers });
      if (schema.status === 200) {
        const newznab = (
          JSON.parse(schema.text) as { implementation: string; configContract: string; fields: Field[] }[]
        ).find((s) => s.implementation === "Newznab");
        const prowlarrUrl = String(settings.prowlarrUrl ?? "").replace(/\/+$/, "");
        const indexer = {
          id: 0,
          name: "Test (Prowlarr)",
          enableRss: false,
          enableAutomaticSearch: false,
          enableInteractiveSearch: false,
          priority: 25,
          implementation: "Newznab",
          configContract: newznab?.configContract,
          tags: [],
          fields: (newznab?.fields ?? []).map((f) =>
            f.name === "baseUrl"
              ? { name: f.name, value: `${prowlarrUrl}/0/` }
              : f.name === "apiPath"
                ? { name: f.name, value: "/api" }
                : f.name === "apiKey"
                  ? { name: f.name, value: this.apiKey }
                  : f.name === "categories"
                    ? { name: f.name, value: settings.syncCategories }
                    : f,
          ),
        };
        const test = await this.network.call(`${baseUrl}/api/${version}/indexer/test`, {
          method: "POST",
          headers,
          body: JSON.stringify(indexer),
        });
        if (test.status === 200) {
          return test.headers["x-application-version"] ? [] : [failure("", "Failed to fetch version")];
        }
        return [applicationFailure(test.status, baseUrl)];
      }
      return [applicationFailure(schema.status, baseUrl)];
    } catch (error) {
      return [
        failure(
          "BaseUrl",
          `Unable to complete application test, cannot connect to ${baseUrl}. ${(error as Error).message}`,
        ),
      ];
    }
  }

  /**
   * The arr app's test of the Newznab indexer Prowlarr sends: the indexer's feed at `baseUrl` must be
   * a Prowlarr this app can reach, or the test fails and the app answers 400 with its failures
   * (ProviderControllerBase.cs L220-231, L307-320). Left out: the caps query itself (Newznab's
   * `t=caps`), which the Prowlarr stand-in does not serve; reaching Prowlarr at that URL stands for it.
   */
  private indexerTest(body: Record<string, unknown>): Reply {
    const baseUrl = String((body.fields as Field[]).find((f) => f.name === "baseUrl")?.value ?? "");
    let reached: unknown;
    try {
      const url = new URL(baseUrl);
      const app = this.network.find(url.hostname, Number(url.port || 80));
      reached =
        app instanceof FakeServarr && app.name === "prowlarr" && url.pathname.startsWith(`${app.basePath}/`)
          ? app
          : undefined;
    } catch {
      reached = undefined;
    }
    return reached === undefined
      ? { status: 400, body: [failure("BaseUrl", `Unable to connect to indexer at ${baseUrl}`)] }
      : { status: 200, body: {} };
  }

  /**
   * Prowlarr's test of its FlareSolverr proxy (Prowlarr v2.3.5.5327
   * src/NzbDrone.Core/IndexerProxies/FlareSolverr/FlareSolverr.cs L179-206): FlareSolverr is asked to
   * load https://prowlarr.servarr.com/v1/ping (src/NzbDrone.Common/Cloud/ProwlarrCloudRequestBuilder.cs
   * L15, `.Resource("/ping")`) with a `request.get` to `<host without trailing slash>/v1` (L98-177:
   * `maxTimeout` the request timeout in milliseconds, `proxy` empty, since Prowlarr's JSON leaves out
   * nulls, src/NzbDrone.Common/Serializer/Newtonsoft.Json/Json.cs L21-36). Prowlarr's HTTP client
   * throws on an error status (src/NzbDrone.Common/Http/HttpClient.cs L115-129, HttpException.cs L18),
   * and a body that is not JSON fails the deserialization: either way "Unable to connect to proxy"
   * (ProxyValidationUnableToConnect, src/NzbDrone.Core/Localization/Core/en.json L595), an error on
   * `Host`. Left out: the request's own timeout (`requestTimeout` + 5 s, L170), which a stand-in
   * answering at once never reaches.
   */
  private async testFlareSolverr(settings: Record<string, unknown>): Promise<ValidationFailure[]> {
    const url = `${String(settings.host).replace(/\/+$/, "")}/v1`;
    const unableToConnect = (message: string) => [
      failure("Host", `Unable to connect to proxy: ${message}. Check the log surrounding this error for details`),
    ];
    try {
      const answer = await this.network.call(url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({
          cmd: "request.get",
          url: "https://prowlarr.servarr.com/v1/ping",
          maxTimeout: Number(settings.requestTimeout) * 1000,
          proxy: {},
        }),
      });
      if (answer.status >= 400) {
        return unableToConnect(
          `HTTP request failed: [${answer.status}:${HTTP_STATUS_NAME[answer.status] ?? answer.status}] [POST] at [${url}]`,
        );
      }
      if (answer.status !== 200) {
        // ProxyValidationBadRequest (en.json L594).
        return [failure("Host", `Failed to test proxy. Status code: ${answer.status}`)];
      }
      JSON.parse(answer.text);
    } catch (error) {
      return unableToConnect((error as Error).message);
    }
    return [];
  }

  /**
   * Tags (Prowlarr v2.3.5.5327 src/Prowlarr.Api.V1/Tags/TagController.cs L26-50,
   * src/NzbDrone.Core/Tags/TagService.cs L121-136): a label must not be empty, and in Prowlarr and
   * Radarr (v6.0.3.10276 src/Radarr.Api.V3/Tags/TagController.cs L29-32) must be of a-z, 0-9 and `-`,
   * in any case; Sonarr and Lidarr have no such rule. A POST of a label stored exactly so answers the
   * stored tag; any other label is stored lower-cased as a new tag, even when that lower-cased label
   * is stored already (TagRepository.cs L33-36 finds a tag by its exact label). A provider's tag ids are
   * not checked against the stored tags, by Prowlarr (src/Prowlarr.Api.V1/ProviderResource.cs L64 only
   * turns null into none) nor here. Left out: PUT and
   * DELETE, which the relations never send (the relations leave tags in place: a tag an indexer
   * carries cannot be deleted, TagService.cs L148-158).
   */
  private tag(method: string, path: string, id: number | undefined, body: Record<string, unknown>): Reply {
    if (method === "GET") {
      const found = this.tags.find((tag) => tag.id === id);
      return id === undefined
        ? { status: 200, body: this.tags }
        : found
          ? { status: 200, body: found }
          : { status: 404 };
    }
    if (method !== "POST") {
      return this.refuse(404, `${method} ${path}: the stand-in does not serve this operation`);
    }
    const label = String(body.label ?? "");
    if (label.trim() === "") {
      return { status: 400, body: [failure("Label", "'Label' must not be empty.")] };
    }
    if (["prowlarr", "radarr"].includes(this.name) && !/^[a-z0-9-]+$/i.test(label)) {
      return { status: 400, body: [failure("Label", "Allowed characters a-z, 0-9 and -")] };
    }
    const stored = this.tags.find((tag) => tag.label === label) ?? { id: this.nextId++, label: label.toLowerCase() };
    if (!this.tags.includes(stored)) {
      this.tags.push(stored);
    }
    return { status: 201, body: stored };
  }

  /**
   * Root folders (Radarr v6.0.3.10276 src/Radarr.Api.V3/RootFolders/RootFolderController.cs L32-41:
   * not already a root folder, must exist, must be writable; the same validators in Sonarr v4.0.19.2979
   * and Lidarr v2.14.5.4836, whose root folders also need a name and existing default profiles,
   * Lidarr RootFolderController.cs L35-73).
   */
  private rootFolder(method: string, id: number | undefined, body: Record<string, unknown>): Reply {
    const list = this.collections.rootfolder;
    if (method === "GET") {
      return { status: 200, body: list };
    }
    if (method === "DELETE") {
      const index = list.findIndex((folder) => folder.id === id);
      if (index < 0) {
        return this.refuse(404, `DELETE rootfolder/${id}: no such root folder`);
      }
      list.splice(index, 1);
      return { status: 200 };
    }
    const path = String(body.path ?? "");
    if (list.some((folder) => folder.path === path)) {
      return { status: 400, body: [failure("Path", `Path '${path}' is already configured as a root folder`)] };
    }
    // PathExistsValidator.cs L15-27 and FolderWritableValidator.cs L16: the folder must be there.
    if (!this.folders.has(path.replace(/\/+$/, ""))) {
      return { status: 400, body: [failure("Path", `Path '${path}' does not exist`)] };
    }
    if (
      this.name === "lidarr" &&
      (!body.name ||
        !this.profiles.qualityprofile.some((profile) => profile.id === body.defaultQualityProfileId) ||
        !this.profiles.metadataprofile.some((profile) => profile.id === body.defaultMetadataProfileId))
    ) {
      return this.refuse(
        400,
        "POST rootfolder: Lidarr needs a name and existing default quality and metadata profiles",
      );
    }
    const stored = { ...body, id: this.nextId++, accessible: true, freeSpace: 1 };
    list.push(stored);
    return { status: 201, body: stored };
  }
}

/** .NET's `HttpStatusCode` names, as Prowlarr's HttpException writes them (the ones a stand-in answers). */
const HTTP_STATUS_NAME: Readonly<Record<number, string>> = {
  400: "BadRequest",
  404: "NotFound",
  405: "MethodNotAllowed",
  500: "InternalServerError",
  503: "ServiceUnavailable",
};

/**
 * The app versions the stand-ins report: the tags whose source they follow. Radarr is pinned at
 * 6.0.4.10291 (lib/apps/catalog.ts), but the Radarr snapshot available here has no tag
 * v6.0.4.10291 (its newest is v6.0.3.10276), so the Radarr stand-in, its API document and every
 * Radarr citation are at v6.0.3.10276. Checked: the snapshot's `master` (90cd8df1a, 2025-11-09,
 * azure-pipelines.yml majorVersion 6.0.4) differs from v6.0.3.10276 only in azure-pipelines.yml,
 * src/NzbDrone.Host/Startup.cs (forwarded headers trusted from private networks only) and
 * QBittorrentProxyV2.cs L427-428 and L440 (a login answered 401 is an authentication failure, an
 * empty body a success), none of them a cited line; src/Radarr.Api.V3/openapi.json is the same.
 * Not checked: that v6.0.4.10291 was built from that commit. The qBittorrent login test below
 * requires `Ok.` and so refuses qBittorrent 5.2's empty 204, which that commit accepts: stricter,
 * never kinder.
 */
const SERVARR_VERSION: Readonly<Record<string, string>> = {
  radarr: "6.0.3.10276",
  sonarr: "4.0.19.2979",
  lidarr: "2.14.5.4836",
  prowlarr: "2.3.5.5327",
};

/** Prowlarr calls Radarr and Sonarr on `/api/v3`, Lidarr on `/api/v1` (Prowlarr v2.3.5.5327 `AppIndexerApiRoute` of each proxy). */
const SERVARR_API_VERSION_OF: Readonly<Record<string, string>> = { radarr: "v3", sonarr: "v3", lidarr: "v1" };

/**
 * The indexer templates Prowlarr copies its test indexer from: Newznab's and Torznab's fields the
 * sync uses (`syncFields`, Prowlarr v2.3.5.5327 Radarr.cs L232; Radarr v6.0.3.10276
 * src/NzbDrone.Core/Indexers/Newznab/NewznabSettings.cs). The stand-in lists only those fields.
 */
const NEWZNAB_SCHEMAS = ["Newznab", "Torznab"].map((implementation) => ({
  implementation,
  configContract: `${implementation}Settings`,
  fields: [
    { name: "baseUrl", value: null },
    { name: "apiPath", value: "/api" },
    { name: "apiKey", value: null },
    { name: "categories", value: [] },
  ],
}));

/** What Prowlarr reports for an arr app's answer to its test (Radarr.cs L54-75). */
function applicationFailure(status: number, baseUrl: string): ValidationFailure {
  switch (status) {
    case 401:
      return failure("ApiKey", "API Key is invalid");
    case 400:
      return failure("ProwlarrUrl", "Prowlarr URL is invalid, the app cannot connect to Prowlarr");
    case 303:
    case 307:
      return failure("BaseUrl", "URL is invalid, Prowlarr cannot connect to the app - are you missing a URL base?");
    default:
      return failure("BaseUrl", `Unable to complete application test, cannot connect to ${baseUrl}. HTTP ${status}`);
  }
}

interface FormRoute {
  readonly method: "GET" | "POST";
  readonly params: readonly string[];
  readonly required: readonly string[];
  readonly auth: boolean;
}

/**
 * qBittorrent WebUI API v2 (the qBittorrent wiki's "WebUI API (qBittorrent 5.0)"): every method is
 * `/api/v2/<api>/<method>`, GET or POST only (405 otherwise), every one but login needs the `SID` cookie.
 */
const QBITTORRENT_ROUTES: Readonly<Record<string, FormRoute>> = {
  "/api/v2/auth/login": {
    method: "POST",
    params: ["username", "password"],
    required: ["username", "password"],
    auth: false,
  },
  "/api/v2/app/webapiVersion": { method: "GET", params: [], required: [], auth: true },
  "/api/v2/app/preferences": { method: "GET", params: [], required: [], auth: true },
  "/api/v2/torrents/info": {
    method: "GET",
    params: ["filter", "category", "tag", "sort", "reverse", "limit", "offset", "hashes"],
    required: [],
    auth: true,
  },
  "/api/v2/torrents/categories": { method: "GET", params: [], required: [], auth: true },
  "/api/v2/torrents/createCategory": {
    method: "POST",
    params: ["category", "savePath"],
    required: ["category"],
    auth: true,
  },
  "/api/v2/torrents/editCategory": {
    method: "POST",
    params: ["category", "savePath"],
    required: ["category", "savePath"],
    auth: true,
  },
  "/api/v2/torrents/removeCategories": { method: "POST", params: ["categories"], required: ["categories"], auth: true },
};

/**
 * qBittorrent 5.1 (login answers `Ok.`/`Fails.`, cookie `SID`) or 5.2 (no body/401, cookie `QBT_SID_<port>`), categories with save paths.
 *
 * Modelled, at qBittorrent release-5.1.4: the login (src/webui/api/authcontroller.cpp `loginAction`
 * L56-97: `Ok.` and a session, `Fails.` and one more failed attempt) and the ban after
 * `WebUI\MaxAuthenticationFailCount` failures, 5 by default (src/base/preferences.cpp L851), answered
 * 403 "Your IP address has been banned after too many failed authentication attempts." (authcontroller.cpp
 * L68-75) for `WebUI\BanDuration`, 3600 s (preferences.cpp L864): longer than any test, so never lifted here.
 *
 * Left out: the Host-header and CSRF checks that refuse a request with 401 before any route
 * (src/webui/webapplication.cpp L618-622; `validateHostHeader` L837-851 compares the Host port with
 * the port qBittorrent listens on, `isCrossSiteRequest` L786-835 compares Origin/Referer with the
 * target). This stand-in answers behind several cluster names and ports at once and cannot tell which
 * one a request was sent to; test/qbittorrent.test.ts runs the Host check on the real qbittorrent-nox,
 * through a relay on another port, as the port-forward presents it. The relations send neither Origin
 * nor Referer, which the CSRF check lets through (webapplication.cpp L802-807).
 */
export class FakeQbittorrent extends FakeApp {
  readonly name = "qbittorrent";
  protected readonly readingPosts = ["/api/v2/auth/login"];
  readonly categories = new Map<string, string>();
  private readonly sessions = new Set<string>();
  /** Failed logins so far: at `WebUI\MaxAuthenticationFailCount` (5 by default) qBittorrent bans the address with 403. */
  failedLogins = 0;

  constructor(
    private readonly username: string,
    private readonly password: string,
    private readonly loginStyle: "5.1" | "5.2" = "5.1",
  ) {
    super();
  }

  private get cookieName(): string {
    return this.loginStyle === "5.1" ? "SID" : "QBT_SID_8080";
  }

  protected handle(request: SeenRequest & { rawPath: string }): Reply {
    const route = QBITTORRENT_ROUTES[request.path];
    if (route === undefined) {
      return this.refuse(404, `${request.method} ${request.path} is not a qBittorrent WebUI API method`);
    }
    if (request.method !== route.method) {
      return this.refuse(405, `${request.method} ${request.path}: qBittorrent allows only ${route.method}`);
    }
    const params: Record<string, string> = {
      ...request.query,
      ...(typeof request.body === "object" && request.body !== null ? (request.body as Record<string, string>) : {}),
    };
    if (
      route.method === "POST" &&
      request.body !== undefined &&
      !(request.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")
    ) {
      return this.refuse(400, `POST ${request.path}: parameters go in a form body`);
    }
    const unknown = Object.keys(params).filter((name) => !route.params.includes(name));
    const missing = route.required.filter((name) => (params[name] ?? "") === "");
    if (unknown.length > 0 || missing.length > 0) {
      return this.refuse(
        400,
        `${request.method} ${request.path}: unknown ${unknown.join(", ")}; missing ${missing.join(", ")}`,
      );
    }
    const sid = new RegExp(`(?:^|;\\s*)${this.cookieName}=([^;]+)`).exec(request.headers.cookie ?? "")?.[1];
    if (route.auth && (sid === undefined || !this.sessions.has(sid))) {
      return this.refuse(403, `${request.method} ${request.path} without a logged-in SID cookie`);
    }
    switch (request.path) {
      case "/api/v2/auth/login": {
        if (this.failedLogins >= 5) {
          return {
            status: 403,
            body: "Your IP address has been banned after too many failed authentication attempts.",
          };
        }
        if (params.username !== this.username || params.password !== this.password) {
          this.failedLogins++;
          return this.loginStyle === "5.1" ? { status: 200, body: "Fails." } : { status: 401, body: "" };
        }
        const session = `sid${this.sessions.size + 1}`;
        this.sessions.add(session);
        return {
          status: 200,
          body: this.loginStyle === "5.1" ? "Ok." : "",
          headers: { "set-cookie": `${this.cookieName}=${session}; HttpOnly; path=/` },
        };
      }
      case "/api/v2/app/webapiVersion":
        return { status: 200, body: "2.11.4" };
      case "/api/v2/app/preferences":
        // Only the share-limit keys the arr apps' test reads (Radarr v6.0.3.10276 QBittorrent.cs
        // L405-416): no limit, so the test's removal check passes.
        return {
          status: 200,
          body: { max_ratio_enabled: false, max_ratio: -1, max_seeding_time_enabled: false, max_seeding_time: -1 },
        };
      case "/api/v2/torrents/info":
        return { status: 200, body: [] };
      case "/api/v2/torrents/categories":
        return {
          status: 200,
          body: Object.fromEntries([...this.categories].map(([name, savePath]) => [name, { name, savePath }])),
        };
      case "/api/v2/torrents/createCategory":
        if (this.categories.has(params.category)) {
          return this.refuse(409, `createCategory: "${params.category}" exists`);
        }
        this.categories.set(params.category, params.savePath ?? "");
        return { status: 200, body: "" };
      case "/api/v2/torrents/editCategory":
        if (!this.categories.has(params.category)) {
          return this.refuse(409, `editCategory: no category "${params.category}"`);
        }
        this.categories.set(params.category, params.savePath);
        return { status: 200, body: "" };
      default:
        for (const name of params.categories.split("\n")) {
          this.categories.delete(name);
        }
        return { status: 200, body: "" };
    }
  }
}

/** SABnzbd API modes (SABnzbd 5.0.1 sabnzbd/api.py `_api_table` L1036-1089): the key each needs and the parameters each reads. */
const SABNZBD_MODES: Readonly<Record<string, { key: "none" | "api"; params: readonly string[] }>> = {
  version: { key: "none", params: [] },
  get_config: { key: "api", params: ["section", "keyword"] },
  set_config: {
    key: "api",
    params: ["section", "keyword", "value", "name", "dir", "pp", "script", "priority", "order", "newzbin"],
  },
  del_config: { key: "api", params: ["section", "keyword"] },
  get_cats: { key: "api", params: [] },
};

/** SABnzbd 5.0.1: `<url_base>/api?mode=…&apikey=…&output=json`, Host checked against host_whitelist, categories. */
export class FakeSabnzbd extends FakeApp {
  readonly name = "sabnzbd";
  /** SABnzbd's default categories (sabnzbd/config.py), name to dir. */
  readonly categories = new Map<string, string>([
    ["*", ""],
    ["movies", ""],
    ["tv", ""],
    ["audio", ""],
    ["software", ""],
  ]);
  /**
   * When set, set_config and del_config (of the one category `name`, or of any) answer HTTP 200
   * `{"status": false, "error": …}`, as SABnzbd's api.py `report` does for a failed write.
   */
  refuseWrites?: { readonly error: string; readonly name?: string };

  constructor(
    public basePath: string,
    readonly apiKey: string,
    private readonly whitelist: readonly string[] = [],
  ) {
    super();
  }

  private refusesWrite(name: string | undefined): boolean {
    return this.refuseWrites !== undefined && (this.refuseWrites.name === undefined || this.refuseWrites.name === name);
  }

  protected handle(request: SeenRequest & { rawPath: string }): Reply {
    if (request.path !== `${this.basePath}/api` && request.path !== "/api") {
      return this.refuse(404, `${request.method} ${request.path} is not SABnzbd's API`);
    }
    // secured_expose's checks, in its order; each refusal is HTTP 403 with a plain-text body (not JSON,
    // even with output=json), as api_warnings=1 (the default) answers (SABnzbd 5.0.1 sabnzbd/interface.py
    // L157-188, messages L99-104). The address check (L164-169) always passes here: the stand-in is
    // reached on loopback, which SABnzbd counts as local (`check_access` L196-225).
    const host = (request.headers.host ?? "").replace(/:\d+$/, "");
    // check_hostname (L227-261): localhost, an IP literal, host_whitelist or a name ending in .local.
    if (!(host === "localhost" || /^[\d.]+$/.test(host) || this.whitelist.includes(host) || host.endsWith(".local"))) {
      return this.refuseText(403, "Access denied - Hostname verification failed: https://sabnzbd.org/hostname-check");
    }
    const { mode, apikey, output, ...params } = request.query;
    const spec = SABNZBD_MODES[mode ?? ""];
    if (spec === undefined) {
      return this.refuse(400, `mode=${mode}: not a mode the stand-in knows`);
    }
    if (output !== "json") {
      return this.refuse(400, `mode=${mode}: output=json missing (XML otherwise)`);
    }
    // check_apikey (L371-400): version and auth need no key; an empty key is "Required", any key but
    // the api_key "Incorrect" (the nzb_key counts only for level-1 modes, none of which the stand-in serves).
    if (spec.key === "api" && !apikey) {
      return this.refuseText(403, "API Key Required");
    }
    if (spec.key === "api" && apikey !== this.apiKey) {
      return this.refuseText(403, "API Key Incorrect");
    }
    const unknown = Object.keys(params).filter((name) => !spec.params.includes(name));
    if (unknown.length > 0) {
      return this.refuse(400, `mode=${mode}: ${unknown.join(", ")} not read by this mode`);
    }
    const list = () =>
      [...this.categories].map(([name, dir], order) => ({
        name,
        order,
        pp: "",
        script: "Default",
        dir,
        newzbin: "",
        priority: -100,
      }));
    switch (mode) {
      case "version":
        return { status: 200, body: { version: "5.0.1" } };
      case "get_cats":
        return { status: 200, body: { categories: [...this.categories.keys()] } };
      case "get_config":
        // Without a section, every section (config.py `get_dconfig` L788-831): the arr apps' test reads
        // misc, categories and sorters. The stand-in's misc holds only the keys it models.
        if (params.section === undefined && params.keyword === undefined) {
          return {
            status: 200,
            body: {
              config: { misc: { api_key: this.apiKey, pre_check: 0 }, categories: list(), sorters: [], servers: [] },
            },
          };
        }
        if (params.section === "misc" && params.keyword === "api_key") {
          return { status: 200, body: { config: { misc: { api_key: this.apiKey } } } };
        }
        if (params.section === "categories") {
          return { status: 200, body: { config: { categories: list() } } };
        }
        return this.refuse(400, `get_config: the stand-in does not serve section ${params.section}`);
      case "set_config":
        if (this.refusesWrite(params.name ?? params.keyword)) {
          return { status: 200, body: { status: false, error: this.refuseWrites?.error } };
        }
        if (params.section !== "categories" || !params.name) {
          return this.refuse(400, "set_config: only section=categories with a name is used");
        }
        this.categories.set(params.name, params.dir ?? "");
        return { status: 200, body: { config: { categories: list().filter((c) => c.name === params.name) } } };
      default:
        if (this.refusesWrite(params.name ?? params.keyword)) {
          return { status: 200, body: { status: false, error: this.refuseWrites?.error } };
        }
        if (params.section !== "categories" || !this.categories.has(params.keyword)) {
          return this.refuse(400, `del_config: no category ${params.keyword}`);
        }
        this.categories.delete(params.keyword);
        return { status: 200, body: { status: true } };
    }
  }
}
