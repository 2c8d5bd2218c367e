import { strict as assert } from "node:assert";
import { settingsHash } from "../lib/vpn/settingsFile";

// The digest rolls the VPN pods (the gateway's and the routed apps' pod-template annotations) when
// any file they run changes: it must change whenever one of the files does.
describe("the settings digest that rolls the VPN pods (lib/vpn/settingsFile.ts settingsHash)", () => {
  it("changes when text moves from one file to the next, though the files joined read the same", () => {
    assert.notEqual(settingsHash("iptables -A X\n", "set -eu\n"), settingsHash("iptables -A X\nset -eu\n", ""));
    assert.notEqual(settingsHash("a", "bc"), settingsHash("ab", "c"));
    assert.equal(settingsHash("a", "bc"), settingsHash("a", "bc"));
  });

  it("is 16 hex digits, short enough to read in kubectl describe", () => {
    assert.match(settingsHash("settings.sh", "route-guard.sh"), /^[0-9a-f]{16}$/);
  });
});
