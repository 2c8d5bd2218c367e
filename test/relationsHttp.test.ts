import { strict as assert } from "node:assert";
import { IncomingMessage, Server, ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { HttpClient, httpClient, isNamedError, send, sendJson } from "../lib/relations/http";
import { waitUntilReady } from "../lib/relations/ready";
import { credentialsRefused, relationError } from "../lib/relations/http";

// The relations' HTTP client and readiness wait, against one local server per file: what an app
// receives on the wire, what a user reads when an app refuses or never answers, and how long a
// relation waits.

/** What the server received: method, URL, the headers as Node parsed them, the body. */
interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
}

type Answer = (response: ServerResponse) => void;

describe("relations: the HTTP client, what an app receives and what a refusal says", () => {
  let server: Server;
  let base: string;
  let received: Received[];
  /** How the server answers the next request; by default 200 with an empty JSON object. */
  let answer: Answer;
  const client = (timeoutMs = 2000, host?: string): HttpClient => httpClient(base, timeoutMs, host);

  before(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        received.push({
          method: request.method ?? "",
          url: request.url ?? "",
          headers: request.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        });
        answer(response);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  beforeEach(() => {
    received = [];
    answer = (response) => response.writeHead(200, { "content-type": "application/json" }).end("{}");
  });

  it("sends a JSON body as application/json, a form as urlencoded, and a GET with neither a body nor a content type", async () => {
    const http = client();
    await http.send({ method: "POST", path: "/radarr/api/v3/rootfolder", json: { path: "/data/movies", n: 1 } });
    await http.send({
      method: "POST",
      path: "/api/v2/torrents/createCategory",
      form: { category: "radarr", savePath: "/data/downloads/radarr & co" },
    });
    await http.send({ method: "GET", path: "/radarr/api/v3/system/status" });
    assert.deepEqual(
      received.map((request) => [
        request.method,
        request.url,
        request.headers["content-type"],
        // Framed by its length, never chunked: a body is sent whole.
        request.headers["content-length"] === String(Buffer.byteLength(request.body)) ||
          (request.body === "" && request.headers["content-length"] === undefined),
        request.headers["transfer-encoding"],
        request.body,
      ]),
      [
        ["POST", "/radarr/api/v3/rootfolder", "application/json", true, undefined, '{"path":"/data/movies","n":1}'],
        [
          "POST",
          "/api/v2/torrents/createCategory",
          "application/x-www-form-urlencoded",
          true,
          undefined,
          "category=radarr&savePath=%2Fdata%2Fdownloads%2Fradarr+%26+co",
        ],
        ["GET", "/radarr/api/v3/system/status", undefined, true, undefined, ""],
      ],
    );
  });

  it("puts the query after the path, each value encoded, and sends the caller's headers", async () => {
    await client().send({
      method: "GET",
      path: "/sabnzbd/api",
      query: { mode: "get_config", apikey: "k/+ =", output: "json" },
      headers: { "X-Api-Key": "radarr-key", Cookie: "SID=1" },
    });
    const [request] = received;
    assert.equal(request.url, "/sabnzbd/api?mode=get_config&apikey=k%2F%2B+%3D&output=json");
    assert.deepEqual(
      [request.headers["x-api-key"], request.headers.cookie, request.headers.host],
      ["radarr-key", "SID=1", new URL(base).host],
    );
  });

  it("names the app's own address in Host when given one (an app behind a relay), and sends it with the caller's headers", async () => {
    await client(2000, "127.0.0.1:8080").send({ method: "GET", path: "/", headers: { Cookie: "SID=1" } });
    assert.deepEqual([received[0].headers.host, received[0].headers.cookie], ["127.0.0.1:8080", "SID=1"]);
  });

  it("answers with the status, the headers by lower-case name (a repeated one joined, as HTTP lists it), and the body as UTF-8", async () => {
    answer = (response) =>
      response
        .writeHead(409, [
          ["Set-Cookie", "SID=abc; HttpOnly; path=/"],
          ["Set-Cookie", "other=1"],
          ["X-Answer", "yes"],
        ])
        .end("déjà: ✓");
    const response = await client().send({ method: "GET", path: "/" });
    assert.equal(response.status, 409);
    assert.equal(response.headers["set-cookie"], "SID=abc; HttpOnly; path=/, other=1");
    assert.equal(response.headers["x-answer"], "yes");
    assert.equal(response.text, "déjà: ✓");
  });

  it("gives up on an app that accepts the request and never answers, after the client's bound", async () => {
    answer = () => undefined;
    const started = Date.now();
    await assert.rejects(client(150).send({ method: "GET", path: "/slow" }), /aborted/i);
    const took = Date.now() - started;
    assert.ok(took >= 140 && took < 5000, `gave up after ${took} ms`);
  });

  it("an app that breaks off its answer fails the request, not the process", async () => {
    answer = (response) => {
      response.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
      response.write('{"partial":');
      setTimeout(() => response.socket?.destroy(), 20);
    };
    await assert.rejects(client().send({ method: "GET", path: "/cut" }), /aborted|ECONNRESET|socket hang up/);
  });

  it("a refusal names the app, the request (never its query: it may hold a key), the status and the start of the app's answer", async () => {
    answer = (response) => response.writeHead(400, { "content-type": "text/plain" }).end(`bad ${"x".repeat(400)}`);
    await assert.rejects(
      send(client(), "radarr", { method: "PUT", path: "/radarr/api/v3/downloadclient/1", query: { apikey: "secret" } }),
      (error: Error) => {
        assert.ok(isNamedError(error, "RelationError"));
        assert.equal(
          error.message,
          `radarr refused PUT /radarr/api/v3/downloadclient/1 with HTTP 400: bad ${"x".repeat(296)}`,
        );
        return true;
      },
    );
  });

  it("takes 200, 201 and 202 unless told otherwise, and only what it is told when it is", async () => {
    for (const status of [200, 201, 202]) {
      answer = (response) => response.writeHead(status).end("");
      assert.equal((await send(client(), "radarr", { method: "POST", path: "/" })).status, status);
    }
    answer = (response) => response.writeHead(204).end();
    await assert.rejects(send(client(), "radarr", { method: "POST", path: "/" }), /refused POST \/ with HTTP 204/);
    answer = (response) => response.writeHead(200).end("{}");
    await assert.rejects(
      send(client(), "jellyfin", { method: "POST", path: "/Startup/Complete" }, [204]),
      /^RelationError: jellyfin refused POST \/Startup\/Complete with HTTP 200: \{\}$/,
    );
  });

  it("an app that is not listening: the error names the app, the request and the connection's failure", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await assert.rejects(
      send(httpClient(`http://127.0.0.1:${port}`, 2000), "sabnzbd", { method: "GET", path: "/sabnzbd/api" }),
      (error: Error) => {
        assert.ok(isNamedError(error, "RelationError"));
        assert.equal(error.message, `sabnzbd did not answer GET /sabnzbd/api: connect ECONNREFUSED 127.0.0.1:${port}`);
        return true;
      },
    );
  });

  it("reads a JSON answer; an empty or blank body is no answer, and a body that is not JSON is refused naming the request and its start", async () => {
    answer = (response) => response.writeHead(200).end('{"version":"5.0.1"}');
    assert.deepEqual(await sendJson(client(), "sabnzbd", { method: "GET", path: "/api" }), { version: "5.0.1" });
    for (const blank of ["", " \n"]) {
      answer = (response) => response.writeHead(200).end(blank);
      assert.equal(await sendJson(client(), "radarr", { method: "DELETE", path: "/radarr/api/v3/tag/1" }), undefined);
    }
    answer = (response) => response.writeHead(200, { "content-type": "text/html" }).end(`<html>${"y".repeat(400)}`);
    await assert.rejects(
      sendJson(client(), "seerr", { method: "GET", path: "/api/v1/status", query: { k: "secret" } }),
      (error: Error) => {
        assert.ok(isNamedError(error, "RelationError"));
        assert.equal(
          error.message,
          `seerr answered GET /api/v1/status with a body that is not JSON: <html>${"y".repeat(294)}`,
        );
        return true;
      },
    );
    answer = (response) => response.writeHead(503).end("starting");
    await assert.rejects(
      sendJson(client(), "seerr", { method: "GET", path: "/api/v1/status" }),
      /^RelationError: seerr refused GET \/api\/v1\/status with HTTP 503: starting$/,
    );
  });
});

