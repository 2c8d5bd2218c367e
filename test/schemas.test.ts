import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { Manifest } from "../plan/evaluate";
import { DEFAULT_VERSIONS } from "../lib/platform/versions";
import { CrdSchemas, RuleCounts } from "./support/crdSchemas";
import { compileRule, unboundFunctions } from "./support/kubernetesCel";
import { ISTIO_RELEASES } from "../lib/platform/versions";
import { planCore, planDownloads } from "./support/plan";
import { ROUTE_INIT_CONTAINER, ROUTE_SIDECAR_CONTAINER } from "../lib/vpn/client";
import {
  INSTALLED_CRD_DIRECTORIES,
  StrictValidator,
  UPSTREAM_SCHEMAS,
  crdDirectories,
  installedCrds,
} from "./support/strictSchemas";
import { PLAN_VARIANTS, VERSION_VARIANTS, variantIstioVersion } from "./support/variants";

/** Every configuration whose plan is checked: the plan variants, and each other selectable Istio row. */
const VARIANTS = [...PLAN_VARIANTS, ...VERSION_VARIANTS];

/** The manifests of every plan variant, core then downloads, planned once for this file. */
const plans: { name: string; istioVersion: string; manifests: readonly Manifest[] }[] = [];
/** A validator per Istio version the variants install, each with the CRDs of that row of the versions table. */
const validators = new Map<string, StrictValidator>();
/** The validator of the default versions, for the tests that break a planned manifest. */
let validator: StrictValidator;

before(async function () {
  // One plan per variant, core and downloads: more than the default per-test timeout on a loaded machine.
  this.timeout(120_000);
  for (const variant of VARIANTS) {
    const core = await planCore(variant.core, variant.coreSecrets);
    const downloads = await planDownloads(
      variant.downloads,
      variant.core,
      variant.downloadsSecrets,
      variant.coreSecrets,
    );
    plans.push({
      name: variant.name,
      istioVersion: variantIstioVersion(variant),
      manifests: [...core.manifests, ...downloads.manifests],
    });
  }
  for (const istioVersion of new Set(plans.map((plan) => plan.istioVersion))) {
    validators.set(
      istioVersion,
      new StrictValidator(
        plans.filter((plan) => plan.istioVersion === istioVersion).flatMap((plan) => plan.manifests),
        istioVersion,
      ),
    );
  }
  validator = validators.get(DEFAULT_VERSIONS.istio) as StrictValidator;
});

