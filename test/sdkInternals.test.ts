// The @pulumi/pulumi internals the plan and the config loader rely on. Each test names the
// internal and where it is used, so an SDK upgrade that changes one fails here, loudly, first.
import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import { ORGANIZATION, PROJECT } from "../plan/evaluate";
import { allRegistrationsSettled, installMockRuntime, isSecretValue } from "../plan/runtime";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const SDK_VERSION = (require("@pulumi/pulumi/package.json") as { version: string }).version;
const internals = pulumi.runtime as unknown as Record<string, unknown>;

class Thing extends pulumi.CustomResource {
  constructor(name: string, props: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
    super("test:index:Thing", name, props, opts);
  }
}

function changed(what: string, user: string): string {
  return `@pulumi/pulumi ${SDK_VERSION} changed ${what}, which ${user} relies on`;
}

describe(`@pulumi/pulumi internals (${SDK_VERSION})`, () => {
  after(() => installMockRuntime({ project: PROJECT, stack: "core", organization: ORGANIZATION }));

  it("runtime.isConfigSecret tells which config keys the CLI decrypted", () => {
    assert.equal(
      typeof internals.isConfigSecret,
      "function",
      changed("runtime.isConfigSecret (gone)", "lib/config readConfigSource's plain-text credential check"),
    );
    pulumi.runtime.setAllConfig({ "charmarr:vpnPrivateKey": "k", "charmarr:namespace": "n" }, [
      "charmarr:vpnPrivateKey",
    ]);
    const isConfigSecret = internals.isConfigSecret as (key: string) => boolean;
    assert.deepEqual(
      [isConfigSecret("charmarr:vpnPrivateKey"), isConfigSecret("charmarr:namespace")],
      [true, false],
      changed("what runtime.isConfigSecret answers", "lib/config readConfigSource's plain-text credential check"),
    );
  });

  it("runtime/debuggable.js stamps every promise, with no stack frames in a plan", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- an internal module its typings do not export
    const debuggable = require("@pulumi/pulumi/runtime/debuggable") as Record<string, unknown>;
    const user = "plan/runtime.ts stampPromisesWithoutStackTraces";
    assert.equal(typeof debuggable.debuggablePromise, "function", changed("runtime/debuggable.js (gone)", user));
    const stamp = debuggable.debuggablePromise as (promise: Promise<number>, context: string) => Promise<number>;
    const stamped = Promise.resolve(1) as Promise<number> & Record<string, unknown>;
    void stamp(stamped, "a context");
    assert.equal(stamped._debugCtx, "a context", changed("debuggablePromise's _debugCtx", user));
    assert.equal(stamped._debugStackTrace, "Error", changed("debuggablePromise's _debugStackTrace", user));
  });

  it("runtime.waitForRPCs exists to drain registrations", () => {
    assert.equal(
      typeof internals.waitForRPCs,
      "function",
      changed("runtime.waitForRPCs (gone)", "plan/runtime.ts allRegistrationsSettled"),
    );
  });

  it("secrets are serialized with runtime.specialSigKey and runtime.specialSecretSig", () => {
    assert.equal(
      typeof pulumi.runtime.specialSigKey,
      "string",
      changed("runtime.specialSigKey", "plan/runtime.ts isSecretValue"),
    );
    assert.equal(
      typeof pulumi.runtime.specialSecretSig,
      "string",
      changed("runtime.specialSecretSig", "plan/runtime.ts isSecretValue"),
    );
  });

  it("the mock monitor's registerResource/readResource requests carry type, name, parent and dependencies", async () => {
    const recorder = installMockRuntime({ project: PROJECT, stack: "internals", organization: ORGANIZATION });
    const parent = new pulumi.ComponentResource("charmarr:test:Parent", "parent");
    const first = new Thing("first", { value: pulumi.secret("s") }, { parent });
    new Thing("second", {}, { parent, dependsOn: [first] });
    await allRegistrationsSettled();
    const byName = new Map(recorder.resources.map((resource) => [resource.name, resource]));
    const second = byName.get("second");
    assert.ok(
      byName.get("first") && second,
      changed("mock resource registration", "plan/runtime.ts installMockRuntime's recorder"),
    );
    assert.match(
      second.parent ?? "",
      /charmarr:test:Parent::parent$/,
      changed("the register request's getParent / the monitor's newUrn", "plan/runtime.ts (parents in resources.json)"),
    );
    assert.ok(
      second.dependencies.some((urn) => urn.endsWith("test:index:Thing::first")),
      changed(
        "the register request's getDependenciesList",
        "plan/runtime.ts (dependencies in resources.json and the platform ordering tests)",
      ),
    );
    assert.ok(
      isSecretValue(byName.get("first")?.inputs.value),
      changed("how secret inputs are serialized to the monitor", "plan/evaluate.ts redaction"),
    );
  });
});
