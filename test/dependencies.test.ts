import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { join } from "node:path";

interface Violation {
  readonly rule: { readonly name: string };
  readonly from: string;
  readonly to: string;
  readonly cycle?: readonly ({ readonly name: string } | string)[];
}

interface CruiseResult {
  readonly summary: {
    readonly violations: readonly Violation[];
    readonly totalCruised: number;
    readonly ruleSetUsed: { readonly forbidden?: readonly { readonly name: string }[] };
  };
}

// dependency-cruiser is ESM-only, so it runs as its own process, like `npx depcruise` would.
function cruise(): CruiseResult {
  const root = join(__dirname, "..");
  const cli = join(root, "node_modules", "dependency-cruiser", "bin", "dependency-cruise.mjs");
  const output = execFileSync(
    process.execPath,
    [cli, "lib", "components", "stacks", "plan", "verify", "lab", "index.ts", "--output-type", "json"],
    {
      cwd: root,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  return JSON.parse(output) as CruiseResult;
}

function describeViolation(violation: Violation): string {
  const cycle = violation.cycle?.map((step) => (typeof step === "string" ? step : step.name));
  return `${violation.rule.name}: ${violation.from} → ${cycle ? cycle.join(" → ") : violation.to}`;
}

describe("module dependencies (.dependency-cruiser.cjs)", () => {
  let result: CruiseResult;
  before(function () {
    this.timeout(60000);
    result = cruise();
  });

  it("checks the rules that keep the layers apart", () => {
    const rules = (result.summary.ruleSetUsed.forbidden ?? []).map((rule) => rule.name);
    for (const rule of [
      "no-circular",
      "domain-not-config",
      "settings-shared-only",
      "lib-not-upward",
      "components-not-stacks",
      "lab-not-imported",
    ]) {
      assert.ok(rules.includes(rule), `rule ${rule} is missing from .dependency-cruiser.cjs`);
    }
    assert.ok(result.summary.totalCruised > 50, `only ${result.summary.totalCruised} modules were cruised`);
  });

  it("has no import circle in lib/, components/, stacks/, plan/, verify/ or lab/, and no domain module imports lib/config", () => {
    assert.deepEqual(result.summary.violations.map(describeViolation), []);
  });
});
