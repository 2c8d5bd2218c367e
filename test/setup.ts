// Loaded by mocha before any test module (.mocharc.json `require`): installs Pulumi's mock runtime
// with a recorder before anything can read config or register a resource
// (docs/upstream.md#pulumi-mock-runtime). Each plan a test makes re-installs it for its own stack through
// plan/evaluate.ts, which records every registered resource with its parent and dependencies.
import Module from "node:module";
import { installMockRuntime } from "../plan/runtime";
import { ORGANIZATION, PROJECT } from "../plan/evaluate";
import { creditSuiteHooks } from "./support/mutationCoverage";

installMockRuntime({ project: PROJECT, stack: "core", organization: ORGANIZATION });
// Under `npm run mutate` only: what a suite's `before` hook executes counts for the suite's tests.
creditSuiteHooks();

/**
 * Node.js loads @kubernetes/client-node, an ES module package, natively when the program
 * `require`s it (`require(esm)`, lib/relations/portForward.ts): `pulumi up` gets the module's
 * namespace. Under tsx's CommonJS hook the same `require` makes tsx transform each of the package's
 * hundreds of files to CommonJS first (tsx 4.23 dist/register-*.cjs, its `.js` extension handler),
 * seconds a worker on a cold cache. Loaded once here by `import()`, the native way, and put in the
 * require cache under the file Node resolves the name to, the program gets what Node gives it.
 */
async function loadKubernetesClientNatively(): Promise<void> {
  const entry = require.resolve("@kubernetes/client-node");
  if (require.cache[entry]) {
    return;
  }
  const namespace = await import("@kubernetes/client-node");
  const module = new Module(entry);
  module.filename = entry;
  module.loaded = true;
  module.exports = namespace;
  require.cache[entry] = module;
}

export const mochaHooks = { beforeAll: loadKubernetesClientNatively };
