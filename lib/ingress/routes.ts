import type { IHTTPRoute } from "../k8s/gatewayApi";
import type { PathStyle } from "../apps/catalog";
import type { ServedApp } from "../apps/resolve";
import { ListenerRef, appListener } from "./gateways";

type RouteRule = NonNullable<IHTTPRoute["spec"]["rules"]>[number];

/** Where an app's route attaches: its domain's gateway, on the listener {@link appListener} gives it. */
export function listenerFor(app: ServedApp, coreNamespace: string): ListenerRef {
  const { name, port } = appListener(app);
  return { gateway: app.domain, namespace: coreNamespace, sectionName: name, port };
}

/**
 * The route rules for each way of serving an app (docs/upstream.md#servarr-apps-and-the-download-clients), as
 * a table.
 */
const RULES: Readonly<Record<PathStyle, (app: ServedApp, backend: RouteRule["backendRefs"]) => RouteRule[]>> = {
  // The app serves under its prefix itself: pass the path through untouched.
  servarr: (app, backendRefs) => [{ matches: [{ path: { type: "PathPrefix", value: app.path } }], backendRefs }],
  sabnzbd: (app, backendRefs) => [{ matches: [{ path: { type: "PathPrefix", value: app.path } }], backendRefs }],
  // qBittorrent only serves at `/`: strip the prefix, and send the bare prefix to its
  // trailing-slash form so the UI's relative links resolve under the prefix.
  rewrite: (app, backendRefs) => [
    {
      matches: [{ path: { type: "Exact", value: app.path } }],
      filters: [
        {
          type: "RequestRedirect",
          requestRedirect: { path: { type: "ReplaceFullPath", replaceFullPath: `${app.path}/` }, statusCode: 301 },
        },
      ],
    },
    {
      matches: [{ path: { type: "PathPrefix", value: `${app.path}/` } }],
      filters: [{ type: "URLRewrite", urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/" } } }],
      backendRefs,
    },
  ],
  root: (_app, backendRefs) => [{ matches: [{ path: { type: "PathPrefix", value: "/" } }], backendRefs }],
};

/** The `HTTPRoute` that serves an app on its gateway, in the app's own namespace. */
export function buildHttpRoute(
  app: ServedApp,
  appNamespace: string,
  listener: ListenerRef,
  labels?: Record<string, string>,
): IHTTPRoute {
  const backendRefs: RouteRule["backendRefs"] = [{ kind: "Service", name: app.name, port: app.port }];
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name: app.name, namespace: appNamespace, labels },
    spec: {
      parentRefs: [
        {
          group: "gateway.networking.k8s.io",
          kind: "Gateway",
          name: listener.gateway,
          namespace: listener.namespace,
          sectionName: listener.sectionName,
        },
      ],
      rules: RULES[app.pathStyle](app, backendRefs),
    },
  };
}
