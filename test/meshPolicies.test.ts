import { strict as assert } from "node:assert";
import { MEDIA_SERVERS } from "../lib/apps/catalog";
import { ResolvedApp, isServed, resolveApps } from "../lib/apps/resolve";
import { GATEWAY_DOMAINS } from "../lib/domains";
import type { IAuthorizationPolicy } from "../lib/k8s/istioSecurity";
import {
  CALLERS,
  Caller,
  buildAppPolicy,
  buildDenyByDefault,
  buildGatewayEntryPolicy,
  buildNamespacePeerAuthentication,
  buildPeerPortException,
  buildRemoteCallerPolicy,
} from "../lib/mesh/policies";
import { metadataProblems } from "./support/objectMeta";

// The mesh's builders, without a plan: what the API server and Istio's validating webhook accept.

const NAMESPACE = "charmarr-core";
const principalOf = (serviceAccount: string) => `cluster.local/ns/${NAMESPACE}/sa/${serviceAccount}`;
const GATEWAYS = Object.fromEntries(GATEWAY_DOMAINS.map((domain) => [domain, principalOf(`${domain}-istio`)]));
const IDENTITIES: Partial<Record<Caller, string>> = Object.fromEntries(
  [...new Set(Object.values(CALLERS).flat())].map((caller) => [caller, principalOf(caller)]),
);

/** Every enabled app of both stacks, with either media server, VPN-routed or not. */
function everyApp(): ResolvedApp[] {
  const apps = [
    ...MEDIA_SERVERS.flatMap((server) => resolveApps("core", {}, server)),
    ...resolveApps("downloads", {}),
    ...resolveApps("downloads", {}, undefined, ["indexers"]),
  ];
  return [...new Map(apps.map((app) => [app.name, app])).values()];
}

function appPolicies(): IAuthorizationPolicy[] {
  return everyApp().map((app) =>
    buildAppPolicy({ app, namespace: NAMESPACE, gatewayPrincipals: GATEWAYS, identities: IDENTITIES }),
  );
}

/**
 * What Istio's validating webhook refuses in an AuthorizationPolicy's rules (istio/istio 1.27.9,
 * pkg/config/validation/validation.go `ValidateAuthorizationPolicy`): an empty `from` or `to` list,
 * a source or operation that sets no field, an empty string among the values, a port that is not
 * a number from 0 to 65535 (`security.ValidatePorts`). `pulumi up` fails on such a policy.
 */
function istioProblems(policy: IAuthorizationPolicy): string[] {
  return (policy.spec?.rules ?? []).flatMap((rule, i) => {
    const sides = [
      ["from", "source", rule.from?.map(({ source }) => source)],
      ["to", "operation", rule.to?.map(({ operation }) => operation)],
    ] as const;
    const problems = sides.flatMap(([list, field, entries]) => [
      ...(entries !== undefined && entries.length === 0 ? [`rule ${i}: \`${list}\` must not be empty`] : []),
      ...(entries ?? []).flatMap((entry) => {
        const values = Object.values(entry ?? {}).flat() as string[];
        return [
          ...(values.length === 0 ? [`rule ${i}: \`${list}.${field}\` must not be empty`] : []),
          ...(values.includes("") ? [`rule ${i}: an empty value in ${list}.${field}`] : []),
        ];
      }),
    ]);
    const ports = (rule.to ?? []).flatMap(({ operation }) => [
      ...(operation?.ports ?? []),
      ...(operation?.notPorts ?? []),
    ]);
    return [
      ...problems,
      ...ports.filter((port) => !/^\d+$/.test(port) || Number(port) > 65535).map((port) => `rule ${i}: port ${port}`),
    ];
  });
}

describe("mesh policies as Istio and the API server take them (lib/mesh/policies.ts)", () => {
  it("every AuthorizationPolicy passes Istio's validation: no rule with an empty source or operation", () => {
    const policies = [
      ...appPolicies(),
      buildDenyByDefault(NAMESPACE),
      ...GATEWAY_DOMAINS.map((domain) => buildGatewayEntryPolicy(NAMESPACE, `${domain}-istio`)),
      buildRemoteCallerPolicy({
        app: "radarr",
        port: 7878,
        namespace: NAMESPACE,
        principals: [principalOf("prowlarr")],
        callerNamespace: "charmarr-downloads",
      }),
    ];
    assert.ok(policies.length > 10);
    for (const policy of policies) {
      assert.deepEqual(istioProblems(policy), [], policy.metadata?.name);
    }
  });

  it("every object of a namespace's mesh has a name of its own: valid, and none shared with another of its kind", () => {
    const objects = [
      buildNamespacePeerAuthentication(NAMESPACE),
      ...everyApp().flatMap((app) => buildPeerPortException(app, NAMESPACE) ?? []),
      buildDenyByDefault(NAMESPACE),
      ...GATEWAY_DOMAINS.map((domain) => buildGatewayEntryPolicy(NAMESPACE, `${domain}-istio`)),
      ...appPolicies(),
    ];
    const seen = new Set<string>();
    for (const object of objects) {
      const name = object.metadata?.name ?? "";
      assert.deepEqual(
        metadataProblems(object.apiVersion ?? "", object.kind ?? "", { name }),
        [],
        `${object.kind} ${name}`,
      );
      const key = `${object.kind}/${name}`;
      assert.ok(!seen.has(key), `two ${object.kind}s named ${name}`);
      seen.add(key);
    }
  });

  it("refuses to build an app's policy without its gateway's identity, which would shut the app's UI out", () => {
    const served = everyApp().filter(isServed);
    assert.ok(served.length > 0);
    for (const app of served) {
      const others = Object.fromEntries(Object.entries(GATEWAYS).filter(([domain]) => domain !== app.domain));
      assert.throws(
        () => buildAppPolicy({ app, namespace: NAMESPACE, gatewayPrincipals: others, identities: IDENTITIES }),
        new RegExp(`^Error: no ${app.domain} gateway identity for ${app.name}'s authorization policy$`),
      );
    }
  });
});
