// @ts-check
/**
 * Mutation testing (`npm run mutate`, docs/development.md "Mutation testing"): Stryker changes one
 * thing at a time in the code that must never silently break and runs the tests that cover it; a
 * mutant no test notices is a regression the suite would let through.
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  mutate: [
    "lib/vpn/**/*.ts",
    "lib/relations/**/*.ts",
    "lib/mesh/policies.ts",
    "lab/report.ts",
    // The leak classification; the rest of lab/ drives namespaces as root and runs only in `npm run lab`.
    "lab/leaks.ts",
  ],
  testRunner: "mocha",
  mochaOptions: {
    config: ".mocharc.json",
    // The test files that exercise the mutated modules. Stryker runs every one in the first, unmutated
    // run; afterwards each mutant only with the tests that covered it (coverageAnalysis). The others
    // (schemas, citations, docs, Renovate's file scan) never reach this code and would only slow that run.
    spec: [
      "test/lab.test.ts",
      "test/mesh.test.ts",
      "test/admission.test.ts",
      "test/killSwitch.test.ts",
      "test/killSwitchEvaluator.test.ts",
      "test/routeGuard.test.ts",
      "test/vpnBuilders.test.ts",
      "test/vpnGateway.test.ts",
      "test/vpnProviders.test.ts",
      "test/vpnRules.test.ts",
      "test/vpnPortForward.test.ts",
      "test/vpnConfig.test.ts",
      "test/vpnPods.test.ts",
      "test/portFollower.test.ts",
      "test/routedIndexers.test.ts",
      "test/flaresolverrEgress.test.ts",
      // Runs the generated guard scripts in a network namespace (as root, as Stryker runs here).
      "test/guardScripts.test.ts",
      "test/tunnelMtu.test.ts",
      "test/settingsHash.test.ts",
      "test/meshPolicies.test.ts",
      "test/leastPrivilege.test.ts",
      "test/credentials.test.ts",
      "test/portForward.test.ts",
      "test/qbittorrent.test.ts",
      "test/relations.test.ts",
      "test/relationsStack.test.ts",
      "test/seerr.test.ts",
      "test/relationsSeerr.test.ts",
      "test/relationsPlan.test.ts",
      "test/relationsServarr.test.ts",
      "test/serializedRelations.test.ts",
      "test/relationsHttp.test.ts",
      "test/relationsReconcile.test.ts",
      "test/relationsSettings.test.ts",
      "test/relationsJellyfin.test.ts",
      "test/relationsLifecycle.test.ts",
      "test/relationsDownloadClients.test.ts",
    ],
  },
  // Each mutant runs only the tests that executed its code in the unmutated run.
  coverageAnalysis: "perTest",
  // A static mutant (in code that runs once, as its module loads: a constant table) needs a fresh
  // process and every test of the spec list, minutes each here; reported as ignored, not run.
  // `--ignoreStatic false` runs them.
  ignoreStatic: true,
  // Mutants that do not type-check are reported as compile errors, not run: tsc would refuse them.
  checkers: ["typescript"],
  // Only the mutated modules and what they import: the tests are not type-checked again per mutant.
  tsconfigFile: "tsconfig.stryker.json",
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  // Keep the code type-checked in the sandbox as in the repository (no `// @ts-nocheck` inserted).
  disableTypeChecks: false,
  // The sandbox lives in .cache/stryker/tmp/sandbox-*: the tests read shared/ in the directory that
  // holds the clone, which scripts/mutate links as .cache/stryker/tmp/shared. Never `inPlace`: an interrupted run would
  // leave the working tree's files instrumented.
  tempDirName: ".cache/stryker/tmp",
  ignorePatterns: [".cache", ".plan", "reports", "docs/mutation-runs"],
  cleanTempDir: true,
  // Two TypeScript checkers (the bottleneck) and one test runner on the shared 2-core machine;
  // `--concurrency N` overrides this.
  concurrency: 3,
  // A loaded machine slows tests down: a generous timeout keeps a slow run from counting as a mutant
  // caught by an infinite loop.
  timeoutMS: 15000,
  timeoutFactor: 3,
  incremental: true,
  incrementalFile: ".cache/stryker/incremental.json",
  reporters: ["progress", "clear-text", "json", "html"],
  jsonReporter: { fileName: ".cache/stryker/mutation.json" },
  htmlReporter: { fileName: ".cache/stryker/mutation.html" },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true, skipFull: false },
};
