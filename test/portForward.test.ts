import { strict as assert } from "node:assert";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { stringify } from "yaml";
import { AppGoneError } from "../lib/relations/lifecycle";
import { portForwardConnect } from "../lib/relations/portForward";

/** A Kubernetes API server that knows `objects` by path and answers 404 (a NotFound Status) for everything else. */
async function fakeApiServer(objects: Record<string, unknown>) {
  const seen: { path: string; authorization: string }[] = [];
  const server = createServer((request, response) => {
    const path = (request.url ?? "").split("?")[0];
    seen.push({ path, authorization: request.headers.authorization ?? "" });
    const body = objects[path];
    response.writeHead(body ? 200 : 404, { "content-type": "application/json" });
    response.end(
      JSON.stringify(body ?? { kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404 }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, close: () => server.close() };
}

/** Two contexts: `elsewhere` (the file's current one) points at a closed port, `homelab` at the fake API server. */
const kubeconfig = (server: string) =>
  stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: "homelab", cluster: { server, "insecure-skip-tls-verify": true } },
      { name: "elsewhere", cluster: { server: "http://127.0.0.1:9", "insecure-skip-tls-verify": true } },
    ],
    users: [
      { name: "homelab", user: { token: "homelab-token" } },
      { name: "elsewhere", user: { token: "elsewhere-token" } },
    ],
    contexts: [
      { name: "homelab", context: { cluster: "homelab", user: "homelab" } },
      { name: "elsewhere", context: { cluster: "elsewhere", user: "elsewhere" } },
    ],
    "current-context": "elsewhere",
  });

const reach = { namespace: "charmarr-core", pod: "radarr-0", port: 7878 };
const NAMESPACE = "/api/v1/namespaces/charmarr-core";
const STATEFULSET = "/apis/apps/v1/namespaces/charmarr-core/statefulsets/radarr";

describe("relations: reaching an app's pod through the stack's Kubernetes connection", () => {
  it("uses kubernetes:kubeconfig and kubernetes:context, not the default kubeconfig or its current context", async () => {
    const api = await fakeApiServer({ [NAMESPACE]: { kind: "Namespace" }, [STATEFULSET]: { kind: "StatefulSet" } });
    try {
      // The pod itself is not there (being rescheduled): the app is not gone, the relation goes on to its readiness wait.
      assert.equal(
        await portForwardConnect(reach, { kubeconfig: kubeconfig(api.url), context: "homelab" }, async () => "reached"),
        "reached",
      );
      assert.deepEqual(api.seen, [
        { path: NAMESPACE, authorization: "Bearer homelab-token" },
        { path: STATEFULSET, authorization: "Bearer homelab-token" },
      ]);
    } finally {
      api.close();
    }
  });

  it("treats only a missing namespace or StatefulSet as an app that is gone", async () => {
    const noNamespace = await fakeApiServer({});
    const noStatefulSet = await fakeApiServer({ [NAMESPACE]: { kind: "Namespace" } });
    try {
      await assert.rejects(
        portForwardConnect(
          reach,
          { kubeconfig: kubeconfig(noNamespace.url), context: "homelab" },
          async () => "reached",
        ),
        (error: Error) => error instanceof AppGoneError && /namespace charmarr-core does not exist/.test(error.message),
      );
      await assert.rejects(
        portForwardConnect(
          reach,
          { kubeconfig: kubeconfig(noStatefulSet.url), context: "homelab" },
          async () => "reached",
        ),
        (error: Error) =>
          error instanceof AppGoneError && /StatefulSet charmarr-core\/radarr does not exist/.test(error.message),
      );
    } finally {
      noNamespace.close();
      noStatefulSet.close();
    }
  });

  it("fails, not skips, when the context names no cluster", async () => {
    await assert.rejects(
      portForwardConnect(
        reach,
        { kubeconfig: kubeconfig("http://127.0.0.1:9"), context: "missing" },
        async () => "reached",
      ),
      (error: Error) => !(error instanceof AppGoneError) && /no context "missing"/.test(error.message),
    );
  });
});
