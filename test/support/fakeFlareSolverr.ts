// A stand-in for FlareSolverr v3.5.0 (FlareSolverr/FlareSolverr at tag v3.5.0, commit 4ca91a24) on
// 127.0.0.1: its HTTP API as src/flaresolverr.py and src/flaresolverr_service.py serve it, with a
// browser that loads only the pages of the hosts a test says it reaches. Every `path:line` below is
// at that tag.
import type { SeenRequest } from "./apiDocuments";
import { FakeApp, Reply } from "./fakeApps";

/** The version FlareSolverr reports in every answer (package.json at v3.5.0; src/utils.py `get_flaresolverr_version`). */
const VERSION = "3.5.0";
/**
 * A user agent of the form Chromium reports: the stand-in's own value (the real one is read from the
 * browser at start, src/utils.py `get_user_agent` L315-333, and depends on the Chromium the image has).
 */
const FLARESOLVERR_USER_AGENT =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36";

/**
 * FlareSolverr's API:
 * - `GET /` and `GET /health` (src/flaresolverr.py L33-49; src/flaresolverr_service.py L84-95);
 * - `POST /v1` (src/flaresolverr.py L52-68): the body is read as JSON only when it is sent as
 *   exactly `application/json` or `application/json-rpc`, parameters after `;` aside (bottle 0.13.4
 *   `BaseRequest.json`; anything else is `{}`, L57), then `_controller_v1_handler`
 *   (flaresolverr_service.py L119-147): `cmd` is required, `maxTimeout` below 1 or missing becomes
 *   60000 and one Python's `int()` cannot read (L129) fails, an unknown `cmd` is refused; every failure is HTTP 500 with
 *   `{"status": "error", "message": "Error: …"}` (L102-109);
 * - `request.get` (L150-166): `url` required, `postData` refused; the page is loaded in the browser
 *   and answered `{"status": "ok", "message": "Challenge not detected!", "solution": {…}}` (L336-485),
 *   or, when the browser cannot load it, HTTP 500 "Error solving the challenge. …" (L249-252);
 * - `sessions.list` (L206-213): the session ids, none here;
 * - any other path is a JSON 404, a wrong method a JSON 405 (src/flaresolverr.py L21-27, bottle's router).
 * Left out, and refused as outside what the stand-in serves (never answered as if it worked):
 * `request.post` (L169-183), which Prowlarr sends only for an indexer's form POST behind Cloudflare
 * (Prowlarr v2.3.5.5327 src/NzbDrone.Core/IndexerProxies/FlareSolverr/FlareSolverr.cs L125-147), never
 * in its test; `sessions.create` and `sessions.destroy` (L186-226), which Prowlarr never sends; the
 * challenge solving itself (L336-460: the stand-in's pages have no challenge); the `proxy` parameter
 * (src/utils.py L162-169), which Prowlarr sends empty unless Prowlarr itself has a proxy
 * (FlareSolverr.cs L105-113); the `PROXY_URL` environment (src/flaresolverr.py L58-63), unset here as
 * in the plan.
 */
export class FakeFlareSolverr extends FakeApp {
  readonly name = "flaresolverr";
  /** The `/v1` commands it took, as parsed from their JSON. */
  readonly commands: Record<string, unknown>[] = [];

  /** @param reachable host names whose pages the browser can load: the internet as the pod reaches it. */
  constructor(public reachable: readonly string[]) {
    super();
  }

  protected handle(request: SeenRequest & { rawPath: string }): Reply {
    const routes: Readonly<Record<string, { method: string; answer: () => Reply }>> = {
      "/": {
        method: "GET",
        answer: () => ({
          status: 200,
          body: { msg: "FlareSolverr is ready!", version: VERSION, userAgent: FLARESOLVERR_USER_AGENT },
        }),
      },
      "/health": { method: "GET", answer: () => ({ status: 200, body: { status: "ok" } }) },
      "/v1": { method: "POST", answer: () => this.v1(request) },
    };
    const route = routes[request.rawPath];
    if (route === undefined) {
      return this.refuseJson(404, `Not found: '${request.rawPath}'`);
    }
    if (route.method !== request.method) {
      return this.refuseJson(405, "Method not allowed.");
    }
    return route.answer();
  }

