import {
  answerStart,
  credentialsRefused,
  HttpClient,
  HttpRequest,
  relationError,
  describe,
  send,
  sendJson,
} from "./http";

/** The Servarr apps the relations configure over their v1/v3 REST APIs. */
export type ServarrApp = "radarr" | "sonarr" | "lidarr" | "prowlarr";

/** API version prefix of each app at the pinned versions (Radarr and Sonarr `/api/v3`, Lidarr and Prowlarr `/api/v1`). */
export const SERVARR_API_VERSION: Readonly<Record<ServarrApp, "v1" | "v3">> = {
  radarr: "v3",
  sonarr: "v3",
  lidarr: "v1",
  prowlarr: "v1",
};

/** One Servarr app as the relation reaches it. */
export interface ServarrTarget {
  readonly app: ServarrApp;
  /** The app's URL base (`/radarr`), or "" when it serves at `/`. */
  readonly basePath: string;
  readonly apiKey: string;
}

/** What a reconcile did to one entry; tests and the provider's outputs read these. */
export interface Change {
  readonly app: string;
  /** What kind of entry: `downloadclient`, `applications`, `rootfolder`, `category`, `radarr` ... */
  readonly collection: string;
  readonly name: string;
  /**
   * `waiting`: the app is up but cannot take the entry yet (Seerr before its setup).
   * `unmanaged`: an entry of that name (or path) was there before the relation and is not its own:
   * left exactly as it is, never edited nor removed.
   */
  readonly action: "created" | "updated" | "deleted" | "unchanged" | "waiting" | "unmanaged";
  /** What the user has to do, for a `waiting` or `unmanaged` entry the program cannot handle itself. */
  readonly detail?: string;
}

/**
 * One provider entry the relation owns, by name: a download client in an arr app or an application in
 * Prowlarr. Only the listed properties and fields are the relation's; every other one keeps the app's
 * default on create and whatever the user set on update.
 */
export interface ProviderEntry {
  readonly name: string;
  readonly implementation: string;
  readonly configContract: string;
  /** Top-level properties the relation owns (`enable`, `protocol`, `priority`; `syncLevel` in Prowlarr). */
  readonly properties: Readonly<Record<string, unknown>>;
  /** Top-level properties sent when the relation creates the entry only, then left to the user. */
  readonly initialProperties?: Readonly<Record<string, unknown>>;
  /** Settings fields the relation owns, by field name. */
  readonly fields: Readonly<Record<string, unknown>>;
  /** Fields holding secrets, which the apps may answer masked. */
  readonly secretFields: readonly string[];
  /**
   * Labels of the tags the entry carries, made in the app when missing (lower case: Prowlarr stores
   * labels lower-cased and finds an existing one by exact label, v2.3.5.5327
   * src/NzbDrone.Core/Tags/TagService.cs L121-135, TagRepository.cs L33-36). Tags the user adds to the
   * entry stay; the tags themselves stay when the entry goes, since the user's indexers carry them.
   */
  readonly tags?: readonly string[];
  /**
   * What a refused save of this entry means and what to do, put before the app's own words: for an
   * entry the app tests before saving it, whose failure the app answers as a bare HTTP 400.
   */
  readonly refusedHelp?: string;
}

/** A tag as Servarr's `/tag` answers it. */
interface TagResource {
  id: number;
  label?: string | null;
}

/** What Servarr answers in place of a stored secret field. */
const MASKED = "********";

interface ProviderResource {
  id: number;
  name?: string | null;
  tags?: number[] | null;
  implementation?: string | null;
  configContract?: string | null;
  fields?: { name?: string | null; value?: unknown }[] | null;
  [property: string]: unknown;
}

export function apiPath(target: ServarrTarget, resource: string): string {
  return `${target.basePath}/api/${SERVARR_API_VERSION[target.app]}/${resource}`;
}

function authed(target: ServarrTarget, request: HttpRequest): HttpRequest {
  return { ...request, headers: { ...request.headers, "X-Api-Key": target.apiKey } };
}