/** A copy of a planned manifest, to break. */
function planned(kind: string, name?: string): Manifest {
  const found = plans
    .flatMap((plan) => plan.manifests)
    .find((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  assert.ok(found, `no planned ${kind} ${name ?? ""}`);
  return structuredClone(found);
}

/** Asserts that the validator refuses `manifest` with a problem containing every fragment. */
function assertRefused(manifest: Manifest, ...fragments: string[]): void {
  const problems = validator.problems(manifest);
  assert.ok(
    problems.some((problem) => fragments.every((fragment) => problem.includes(fragment))),
    `expected a problem with ${JSON.stringify(fragments)}, got:\n${problems.join("\n")}`,
  );
}

describe("strict schemas: every manifest of every plan variant", () => {
  for (const variant of VARIANTS) {
    it(`the API server would accept every object of: ${variant.name} (CRDs of Istio ${variantIstioVersion(variant)}'s row)`, () => {
      const plan = plans.find((entry) => entry.name === variant.name) as (typeof plans)[number];
      const validator = validators.get(plan.istioVersion) as StrictValidator;
      const seen = new Set<string>();
      for (const manifest of plan.manifests) {
        const identity = `${manifest.apiVersion.split("/")[0]}/${manifest.kind}/${manifest.metadata.namespace ?? ""}/${manifest.metadata.name}`;
        assert.ok(!seen.has(identity), `${identity} is declared twice`);
        seen.add(identity);
      }
      assert.deepEqual(
        plan.manifests.flatMap((manifest) => validator.problems(manifest)),
        [],
      );
    });
  }

  it("evaluates the CEL rules of the Gateways and HTTPRoutes, none left as a transition rule", () => {
    const gateway = planned("Gateway");
    const route = planned("HTTPRoute", "qbittorrent");
    const fresh = new StrictValidator([gateway, route]);
    assert.deepEqual([...fresh.problems(gateway), ...fresh.problems(route)], []);
    assert.ok(fresh.counts.evaluated >= 20, `evaluated ${fresh.counts.evaluated} rules`);
    assert.equal(fresh.counts.transition, 0);
  });
});

describe("strict schemas: what the API server refuses is refused", () => {
  it("an unknown field of a custom resource (Gateway `infrastructur`)", () => {
    const gateway = planned("Gateway");
    const spec = gateway.spec as Record<string, unknown>;
    spec.infrastructur = spec.infrastructure;
    delete spec.infrastructure;
    assertRefused(gateway, "Gateway", ".spec.infrastructur: unknown field");
  });

  it("an unknown field of a built-in kind (NetworkPolicy `egres`)", () => {
    const policy = planned("NetworkPolicy");
    const spec = policy.spec as Record<string, unknown>;
    spec.egres = spec.egress ?? [];
    assertRefused(policy, "NetworkPolicy", ".spec.egres: unknown field");
  });

  it("an unknown field deep in a built-in kind (a container's `imagePullPolicyy`)", () => {
    const statefulSet = planned("StatefulSet");
    const containers = (statefulSet.spec as { template: { spec: { containers: Record<string, unknown>[] } } }).template
      .spec.containers;
    containers[0].imagePullPolicyy = "Always";
    assertRefused(statefulSet, ".spec.template.spec.containers[0].imagePullPolicyy: unknown field");
  });

  it("an unknown field in a custom resource's metadata", () => {
    const route = planned("HTTPRoute");
    (route.metadata as Record<string, unknown>).label = { app: "x" };
    assertRefused(route, ".metadata.label: unknown field");
  });

  it("a value outside a built-in kind's enum (the package's own validator)", () => {
    const policy = planned("NetworkPolicy");
    (policy.spec as Record<string, unknown>).policyTypes = ["Sideways"];
    assertRefused(policy, "policyTypes", "allowed values");
  });

  it("a value outside a CRD's enum (HTTPRoute path type)", () => {
    const route = planned("HTTPRoute");
    const rules = (route.spec as { rules: { matches: { path: { type: string } }[] }[] }).rules;
    rules[0].matches[0].path.type = "Prefix";
    assertRefused(route, ".spec.rules[0].matches[0].path.type: must be equal to one of the allowed values");
  });

  it("a Gateway breaking a CEL rule, with the rule's message (two listeners of one name)", () => {
    const gateway = planned("Gateway");
    const listeners = (gateway.spec as { listeners: Record<string, unknown>[] }).listeners;
    listeners.push({ ...listeners[0], port: 8081 });
    assertRefused(gateway, ".spec.listeners: Invalid value: Listener name must be unique within the Gateway");
    assertRefused(gateway, ".spec.listeners[1]: Duplicate value");
  });

  it("an HTTPRoute breaking a CEL rule, with the rule's message (a Service backend without a port, after defaulting)", () => {
    const route = planned("HTTPRoute");
    const backend = (route.spec as { rules: { backendRefs: Record<string, unknown>[] }[] }).rules[0].backendRefs[0];
    delete backend.port;
    assertRefused(route, ".spec.rules[0].backendRefs[0]: Invalid value: Must have port for Service reference");
  });

  it("an Istio policy breaking a CEL rule (selector and targetRefs together)", () => {
    const policy = planned("AuthorizationPolicy", "radarr");
    (policy.spec as Record<string, unknown>).targetRefs = [{ kind: "Service", name: "radarr" }];
    assertRefused(policy, ".spec: Invalid value: only one of targetRefs or selector can be set");
  });

  it("names, namespaces and labels the API server's metadata validation refuses", () => {
    const service = planned("Service");
    (service.metadata as Record<string, unknown>).name = "Radarr_1";
    assertRefused(service, '.metadata.name: Invalid value "Radarr_1": must be a DNS-1035 label');
    const route = planned("HTTPRoute");
    (route.metadata as Record<string, unknown>).labels = { "app.kubernetes.io/name": "radarr movies" };
    assertRefused(route, '.metadata.labels["app.kubernetes.io/name"]: Invalid value "radarr movies"');
    const statefulSet = planned("StatefulSet");
    const template = (statefulSet.spec as { template: { metadata: { labels: Record<string, string> } } }).template;
    template.metadata.labels["charmarr.io/app"] = "-radarr";
    assertRefused(statefulSet, '.spec.template.metadata.labels["charmarr.io/app"]: Invalid value "-radarr"');
    const namespace = planned("Namespace");
    (namespace.metadata as Record<string, unknown>).name = "charmarr.core";
    assertRefused(namespace, "must be a DNS-1123 label");
  });

  it("a kind no schema describes", () => {
    const unknown: Manifest = {
      apiVersion: "gateway.networking.k8s.io/v1alpha2",
      kind: "XListenerSet",
      metadata: { name: "x" },
    };
    assert.throws(
      () => new StrictValidator([unknown]),
      /no schema for gateway.networking.k8s.io\/v1alpha2 XListenerSet/,
    );
  });

  it("a kind the chosen versions do not install (TCPRoute: in Gateway API v1.6.1's standard CRDs, not v1.5.1's)", () => {
    const route: Manifest = {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "TCPRoute",
      metadata: { name: "x", namespace: "y" },
      spec: { parentRefs: [{ name: "g" }], rules: [{ backendRefs: [{ name: "s", port: 80 }] }] },
    };
    assert.deepEqual(new StrictValidator([route]).problems(route), []);
    assert.throws(() => new StrictValidator([route], ISTIO_RELEASES["1.30"].version), /no schema for .* TCPRoute/);
  });

  it("fails clearly when the published CRDs are absent", () => {
    assert.throws(
      () => new CrdSchemas([path.join(UPSTREAM_SCHEMAS, "istio-0.0.0")]),
      /published CRDs not found: .*istio-0.0.0/,
    );
  });
});

describe("strict schemas: CEL", () => {
  it("reads the CRDs of the versions table's row: Istio, its Gateway API bundle, MetalLB, the Tailscale operator", () => {
    assert.deepEqual(INSTALLED_CRD_DIRECTORIES, {
      gatewayApi: "gateway-api-v1.6.1",
      istio: "istio-1.31.0",
      metallb: "metallb-v0.16.1",
      tailscaleOperator: "tailscale-v1.102.3",
    });
    assert.deepEqual(crdDirectories("1.30.3"), {
      ...INSTALLED_CRD_DIRECTORIES,
      gatewayApi: "gateway-api-v1.5.1",
      istio: "istio-1.30.3",
    });
    assert.throws(() => crdDirectories("1.29.6"), /no schema folder for Istio 1.29.6/);
  });

  for (const [minor, release] of Object.entries(ISTIO_RELEASES).filter(([, row]) => "schemas" in row)) {
    it(`every rule of the CRDs installed with Istio ${minor} calls only functions the evaluator has`, () => {
      const rules = installedCrds(release.version).allRules();
      assert.ok(rules.length > 100, `only ${rules.length} rules found`);
      const missing = rules.flatMap(({ kind, at, rule }) =>
        unboundFunctions(rule.rule).map((name) => `${kind}${at}: ${name}`),
      );
      assert.deepEqual(missing, []);
    });
  }

  it("isIP as the Kubernetes IP library: addresses Go's netip takes, without zones or IPv4-mapped IPv6", () => {
    const isIp = (value: string) => compileRule(`isIP(${JSON.stringify(value)})`)(undefined).value;
    for (const address of ["127.0.0.1", "::1", "2001:db8::1", "203.0.113.7"]) {
      assert.equal(isIp(address), true, address);
    }
    for (const other of ["127.0.0.256", ":::1", "010.0.0.1", "fe80::1%eth0", "::ffff:1.2.3.4", "media.example.com"]) {
      assert.equal(isIp(other), false, other);
    }
  });

  it("refuses a TLSRoute whose hostname is an IP address, with Gateway API's rule message", () => {
    const route: Manifest = {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "TLSRoute",
      metadata: { name: "x", namespace: "y" },
      spec: {
        parentRefs: [{ name: "g" }],
        hostnames: ["203.0.113.7"],
        rules: [{ backendRefs: [{ name: "s", port: 443 }] }],
      },
    };
    const strict = new StrictValidator([route]);
    assert.ok(
      strict
        .problems(route)
        .some((problem) => problem.includes(".spec.hostnames: Invalid value: Hostnames cannot contain an IP")),
      strict.problems(route).join("\n"),
    );
    const named = { ...route, spec: { ...(route.spec as object), hostnames: ["media.example.com"] } };
    assert.deepEqual(strict.problems(named), []);
  });
});

/**
 * The structural-schema rules the published CRDs of this project happen not to exercise, on a CRD
 * written for the test (group example.com): each is applied as the API server applies it on create.
 */
describe("strict schemas: structural schema semantics", () => {
  const widget = {
    type: "object",
    properties: {
      spec: {
        type: "object",
        "x-kubernetes-validations": [
          { rule: "self.size == oldSelf.size", message: "size is immutable" },
          { rule: "self.size != 'huge'", messageExpression: "'size ' + self.size + ' is too big'" },
        ],
        properties: {
          size: { type: "string", default: "small" },
          port: { "x-kubernetes-int-or-string": true, anyOf: [{ type: "integer" }, { type: "string" }] },
          extra: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
          labels: { type: "object", additionalProperties: { type: "string" } },
          tags: { type: "array", items: { type: "string" }, "x-kubernetes-list-type": "set" },
          ports: {
            type: "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            items: {
              type: "object",
              required: ["name"],
              properties: { name: { type: "string" }, number: { type: "integer" } },
            },
          },
          template: {
            type: "object",
            "x-kubernetes-embedded-resource": true,
            properties: { spec: { type: "object", properties: { x: { type: "string" } } } },
          },
          later: {
            type: "string",
            "x-kubernetes-validations": [
              { rule: "oldSelf.hasValue() ? self == oldSelf.value() : true", optionalOldSelf: true },
            ],
          },
        },
      },
    },
  };
  const directory = mkdtempSync(path.join(tmpdir(), "charmarr-crd-"));
  writeFileSync(
    path.join(directory, "widgets.yaml"),
    stringify({
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "widgets.example.com" },
      spec: {
        group: "example.com",
        names: { kind: "Widget", plural: "widgets" },
        scope: "Namespaced",
        versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: widget } }],
      },
    }),
  );
  const crds = new CrdSchemas([directory]);
  after(() => rmSync(directory, { recursive: true, force: true }));
  const check = (spec: Record<string, unknown>, counts: RuleCounts = { evaluated: 0, transition: 0 }) =>
    crds.validate({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" }, spec }, counts);

  it("accepts an integer or a string where int-or-string, any field under preserve-unknown-fields, any key of a map", () => {
    assert.deepEqual(
      check({ port: 80, extra: { anything: { deep: [1] } }, labels: { "app.kubernetes.io/name": "x" } }),
      [],
    );
    assert.deepEqual(check({ port: "http" }), []);
    assert.ok(check({ port: true }).some((problem) => problem.startsWith(".spec.port:")));
  });

  it("refuses unknown fields of an object with properties, in an embedded resource too, but takes its apiVersion, kind and metadata", () => {
    assert.deepEqual(
      check({ template: { apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { x: "y" } } }),
      [],
    );
    assert.deepEqual(check({ template: { spec: { y: "z" } } }), [".spec.template.spec.y: unknown field"]);
  });

  it("refuses duplicate items of a set and duplicate keys of a map list", () => {
    assert.deepEqual(check({ tags: ["a", "a"] }), ['.spec.tags[1]: Duplicate value: "a"']);
    assert.deepEqual(
      check({
        ports: [
          { name: "http", number: 80 },
          { name: "http", number: 8080 },
        ],
      }),
      ['.spec.ports[1]: Duplicate value: ["http"]'],
    );
  });

  it("applies defaults before the rules, leaves transition rules to updates, and reports a messageExpression's message", () => {
    const counts: RuleCounts = { evaluated: 0, transition: 0 };
    assert.deepEqual(check({}, counts), []);
    assert.deepEqual(counts, { evaluated: 1, transition: 1 });
    assert.deepEqual(check({ size: "huge" }), [".spec: Invalid value: size huge is too big"]);
  });

  it("says it cannot evaluate a rule with optionalOldSelf rather than pass it", () => {
    assert.deepEqual(check({ later: "x" }), [
      '.spec.later: rule "oldSelf.hasValue() ? self == oldSelf.value() : true" uses optionalOldSelf, which this checker cannot evaluate',
    ]);
  });
});

