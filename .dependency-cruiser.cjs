/* global module */
/**
 * The import rules of this program, checked by test/dependencies.test.ts (and by hand with
 * `npx depcruise lib components stacks plan verify lab index.ts`). Dependencies run one way:
 * stacks → components → lib builders → shared utilities (lib/settings, lib/net.ts).
 */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "An import circle: two modules that need each other cannot be understood or tested apart.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "domain-not-config",
      comment: "Domains own their settings; lib/config only composes them, so no domain module may import it.",
      severity: "error",
      from: { path: "^lib/", pathNot: "^lib/(config/|program\\.ts$)" },
      to: { path: "^lib/config/" },
    },
    {
      name: "settings-shared-only",
      comment: "lib/settings holds the zod building blocks every domain uses; it depends on nothing domain-specific.",
      severity: "error",
      from: { path: "^lib/settings/" },
      to: { path: "^lib/", pathNot: "^lib/(settings/|net\\.ts$)" },
    },
    {
      name: "lib-not-upward",
      comment:
        "lib/ builders are used by components and stacks, never the other way; only the program entry runs the stacks.",
      severity: "error",
      from: { path: "^lib/", pathNot: "^lib/program\\.ts$" },
      to: { path: "^(components|stacks|plan)/" },
    },
    {
      name: "lab-not-imported",
      comment:
        "The data-path lab (lab/) runs the program's plan; nothing the program or the verifier ships may depend on the lab.",
      severity: "error",
      from: { path: "^(lib|components|stacks|plan|verify)/" },
      to: { path: "^lab/" },
    },
    {
      name: "components-not-stacks",
      comment: "Components are wired by the stacks, never the other way.",
      severity: "error",
      from: { path: "^components/" },
      to: { path: "^(stacks|plan)/" },
    },
  ],
  options: {
    // Type-only imports count: a circle through types is still a circle for the reader.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    doNotFollow: { path: "node_modules" },
    exclude: { path: "node_modules" },
  },
};
