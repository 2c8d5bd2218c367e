import { strict as assert } from "node:assert";
import { Manifest } from "../plan/evaluate";
import { planCore, planDownloads } from "./support/plan";
import { PLAN_VARIANTS } from "./support/variants";

interface Model {
    validate(): void;
}
type ModelClass = new (data: object) => Model;

const MODEL_PACKAGES = ["kubernetes-models", "@kubernetes-models/gateway-api", "@kubernetes-models/istio"];

/**
 * Kinds no installed upstream model package describes, each with the reason and what checks it
 * instead. Anything else without a model fails the test.
 */
const WITHOUT_UPSTREAM_MODEL: Readonly<Record<string, string>> = {
    "metallb.io/v1beta1/IPAddressPool":
        "MetalLB publishes no model package; test/platform.test.ts validates it against the schema of MetalLB's own CRD (config/crd/bases/metallb.io_ipaddresspools.yaml)",
    "metallb.io/v1beta1/L2Advertisement":
        "MetalLB publishes no model package; test/platform.test.ts validates it against the schema of MetalLB's own CRD (config/crd/bases/metallb.io_l2advertisements.yaml)",
};

/** The upstream model class for an apiVersion/kind, from whichever package ships it. */
function modelFor(apiVersion: string, kind: string): ModelClass | undefined {
    for (const pkg of MODEL_PACKAGES) {
        try {
            // The module path is computed from the manifest, which static imports cannot express.
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            const module = require(`${pkg}/${apiVersion}/${kind}`) as Record<string, ModelClass>;
            if (module[kind]) {
                return module[kind];
            }
        } catch (error) {
            if (!["MODULE_NOT_FOUND", "ERR_PACKAGE_PATH_NOT_EXPORTED"].includes((error as { code?: string }).code ?? "")) {
                throw error;
            }
        }
    }
    return undefined;
}

function label(manifest: Manifest): string {
    return `${manifest.apiVersion} ${manifest.kind} ${manifest.metadata.namespace ?? ""}/${manifest.metadata.name}`;
}

function assertValid(manifests: readonly Manifest[]): void {
    const seen = new Set<string>();
    for (const manifest of manifests) {
        assert.ok(manifest.metadata.name, `${label(manifest)} has no name`);
        const identity = `${manifest.apiVersion.split("/")[0]}/${manifest.kind}/${manifest.metadata.namespace ?? ""}/${manifest.metadata.name}`;
        assert.ok(!seen.has(identity), `${label(manifest)} is declared twice`);
        seen.add(identity);

        const key = `${manifest.apiVersion}/${manifest.kind}`;
        const Model = modelFor(manifest.apiVersion, manifest.kind);
        if (!Model) {
            assert.ok(key in WITHOUT_UPSTREAM_MODEL, `no upstream schema for ${key}; add a model or justify it in WITHOUT_UPSTREAM_MODEL`);
            continue;
        }
        try {
            new Model(manifest).validate();
        } catch (error) {
            assert.fail(`${label(manifest)} does not validate against the upstream schema: ${(error as Error).message}`);
        }
    }
}

describe("every manifest validates against the upstream schemas", () => {
    it("finds models in all three packages", () => {
        assert.ok(modelFor("v1", "Namespace"));
        assert.ok(modelFor("gateway.networking.k8s.io/v1", "HTTPRoute"));
        assert.ok(modelFor("security.istio.io/v1", "AuthorizationPolicy"));
        assert.equal(modelFor("v1", "NoSuchKind"), undefined);
    });

    it("rejects an invalid manifest (the check can fail)", () => {
        const Model = modelFor("networking.k8s.io/v1", "NetworkPolicy") as ModelClass;
        assert.throws(() => new Model({ metadata: { name: "x" }, spec: { podSelector: {}, policyTypes: ["Sideways"] } }).validate());
    });

    for (const variant of PLAN_VARIANTS) {
        it(`core and downloads: ${variant.name}`, async () => {
            const core = await planCore(variant.core, variant.coreSecrets);
            assertValid(core.manifests);
            const downloads = await planDownloads(variant.downloads, variant.core, variant.downloadsSecrets, variant.coreSecrets);
            assertValid(downloads.manifests);
        });
    }
});
