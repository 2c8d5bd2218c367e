import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import Ajv, { ValidateFunction } from "ajv";
import { parse } from "yaml";
import { recyclarrSchema as recyclarrSettingsSchema } from "../lib/recyclarr/settings";
import { CONFIG_TEMPLATES, CONFIG_TEMPLATES_COMMIT } from "../lib/recyclarr/templates";
import type { StackPlan } from "../plan/evaluate";
import { assertConfigError, manifestOf, manifestsOf, planCore } from "./support/plan";

const UPSTREAM = path.resolve(__dirname, "..", "..", "shared", "upstream");
const SCHEMAS = path.join(UPSTREAM, "recyclarr-v8.7.1/schemas");
const TEMPLATES = path.join(UPSTREAM, "recyclarr-config-templates-71d7cee");
const RECYCLARR_PRINCIPAL = "cluster.local/ns/charmarr-core/sa/recyclarr";

/**
 * Recyclarr v8.7.1's published config schema (draft-07). Its files `$ref` each other by relative
 * path and carry no `$id`, so each is registered under its own file URL, which the relative
 * references resolve against.
 */
function recyclarrSchema(): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: false });
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? files(path.join(dir, entry.name)) : [path.join(dir, entry.name)],
    );
  for (const file of files(SCHEMAS).filter((name) => name.endsWith(".json"))) {
    const schema = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    delete schema.$schema;
    ajv.addSchema({ ...schema, $id: pathToFileURL(file).href });
  }
  const validate = ajv.getSchema(pathToFileURL(path.join(SCHEMAS, "config-schema.json")).href);
  assert.ok(validate);
  return validate;
}

/** Recyclarr's YAML, with `!env_var NAME` read as the string Recyclarr substitutes for it. */
function parseRecyclarrYaml(text: string): unknown {
  return parse(text, { customTags: [{ tag: "!env_var", resolve: (value: string) => `<${value}>` }] });
}

