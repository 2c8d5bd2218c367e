import { strict as assert } from "node:assert";
import {
  canonicalCidr,
  cidrContains,
  cidrsOverlap,
  formatIpv4,
  freePrivateBlock,
  isCanonicalCidr,
  isPrivateCidr,
  parseCidr,
  parseIpv4,
} from "../lib/net";

function block(text: string) {
  const cidr = parseCidr(text);
  assert.ok(cidr, text);
  return cidr;
}

describe("lib/net: IPv4 as Kubernetes and MetalLB take it", () => {
  it("accepts four decimal octets only", () => {
    assert.equal(formatIpv4(parseIpv4("192.168.1.10") as number), "192.168.1.10");
    for (const text of ["10.1", "010.0.0.1", "0x0a.0.0.1", "10.0.0.256", "10.0.0.1/32", "fc00::1", ""]) {
      assert.equal(parseIpv4(text), undefined, text);
    }
  });

  it("parses CIDR blocks, naming the network of one with host bits set", () => {
    assert.equal(isCanonicalCidr("10.42.0.0/16"), true);
    assert.equal(isCanonicalCidr("10.42.0.1/16"), false);
    assert.equal(canonicalCidr("10.42.0.1/16"), "10.42.0.0/16");
    for (const text of ["10.42.0.0/33", "10.42.0.0", "10.42.0/16", "fc00::/7"]) {
      assert.equal(parseCidr(text), undefined, text);
    }
  });

  it("tells containment and overlap in both directions", () => {
    assert.equal(cidrContains(block("10.43.0.0/16"), parseIpv4("10.43.0.10") as number), true);
    assert.equal(cidrContains(block("10.43.0.0/16"), parseIpv4("10.44.0.10") as number), false);
    assert.equal(cidrsOverlap(block("10.0.0.0/8"), block("10.42.0.0/16")), true);
    assert.equal(cidrsOverlap(block("10.42.0.0/16"), block("10.0.0.0/8")), true);
    assert.equal(cidrsOverlap(block("10.42.0.0/16"), block("10.43.0.0/16")), false);
  });

  it("counts RFC 1918 and shared (CGNAT) space as private, and nothing that leaves it", () => {
    for (const text of ["10.42.0.0/16", "172.16.0.0/12", "192.168.1.0/24", "100.64.0.0/10"]) {
      assert.equal(isPrivateCidr(block(text)), true, text);
    }
    for (const text of ["11.0.0.0/8", "172.0.0.0/8", "0.0.0.0/0", "100.0.0.0/8"]) {
      assert.equal(isPrivateCidr(block(text)), false, text);
    }
  });

  it("finds a free private block of a size, near the one it replaces", () => {
    assert.equal(freePrivateBlock(16, [block("10.0.0.0/16"), block("10.1.0.0/16")]), "10.2.0.0/16");
    assert.equal(freePrivateBlock(24, [block("10.0.0.0/8")], block("192.168.1.0/24")), "192.168.0.0/24");
    assert.equal(freePrivateBlock(8, [block("10.0.0.0/8")]), undefined);
  });
});
