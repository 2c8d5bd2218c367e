/**
 * What the tests do differently under Stryker's mutation run (`npm run mutate`, docs/development.md
 * "Mutation testing"). Stryker's instrumented code counts which mutants each test executes
 * (`__stryker__.mutantCoverage.perTest[<test's full title>]`, keyed by the `currentTestId` its mocha
 * runner sets in a root `beforeEach`) and later runs each mutant with only the tests that executed
 * it. Code that runs in a suite's `before` hook (a plan every test of the suite reads) runs before
 * that `beforeEach`: Stryker would credit it to whichever test ran last, or to none (a "static"
 * mutant, run with every test in a fresh process). {@link creditSuiteHooks} credits it to every test
 * of the suite instead, which is what depends on it.
 */
import { Suite } from "mocha";

/** The part of Stryker's instrumenter state this module reads and writes. */
interface StrykerNamespace {
  activeMutant?: string;
  currentTestId?: string;
  mutantCoverage?: { static: Record<string, number>; perTest: Record<string, Record<string, number>> };
}

const STRYKER = (globalThis as { __stryker__?: StrykerNamespace }).__stryker__;

/** Whether these tests run inside Stryker's mutation run. */
export const MUTATION_RUN = STRYKER !== undefined;

/** The mutant Stryker has switched on, if any (none in its first, unmutated run). */
export function activeMutant(): string | undefined {
  return STRYKER?.activeMutant;
}

function testsOf(suite: Suite): string[] {
  return [...suite.tests.map((test) => test.fullTitle()), ...suite.suites.flatMap(testsOf)];
}

/** Wraps every `before` hook registered from now on so that what it executes counts for its suite's tests. */
export function creditSuiteHooks(): void {
  if (STRYKER === undefined) {
    return;
  }
  const stryker = STRYKER;
  const beforeAll = Suite.prototype.beforeAll;
  Suite.prototype.beforeAll = function (this: Suite, ...args: unknown[]) {
    const index = args.findIndex((arg) => typeof arg === "function");
    const hook = args[index] as (this: Mocha.Context) => unknown;
    // A hook that takes mocha's `done` callback is left alone (this suite has none).
    if (index === -1 || hook.length > 0) {
      return beforeAll.apply(this, args as Parameters<typeof beforeAll>);
    }
    const hookId = `before hook of ${this.fullTitle()}`;
    const tests = () => testsOf(this);
    const credited = async function (this: Mocha.Context) {
      const previous = stryker.currentTestId;
      stryker.currentTestId = hookId;
      try {
        return await hook.call(this);
      } finally {
        stryker.currentTestId = previous;
        const perTest = stryker.mutantCoverage?.perTest;
        const covered = perTest?.[hookId];
        if (perTest && covered) {
          delete perTest[hookId];
          for (const test of tests()) {
            const counts = (perTest[test] ??= {});
            for (const [mutant, hits] of Object.entries(covered)) {
              counts[mutant] = (counts[mutant] ?? 0) + hits;
            }
          }
        }
      }
    };
    const rewritten = [...args];
    rewritten[index] = credited;
    return beforeAll.apply(this, rewritten as Parameters<typeof beforeAll>);
  };
}