function schemaErrors(validate: ValidateFunction, document: unknown): string[] {
  return validate(document) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message}`);
}

function recyclarrConfigMap(plan: StackPlan): Record<string, string> {
  return (manifestOf(plan, "ConfigMap", "recyclarr") as unknown as { data: Record<string, string> }).data;
}

/** A `bin` folder in `dir` whose `awk` is BusyBox's, as in Recyclarr's Alpine image; put it first on PATH. */
function busyboxAwk(dir: string): string {
  const bin = path.join(dir, "bin");
  mkdirSync(bin);
  symlinkSync(execFileSync("sh", ["-c", "command -v busybox"], { encoding: "utf8" }).trim(), path.join(bin, "awk"));
  return bin;
}

/**
 * Runs the planned templates script as the init container does — bash, with BusyBox's awk as in
 * Recyclarr's Alpine image — on the pinned config-templates, already in the config directory at
 * the pinned commit (so the script does not fetch). Returns the include files it wrote.
 */
function runTemplatesScript(script: string): Record<string, string> {
  const dir = mkdtempSync(path.join(tmpdir(), "recyclarr-"));
  try {
    const bin = busyboxAwk(dir);
    const config = path.join(dir, "config");
    cpSync(TEMPLATES, path.join(config, "config-templates"), { recursive: true });
    writeFileSync(path.join(config, "config-templates/.charmarr-commit"), `${CONFIG_TEMPLATES_COMMIT}\n`);
    writeFileSync(path.join(dir, "script.sh"), script);
    execFileSync("bash", [path.join(dir, "script.sh")], {
      env: { PATH: `${bin}:${process.env.PATH}`, RECYCLARR_CONFIG_DIR: config },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const includes = path.join(config, "includes");
    return Object.fromEntries(
      readdirSync(includes).map((name) => [name, readFileSync(path.join(includes, name), "utf8")]),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("Recyclarr: quality profiles as code", () => {
  let plan: StackPlan;
  let validate: ValidateFunction;
  before(async () => {
    plan = await planCore();
    validate = recyclarrSchema();
  });

  it("offers exactly the templates config-templates' templates.json lists at the pinned commit", () => {
    const index = JSON.parse(readFileSync(path.join(TEMPLATES, "templates.json"), "utf8")) as Record<
      string,
      { template: string; id: string }[]
    >;
    for (const app of ["radarr", "sonarr"] as const) {
      assert.deepEqual(
        CONFIG_TEMPLATES[app],
        Object.fromEntries(index[app].map((entry) => [entry.id, entry.template])),
        `${app}'s templates differ from the pinned templates.json`,
      );
    }
    assert.match(readFileSync(path.join(TEMPLATES, "SOURCE"), "utf8"), new RegExp(CONFIG_TEMPLATES_COMMIT));
  });

  it("syncs the example's templates into Radarr and Sonarr, one instance each, with the keys the program generated", () => {
    const config = parseRecyclarrYaml(recyclarrConfigMap(plan)["recyclarr.yml"]);
    assert.deepEqual(config, {
      radarr: {
        radarr: {
          base_url: "http://radarr.charmarr-core.svc.cluster.local:7878/radarr",
          api_key: "<RADARR_API_KEY>",
          include: [{ config: "radarr-hd-bluray-web.yml" }],
        },
      },
      sonarr: {
        sonarr: {
          base_url: "http://sonarr.charmarr-core.svc.cluster.local:8989/sonarr",
          api_key: "<SONARR_API_KEY>",
          include: [{ config: "sonarr-web-1080p.yml" }],
        },
      },
    });
    const pod = (manifestOf(plan, "CronJob", "recyclarr") as unknown as CronJob).spec.jobTemplate.spec.template.spec;
    const sync = pod.containers.find((container) => container.name === "sync");
    assert.ok(sync);
    const keys = Object.fromEntries(
      (sync.env ?? []).flatMap((variable) =>
        variable.valueFrom ? [[variable.name, variable.valueFrom.secretKeyRef]] : [],
      ),
    );
    // The Secrets the apps read their own keys from (RADARR__AUTH__APIKEY, SONARR__AUTH__APIKEY).
    for (const [variable, app] of [
      ["RADARR_API_KEY", "radarr"],
      ["SONARR_API_KEY", "sonarr"],
    ] as const) {
      const secretName = keys[variable]?.name;
      assert.ok(secretName, `${variable} comes from no Secret`);
      const appPod = (manifestOf(plan, "StatefulSet", app) as unknown as StatefulSet).spec.template.spec;
      const appKey = appPod.containers[0].env?.find((entry) => entry.name === `${app.toUpperCase()}__AUTH__APIKEY`);
      assert.deepEqual(keys[variable], appKey?.valueFrom?.secretKeyRef, `${variable} is not ${app}'s own key`);
      assert.equal(manifestsOf(plan, "Secret", secretName).length, 1);
    }
    assert.deepEqual(sync.args, ["sync", "--config", "/etc/charmarr/recyclarr.yml"]);
  });

  it("generates a recyclarr.yml that Recyclarr v8.7.1's published schema accepts, and a non-config it refuses", () => {
    assert.deepEqual(schemaErrors(validate, parseRecyclarrYaml(recyclarrConfigMap(plan)["recyclarr.yml"])), []);
    // The schema is strict: a v7 key is refused, so an accepted config means something.
    assert.notDeepEqual(
      schemaErrors(validate, { radarr: { radarr: { base_url: "x", replace_existing_custom_formats: true } } }),
      [],
    );
  });

  it("turns each chosen template into an include the schema accepts as an instance body, with no placeholder left", () => {
    const includes = runTemplatesScript(recyclarrConfigMap(plan)["fetch-templates.sh"]);
    assert.deepEqual(Object.keys(includes).sort(), ["radarr-hd-bluray-web.yml", "sonarr-web-1080p.yml"]);
    for (const [file, text] of Object.entries(includes)) {
      const app = file.split("-")[0];
      const body = parseRecyclarrYaml(text) as Record<string, unknown>;
      assert.doesNotMatch(text, /Put your/);
      assert.equal(body.base_url, undefined);
      assert.ok(Array.isArray(body.quality_profiles), `${file} has no quality profiles`);
      assert.deepEqual(schemaErrors(validate, { [app]: { [app]: { base_url: "http://x", ...body } } }), []);
    }
    const radarr = parseRecyclarrYaml(includes["radarr-hd-bluray-web.yml"]) as {
      quality_definition: unknown;
      quality_profiles: { trash_id: string }[];
    };
    // TRaSH "HD Bluray + WEB" (config-templates radarr/templates/hd-bluray-web.yml L13-18).
    assert.deepEqual(radarr.quality_definition, { type: "movie" });
    assert.equal(radarr.quality_profiles[0].trash_id, "d1d67249d3890e49bc12e275d989a7e9");
  });

  it("fails the Job on a template whose layout it does not know, naming the line, instead of syncing half of it", async () => {
    const script = recyclarrConfigMap(plan)["fetch-templates.sh"];
    const dir = mkdtempSync(path.join(tmpdir(), "recyclarr-layout-"));
    try {
      writeFileSync(path.join(dir, "odd.yml"), "radarr:\n  odd:\n    base_url: x\n  stray: 1\n");
      const functionOnly = script.slice(script.indexOf("instance_body() {"), script.indexOf("\n}\n") + 3);
      const bin = busyboxAwk(dir);
      assert.throws(
        () =>
          execFileSync(
            "bash",
            [
              "-c",
              `set -euo pipefail\n${functionOnly}\ninstance_body radarr "$1" > /dev/null`,
              "-",
              path.join(dir, "odd.yml"),
            ],
            {
              env: { PATH: `${bin}:${process.env.PATH}` },
              stdio: ["ignore", "pipe", "pipe"],
            },
          ),
        (error: { stderr: Buffer }) => /odd\.yml:4: not a line of the template layout/.test(error.stderr.toString()),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("may call Radarr and Sonarr, the apps it syncs into, and no other app", () => {
    const allowed = manifestsOf(plan, "AuthorizationPolicy")
      .filter((policy) => JSON.stringify((policy as unknown as { spec: unknown }).spec).includes(RECYCLARR_PRINCIPAL))
      .map((policy) => policy.metadata.name)
      .sort();
    assert.deepEqual(allowed, ["radarr", "sonarr"]);
  });

  it("runs as the image's user with no capability, no token and a read-only root filesystem", () => {
    const pod = (manifestOf(plan, "CronJob", "recyclarr") as unknown as CronJob).spec.jobTemplate.spec.template.spec;
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(pod.serviceAccountName, "recyclarr");
    assert.equal(pod.securityContext?.runAsUser, 1000);
    for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
      assert.deepEqual(container.securityContext, {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ["ALL"] },
      });
    }
    assert.equal((manifestOf(plan, "CronJob", "recyclarr") as unknown as CronJob).spec.concurrencyPolicy, "Forbid");
  });

  it("plans nothing of Recyclarr when disabled, and no app lets it call", async () => {
    const off = await planCore({ "charmarr:recyclarr.enabled": false });
    assert.deepEqual(manifestsOf(off, "CronJob"), []);
    assert.deepEqual(manifestsOf(off, "ConfigMap", "recyclarr"), []);
    assert.ok(!JSON.stringify(off.manifests).includes(RECYCLARR_PRINCIPAL));
    assert.equal(off.outputs.recyclarr, undefined);
  });

  it("says how to run a sync now", () => {
    assert.deepEqual(plan.outputs.recyclarr, {
      cronJob: "recyclarr",
      schedule: "@daily",
      manualRun: "kubectl --namespace charmarr-core create job --from=cronjob/recyclarr recyclarr-manual-$(date +%s)",
    });
  });

  it("takes five-field schedules and descriptors", () => {
    for (const schedule of ["30 4 * * *", "0 */6 * * 1-5", "@weekly", "15 3 1,15 * SUN"]) {
      assert.equal(recyclarrSettingsSchema.parse({ schedule }).schedule, schedule);
    }
  });

  describe("refuses, naming the key and the fix", () => {
    it("an unknown template, with the one meant", async () => {
      await assertConfigError(
        planCore({ "charmarr:recyclarr.templates": { radarr: ["hd-bluray-webb"], sonarr: ["web-1080p"] } }),
        "charmarr:recyclarr.templates.radarr[0]",
        '"hd-bluray-webb" is not a Recyclarr radarr template (did you mean hd-bluray-web?)',
        "pulumi config set --path 'charmarr:recyclarr.templates.radarr[0]' hd-bluray-web",
      );
    });

    it("a Sonarr template listed for Radarr", async () => {
      await assertConfigError(
        planCore({ "charmarr:recyclarr.templates": { radarr: ["web-1080p"] } }),
        '"web-1080p" is not a Recyclarr radarr template',
      );
    });

    it("a template listed twice", async () => {
      await assertConfigError(
        planCore({ "charmarr:recyclarr.templates": { radarr: ["hd-bluray-web", "hd-bluray-web"] } }),
        "charmarr:recyclarr.templates.radarr[1]",
        "is listed twice",
        "pulumi config rm --path 'charmarr:recyclarr.templates.radarr[1]'",
      );
    });

    it("a schedule the API server would refuse", async () => {
      for (const schedule of ["daily", "* * * *", "TZ=Europe/Berlin 0 4 * * *", "0 4 * * * *"]) {
        await assertConfigError(
          planCore({ "charmarr:recyclarr.schedule": schedule }),
          "charmarr:recyclarr.schedule",
          "is not a CronJob schedule",
          "pulumi config set --path charmarr:recyclarr.schedule '30 4 * * *'",
        );
      }
    });

    it("Recyclarr on with nothing to sync", async () => {
      await assertConfigError(
        planCore({ "charmarr:recyclarr.templates": undefined }),
        "charmarr:recyclarr.templates",
        "names no template",
      );
    });

    it("templates for an app this stack does not run", async () => {
      await assertConfigError(
        planCore({ "charmarr:apps": { plex: { lanIp: "192.168.1.243" }, sonarr: { enabled: false } } }),
        "charmarr:recyclarr.templates.sonarr",
        "sonarr is not enabled on this stack",
        "pulumi config set --path charmarr:apps.sonarr.enabled true",
      );
    });

    it("an unpinned image", async () => {
      await assertConfigError(
        planCore({ "charmarr:recyclarr.image": "ghcr.io/recyclarr/recyclarr:latest" }),
        "charmarr:recyclarr.image",
        "is not pinned to a version",
      );
    });
  });
});

interface Container {
  name: string;
  args?: string[];
  env?: { name: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[];
  securityContext?: unknown;
}
interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: { runAsUser?: number };
  initContainers?: Container[];
  containers: Container[];
}
interface CronJob {
  spec: { schedule: string; concurrencyPolicy: string; jobTemplate: { spec: { template: { spec: PodSpec } } } };
}
interface StatefulSet {
  spec: { template: { spec: PodSpec } };
}
