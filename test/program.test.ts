import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import entryPoint from "../index";
import { ConfigError } from "../lib/config";
import { CORE_CONTRACT_VERSION } from "../lib/contract";
import { installMockRuntime } from "../plan/runtime";
import { CORE_EXAMPLE, planStack, withConfig } from "./support/plan";

describe("index.ts, the entry point `pulumi up` runs", () => {
  it("exports the program as a function the Pulumi CLI invokes and awaits", async () => {
    assert.equal(typeof entryPoint, "function");
    installMockRuntime({ project: "charmarr", stack: "core", organization: "organization" });
    // The entry point's preflight reads the cluster the kubeconfig names: give it one with no
    // cluster, so the test never reads whatever cluster the developer's KUBECONFIG points at.
    pulumi.runtime.setAllConfig({ ...CORE_EXAMPLE.values, "kubernetes:kubeconfig": "apiVersion: v1\nkind: Config\n" }, [
      ...CORE_EXAMPLE.secretKeys,
    ]);
    const outputs = await entryPoint();
    assert.equal(outputs.contractVersion, CORE_CONTRACT_VERSION);
    assert.equal(
      await (pulumi.output(outputs.namespace) as unknown as { promise(): Promise<unknown> }).promise(),
      "charmarr-core",
    );
    assert.equal((outputs.cluster as { podCidr: string }).podCidr, "10.42.0.0/16");
  });

  it("runs the program charmarr:role names, whatever the stack is called", async () => {
    const plan = await planStack({
      stack: "homelab-core",
      config: withConfig(CORE_EXAMPLE, { "charmarr:role": "core" }),
    });
    assert.equal(plan.outputs.namespace, "charmarr-core");
    assert.ok(plan.resources.every((r) => r.urn.startsWith("urn:pulumi:homelab-core::charmarr::")));
  });

  it("refuses to guess a role from a stack name that is none", async () => {
    await assert.rejects(
      planStack({ stack: "homelab", config: withConfig(CORE_EXAMPLE, { "charmarr:role": undefined }) }),
      (error: unknown) => error instanceof ConfigError && /charmarr:role/.test(error.message),
    );
  });
});
