import { credentialsRefused, HttpClient, relationError, send, sendJson } from "./http";
import { Change, ownership } from "./servarr";

/** One category a download client keeps for an arr app: its name and where its downloads are saved. */
export interface Category {
  readonly name: string;
  /** Absolute path in the shared library, so the arr app imports from the same filesystem. */
  readonly savePath: string;
}

export interface CategoryReconcile {
  /** The categories that should exist. */
  readonly desired: readonly Category[];
  /** Category names the relation created before: only these are moved, and removed once no longer desired; no other is touched. */
  readonly owned: readonly string[];
}

/** qBittorrent's WebUI, reached at its root (qBittorrent cannot serve under a prefix). */
export interface QbittorrentTarget {
  readonly username: string;
  readonly password: string;
}

const QBIT = "qbittorrent";
const samePath = (a: string, b: string) => a.replace(/\/+$/, "") === b.replace(/\/+$/, "");

/**
 * Whether qBittorrent refuses every request, not only the login: its host-header and CSRF checks
 * answer 401 before a session or the credentials are looked at, where a request without a session
 * that passes them gets 403 (qBittorrent release-5.1.4 src/webui/webapplication.cpp
 * `processRequest` L618-622, `doProcessRequest` L326-327; release-5.2.3 L658-663 and L327-328).
 * qBittorrent 5.2 also answers wrong credentials with 401, so only this second request tells the two apart.
 */
async function refusedBeforeLogin(http: HttpClient): Promise<boolean> {
  const probe = await send(http, QBIT, { method: "GET", path: "/api/v2/app/webapiVersion" }, [200, 401, 403]);
  return probe.status === 401;
}

/**
 * Logs in (`POST /api/v2/auth/login`) and returns the Cookie header for later calls. qBittorrent ≤ 5.1
 * answers 200 with `Ok.` or `Fails.` and sets `SID`; 5.2 answers 200 with no body or 401, and sets
 * `QBT_SID_<port>`; both answer 403 to an address banned after too many failed logins (qBittorrent
 * release-5.1.4 and release-5.2.3 src/webui/api/authcontroller.cpp, src/webui/webapplication.cpp).
 * Wrong credentials and a ban fail at once, without retrying into a ban.
 */
export async function qbittorrentLogin(http: HttpClient, target: QbittorrentTarget): Promise<string> {
  const response = await send(
    http,
    QBIT,
    { method: "POST", path: "/api/v2/auth/login", form: { username: target.username, password: target.password } },
    [200, 401, 403],
  );
  if (response.status === 403) {
    throw credentialsRefused(
      `qbittorrent has banned the relation's address after too many failed logins (POST /api/v2/auth/login answered HTTP 403): wrong WebUI credentials; fix them, then restart qBittorrent or wait out its ban (WebUI\\BanDuration)`,
    );
  }
  if (response.status === 401 && (await refusedBeforeLogin(http))) {
    throw relationError(
      `qbittorrent refused the request itself, before any login (HTTP 401 to POST /api/v2/auth/login and to GET /api/v2/app/webapiVersion without a session): its WebUI host-header validation refuses a Host naming another port than the one it listens on, or a name outside WebUI\\ServerDomains, and its CSRF check a foreign Origin or Referer; the credentials were never checked`,
    );
  }
  if (response.status === 401 || response.text.trim() === "Fails.") {
    const answer = response.status === 401 ? "HTTP 401" : '"Fails."';
    throw credentialsRefused(
      `qbittorrent refused the generated WebUI credentials (POST /api/v2/auth/login answered ${answer}): wrong credentials; was qBittorrent.conf seeded before its first start?`,
    );
  }
  const cookie = (response.headers["set-cookie"] ?? "").split(";")[0];
  if (!cookie.includes("=")) {
    throw relationError("qbittorrent accepted the login (POST /api/v2/auth/login) but set no session cookie");
  }
  return cookie;
}

interface QbittorrentCategory {
  name: string;
  savePath: string;
}

/** Creates, moves and removes qBittorrent categories (`/api/v2/torrents/{categories,createCategory,editCategory,removeCategories}`). */
export async function reconcileQbittorrentCategories(
  http: HttpClient,
  target: QbittorrentTarget,
  spec: CategoryReconcile,
  changes: Change[] = [],
): Promise<Change[]> {
  const cookie = await qbittorrentLogin(http, target);
  const headers = { Cookie: cookie };
  const existing =
    (await sendJson<Record<string, QbittorrentCategory>>(
      http,
      QBIT,
      { method: "GET", path: "/api/v2/torrents/categories", headers },
      [200],
    )) ?? {};
  const owns = ownership(spec.owned, (name) => name);
  for (const category of spec.desired) {
    const found = existing[category.name];
    const form = { category: category.name, savePath: category.savePath };
    if (found !== undefined && !owns(category.name)) {
      changes.push({ app: QBIT, collection: "category", name: category.name, action: "unmanaged" });
    } else if (found === undefined) {
      await send(http, QBIT, { method: "POST", path: "/api/v2/torrents/createCategory", headers, form }, [200]);
      changes.push({ app: QBIT, collection: "category", name: category.name, action: "created" });
    } else if (!samePath(found.savePath, category.savePath)) {
      await send(http, QBIT, { method: "POST", path: "/api/v2/torrents/editCategory", headers, form }, [200]);
      changes.push({ app: QBIT, collection: "category", name: category.name, action: "updated" });
    } else {
      changes.push({ app: QBIT, collection: "category", name: category.name, action: "unchanged" });
    }
  }
  const wanted = new Set(spec.desired.map((category) => category.name));
  const removed = spec.owned.filter((name) => !wanted.has(name) && existing[name] !== undefined);
  if (removed.length > 0) {
    await send(
      http,
      QBIT,
      { method: "POST", path: "/api/v2/torrents/removeCategories", headers, form: { categories: removed.join("\n") } },
      [200],
    );
    changes.push(...removed.map((name): Change => ({ app: QBIT, collection: "category", name, action: "deleted" })));
  }
  return changes;
}

