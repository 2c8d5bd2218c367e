// Loaded by mocha before any test module (.mocharc.json `require`): installs Pulumi's mock runtime
// with a recorder before anything can read config or register a resource
// (docs/upstream.md#pulumi-mock-runtime). Each plan a test makes re-installs it for its own stack through
// plan/evaluate.ts, which records every registered resource with its parent and dependencies.
import { installMockRuntime } from "../plan/runtime";
import { ORGANIZATION, PROJECT } from "../plan/evaluate";
import { creditSuiteHooks } from "./support/mutationCoverage";

installMockRuntime({ project: PROJECT, stack: "core", organization: ORGANIZATION });
// Under `npm run mutate` only: what a suite's `before` hook executes counts for the suite's tests.
creditSuiteHooks();