  /** bottle's error page as FlareSolverr's `JSONErrorBottle` writes it (src/flaresolverr.py L21-27). */
  private refuseJson(status: number, error: string): Reply {
    this.violations.push(`${status} ${error}`);
    return { status, body: { error, status_code: status } };
  }

  private v1(request: SeenRequest): Reply {
    const mediaType = (request.headers["content-type"] ?? "").toLowerCase().split(";")[0];
    const json = mediaType === "application/json" || mediaType === "application/json-rpc";
    const data =
      json && typeof request.body === "object" && request.body !== null && !Array.isArray(request.body)
        ? (request.body as Record<string, unknown>)
        : {};
    this.commands.push(data);
    const started = Date.now();
    const answer = (status: number, body: Record<string, unknown>): Reply => ({
      status,
      body: { ...body, startTimestamp: started, endTimestamp: Date.now(), version: VERSION },
    });
    // An error FlareSolverr answers for a request it cannot run: a caller's mistake, recorded.
    const refused = (message: string) => {
      this.violations.push(`POST /v1: ${message}`);
      return answer(500, { status: "error", message: `Error: ${message}` });
    };
    if (data.cmd === undefined || data.cmd === null) {
      return refused("Request parameter 'cmd' is mandatory.");
    }
    const unreadable = intProblem(data.maxTimeout);
    if (unreadable !== undefined) {
      return refused(unreadable);
    }
    switch (data.cmd) {
      case "sessions.list":
        return answer(200, { status: "ok", message: "", sessions: [] });
      case "request.get": {
        if (data.url === undefined || data.url === null) {
          return refused("Request parameter 'url' is mandatory in 'request.get' command.");
        }
        if (data.postData !== undefined && data.postData !== null) {
          return refused("Cannot use 'postBody' when sending a GET request.");
        }
        return this.load(String(data.url), answer);
      }
      case "request.post":
      case "sessions.create":
      case "sessions.destroy":
        return refused(`the stand-in does not serve '${String(data.cmd)}'`);
      default:
        return refused(`Request parameter 'cmd' = '${String(data.cmd)}' is invalid.`);
    }
  }

  /**
   * The browser loads the page: a host the pod reaches answers with its page and no challenge; any
   * other fails as Chromium fails a name it cannot resolve (the error text is the stand-in's), which
   * FlareSolverr answers HTTP 500 (flaresolverr_service.py L249-252, L102-109). Not a caller's mistake.
   */
  private load(url: string, answer: (status: number, body: Record<string, unknown>) => Reply): Reply {
    let host: string;
    try {
      host = new URL(url).hostname;
    } catch {
      return answer(500, {
        status: "error",
        message: `Error: Error solving the challenge. Message: invalid argument\\n  (Session info: url=${url})`,
      });
    }
    if (!this.reachable.includes(host)) {
      return answer(500, {
        status: "error",
        message: "Error: Error solving the challenge. Message: unknown error: net::ERR_NAME_NOT_RESOLVED",
      });
    }
    return answer(200, {
      status: "ok",
      message: "Challenge not detected!",
      solution: {
        url,
        // flaresolverr_service.py L468 and L474: always 200 and no headers (selenium does not report them).
        status: 200,
        headers: {},
        response: "<html><body>pong</body></html>",
        cookies: [],
        userAgent: FLARESOLVERR_USER_AGENT,
      },
    });
  }
}

/**
 * Why Python's `int()` cannot read `value` (flaresolverr_service.py L129 `int(req.maxTimeout)`), in
 * Python's words; undefined when it can: none, a number, a boolean, or a string of an integer.
 */
function intProblem(value: unknown): string | undefined {
  if (value === undefined || value === null || typeof value === "number" || typeof value === "boolean") {
    return undefined;
  }
  if (typeof value === "string") {
    return /^\s*[+-]?\d+\s*$/.test(value) ? undefined : `invalid literal for int() with base 10: '${value}'`;
  }
  return `int() argument must be a string, a bytes-like object or a real number, not '${Array.isArray(value) ? "list" : "dict"}'`;
}
