import * as http from "node:http";

/**
 * The one thing the relations need from the network: send a request to one app, get its answer.
 * Tests pass a client bound to a local server; `pulumi up` passes one bound to a port-forward.
 */
export interface HttpRequest {
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  /** Path from the app's root, with its base path: `/radarr/api/v3/downloadclient`. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly headers?: Readonly<Record<string, string>>;
  /** A JSON body (sent as `application/json`). */
  readonly json?: unknown;
  /** A form body (sent as `application/x-www-form-urlencoded`). */
  readonly form?: Readonly<Record<string, string>>;
}

export interface HttpResponse {
  readonly status: number;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly text: string;
}

export interface HttpClient {
  send(request: HttpRequest): Promise<HttpResponse>;
}

/**
 * The relations' errors are plain `Error`s told apart by their `name`, never subclasses of `Error`.
 * On `pulumi up` the relations run as the text Pulumi's closure serializer writes, which turns a
 * class's `super(message)` into `__super.call(this, message)` (@pulumi/pulumi 3.248.0
 * runtime/closure/rewriteSuper.js `rewriteSuperReferences`): calling `Error` that way makes a new
 * error and leaves `this` without its message (pulumi/pulumi#10974), and the dynamic provider host
 * sends the engine only `error.message` (cmd/dynamic-provider/index.js `grpcResponseFromError`).
 */
export type RelationErrorName = "RelationError" | "CredentialsRefusedError" | "AppGoneError";

/** An error whose `String()` reads `<name>: <message>`. */
export function namedError(name: RelationErrorName, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** Whether `error` is one {@link namedError} made with `name`. */
export function isNamedError(error: unknown, name: RelationErrorName): error is Error {
  return error instanceof Error && error.name === name;
}

/** A relation could not be made: names the app and what it did or did not answer. */
export const relationError = (message: string): Error => namedError("RelationError", message);

/** The app answered and refused the credentials the program gave it: asking again cannot help, so the readiness wait stops. */
export const credentialsRefused = (message: string): Error => namedError("CredentialsRefusedError", message);

/** `GET /radarr/api/v3/rootfolder`, for messages (never with the query: it may hold an API key). */
export function describe(request: HttpRequest): string {
  return `${request.method} ${request.path}`;
}

/** Sends the request and returns its JSON body, refusing any status outside `accept`. */
export async function sendJson<T>(
  http: HttpClient,
  app: string,
  request: HttpRequest,
  accept: readonly number[] = [200, 201, 202],
): Promise<T> {
  const response = await send(http, app, request, accept);
  if (response.text.trim() === "") {
    return undefined as T;
  }
  try {
    return JSON.parse(response.text) as T;
  } catch {
    throw relationError(`${app} answered ${describe(request)} with a body that is not JSON: ${answerStart(response)}`);
  }
}

/** The start of an app's answer, for an error message: enough to read its reason, never a whole page. */
export function answerStart(response: HttpResponse): string {
  return response.text.slice(0, 300);
}

/** Sends the request, refusing any status outside `accept` with the app's own words. */
export async function send(
  http: HttpClient,
  app: string,
  request: HttpRequest,
  accept: readonly number[] = [200, 201, 202],
): Promise<HttpResponse> {
  let response: HttpResponse;
  try {
    response = await http.send(request);
  } catch (error) {
    throw relationError(`${app} did not answer ${describe(request)}: ${(error as Error).message}`);
  }
  if (!accept.includes(response.status)) {
    throw relationError(`${app} refused ${describe(request)} with HTTP ${response.status}: ${answerStart(response)}`);
  }
  return response;
}

/**
 * A client over Node's http module, connecting to `baseUrl` (`http://127.0.0.1:34567`), each request
 * bounded by `timeoutMs`. `host` is the Host header to send when the app must see another one than
 * `baseUrl`'s (an app behind a local relay): Node's fetch cannot send it, undici drops a Host header
 * it is given (it is a forbidden header name in the Fetch standard).
 */
export function httpClient(baseUrl: string, timeoutMs: number, host?: string): HttpClient {
  return {
    send(request) {
      const url = new URL(request.path, baseUrl);
      for (const [name, value] of Object.entries(request.query ?? {})) {
        url.searchParams.set(name, value);
      }
      const headers: Record<string, string> = { ...request.headers, ...(host !== undefined ? { host } : {}) };
      let body: string | undefined;
      if (request.json !== undefined) {
        headers["content-type"] = "application/json";
        body = JSON.stringify(request.json);
      } else if (request.form !== undefined) {
        headers["content-type"] = "application/x-www-form-urlencoded";
        body = new URLSearchParams(request.form as Record<string, string>).toString();
      }
      return new Promise<HttpResponse>((resolve, reject) => {
        const outgoing = http.request(
          url,
          { method: request.method, headers, signal: AbortSignal.timeout(timeoutMs) },
          (response) => {
            const chunks: Buffer[] = [];
            response.on("data", (chunk: Buffer) => chunks.push(chunk));
            response.on("error", reject);
            response.on("end", () => {
              const responseHeaders: Record<string, string> = {};
              for (const [name, value] of Object.entries(response.headers)) {
                if (value !== undefined) {
                  responseHeaders[name] = Array.isArray(value) ? value.join(", ") : value;
                }
              }
              resolve({
                status: response.statusCode ?? 0,
                headers: responseHeaders,
                text: Buffer.concat(chunks).toString("utf8"),
              });
            });
          },
        );
        outgoing.on("error", reject);
        outgoing.end(body);
      });
    },
  };
}