/** SABnzbd's API: `<url_base>/api?mode=…&apikey=…&output=json` (SABnzbd 5.0.1 sabnzbd/interface.py L494-497, api.py). */
export interface SabnzbdTarget {
  /** SABnzbd's url_base (`/sabnzbd`), or "". */
  readonly basePath: string;
  readonly apiKey: string;
}

const SAB = "sabnzbd";

function sabnzbdRequest(target: SabnzbdTarget, params: Record<string, string>) {
  return {
    method: "GET" as const,
    path: `${target.basePath}/api`,
    query: { ...params, apikey: target.apiKey, output: "json" },
  };
}

/**
 * `mode=get_config` needs the full api_key, so it proves the seeded key is the one SABnzbd uses. A
 * refused key is answered HTTP 403 with a plain-text body, `API Key Incorrect` or `API Key Required`,
 * never JSON (SABnzbd 5.0.1 sabnzbd/interface.py L103-104, L183-188, `check_apikey` L387-400); so is
 * a refused address or Host name (L164-169, L175-180). None of these changes by asking again: they
 * fail at once instead of waiting out the readiness budget.
 */
export async function sabnzbdReady(http: HttpClient, target: SabnzbdTarget): Promise<void> {
  const request = sabnzbdRequest(target, { mode: "get_config", section: "misc", keyword: "api_key" });
  const response = await send(http, SAB, request, [200, 403]);
  if (response.status !== 403) {
    return;
  }
  const answer = response.text.trim();
  if (/^API Key (Incorrect|Required)$/.test(answer)) {
    throw credentialsRefused(
      `sabnzbd refused the generated api_key (mode=get_config answered HTTP 403 "${answer}"): sabnzbd.ini's api_key is not the stack's generated key. Its init step writes the key at every start, so a key regenerated in SABnzbd's settings lasts until the pod restarts: restart it (kubectl delete pod sabnzbd-0 in its namespace) and run pulumi up again`,
    );
  }
  throw credentialsRefused(
    `sabnzbd refused the relation's request (mode=get_config answered HTTP 403 "${answer.slice(0, 200)}")`,
  );
}

/** A set_config/del_config: SABnzbd answers a refused write with HTTP 200 and `{"status": false, "error": …}` (SABnzbd 5.0.1 sabnzbd/api.py `report` L1145-1180). */
async function sabnzbdWrite(http: HttpClient, target: SabnzbdTarget, params: Record<string, string>): Promise<void> {
  const answer = await sendJson<{ status?: boolean; error?: string } | undefined>(
    http,
    SAB,
    sabnzbdRequest(target, params),
    [200],
  );
  if (answer?.status === false) {
    const what = Object.entries(params)
      .map(([name, value]) => `${name}=${value}`)
      .join(" ");
    throw relationError(`sabnzbd refused ${what}: ${answer.error ?? "no reason given"}`);
  }
}

interface SabnzbdCategory {
  name: string;
  dir: string;
}

/** Creates, moves and removes SABnzbd categories (`mode=get_config|set_config|del_config&section=categories`). */
export async function reconcileSabnzbdCategories(
  http: HttpClient,
  target: SabnzbdTarget,
  spec: CategoryReconcile,
  changes: Change[] = [],
): Promise<Change[]> {
  const answer = await sendJson<{ config?: { categories?: SabnzbdCategory[] } }>(
    http,
    SAB,
    sabnzbdRequest(target, { mode: "get_config", section: "categories" }),
    [200],
  );
  const existing = new Map((answer?.config?.categories ?? []).map((category) => [category.name, category]));
  const owns = ownership(spec.owned, (name) => name);
  for (const category of spec.desired) {
    const found = existing.get(category.name);
    if (found !== undefined && !owns(category.name)) {
      changes.push({ app: SAB, collection: "category", name: category.name, action: "unmanaged" });
      continue;
    }
    if (found !== undefined && samePath(found.dir, category.savePath)) {
      changes.push({ app: SAB, collection: "category", name: category.name, action: "unchanged" });
      continue;
    }
    // set_config on the categories section creates the category or updates it (api.py handle_cat_api).
    await sabnzbdWrite(http, target, {
      mode: "set_config",
      section: "categories",
      name: category.name,
      dir: category.savePath,
    });
    changes.push({
      app: SAB,
      collection: "category",
      name: category.name,
      action: found === undefined ? "created" : "updated",
    });
  }
  const wanted = new Set(spec.desired.map((category) => category.name));
  for (const name of spec.owned.filter((owned) => !wanted.has(owned) && existing.has(owned))) {
    await sabnzbdWrite(http, target, { mode: "del_config", section: "categories", keyword: name });
    changes.push({ app: SAB, collection: "category", name, action: "deleted" });
  }
  return changes;
}
