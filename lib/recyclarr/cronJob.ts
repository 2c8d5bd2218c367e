import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { Document, Scalar } from "yaml";
import { APP_LABEL } from "../k8s/labels";
import { RecyclarrSettings, syncedApps } from "./settings";
import { CONFIG_TEMPLATES, CONFIG_TEMPLATES_COMMIT, CONFIG_TEMPLATES_REPOSITORY, RecyclarrApp } from "./templates";

type ICronJob = pulumi.Unwrap<k8s.types.input.batch.v1.CronJob>;
type IConfigMap = pulumi.Unwrap<k8s.types.input.core.v1.ConfigMap>;
type IServiceAccount = pulumi.Unwrap<k8s.types.input.core.v1.ServiceAccount>;
type ISecurityContext = pulumi.Unwrap<k8s.types.input.core.v1.SecurityContext>;

/** The workload's name: its CronJob, ServiceAccount (its mesh identity) and ConfigMap. */
export const RECYCLARR = "recyclarr";

/** The sync container's variable each app's API key is read from (`!env_var` in the config). */
export const API_KEY_VARIABLES: Readonly<Record<RecyclarrApp, string>> = {
  radarr: "RADARR_API_KEY",
  sonarr: "SONARR_API_KEY",
};

/**
 * Recyclarr's config directory, `RECYCLARR_CONFIG_DIR` in its image (recyclarr v8.7.1 Dockerfile
 * L32-36). Start-up creates `state/`, `logs/`, `configs/` and `includes/` and writes a default
 * `settings.yml` in it (src/Recyclarr.Core/Platform/AppPaths.cs L13-28, Settings/SettingsLoader.cs
 * L77-91), so it must be writable: an emptyDir. Nothing in it needs to outlive a run: Recyclarr
 * v8.4+ adopts the custom formats and profiles that already exist in the app (CHANGELOG.md, 8.4.0),
 * so it keeps no state that matters between syncs.
 */
const CONFIG_DIR = "/config";
/** Where the ConfigMap with the generated config and the templates script is mounted, read-only. */
const SETTINGS_DIR = "/etc/charmarr";
export const CONFIG_FILE = "recyclarr.yml";
export const TEMPLATES_SCRIPT = "fetch-templates.sh";

/** What the builders need to know about one app Recyclarr syncs into. */
export interface RecyclarrTarget {
  /** The app's in-cluster URL with its URL base: `http://radarr.charmarr-core.svc.cluster.local:7878/radarr`. */
  readonly url: string;
  /** The Secret and key holding the app's API key (the one the program generated for the app). */
  readonly apiKeySecret: { readonly name: string; readonly key: string };
}

export interface RecyclarrInput {
  readonly namespace: string;
  readonly settings: RecyclarrSettings;
  /** The apps with templates, by app (the config rules refuse templates for an app that does not run). */
  readonly targets: Readonly<Partial<Record<RecyclarrApp, RecyclarrTarget>>>;
  readonly labels: Readonly<Record<string, string>>;
}

/** `radarr-hd-bluray-web.yml`: one chosen template's include file, in `<config>/includes/`. */
export function includeFile(app: RecyclarrApp, id: string): string {
  return `${app}-${id}.yml`;
}

/**
 * The config `recyclarr sync --config` reads: ONE instance per app, its templates merged into it as
 * includes. One instance per template would not do: instances that share a `base_url` are "split
 * instances" and Recyclarr syncs none of them (src/Recyclarr.Core/Config/Filtering/SplitInstancesFilter.cs).
 * Templates cannot be included by id either, since config-templates' `includes.json` is empty on the
 * `v8` branch (ConfigMerging/TemplateIncludeProcessor.cs L19-27), hence the include files the
 * templates script writes. Relative include paths resolve in `<config>/includes/`
 * (ConfigMerging/ConfigIncludeProcessor.cs). The API key is read from the environment with
 * `!env_var` (Config/EnvironmentVariables/EnvironmentVariablesYamlBehavior.cs L13-14), so the
 * ConfigMap holds no secret.
 */
