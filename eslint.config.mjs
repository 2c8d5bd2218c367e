import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", ".plan/", ".cache/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      eqeqeq: ["error", "always"],
      "no-console": "off",
    },
  },
  {
    // The relations run as Pulumi serializes them, and the serializer carries a package the code
    // requires by name (docs/development.md, "What the relations' provider may capture"). With
    // tsconfig's "module": "node20" TypeScript leaves an import() as it is, where "commonjs" made it
    // a require, and no test shows how the serializer carries one: keep to require.
    files: ["lib/relations/**/*.ts"],
    rules: {
      "no-restricted-syntax": [
        "error",
        {
          selector: "ImportExpression",
          message: "require the package by its name inside the function that needs it, as portForward.ts does",
        },
      ],
    },
  },
  {
    // Tests share plans through test/support/plan.ts (docs/development.md): a direct evaluation
    // re-plans a configuration another test has already planned.
    files: ["test/**/*.ts"],
    ignores: ["test/support/plan.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["**/plan/evaluate"],
              importNames: ["evaluateStack"],
              message:
                "plan through planCore, planDownloads or planStack from test/support/plan.ts, which plan each configuration once",
            },
          ],
        },
      ],
    },
  },
);
