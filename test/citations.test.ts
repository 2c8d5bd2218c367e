import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";

// A reason is only useful if a maintainer can look it up: code, tests and docs cite the upstream
// source itself (project, file, version) or docs/upstream.md, never notes kept outside the repository.
const OUTSIDE_REFERENCES = ["FACTS", "review finding", "../shared", "/work/shared"];

describe("citations point at sources a maintainer has", () => {
  it("no tracked file cites a document outside the repository", () => {
    const patterns = OUTSIDE_REFERENCES.flatMap((pattern) => ["-e", pattern]);
    const grep = spawnSync("git", ["grep", "-nIF", ...patterns, "--", ".", ":(exclude)test/citations.test.ts"], {
      encoding: "utf8",
    });
    assert.ok(grep.status === 0 || grep.status === 1, `git grep failed: ${grep.stderr}`);
    assert.equal(grep.stdout, "", "cite the upstream source (project, file, version) or docs/upstream.md instead");
  });
});
