import { strict as assert } from "node:assert";
import { GATEWAY_DOMAINS, GatewayDomain, GatewaysSettings, gatewaysSchema } from "../lib/ingress/settings";
import { TailnetGroups, defaultTailnetGroups } from "../lib/tailnet/settings";
import {
  TailnetPolicy,
  TailnetTest,
  buildTailnetPolicy,
  policyFileJson,
  unmanagedTagOwnersWarning,
} from "../lib/tailnet";

const PORTS: Record<GatewayDomain, number[]> = { arr: [80], media: [80, 32400], admin: [80] };

function gateways(changes: Record<string, unknown> = {}): GatewaysSettings {
  return gatewaysSchema.parse(changes);
}

const ALL_EXPOSED = gateways({ admin: { tailscale: { expose: true } } });

function policyFor(groups: TailnetGroups, settings: GatewaysSettings = ALL_EXPOSED): TailnetPolicy {
  return buildTailnetPolicy({ gateways: settings, groups, listenerPorts: PORTS });
}

function testOf(policy: TailnetPolicy, group: string): TailnetTest {
  const found = policy.tests.find((test) => test.src === group);
  assert.ok(found, `no test for ${group}`);
  return found;
}

/** Who the grants let reach `tag:port`: a small evaluator over the generated grants. */
function reaches(policy: TailnetPolicy, group: string, hostPort: string): boolean {
  const at = hostPort.lastIndexOf(":");
  const [tag, port] = [hostPort.slice(0, at), hostPort.slice(at + 1)];
  return policy.grants.some(
    (grant) => grant.src.includes(group) && grant.dst.includes(tag) && grant.ip.includes(`tcp:${port}`),
  );
}

/**
 * What Tailscale's policy syntax reference (kb/1337 policy-syntax, `tests` → `src`) accepts as the
 * identity a test runs as: a user's email address, a group, a tag or a host defined in the policy.
 */
function validTestSource(policy: TailnetPolicy, src: string): boolean {
  if (src.startsWith("group:")) {
    return (policy.groups[src] ?? []).length > 0;
  }
  if (src.startsWith("tag:")) {
    return src in policy.tagOwners;
  }
  return /^[^@\s]+@[^@\s]+$/.test(src);
}

describe("tailnet policy: tests run as identities Tailscale accepts", () => {
  it("every test's src is a group of the policy with members", () => {
    const policy = policyFor({
      admins: { members: ["admin@example.com"], domains: ["arr", "media", "admin"] },
      viewers: { members: ["grandpa@github"], domains: ["media"] },
    });
    assert.equal(policy.tests.length, 2);
    for (const test of policy.tests) {
      assert.ok(
        test.src.startsWith("group:") && validTestSource(policy, test.src),
        `${test.src} is not a source Tailscale accepts`,
      );
    }
  });

  it("the check refuses a source Tailscale would not resolve (an undefined or empty group)", () => {
    const policy = policyFor({ admins: { members: ["admin@example.com"], domains: ["arr"] } });
    assert.ok(!validTestSource(policy, "group:nobody"));
    assert.ok(!validTestSource({ ...policy, groups: { "group:admins": [] } }, "group:admins"));
    assert.ok(validTestSource(policy, "admin@example.com"));
  });
});

