import { request } from "node:http";

/** What an app answered another app's request with. */
export interface AppAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly text: string;
}

/** A stand-in reachable from other stand-ins: where it listens on loopback. */
export interface Reachable {
  readonly url: string;
}

/**
 * The cluster's names as the apps see them: `<service>.<namespace>.svc.cluster.local:<port>` → the
 * stand-in serving there. When one stand-in calls another (a Servarr app testing a download client
 * before it saves it), the request goes to that stand-in on loopback with the Host header the calling
 * app would send (`host:port` of the URL it was given), so host checks (SABnzbd's host_whitelist)
 * see the name the real app would.
 */
export class FakeNetwork {
  private readonly apps = new Map<string, Reachable>();

  /** Serves `app` at `host:port` (a stand-in may be reachable under several names). */
  serve(host: string, port: number, app: Reachable): this {
    this.apps.set(`${host.toLowerCase()}:${port}`, app);
    return this;
  }

  /** The stand-in at `host:port`, if any. */
  find(host: string, port: number): Reachable | undefined {
    return this.apps.get(`${host.toLowerCase()}:${port}`);
  }

  /**
   * Sends a request as an app would to `url` (`http://sabnzbd.charmarr-downloads.svc.cluster.local:8080/sabnzbd/api?…`).
   * Throws, as a refused connection does, when nothing serves that host and port.
   */
  async call(
    url: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<AppAnswer> {
    const target = new URL(url);
    const port = Number(target.port || (target.protocol === "https:" ? 443 : 80));
    const app = this.find(target.hostname, port);
    if (app === undefined || target.protocol !== "http:") {
      throw new Error(`connect ECONNREFUSED ${target.hostname}:${port}`);
    }
    const local = new URL(app.url);
    return new Promise((resolve, reject) => {
      const outgoing = request(
        {
          host: local.hostname,
          port: Number(local.port),
          method: init.method ?? "GET",
          path: `${target.pathname}${target.search}`,
          setHost: false,
          headers: { host: target.host, ...init.headers },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () =>
            resolve({
              status: response.statusCode ?? 0,
              headers: Object.fromEntries(
                Object.entries(response.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")]),
              ),
              text: Buffer.concat(chunks).toString("utf8"),
            }),
          );
        },
      );
      outgoing.on("error", reject);
      outgoing.end(init.body);
    });
  }
}