export function recyclarrConfig(input: Pick<RecyclarrInput, "settings" | "targets">): string {
  const document = new Document({});
  for (const app of syncedApps(input.settings)) {
    const target = targetOf(input, app);
    const apiKey = new Scalar(API_KEY_VARIABLES[app]);
    apiKey.tag = "!env_var";
    document.setIn([app, app], {
      base_url: target.url,
      api_key: apiKey,
      include: input.settings.templates[app].map((id) => ({ config: includeFile(app, id) })),
    });
  }
  document.commentBefore =
    " Written by Charmarr from charmarr:recyclarr; edits are replaced on the next pulumi up.\n" +
    " yaml-language-server: $schema=https://schemas.recyclarr.dev/v8/config-schema.json";
  return document.toString({ lineWidth: 0 });
}

/**
 * The init step: fetches recyclarr/config-templates at the pinned commit (one commit, shallow) unless
 * the config directory already holds it, and writes each chosen template's instance body as an include
 * file. A template file is a whole config (`radarr:` → `<id>:` → settings, with placeholder
 * `base_url`/`api_key`: config-templates radarr/templates/hd-bluray-web.yml L8-11), but an include
 * is parsed as an instance body (Config/Parsing/PostProcessing/IncludePostProcessor.cs,
 * `parser.Load<T>`), so the two outer levels and the placeholders are taken off. Runs in Recyclarr's
 * own image: bash, git and BusyBox awk (Alpine; Dockerfile L22, L39). Any line outside the layout
 * it knows fails the Job with the line, rather than syncing a half-read template.
 */
export function templatesScript(settings: RecyclarrSettings): string {
  const writes = syncedApps(settings).flatMap((app) =>
    settings.templates[app].map(
      (id) => `instance_body ${app} "$checkout/${CONFIG_TEMPLATES[app][id]}" > "$includes/${includeFile(app, id)}"`,
    ),
  );
  return `#!/bin/bash
set -euo pipefail
# The image sets RECYCLARR_CONFIG_DIR to /config (Dockerfile L32-33), an emptyDir.
checkout="$RECYCLARR_CONFIG_DIR/config-templates"
includes="$RECYCLARR_CONFIG_DIR/includes"
commit="${CONFIG_TEMPLATES_COMMIT}"
if [ "$(cat "$checkout/.charmarr-commit" 2>/dev/null || true)" != "$commit" ]; then
  rm -rf "$checkout"
  git init -q "$checkout"
  git -C "$checkout" fetch -q --depth 1 "${CONFIG_TEMPLATES_REPOSITORY}" "$commit"
  git -C "$checkout" checkout -q FETCH_HEAD
  echo "$commit" > "$checkout/.charmarr-commit"
fi

# <app> <template file>: the template's one instance, de-indented, without base_url and api_key.
instance_body() {
  awk -v app="$1" '
    state == 0 && $0 == app ":" { state = 1; next }
    state == 1 && /^  [^ #]/ { state = 2; next }
    state != 2 { next }
    /^[ \\t]*$/ { print ""; next }
    /^    (base_url|api_key):/ { next }
    /^    / { print substr($0, 5); next }
    /^ *#/ { next }
    { print FILENAME ":" NR ": not a line of the template layout this script reads: " $0 | "cat 1>&2"; failed = 1; exit 1 }
    END { if (!failed && state != 2) { print FILENAME ": no " app " instance" | "cat 1>&2"; exit 1 } }
  ' "$2"
}

rm -rf "$includes"
mkdir -p "$includes"
${writes.join("\n")}
`;
}

/**
 * Recyclarr's containers need no capability (they run as the image's user and only talk HTTPS and
 * HTTP) and write only to the config directory and /tmp (upstream's compose file runs the image
 * `read_only` with a tmpfs /tmp: docker-compose.yml L85-98).
 */
const CONTAINER_SECURITY: ISecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] },
};

export function buildRecyclarrServiceAccount(input: RecyclarrInput): IServiceAccount {
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: RECYCLARR, namespace: input.namespace, labels: workloadLabels(input) },
    // Recyclarr talks to Radarr and Sonarr, never to the Kubernetes API.
    automountServiceAccountToken: false,
  };
}

