import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { CONFIG_KEYS, CONFIG_NAMESPACE } from "../lib/config/keys";

interface TemplateEntry {
  description?: string;
  default?: unknown;
  secret?: boolean;
}

const project = parse(readFileSync("Pulumi.yaml", "utf8")) as {
  name: string;
  runtime: { name: string };
  config?: unknown;
  template: { config: Record<string, TemplateEntry> };
};
const readme = readFileSync("docs/configuration.md", "utf8");
const declared = project.template.config;

describe("Pulumi.yaml and docs/configuration.md document every config key", () => {
  it("is the charmarr nodejs project", () => {
    assert.equal(project.name, CONFIG_NAMESPACE);
    assert.equal(project.runtime.name, "nodejs");
  });

  it("has no top-level config block the CLI would enforce against the program's own rules", () => {
    assert.equal(project.config, undefined);
  });

  for (const [name, spec] of Object.entries(CONFIG_KEYS)) {
    const key = `${CONFIG_NAMESPACE}:${name}`;
    it(`declares ${key} with type, stack, description and default`, () => {
      const entry = declared[key];
      assert.ok(entry, `add ${key} to template.config in Pulumi.yaml`);
      assert.match(entry.description ?? "", /^(secret )?[a-z]+.*, (core|downloads|both stacks)\. .+ Default: .+\.$/);
      assert.equal(entry.secret ?? false, "secret" in spec && spec.secret, `${key}: secret flag`);
      assert.ok(
        entry.default === undefined || typeof entry.default === "string",
        `${key}: the CLI reads template defaults as strings`,
      );
      assert.ok(readme.includes(`\`${key}`), `document ${key} in docs/configuration.md`);
    });
  }

  it("declares no key the program does not read", () => {
    const known = new Set(Object.keys(CONFIG_KEYS).map((name) => `${CONFIG_NAMESPACE}:${name}`));
    assert.deepEqual(
      Object.keys(declared).filter((key) => !known.has(key)),
      [],
    );
  });
});
