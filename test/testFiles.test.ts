import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const PROJECT = join(__dirname, "..");
const SCRIPT = join(PROJECT, "scripts", "test-files");

const run = (script: string) => spawnSync("bash", [script], { encoding: "utf8" });

/** The slowest files the script names, in its order. */
const slowest = () =>
  [...readFileSync(SCRIPT, "utf8").matchAll(/^ {2}(test\/\S+\.test\.ts)$/gm)].map((match) => match[1]);

describe("scripts/test-files: the order npm test's mocha workers take the files in", () => {
  it("lists every test file once, the slowest first, then the rest by name", () => {
    const result = run(SCRIPT);
    assert.equal(result.status, 0, result.stderr);
    const listed = result.stdout.trim().split("\n");
    const everyFile = readdirSync(join(PROJECT, "test"), { recursive: true, encoding: "utf8" })
      .filter((file) => file.endsWith(".test.ts"))
      .map((file) => `test/${file}`);
    assert.deepEqual([...listed].sort(), [...everyFile].sort());
    assert.ok(slowest().length > 0);
    assert.deepEqual(listed.slice(0, slowest().length), slowest());
    const rest = listed.slice(slowest().length);
    assert.deepEqual(rest, [...rest].sort());
  });

  it("fails, naming the file, when a file listed as slow no longer exists", () => {
    const copy = mkdtempSync(join(tmpdir(), "test-files-"));
    mkdirSync(join(copy, "scripts"));
    copyFileSync(SCRIPT, join(copy, "scripts", "test-files"));
    mkdirSync(join(copy, "test", "verify"), { recursive: true });
    const [missing, ...present] = slowest();
    for (const file of present) {
      writeFileSync(join(copy, file), "");
    }
    const result = run(join(copy, "scripts", "test-files"));
    rmSync(copy, { recursive: true, force: true });
    assert.equal(result.status, 1);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr,
      `scripts/test-files: ${missing} is listed among the slowest test files but does not exist\n`,
    );
  });
});
