import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StackPlan } from "../plan/evaluate";
import { manifestOf, planDownloads } from "./support/plan";
import { mapPaths } from "./support/qbittorrent";

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

/**
 * The library-folders step as the pod runs it, in a directory standing for the library. Run as root,
 * the suite plays the NFS server's root_squash with setpriv: the step then runs as nobody (65534)
 * with no capabilities, as root on a squashing export is to the server. Run as another user, that
 * user is already squashed, and is the app's user too (it can give folders to no one else).
 */
describe("library-folders: the step that makes the library folders before the app starts, on NFS that squashes root", () => {
  const asRoot = process.getuid?.() === 0;
  const app = asRoot ? { uid: 1000, gid: 1000 } : { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  let downloads: StackPlan;
  let library: string;
  let step: Container;
  before(async () => {
    downloads = await planDownloads();
    step = initOf(downloads, "qbittorrent", "library-folders");
  });
  beforeEach(() => {
    library = mkdtempSync(join(tmpdir(), "library-"));
    // An export's root as the user left it: world-readable, root's.
    chmodSync(library, 0o755);
  });
  afterEach(() => {
    // Folders a test made read-only must be writable again to be removed.
    execFileSync("chmod", ["-R", "u+rwx", library]);
    rmSync(library, { recursive: true, force: true });
  });

  const folders = () => (step.command ?? []).slice(4).map((folder) => mapPaths(folder, { "/data": library }));
  const run = (squashed: boolean, command = step.command ?? []) => {
    const env = Object.fromEntries((step.env ?? []).map((variable) => [variable.name, variable.value ?? ""]));
    const argv = command.map((arg) => mapPaths(arg, { "/data": library }));
    const asNobody = squashed && asRoot ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
    const [file, ...args] = [...asNobody, ...argv];
    return spawnSync(file, args, {
      encoding: "utf8",
      env: {
        PATH: process.env.PATH,
        ...env,
        PUID: String(app.uid),
        PGID: String(app.gid),
        LIBRARY_MOUNT_PATH: library,
      },
    });
  };
  const makeForTheApp = () => {
    for (const folder of folders()) {
      mkdirSync(folder, { recursive: true, mode: 0o755 });
      chownSync(folder, app.uid, app.gid);
    }
  };
  const owners = () => folders().map((folder) => `${statSync(folder).uid}:${statSync(folder).gid}`);

  it("goes on, changing nothing, when root is squashed and the folders exist for the app's user", () => {
    makeForTheApp();
    const result = run(true);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr, "");
    assert.deepEqual(
      owners(),
      folders().map(() => `${app.uid}:${app.gid}`),
    );
  });

  it("fails, naming each folder and the commands that fix it on the NFS server, when root is squashed and they are missing", () => {
    const [first, ...others] = folders();
    mkdirSync(first, { recursive: true });
    // Root's folder (made by hand as root, say), or, run as a user who is squashed already, one it
    // may not write: the other folders' parent is not this user's to write into either.
    chmodSync(first, asRoot ? 0o755 : 0o555);
    if (!asRoot) {
      chmodSync(join(library, "downloads"), 0o555);
    }
    const result = run(true);
    assert.equal(result.status, 1);
    const exported = (folder: string) => `'/export/media${folder.slice(library.length)}'`;
    assert.deepEqual(result.stderr.split("\n"), [
      `library-folders: the app's user ${app.uid}:${app.gid} cannot write these library folders, and this step, as root, could not make them or give them to it (an NFS export that squashes root maps root to nobody):`,
      `  ${first}: owned by ${asRoot ? "0:0" : `${app.uid}:${app.gid}`}, ${asRoot ? "drwxr-xr-x" : "dr-xr-xr-x"}`,
      ...others.map((folder) => `  ${folder}: missing, or hidden from root`),
      `Make them and give them to ${app.uid}:${app.gid} on the NFS server 192.168.1.10, e.g.:`,
      `  mkdir -p ${folders().map(exported).join(" ")} && chown ${app.uid}:${app.gid} ${folders().map(exported).join(" ")}`,
      "or set charmarr:appEnvironment.puid and charmarr:appEnvironment.pgid (core stack) to the user and group that own them.",
      "",
    ]);
    assert.ok(!others.some((folder) => existsSync(folder)));
  });

  it("makes the folders and gives them to the app's user where root is root on the library (hostPath, NFS with no_root_squash)", () => {
    const result = run(false);
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(
      owners(),
      folders().map(() => `${app.uid}:${app.gid}`),
    );
  });

  it("shows its message in the pod's status when it fails", () => {
    assert.equal((step as { terminationMessagePolicy?: string }).terminationMessagePolicy, "FallbackToLogsOnError");
  });
});
