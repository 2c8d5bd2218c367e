import { strict as assert } from "node:assert";
import { planDownloads, planCore } from "./support/plan";

describe("smoke", () => {
    it("plans both stacks", async () => {
        const core = await planCore();
        const downloads = await planDownloads();
        assert.ok(core.manifests.length > 0 && downloads.manifests.length > 0);
    });
});