/**
 * `GET …/system/status`: answers once the app has started and accepts the API key. A key the app
 * does not hold is answered HTTP 401 with no body (Radarr v6.0.3.10276
 * src/Radarr.Http/Authentication/ApiKeyAuthenticationHandler.cs L53-84; Sonarr, Lidarr and Prowlarr
 * have the same handler): the key is read once at start (L33), so asking again cannot help and the
 * relation fails at once.
 */
export async function servarrStatus(http: HttpClient, target: ServarrTarget): Promise<void> {
  const request = authed(target, { method: "GET", path: apiPath(target, "system/status") });
  const response = await send(http, target.app, request, [200, 401]);
  if (response.status === 401) {
    throw credentialsRefused(
      `${target.app} refused the generated API key (${describe(request)} answered HTTP 401): the pod does not run with the key in the stack's Secret (${target.app.toUpperCase()}__AUTH__APIKEY is read at start); restart the pod (kubectl delete pod ${target.app}-0 in its namespace) and run pulumi up again`,
    );
  }
}

/** Whether the relation made an entry: its name (or path) is among those it recorded as created. */
export function ownership(owned: readonly string[], key: (name: string) => string): (name: string) => boolean {
  const keys = new Set(owned.map(key));
  return (name) => keys.has(key(name));
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Tag ids by label: what the entries' tags are in the app. */
type TagIds = Readonly<Record<string, number>>;

function tagIdsOf(entry: ProviderEntry, tagIds: TagIds): number[] {
  return (entry.tags ?? []).map((label) => tagIds[label]);
}

/**
 * The ids of the tags the entries carry: those the app has by that exact label, and new ones it
 * makes (`POST /tag`) for the rest. No request when no entry has a tag.
 */
async function ensureTags(http: HttpClient, target: ServarrTarget, entries: readonly ProviderEntry[]): Promise<TagIds> {
  const labels = [...new Set(entries.flatMap((entry) => entry.tags ?? []))];
  if (labels.length === 0) {
    return {};
  }
  const path = apiPath(target, "tag");
  const existing =
    (await sendJson<TagResource[]>(http, target.app, authed(target, { method: "GET", path }), [200])) ?? [];
  const ids: Record<string, number> = {};
  for (const label of labels) {
    const found = existing.find((tag) => tag.label === label);
    ids[label] =
      found?.id ??
      (
        await sendJson<TagResource>(
          http,
          target.app,
          authed(target, { method: "POST", path, json: { label } }),
          [200, 201],
        )
      ).id;
  }
  return ids;
}

/** The stored entry is the same provider as the entry: the same implementation and settings class. */
function sameProvider(existing: ProviderResource, entry: ProviderEntry): boolean {
  return existing.implementation === entry.implementation && existing.configContract === entry.configContract;
}

/** The stored entry differs from what the relation wants. A masked secret counts as equal unless `rotateSecrets`. */
function drifted(existing: ProviderResource, entry: ProviderEntry, rotateSecrets: boolean, tagIds: TagIds): boolean {
  const current = new Map((existing.fields ?? []).map((field) => [field.name ?? "", field.value]));
  const fieldDrifted = Object.entries(entry.fields).some(([name, value]) => {
    const have = current.get(name);
    if (entry.secretFields.includes(name) && (have === MASKED || have === value)) {
      return rotateSecrets;
    }
    return !sameValue(have, value);
  });
  const propertyDrifted = Object.entries(entry.properties).some(([name, value]) => !sameValue(existing[name], value));
  const tagMissing = !tagIdsOf(entry, tagIds).every((id) => (existing.tags ?? []).includes(id));
  return !sameProvider(existing, entry) || propertyDrifted || fieldDrifted || tagMissing;
}

function createBody(entry: ProviderEntry, tagIds: TagIds): Record<string, unknown> {
  return {
    name: entry.name,
    implementation: entry.implementation,
    configContract: entry.configContract,
    tags: tagIdsOf(entry, tagIds),
    ...entry.initialProperties,
    ...entry.properties,
    fields: Object.entries(entry.fields).map(([name, value]) => ({ name, value })),
  };
}

/** The stored resource with the relation's properties, fields and tags set, everything else as it is. */
function updateBody(existing: ProviderResource, entry: ProviderEntry, tagIds: TagIds): Record<string, unknown> {
  // The stored fields are the stored settings class's. Another class's would be read by name into the
  // relation's, and a masked secret among them fails the save: the app reads the stored value with the
  // relation's class's property, which throws on another class's settings (Radarr v6.0.3.10276
  // src/Radarr.Http/ClientSchema/SchemaBuilder.cs L68-75, L176: HTTP 500). So only the relation's
  // fields go, and the app gives the rest its class's defaults.
  const stored = existing.configContract === entry.configContract ? (existing.fields ?? []) : [];
  const fields = stored.map((field) =>
    field.name !== undefined && field.name !== null && field.name in entry.fields
      ? { ...field, value: entry.fields[field.name] }
      : field,
  );
  const present = new Set(fields.map((field) => field.name));
  const missing = Object.entries(entry.fields)
    .filter(([name]) => !present.has(name))
    .map(([name, value]) => ({ name, value }));
  return {
    ...existing,
    implementation: entry.implementation,
    configContract: entry.configContract,
    ...entry.properties,
    fields: [...fields, ...missing],
    ...(entry.tags !== undefined ? { tags: [...new Set([...(existing.tags ?? []), ...tagIdsOf(entry, tagIds)])] } : {}),
  };
}

/** The provider collections the relations own entries in. */
export type ProviderCollection = "downloadclient" | "applications" | "indexerproxy";

export interface ProviderReconcile {
  readonly target: ServarrTarget;
  /** `downloadclient` in an arr app, `applications` or `indexerproxy` in Prowlarr. */
  readonly collection: ProviderCollection;
  /** The entries that should exist. */
  readonly desired: readonly ProviderEntry[];
  /** Names the relation created before: only these are updated, and deleted once no longer desired; no other entry is touched. */
  readonly owned: readonly string[];
  /** Re-send secret fields even when the app answers them masked (the credentials changed). */
  readonly rotateSecrets: boolean;
}

/** Brings the app's owned provider entries to `desired`: create what is missing, update what drifted, delete what is no longer wanted. */
export async function reconcileProviders(
  http: HttpClient,
  spec: ProviderReconcile,
  changes: Change[] = [],
): Promise<Change[]> {
  const { target, collection } = spec;
  const path = apiPath(target, collection);
  const existing =
    (await sendJson<ProviderResource[]>(http, target.app, authed(target, { method: "GET", path }), [200])) ?? [];
  const byName = (name: string) =>
    existing.find((resource) => (resource.name ?? "").toLowerCase() === name.toLowerCase());
  const owns = ownership(spec.owned, (name) => name.toLowerCase());
  const tagIds = await ensureTags(http, target, spec.desired);
  const save = async (entry: ProviderEntry, request: HttpRequest, accept: readonly number[]) => {
    if (entry.refusedHelp === undefined) {
      await send(http, target.app, request, accept);
      return;
    }
    const response = await send(http, target.app, request, [...accept, 400]);
    if (response.status === 400) {
      throw relationError(
        `${target.app} refused ${describe(request)} with HTTP 400: ${entry.refusedHelp} ${target.app} said: ${answerStart(response)}`,
      );
    }
  };
  for (const entry of spec.desired) {
    const found = byName(entry.name);
    if (found !== undefined && !owns(entry.name)) {
      changes.push({ app: target.app, collection, name: entry.name, action: "unmanaged" });
    } else if (found === undefined) {
      await save(
        entry,
        authed(target, { method: "POST", path, query: { forceSave: "true" }, json: createBody(entry, tagIds) }),
        [200, 201],
      );
      changes.push({ app: target.app, collection, name: entry.name, action: "created" });
    } else if (drifted(found, entry, spec.rotateSecrets, tagIds)) {
      await save(
        entry,
        authed(target, {
          method: "PUT",
          path: `${path}/${found.id}`,
          query: { forceSave: "true" },
          json: updateBody(found, entry, tagIds),
        }),
        [200, 202],
      );
      changes.push({ app: target.app, collection, name: entry.name, action: "updated" });
    } else {
      changes.push({ app: target.app, collection, name: entry.name, action: "unchanged" });
    }
  }
  const wanted = new Set(spec.desired.map((entry) => entry.name.toLowerCase()));
  for (const name of spec.owned.filter((owned) => !wanted.has(owned.toLowerCase()))) {
    const found = byName(name);
    if (found !== undefined) {
      await send(http, target.app, authed(target, { method: "DELETE", path: `${path}/${found.id}` }), [200, 204]);
      changes.push({ app: target.app, collection, name, action: "deleted" });
    }
  }
  return changes;
}

/** Lidarr's root folders also name a default quality and metadata profile: the app's first ones. */
export interface RootFolderReconcile {
  readonly target: ServarrTarget;
  /** The library folder that should be a root folder; undefined removes the owned ones. */
  readonly path?: string;
  /** Lidarr's root-folder name. */
  readonly name: string;
  /** Paths the relation added before: those no longer wanted are removed; no other root folder is touched. */
  readonly owned: readonly string[];
}

interface RootFolderResource {
  id: number;
  path?: string | null;
}

async function firstId(http: HttpClient, target: ServarrTarget, resource: string): Promise<number> {
  const list =
    (await sendJson<{ id: number }[]>(
      http,
      target.app,
      authed(target, { method: "GET", path: apiPath(target, resource) }),
      [200],
    )) ?? [];
  if (list.length === 0) {
    throw relationError(
      `${target.app} has no ${resource}: a root folder needs one (create one in ${target.app}'s settings)`,
    );
  }
  return list[0].id;
}

/** Root folders differ by app: Lidarr's carry a name and default profiles, Radarr's and Sonarr's only a path. */
async function rootFolderBody(
  http: HttpClient,
  spec: RootFolderReconcile,
  path: string,
): Promise<Record<string, unknown>> {
  if (spec.target.app !== "lidarr") {
    return { path };
  }
  return {
    name: spec.name,
    path,
    defaultQualityProfileId: await firstId(http, spec.target, "qualityprofile"),
    defaultMetadataProfileId: await firstId(http, spec.target, "metadataprofile"),
    defaultMonitorOption: "all",
    defaultNewItemMonitorOption: "all",
    defaultTags: [],
  };
}

/** A folder path without its trailing slashes, however many: `/data/movies/` and `/data/movies` are one folder. */
export const withoutTrailingSlashes = (path: string) => path.replace(/\/+$/, "");

const samePath = (a: string, b: string) => withoutTrailingSlashes(a) === withoutTrailingSlashes(b);

/** Makes `path` a root folder of the app and removes the owned ones that are no longer wanted. */
export async function reconcileRootFolder(
  http: HttpClient,
  spec: RootFolderReconcile,
  changes: Change[] = [],
): Promise<Change[]> {
  const { target } = spec;
  const path = apiPath(target, "rootfolder");
  const existing =
    (await sendJson<RootFolderResource[]>(http, target.app, authed(target, { method: "GET", path }), [200])) ?? [];
  const owns = ownership(spec.owned, withoutTrailingSlashes);
  if (spec.path !== undefined) {
    const wanted = spec.path;
    if (existing.some((folder) => samePath(folder.path ?? "", wanted))) {
      changes.push({
        app: target.app,
        collection: "rootfolder",
        name: wanted,
        action: owns(wanted) ? "unchanged" : "unmanaged",
      });
    } else {
      await send(
        http,
        target.app,
        authed(target, { method: "POST", path, json: await rootFolderBody(http, spec, wanted) }),
        [200, 201],
      );
      changes.push({ app: target.app, collection: "rootfolder", name: wanted, action: "created" });
    }
  }
  for (const owned of spec.owned.filter((folder) => spec.path === undefined || !samePath(folder, spec.path))) {
    const found = existing.find((folder) => samePath(folder.path ?? "", owned));
    if (found !== undefined) {
      await send(http, target.app, authed(target, { method: "DELETE", path: `${path}/${found.id}` }), [200, 204]);
      changes.push({ app: target.app, collection: "rootfolder", name: owned, action: "deleted" });
    }
  }
  return changes;
}
