// In-process stand-ins for the apps, on 127.0.0.1: each checks every request against the app's
// published API (the OpenAPI documents, or the route tables below for qBittorrent's WebUI API and
// SABnzbd's API, from their published references), refuses what the API does not allow, and keeps
// state so a second run can be compared with the first.
import { IncomingMessage, Server, ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { DocumentName, DocumentValidator, SeenRequest } from "./apiDocuments";

interface Reply {
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
  protected abstract handle(request: SeenRequest & { rawPath: string }): Reply;

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
    const reply = this.ready ? this.handle(request) : { status: 503, body: { message: `${this.name} is starting` } };
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
type Field = { name: string; value: unknown };

/** Field names Servarr answers masked (privacy level password / API key in the *Settings classes). */
const PRIVATE_FIELDS = new Set(["password", "apiKey"]);
const MASKED = "********";

/** Fields the app fills with its defaults when a client sends only some (Servarr SchemaBuilder keeps constructor defaults). */
const DEFAULT_FIELDS: Record<string, Field[]> = {
  downloadclient: [
    { name: "sequentialOrder", value: false },
    { name: "initialState", value: 0 },
  ],
  applications: [{ name: "syncCategories", value: [2000, 2010] }],
};

/** Radarr, Sonarr, Lidarr or Prowlarr: provider collections, root folders and profiles, checked against its OpenAPI document. */
export class FakeServarr extends FakeApp {
  readonly collections: Record<string, Resource[]> = { downloadclient: [], applications: [], rootfolder: [] };
  private nextId = 1;

  constructor(
    readonly name: string,
    private readonly validator: DocumentValidator,
    public basePath: string,
    readonly apiKey: string,
  ) {
    super();
  }

  static async create(
    name: "radarr" | "sonarr" | "lidarr" | "prowlarr",
    basePath: string,
    apiKey: string,
  ): Promise<FakeServarr> {
    const documents: Record<string, DocumentName> = {
      radarr: "radarr-v3.openapi.json",
      sonarr: "sonarr-v3.openapi.json",
      lidarr: "lidarr-v1.openapi.json",
      prowlarr: "prowlarr-v1.openapi.json",
    };
    return new FakeServarr(name, await DocumentValidator.load(documents[name]), basePath, apiKey).start();
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
    if (found) {
      found.value = value;
    } else {
      fields.push({ name: field, value });
    }
  }

  add(collection: string, resource: Record<string, unknown>): void {
    this.collections[collection].push({ ...resource, id: this.nextId++ });
  }

  protected handle(request: SeenRequest & { rawPath: string }): Reply {
    if (!request.rawPath.startsWith(`${this.basePath}/api/`)) {
      return this.refuse(
        404,
        `${request.method} ${request.rawPath} is outside ${this.name}'s URL base ${this.basePath}`,
      );
    }
    const path = request.rawPath.slice(this.basePath.length);
    // ApiKeyAuthenticationHandler: the `apikey` query parameter, else X-Api-Key, else a Bearer token;
    // anything but the app's key is HTTP 401 with no body (Radarr v6.0.3.10276
    // src/Radarr.Http/Authentication/ApiKeyAuthenticationHandler.cs L36-84; the same in Sonarr
    // v4.0.19.2979, Lidarr v2.14.5.4836, Prowlarr v2.3.5.5327). The stand-in takes the header only,
    // the one way the relations send it.
    if (request.headers["x-api-key"] !== this.apiKey) {
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
    switch (resource) {
      case "system/status":
        return { status: 200, body: { appName: this.name, version: "test" } };
      case "qualityprofile":
      case "metadataprofile":
        return { status: 200, body: [{ id: 3, name: "Standard" }] };
      case "downloadclient":
      case "applications":
        return this.provider(resource, request.method, id, request.body as Record<string, unknown>);
      case "rootfolder":
        return this.rootFolder(request.method, id, request.body as Record<string, unknown>);
      default:
        return this.refuse(404, `${request.method} ${path}: the stand-in does not serve this operation`);
    }
  }

  private masked(resource: Resource): Resource {
    const fields = (resource.fields as Field[]).map((f) =>
      PRIVATE_FIELDS.has(f.name) && f.value !== "" ? { ...f, value: MASKED } : f,
    );
    return { ...resource, fields };
  }

  private provider(collection: string, method: string, id: number | undefined, body: Record<string, unknown>): Reply {
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
    // ProviderControllerBase: name unique (case-insensitive), implementation and configContract required, fields not null.
    const name = String(body.name ?? "");
    if (name === "" || !body.implementation || !body.configContract || !Array.isArray(body.fields)) {
      return this.refuse(400, `${method} ${collection}: name, implementation, configContract and fields are required`);
    }
    if (list.some((resource) => resource.id !== id && String(resource.name).toLowerCase() === name.toLowerCase())) {
      return this.refuse(400, `${method} ${collection}: "${name}" is not unique`);
    }
    if (
      collection === "downloadclient" &&
      this.name !== "sonarr" &&
      (Number(body.priority) < 1 || Number(body.priority) > 50)
    ) {
      return this.refuse(400, `${method} ${collection}: priority must be between 1 and 50`);
    }
    if (method === "POST") {
      const given = body.fields as Field[];
      const defaults = (DEFAULT_FIELDS[collection] ?? []).filter((d) => !given.some((f) => f.name === d.name));
      const stored = { ...body, fields: [...given, ...defaults.map((d) => ({ ...d }))], id: this.nextId++ };
      list.push(stored);
      return { status: 201, body: this.masked(stored) };
    }
    if (index < 0) {
      return this.refuse(404, `PUT ${collection}/${id}: no such entry`);
    }
    const previous = list[index].fields as Field[];
    // A masked secret sent back keeps the stored one.
    const fields = (body.fields as Field[]).map((f) =>
      f.value === MASKED ? { ...f, value: previous.find((p) => p.name === f.name)?.value } : f,
    );
    list[index] = { ...body, fields, id: list[index].id };
    return { status: 202, body: this.masked(list[index]) };
  }

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
      return this.refuse(400, `POST rootfolder: "${path}" is already a root folder`);
    }
    if (
      this.name === "lidarr" &&
      (!body.name || body.defaultQualityProfileId !== 3 || body.defaultMetadataProfileId !== 3)
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

/** qBittorrent 5.1 (login answers `Ok.`/`Fails.`, cookie `SID`) or 5.2 (no body/401, cookie `QBT_SID_<port>`), categories with save paths. */
export class FakeQbittorrent extends FakeApp {
  readonly name = "qbittorrent";
  protected readonly readingPosts = ["/api/v2/auth/login"];
  readonly categories = new Map<string, string>();
  private readonly sessions = new Set<string>();
  /** Failed logins so far: at WebUI\MaxAuthenticationFailCount (5 by default) qBittorrent bans the address with 403. */
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

/** SABnzbd API modes (SABnzbd 4.5 sabnzbd/api.py `_api_table`): the key each needs and the parameters each reads. */
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

/** SABnzbd 4.5: `<url_base>/api?mode=…&apikey=…&output=json`, Host checked against host_whitelist, categories. */
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
        return { status: 200, body: { version: "4.5.1" } };
      case "get_cats":
        return { status: 200, body: { categories: [...this.categories.keys()] } };
      case "get_config":
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

type SeerrService = Record<string, unknown> & { id: number; name: string };

/** Seerr 3.1: API key auth as its first user, Plex sign-in, Radarr/Sonarr settings; checked against its OpenAPI document. */
export class FakeSeerr extends FakeApp {
  readonly name = "seerr";
  protected readonly readingPosts = ["/api/v1/settings/radarr/test", "/api/v1/settings/sonarr/test"];
  initialized = false;
  hasAdmin = false;
  plex?: Record<string, unknown>;
  readonly services: Record<"radarr" | "sonarr", SeerrService[]> = { radarr: [], sonarr: [] };
  private nextId = 0;

  private constructor(
    private readonly validator: DocumentValidator,
    readonly apiKey: string,
    private readonly plexToken: string,
  ) {
    super();
  }

  static async create(apiKey: string, plexToken: string): Promise<FakeSeerr> {
    return new FakeSeerr(await DocumentValidator.load("seerr-api.3.1.0.yml"), apiKey, plexToken).start();
  }

  protected handle(request: SeenRequest & { rawPath: string }): Reply {
    if (!request.rawPath.startsWith("/api/v1/")) {
      return this.refuse(404, `${request.method} ${request.rawPath} is outside Seerr's API (/api/v1)`);
    }
    const path = request.rawPath.slice("/api/v1".length);
    const checked = this.validator.check({ ...request, path });
    if (checked.problem !== undefined) {
      return this.refuse(400, checked.problem);
    }
    const open = ["/status", "/settings/public", "/auth/plex"].includes(path);
    if (!open && (request.headers["x-api-key"] !== this.apiKey || !this.hasAdmin)) {
      // Seerr's API key acts as user 1, which the first Plex sign-in creates.
      return this.refuse(
        403,
        `${request.method} ${path}: ${this.hasAdmin ? "wrong API key" : "no user yet (Seerr is not set up)"}`,
      );
    }
    const body = request.body as Record<string, unknown>;
    if (path === "/status") {
      return { status: 200, body: { version: "3.1.0" } };
    }
    if (path === "/settings/public") {
      return { status: 200, body: { initialized: this.initialized } };
    }
    if (path === "/auth/plex") {
      if (body.authToken !== this.plexToken) {
        return { status: 401, body: { message: "bad token" } };
      }
      this.hasAdmin = true;
      return { status: 200, body: { id: 1, email: "owner@example.com" } };
    }
    if (path === "/settings/plex") {
      this.plex = { ...body, name: "plex", machineId: "abc" };
      return { status: 200, body: this.plex };
    }
    if (path === "/settings/initialize") {
      this.initialized = true;
      return { status: 200, body: { initialized: true } };
    }
    const match = /^\/settings\/(radarr|sonarr)(?:\/(test|\d+))?$/.exec(path);
    if (match === null) {
      return this.refuse(404, `${request.method} ${path}: the stand-in does not serve this operation`);
    }
    const kind = match[1] as "radarr" | "sonarr";
    const list = this.services[kind];
    if (match[2] === "test") {
      return { status: 200, body: { profiles: [{ id: 4, name: "HD-1080p" }], rootFolders: [] } };
    }
    if (match[2] === undefined) {
      if (request.method === "GET") {
        return { status: 200, body: list };
      }
      const created = { ...body, id: this.nextId++ } as SeerrService;
      // A new default clears the default of the others of its kind and is4k (seerr v3.1.0 server/routes/settings/radarr.ts L22-31, sonarr.ts).
      if (created.isDefault === true) {
        list.filter((service) => service.is4k === created.is4k).forEach((service) => (service.isDefault = false));
      }
      list.push(created);
      return { status: 201, body: created };
    }
    const index = list.findIndex((service) => service.id === Number(match[2]));
    if (index < 0) {
      return this.refuse(404, `${request.method} ${path}: no such ${kind}`);
    }
    if (request.method === "DELETE") {
      return { status: 200, body: list.splice(index, 1)[0] };
    }
    list[index] = { ...body, id: list[index].id } as SeerrService;
    return { status: 200, body: list[index] };
  }
}
