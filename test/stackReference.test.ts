import { strict as assert } from "node:assert";
import { CoreStackError } from "../lib/contract";
import { DOWNLOADS_EXAMPLE, planCore, planStack, referenceTo, withConfig } from "./support/plan";

async function planDownloadsAgainst(
  coreOutputs: Record<string, unknown>,
  changes: Record<string, unknown> = {},
  referenceName = "organization/charmarr/core",
) {
  return planStack({
    stack: "downloads",
    config: withConfig(DOWNLOADS_EXAMPLE, changes),
    referencedStacks: { [referenceName]: { outputs: coreOutputs, secretOutputNames: [] } },
  });
}

async function refusedWith(plan: Promise<unknown>): Promise<CoreStackError> {
  try {
    await plan;
  } catch (error) {
    assert.ok(error instanceof CoreStackError, String(error));
    return error;
  }
  assert.fail("the downloads stack ran against an unusable core stack");
}

describe("core → downloads StackReference", () => {
  it("hands core's cluster facts and namespace to downloads without asking the user again", async () => {
    const core = await planCore({
      "charmarr:cluster.podCidr": "10.244.0.0/16",
      "charmarr:cluster.serviceCidr": "10.96.0.0/12",
      "charmarr:cluster.dnsServiceIp": "10.96.0.10",
      "charmarr:namespace": "media-core",
    });
    const downloads = await planDownloadsAgainst(referenceTo(core).outputs);
    assert.deepEqual(downloads.outputs.cluster, core.outputs.cluster);
    assert.equal(downloads.outputs.coreNamespace, "media-core");
    const reference = downloads.resources.find((r) => r.type === "pulumi:pulumi:StackReference");
    assert.equal(reference?.inputs.name, "organization/charmarr/core");
  });

  it("reads the stack named by charmarr:coreStack", async () => {
    const core = await planCore();
    const downloads = await planDownloadsAgainst(
      referenceTo(core).outputs,
      { "charmarr:coreStack": "home/charmarr/core-prod" },
      "home/charmarr/core-prod",
    );
    assert.equal(downloads.outputs.coreStack, "home/charmarr/core-prod");
    assert.deepEqual(downloads.outputs.cluster, core.outputs.cluster);
  });

  it("refuses a core stack without the contract's outputs, naming them and the stack", async () => {
    const core = await planCore();
    const { cluster, ...withoutCluster } = core.outputs;
    assert.ok(cluster);
    const error = await refusedWith(planDownloadsAgainst(withoutCluster));
    assert.equal(
      error.message,
      `The core stack "organization/charmarr/core" has no output "cluster". Deploy the core stack with this version of the program first (pulumi up --stack core), or point charmarr:coreStack at the right stack (pulumi config set charmarr:coreStack <organization>/charmarr/<stack>).`,
    );
  });

  it("refuses a core stack that exports nothing (initialised but never deployed)", async () => {
    const error = await refusedWith(planDownloadsAgainst({}, { "charmarr:coreStack": "organization/charmarr/typo" }));
    assert.match(
      error.message,
      /^The core stack "organization\/charmarr\/typo" has no outputs "contractVersion", "cluster", "namespace"/,
    );
  });

  it("refuses a core stack deployed by an incompatible program version", async () => {
    const core = await planCore();
    const error = await refusedWith(planDownloadsAgainst({ ...core.outputs, contractVersion: 0 }));
    assert.match(
      error.message,
      /exports outputs this program cannot use \(contractVersion: .*\)\. Update the core stack/,
    );
  });

  it("refuses malformed cluster facts from core instead of trusting them", async () => {
    const core = await planCore();
    const cluster = { ...(core.outputs.cluster as object), podCidr: "not-a-cidr" };
    const error = await refusedWith(planDownloadsAgainst({ ...core.outputs, cluster }));
    assert.match(error.message, /cluster\.podCidr: "not-a-cidr" is not an IPv4 CIDR block/);
  });
});