describe("tailnet policy: default groups", () => {
  const policy = policyFor(defaultTailnetGroups());

  it("lets the operator own its proxy tag and every gateway tag, and nobody but admins own the operator tag", () => {
    assert.deepEqual(policy.tagOwners, {
      "tag:k8s-operator": [],
      "tag:k8s": ["tag:k8s-operator"],
      "tag:charmarr-arr": ["tag:k8s-operator"],
      "tag:charmarr-media": ["tag:k8s-operator"],
      "tag:charmarr-admin": ["tag:k8s-operator"],
    });
  });

  it("grants arr to family and admins, media to viewers, family and admins, admin to admins only, on the listener ports", () => {
    assert.deepEqual(policy.grants, [
      { src: ["group:admins", "group:family"], dst: ["tag:charmarr-arr"], ip: ["tcp:80"] },
      {
        src: ["group:admins", "group:family", "group:viewers"],
        dst: ["tag:charmarr-media"],
        ip: ["tcp:80", "tcp:32400"],
      },
      { src: ["group:admins"], dst: ["tag:charmarr-admin"], ip: ["tcp:80"] },
    ]);
  });

  it("has tests accepting each group's gateways and denying the others and non-listener ports", () => {
    assert.deepEqual(testOf(policy, "group:viewers"), {
      src: "group:viewers",
      accept: ["tag:charmarr-media:80", "tag:charmarr-media:32400"],
      deny: ["tag:charmarr-arr:80", "tag:charmarr-media:22", "tag:charmarr-admin:80"],
    });
    assert.deepEqual(testOf(policy, "group:family"), {
      src: "group:family",
      accept: ["tag:charmarr-arr:80", "tag:charmarr-media:80", "tag:charmarr-media:32400"],
      deny: ["tag:charmarr-arr:22", "tag:charmarr-media:22", "tag:charmarr-admin:80"],
    });
    assert.deepEqual(testOf(policy, "group:admins"), {
      src: "group:admins",
      accept: ["tag:charmarr-arr:80", "tag:charmarr-media:80", "tag:charmarr-media:32400", "tag:charmarr-admin:80"],
      deny: ["tag:charmarr-arr:22", "tag:charmarr-media:22", "tag:charmarr-admin:22"],
    });
  });

  it("has an accept or deny case for every group × gateway, and its grants agree with every case", () => {
    for (const test of policy.tests) {
      for (const domain of GATEWAY_DOMAINS) {
        const cases = [...(test.accept ?? []), ...(test.deny ?? [])];
        assert.ok(
          cases.some((target) => target.startsWith(`tag:charmarr-${domain}:`)),
          `${test.src} has no case for ${domain}`,
        );
      }
      for (const target of test.accept ?? []) {
        assert.ok(reaches(policy, test.src, target), `${test.src} should reach ${target}`);
      }
      for (const target of test.deny ?? []) {
        assert.ok(!reaches(policy, test.src, target), `${test.src} must not reach ${target}`);
      }
    }
  });

  it("declares the groups (empty until members are configured)", () => {
    assert.deepEqual(policy.groups, { "group:admins": [], "group:family": [], "group:viewers": [] });
  });

  it("leaves gateways that are not on the tailnet out of owners, grants and tests", () => {
    const lanOnlyAdmin = policyFor(defaultTailnetGroups(), gateways());
    assert.ok(!("tag:charmarr-admin" in lanOnlyAdmin.tagOwners));
    assert.ok(lanOnlyAdmin.grants.every((grant) => !grant.dst.includes("tag:charmarr-admin")));
    assert.ok(JSON.stringify(lanOnlyAdmin.tests).indexOf("charmarr-admin") === -1);
  });
});

