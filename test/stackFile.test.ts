import { strict as assert } from "node:assert";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readStackFile } from "../plan/stackFile";

function stackFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "charmarr-stack-")), "Pulumi.test.yaml");
  writeFileSync(file, text);
  return file;
}

describe("reading a stack file as the Pulumi CLI does", () => {
  it("reads a key without namespace as the project's own, secret flag included", () => {
    const config = readStackFile(
      stackFile("config:\n  mediaServer: jellyfin\n  vpnPrivateKey: plain\n  tailscale:tailnet: example.com\n"),
    );
    assert.deepEqual(config.values, {
      "charmarr:mediaServer": "jellyfin",
      "charmarr:vpnPrivateKey": "plain",
      "tailscale:tailnet": "example.com",
    });
    assert.deepEqual(config.secretKeys, ["charmarr:vpnPrivateKey"]);
  });

  it("ignores the editor modeline and other comments", () => {
    const config = readStackFile(
      stackFile(
        "# yaml-language-server: $schema=./docs/stack-config.schema.json\nconfig:\n  charmarr:role: core # the program\n",
      ),
    );
    assert.deepEqual(config.values, { "charmarr:role": "core" });
  });
});
