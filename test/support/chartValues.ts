import * as fs from "node:fs";
import * as path from "node:path";
import Ajv from "ajv";
import { parse } from "yaml";
import type { ChartRelease } from "../../lib/platform";

/**
 * Helm values checked like manifests: every value the program passes to a chart must be declared
 * in that chart's `values.yaml` at the pinned version (or accepted by its `values.schema.json`), or
 * be read by one of its templates. Helm itself ignores an unknown key, so a renamed value would
 * silently stop doing anything.
 */

/**
 * Where the pinned charts' values files live: `shared/upstream/charts` in the directory that
 * holds the repository, as for the published CRDs.
 */
export const UPSTREAM_CHARTS = path.resolve(__dirname, "..", "..", "..", "shared", "upstream", "charts");

/** The folder of one chart's `values.yaml` for a release at its version. */
function chartFolder(release: Pick<ChartRelease, "step" | "version">): string {
  switch (release.step) {
    case "istio-base":
      return path.join(`istio-${release.version}`, "base");
    case "istiod":
      return path.join(`istio-${release.version}`, "istiod");
    case "istio-cni":
      return path.join(`istio-${release.version}`, "cni");
    case "ztunnel":
      return path.join(`istio-${release.version}`, "ztunnel");
    case "metallb":
      return `metallb-v${release.version}`;
    case "tailscale-operator":
      return `tailscale-operator-v${release.version}`;
  }
}

/**
 * Values the Istio charts read without declaring them: every one of them (base, istiod, cni,
 * ztunnel) renders templates/zzz_profile.yaml, which reads `profile` and `global.profile` (a
 * `files/profile-<name>.yaml` merged under the defaults), `compatibilityVersion`, and `platform` and
 * `global.platform` (`files/profile-platform-<name>.yaml`), failing on an unknown name (istio/istio
 * 1.30.3 and 1.31 manifests/charts/<chart>/templates/zzz_profile.yaml).
 */
const ISTIO_TEMPLATE_READS = ["profile", "global.profile", "compatibilityVersion", "platform", "global.platform"];

/**
 * Subtrees that take any key: istiod's `meshConfig` is the free-form MeshConfig
 * (istio.mesh.v1alpha1, "See ... for all available options" in its values.yaml), of which the
 * chart declares one default.
 */
const ISTIO_FREE_FORM = ["meshConfig"];

export interface ChartValues {
  /** The values as `values.yaml` declares them; Istio's with `_internal_defaults_do_not_set` lifted to the top. */
  readonly declared: Record<string, unknown>;
  /** Dotted paths a template reads without a declaration. */
  readonly templateReads: readonly string[];
  /** Dotted paths under which any key is taken. */
  readonly freeForm: readonly string[];
  /** The chart's values.schema.json, when it has one. */
  readonly schema?: object;
}

/** The values a chart declares at the version of `release`; fails clearly when the pinned values are absent. */
export function chartValues(release: Pick<ChartRelease, "step" | "version">): ChartValues {
  const folder = path.join(UPSTREAM_CHARTS, chartFolder(release));
  const file = path.join(folder, "values.yaml");
  if (!fs.existsSync(file)) {
    throw new Error(`pinned chart values not found: ${file} (the chart's values.yaml at ${release.version})`);
  }
  const raw = (parse(fs.readFileSync(file, "utf8")) ?? {}) as Record<string, unknown>;
  const istio =
    release.step === "istio-base" ||
    release.step === "istiod" ||
    release.step === "istio-cni" ||
    release.step === "ztunnel";
  // Istio's charts nest their defaults under _internal_defaults_do_not_set, and users set those
  // keys at the top level (the comment heading each values.yaml; zzz_profile.yaml merges them).
  const { _internal_defaults_do_not_set: defaults, ...rest } = raw;
  const declared = istio ? { ...(defaults as Record<string, unknown>), ...rest } : raw;
  const schemaFile = path.join(folder, "values.schema.json");
  return {
    declared,
    templateReads: istio ? ISTIO_TEMPLATE_READS : [],
    freeForm: istio ? ISTIO_FREE_FORM : [],
    ...(fs.existsSync(schemaFile) ? { schema: JSON.parse(fs.readFileSync(schemaFile, "utf8")) as object } : {}),
  };
}

const isMap = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value);

/**
 * The values the chart would not use, one line per key: undeclared, or a map where the chart
 * declares a scalar or a list (or the reverse). A map declared empty (`env: {}`) takes any key.
 */
export function unusedValues(values: Record<string, unknown>, chart: ChartValues): string[] {
  const problems: string[] = [];
  const visit = (given: Record<string, unknown>, declared: Record<string, unknown>, at: string) => {
    for (const [key, value] of Object.entries(given)) {
      const where = at === "" ? key : `${at}.${key}`;
      if (chart.templateReads.includes(where) || chart.freeForm.includes(where)) {
        continue;
      }
      if (!(key in declared)) {
        problems.push(`${where}: not declared in the chart's values.yaml, and no template reads it`);
        continue;
      }
      const default_ = declared[key];
      if (isMap(value) && isMap(default_)) {
        if (Object.keys(default_).length > 0) {
          visit(value, default_, where);
        }
      } else if (isMap(value) !== isMap(default_) && default_ !== null) {
        problems.push(
          `${where}: a ${isMap(value) ? "map" : "value"} where values.yaml declares a ${isMap(default_) ? "map" : "value"}`,
        );
      }
    }
  };
  visit(values, chart.declared, "");
  if (chart.schema) {
    // MetalLB's names draft-07 as https://json-schema.org/draft-07/schema#, which Ajv knows by its
    // http:// id only: compiled without the $schema keyword, as the draft-07 schema Ajv defaults to.
    const schema: Record<string, unknown> = { ...chart.schema };
    delete schema.$schema;
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    // Helm validates the merged values; the given ones over the declared defaults stand in for them.
    if (!validate(merge(chart.declared, values))) {
      problems.push(
        ...(validate.errors ?? []).map(
          (error) => `${error.instancePath || "/"}: ${error.message} (values.schema.json)`,
        ),
      );
    }
  }
  return problems;
}

/** `values` over `defaults`, maps merged key by key as Helm coalesces them. */
function merge(defaults: Record<string, unknown>, values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...defaults };
  for (const [key, value] of Object.entries(values)) {
    out[key] = isMap(value) && isMap(out[key]) ? merge(out[key] as Record<string, unknown>, value) : value;
  }
  return out;
}

/** Every dotted path of `values` whose last key is `key`, at any depth. */
export function pathsNamed(values: Record<string, unknown>, key: string, at = ""): string[] {
  return Object.entries(values).flatMap(([name, value]) => {
    const where = at === "" ? name : `${at}.${name}`;
    return [...(name === key ? [where] : []), ...(isMap(value) ? pathsNamed(value, key, where) : [])];
  });
}