export function buildRecyclarrConfigMap(input: RecyclarrInput): IConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: RECYCLARR, namespace: input.namespace, labels: workloadLabels(input) },
    data: { [CONFIG_FILE]: recyclarrConfig(input), [TEMPLATES_SCRIPT]: templatesScript(input.settings) },
  };
}

/**
 * The CronJob: the templates step, then `recyclarr sync --config <generated>` once (with arguments the
 * image's entrypoint runs `recyclarr "$@"` and exits: docker/scripts/entrypoint.sh L11-12). No
 * sidecar keeps the Job from completing: the namespace is in the ambient mesh, where ztunnel on the
 * node carries the pod's mTLS.
 */
export function buildRecyclarrCronJob(input: RecyclarrInput): ICronJob {
  const labels = workloadLabels(input);
  const mounts = [
    { name: "config", mountPath: CONFIG_DIR },
    { name: "settings", mountPath: SETTINGS_DIR, readOnly: true },
    { name: "tmp", mountPath: "/tmp" },
  ];
  const apiKeys = syncedApps(input.settings).map((app) => ({
    name: API_KEY_VARIABLES[app],
    valueFrom: { secretKeyRef: { ...targetOf(input, app).apiKeySecret } },
  }));
  return {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: { name: RECYCLARR, namespace: input.namespace, labels },
    spec: {
      schedule: input.settings.schedule,
      // One sync at a time: two would write the same profiles.
      concurrencyPolicy: "Forbid",
      startingDeadlineSeconds: 3600,
      successfulJobsHistoryLimit: 1,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        metadata: { labels },
        spec: {
          backoffLimit: 2,
          activeDeadlineSeconds: 3600,
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName: RECYCLARR,
              automountServiceAccountToken: false,
              restartPolicy: "Never",
              // The image's user (Dockerfile L45: USER 1000:1000).
              securityContext: {
                runAsUser: 1000,
                runAsGroup: 1000,
                runAsNonRoot: true,
                fsGroup: 1000,
                seccompProfile: { type: "RuntimeDefault" },
              },
              initContainers: [
                {
                  name: "templates",
                  image: input.settings.image,
                  command: ["/bin/bash", `${SETTINGS_DIR}/${TEMPLATES_SCRIPT}`],
                  // git keeps nothing of its own but wants a home.
                  env: [{ name: "HOME", value: "/tmp" }],
                  volumeMounts: mounts,
                  securityContext: CONTAINER_SECURITY,
                  resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } },
                },
              ],
              containers: [
                {
                  name: "sync",
                  image: input.settings.image,
                  args: ["sync", "--config", `${SETTINGS_DIR}/${CONFIG_FILE}`],
                  env: [{ name: "HOME", value: "/tmp" }, ...apiKeys],
                  volumeMounts: mounts,
                  securityContext: CONTAINER_SECURITY,
                  resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } },
                },
              ],
              volumes: [
                { name: "config", emptyDir: { sizeLimit: "1Gi" } },
                { name: "settings", configMap: { name: RECYCLARR } },
                { name: "tmp", emptyDir: {} },
              ],
            },
          },
        },
      },
    },
  };
}

/** `kubectl create job --from=cronjob/recyclarr …`: a sync now, outside the schedule. */
export function manualRunCommand(namespace: string): string {
  return `kubectl --namespace ${namespace} create job --from=cronjob/${RECYCLARR} ${RECYCLARR}-manual-$(date +%s)`;
}

/** The app a template list syncs into; the config rules refuse templates for an app that does not run. */
function targetOf(input: Pick<RecyclarrInput, "targets">, app: RecyclarrApp): RecyclarrTarget {
  const target = input.targets[app];
  if (target === undefined) {
    throw new Error(`no ${app} to sync Recyclarr's ${app} templates into`);
  }
  return target;
}

function workloadLabels(input: RecyclarrInput): Record<string, string> {
  return { ...input.labels, [APP_LABEL]: RECYCLARR };
}