describe("tailnet policy: a custom group config", () => {
  const groups: TailnetGroups = {
    parents: { members: ["mum@example.com", "dad@example.com"], domains: ["arr", "media", "admin"] },
    kids: { members: ["kid@github"], domains: ["media"] },
    grandparents: { members: ["nan@example.com"], domains: ["media"] },
  };
  const custom = gateways({
    arr: { tailscale: { tags: ["tag:movies-requests"] } },
    media: { tailscale: { tags: ["tag:streaming", "tag:media-extra"] } },
    admin: { tailscale: { expose: true, tags: ["tag:ops"] } },
  });
  const policy = policyFor(groups, custom);

  it("declares the configured groups with their members", () => {
    assert.deepEqual(policy.groups, {
      "group:grandparents": ["nan@example.com"],
      "group:kids": ["kid@github"],
      "group:parents": ["mum@example.com", "dad@example.com"],
    });
  });

  it("owns the custom gateway tags, all of them", () => {
    for (const tag of ["tag:movies-requests", "tag:streaming", "tag:media-extra", "tag:ops"]) {
      assert.deepEqual(policy.tagOwners[tag], ["tag:k8s-operator"]);
    }
  });

  it("grants each gateway only to the groups whose domains include it", () => {
    assert.deepEqual(policy.grants, [
      { src: ["group:parents"], dst: ["tag:movies-requests"], ip: ["tcp:80"] },
      {
        src: ["group:grandparents", "group:kids", "group:parents"],
        dst: ["tag:streaming", "tag:media-extra"],
        ip: ["tcp:80", "tcp:32400"],
      },
      { src: ["group:parents"], dst: ["tag:ops"], ip: ["tcp:80"] },
    ]);
  });

  it("never lets a group reach a gateway outside its domains", () => {
    const tagsOf: Record<GatewayDomain, readonly string[]> = {
      arr: custom.arr.tailscale.tags,
      media: custom.media.tailscale.tags,
      admin: custom.admin.tailscale.tags,
    };
    for (const [name, group] of Object.entries(groups)) {
      for (const domain of GATEWAY_DOMAINS) {
        for (const tag of tagsOf[domain]) {
          for (const port of PORTS[domain]) {
            assert.equal(
              reaches(policy, `group:${name}`, `${tag}:${port}`),
              group.domains.includes(domain),
              `group:${name} → ${domain} (${tag}:${port})`,
            );
          }
        }
      }
    }
    assert.deepEqual(testOf(policy, "group:kids").deny, ["tag:movies-requests:80", "tag:streaming:22", "tag:ops:80"]);
  });

  it("moves a deny probe off a port the gateway listens on", () => {
    const on22 = buildTailnetPolicy({
      gateways: custom,
      groups,
      listenerPorts: { arr: [22, 23], media: [80], admin: [80] },
    });
    assert.ok(testOf(on22, "group:parents").deny?.includes("tag:movies-requests:24"));
  });
});

describe("tailnet policy: disabled gateways", () => {
  it("leaves a disabled gateway off the tailnet even when exposure is set", () => {
    const policy = policyFor(
      defaultTailnetGroups(),
      gateways({ admin: { enabled: false, tailscale: { expose: true } } }),
    );
    assert.ok(!("tag:charmarr-admin" in policy.tagOwners));
    assert.equal(JSON.stringify(policy).indexOf("charmarr-admin"), -1);
  });
});

describe("tailnet policy: nothing on the tailnet", () => {
  it("owns only the operator tags and has no grants or tests", () => {
    const policy = policyFor(
      defaultTailnetGroups(),
      gateways({ arr: { tailscale: { expose: false } }, media: { tailscale: { expose: false } } }),
    );
    assert.deepEqual(policy.tagOwners, { "tag:k8s-operator": [], "tag:k8s": ["tag:k8s-operator"] });
    assert.deepEqual(policy.grants, []);
    assert.deepEqual(policy.tests, []);
  });
});

describe("tailnet policy: the warning for a policy left to the admin console", () => {
  it("lists every tagOwners entry of the generated policy, as policy-file JSON lines", () => {
    const policy = policyFor(
      defaultTailnetGroups(),
      gateways({ admin: { tailscale: { expose: true, tags: ["tag:ops"] } } }),
    );
    const lines = unmanagedTagOwnersWarning(policy).split("\n");
    const entries = lines.filter((line) => line.startsWith("  "));
    assert.deepEqual(entries, [
      '  "tag:k8s-operator": [],',
      '  "tag:k8s": ["tag:k8s-operator"],',
      '  "tag:charmarr-arr": ["tag:k8s-operator"],',
      '  "tag:charmarr-media": ["tag:k8s-operator"],',
      '  "tag:ops": ["tag:k8s-operator"],',
    ]);
    assert.ok(
      lines.some((line) => line.includes("pulumi config set --path charmarr:platform.tailscale.acl.manage true")),
    );
  });
});

describe("tailnet policy: the policy file", () => {
  it("is one JSON text, indented for pasting into the admin console, that reads back as the policy", () => {
    const policy = policyFor(defaultTailnetGroups());
    const text = policyFileJson(policy);
    assert.deepEqual(JSON.parse(text), policy);
    assert.ok(text.startsWith('{\n  "groups": {'), text.slice(0, 40));
  });
});
