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