// Checked here because this file plans every variant anyway (see test/leastPrivilege.test.ts for the
// rest of the apps' least privilege).
describe("least privilege: the route containers run as root in every routed pod of every plan variant", () => {
  interface UserContext {
    runAsUser?: number;
    runAsNonRoot?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
  }
  interface Container {
    name: string;
    securityContext?: UserContext;
  }
  interface PodSpec {
    securityContext?: UserContext;
    initContainers?: Container[];
    containers: Container[];
  }
  const ROUTE_CONTAINERS = [ROUTE_INIT_CONTAINER, ROUTE_SIDECAR_CONTAINER];

  it("each route container runs as uid 0 with exactly NET_ADMIN and NET_RAW (a non-root process holds an added capability only in its bounding set: kubernetes/kubernetes#56374); no other container runs as root in a pod that says it must not", () => {
    const routed = plans.flatMap(({ name, manifests }) =>
      manifests.flatMap((manifest) => {
        const spec = (manifest.spec as { template?: { spec?: PodSpec } } | undefined)?.template?.spec;
        const containers = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
        return spec && containers.some((c) => ROUTE_CONTAINERS.includes(c.name))
          ? [
              {
                where: `${name}: ${manifest.kind} ${manifest.metadata.name}`,
                pod: spec.securityContext ?? {},
                containers,
              },
            ]
          : [];
      }),
    );
    assert.ok(
      routed.some(({ where, pod }) => where.endsWith(" flaresolverr") && pod.runAsUser === 1000),
      `FlareSolverr, whose pod runs as user 1000, is routed in a variant: ${routed.map(({ where }) => where).join("; ")}`,
    );
    for (const { where, pod, containers } of routed) {
      for (const container of containers) {
        // The container's own setting, else the pod's.
        const user = {
          runAsUser: container.securityContext?.runAsUser ?? pod.runAsUser,
          runAsNonRoot: container.securityContext?.runAsNonRoot ?? pod.runAsNonRoot,
        };
        if (ROUTE_CONTAINERS.includes(container.name)) {
          assert.deepEqual(user, { runAsUser: 0, runAsNonRoot: false }, `${where} ${container.name}`);
          assert.deepEqual(
            container.securityContext?.capabilities,
            { drop: ["ALL"], add: ["NET_ADMIN", "NET_RAW"] },
            `${where} ${container.name}`,
          );
        } else if (pod.runAsNonRoot === true) {
          assert.equal(user.runAsNonRoot, true, `${where} ${container.name}`);
          assert.notEqual(user.runAsUser, 0, `${where} ${container.name}`);
        }
      }
    }
  });
});