describe("relations: the readiness wait", () => {
  /** A probe that fails `failures` times (each with its attempt's number), then answers. */
  const flaky = (failures: number) => {
    const calls: number[] = [];
    const probe = async () => {
      calls.push(Date.now());
      if (calls.length <= failures) {
        throw relationError(`no answer ${calls.length}`);
      }
    };
    return { calls, probe };
  };

  it("asks again until the app answers, within its attempts", async () => {
    const { calls, probe } = flaky(2);
    await waitUntilReady("radarr", "GET /radarr/api/v3/system/status", probe, { attempts: 3, intervalMs: 1 });
    assert.equal(calls.length, 3);
  });

  it("fails after exactly its attempts, spaced by its interval, naming the app, the request, the wait and the last answer", async () => {
    const { calls, probe } = flaky(Infinity);
    const started = Date.now();
    await assert.rejects(
      waitUntilReady("sonarr", "GET /sonarr/api/v3/system/status", probe, { attempts: 3, intervalMs: 40 }),
      (error: Error) => {
        assert.ok(isNamedError(error, "RelationError"));
        assert.equal(
          error.message,
          "sonarr is not ready: GET /sonarr/api/v3/system/status did not answer after 3 attempts over 0.08 s (last: no answer 3)",
        );
        return true;
      },
    );
    assert.equal(calls.length, 3);
    assert.ok(calls[1] - calls[0] >= 35 && calls[2] - calls[1] >= 35, `asked at ${calls.map((t) => t - started)}`);
  });

  it("does not wait after the last attempt: a single attempt fails at once, whatever the interval", async function () {
    this.timeout(5000);
    const { calls, probe } = flaky(Infinity);
    const started = Date.now();
    await assert.rejects(
      waitUntilReady("lidarr", "GET /lidarr/api/v1/system/status", probe, { attempts: 1, intervalMs: 60_000 }),
      /^RelationError: lidarr is not ready: GET \/lidarr\/api\/v1\/system\/status did not answer after 1 attempts over 0 s \(last: no answer 1\)$/,
    );
    assert.equal(calls.length, 1);
    assert.ok(Date.now() - started < 2000);
  });

  it("stops at once when the app refuses the credentials: asking again would only get the address banned", async () => {
    let calls = 0;
    const refused = credentialsRefused("qbittorrent refused the generated WebUI credentials");
    await assert.rejects(
      waitUntilReady(
        "qbittorrent",
        "POST /api/v2/auth/login",
        async () => {
          calls++;
          throw refused;
        },
        { attempts: 5, intervalMs: 60_000 },
      ),
      (error) => error === refused,
    );
    assert.equal(calls, 1);
  });
});
