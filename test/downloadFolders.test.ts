import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StackPlan } from "../plan/evaluate";
import { manifestOf, planDownloads } from "./support/plan";

type Env = { name: string; value?: string; valueFrom?: unknown };
type Container = {
  name: string;
  command?: string[];
  env?: Env[];
  volumeMounts?: { name: string; mountPath: string }[];
};
type PodSpec = { initContainers?: Container[]; containers: Container[] };

const podOf = (plan: StackPlan, app: string) =>
  (manifestOf(plan, "StatefulSet", app).spec as { template: { spec: PodSpec } }).template.spec;
const initOf = (plan: StackPlan, app: string, name: string) => {
  const init = podOf(plan, app).initContainers?.find((container) => container.name === name);
  assert.ok(init, `${app} has an init container ${name}`);
  return init;
};
/** The mount paths of the app container's volumes other than /config: where downloads may go. */
const largeVolumes = (plan: StackPlan, app: string) =>
  (podOf(plan, app).containers.find((container) => container.name === app)?.volumeMounts ?? [])
    .map((mount) => mount.mountPath)
    .filter((path) => path !== "/config");
const under = (path: string, folders: readonly string[]) => folders.some((folder) => path.startsWith(`${folder}/`));

describe("where the download clients write: on the library, never on the small /config volume", () => {
  let downloads: StackPlan;
  const dirs: string[] = [];
  const scratch = () => {
    const dir = mkdtempSync(join(tmpdir(), "download-folders-"));
    dirs.push(dir);
    return dir;
  };
  before(async () => {
    downloads = await planDownloads();
  });
  after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it("SABnzbd's planned init script puts its incomplete and complete downloads on the library", () => {
    const script = (manifestOf(downloads, "ConfigMap", "sabnzbd-settings").data as Record<string, string>)[
      "settings.sh"
    ];
    const env = Object.fromEntries(
      (initOf(downloads, "sabnzbd", "sabnzbd-settings").env ?? []).map((variable) => [
        variable.name,
        variable.value ?? "0123456789abcdef0123456789abcdef",
      ]),
    );
    const config = scratch();
    const file = join(config, "settings.sh");
    writeFileSync(file, script.replace(/\/config\//g, `${config}/`));
    execFileSync("sh", [file], { env: { PATH: process.env.PATH, ...env } });
    const ini = readFileSync(join(config, "sabnzbd.ini"), "utf8");
    const setting = (key: string) => ini.match(new RegExp(`^${key} = (.*)$`, "m"))?.[1] ?? "";
    const library = largeVolumes(downloads, "sabnzbd");
    assert.deepEqual(library, ["/data"]);
    // Unset, both are relative to the ini's folder, /config (SABnzbd 4.5.1 SABnzbd.py L972-977).
    for (const key of ["download_dir", "complete_dir"]) {
      assert.ok(under(setting(key), library), `${key} = ${setting(key)} is not on ${library.join(", ")}`);
    }
    assert.deepEqual(
      [setting("download_dir"), setting("complete_dir")],
      ["/data/downloads/incomplete/sabnzbd", "/data/downloads/sabnzbd"],
    );
  });

  it("makes each client's own folders before it starts, beside the arr apps' category folders", () => {
    for (const client of ["qbittorrent", "sabnzbd"]) {
      const folders = (initOf(downloads, client, "library-folders").command ?? []).slice(4);
      assert.deepEqual(folders, [
        "/data/downloads/radarr",
        "/data/downloads/sonarr",
        "/data/downloads/lidarr",
        `/data/downloads/${client}`,
        `/data/downloads/incomplete/${client}`,
      ]);
    }
  });
});
