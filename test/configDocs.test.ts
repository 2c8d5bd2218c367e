import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020";
import { parse } from "yaml";
import {
  PROJECT_FILE,
  REFERENCE_FILE,
  SCHEMA_FILE,
  configurationReference,
  projectFileText,
  referenceRows,
  stackFileSchema,
  stackFileSchemaText,
} from "../tools/configDocs";

const STACK_FILES = ["Pulumi.core.yaml", "Pulumi.downloads.yaml"];
const MODELINE = `# yaml-language-server: $schema=./${SCHEMA_FILE}`;

const validate = new Ajv2020({ allErrors: true, strict: false }).compile(stackFileSchema());

function errorsOf(document: unknown): string[] {
  return validate(document)
    ? []
    : (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message ?? ""}`);
}

describe("generated configuration reference and stack-file schema", () => {
  it(`${REFERENCE_FILE} is what the schemas generate`, () => {
    assert.ok(
      readFileSync(REFERENCE_FILE, "utf8") === configurationReference(),
      `${REFERENCE_FILE} is out of date: run \`npm run docs\``,
    );
  });

  it(`${SCHEMA_FILE} is what the schemas generate`, () => {
    assert.ok(
      readFileSync(SCHEMA_FILE, "utf8") === stackFileSchemaText(),
      `${SCHEMA_FILE} is out of date: run \`npm run docs\``,
    );
  });

  it(`${PROJECT_FILE}'s template descriptions are what the key table and schemas generate`, () => {
    const current = readFileSync(PROJECT_FILE, "utf8");
    assert.ok(current === projectFileText(current), `${PROJECT_FILE} is out of date: run \`npm run docs\``);
  });

  it("describes every setting", () => {
    const undescribed = referenceRows()
      .filter((row) => row.description.trim() === "")
      .map((row) => row.path);
    assert.deepEqual(
      undescribed,
      [],
      "describe these fields in their domain's settings schema with .describe(...), then run `npm run docs`",
    );
  });

  for (const file of STACK_FILES) {
    it(`${file} names the schema for editors and satisfies it`, () => {
      const text = readFileSync(file, "utf8");
      assert.equal(text.split("\n")[0], MODELINE);
      assert.deepEqual(errorsOf(parse(text)), []);
    });
  }

  it("flags what the program refuses: unknown charmarr keys, wrong types, plain objects in secret keys", () => {
    const config = (parse(readFileSync("Pulumi.downloads.yaml", "utf8")) as { config: Record<string, unknown> }).config;
    assert.notDeepEqual(errorsOf({ config: { ...config, "charmarr:vpnPrivatekey": "x" } }), []);
    assert.notDeepEqual(
      errorsOf({
        config: { ...config, "charmarr:vpn": { ...(config["charmarr:vpn"] as object), vxlanId: "forty-two" } },
      }),
      [],
    );
    assert.notDeepEqual(errorsOf({ config: { ...config, "charmarr:vpnPrivateKey": { plain: "x" } } }), []);
  });

  it("accepts what Pulumi writes: encrypted secrets, provider keys, the project's keys without namespace, the secrets salt", () => {
    const config = (parse(readFileSync("Pulumi.downloads.yaml", "utf8")) as { config: Record<string, unknown> }).config;
    const written = {
      encryptionsalt: "v1:abc:def",
      config: {
        ...config,
        "charmarr:vpnPrivateKey": { secure: "v1:AAAA:BBBB" },
        "tailscale:tailnet": "example.com",
        coreStack: "organization/charmarr/core",
      },
    };
    assert.deepEqual(errorsOf(written), []);
  });
});
