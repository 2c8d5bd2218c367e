import { strict as assert } from "node:assert";
import type { Manifest, StackPlan } from "../plan/evaluate";
import { ROUTE_INIT_CONTAINER, ROUTE_SIDECAR_CONTAINER } from "../lib/vpn/client";
import { planCore, planDownloads } from "./support/plan";

interface SecurityContext {
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type: string };
}
interface Container {
  name: string;
  image: string;
  securityContext?: SecurityContext;
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
}

/** Every container of every pod template in a plan, with where it is. */
function containersOf(plan: StackPlan): { where: string; namespace: string; container: Container }[] {
  return plan.manifests.flatMap((manifest: Manifest) => {
    const spec = (manifest.spec as { template?: { spec?: PodSpec } } | undefined)?.template?.spec;
    if (spec === undefined) {
      return [];
    }
    return [...(spec.initContainers ?? []), ...spec.containers].map((container) => ({
      where: `${manifest.kind} ${manifest.metadata.namespace ?? ""}/${manifest.metadata.name} ${container.name}`,
      namespace: manifest.metadata.namespace ?? "",
      container,
    }));
  });
}

const ROUTE_CONTAINERS = [ROUTE_INIT_CONTAINER, ROUTE_SIDECAR_CONTAINER];
/** What the LinuxServer init (s6-overlay's preinit, init-adduser, lsiown, s6-setuidgid) needs as root. */
const LINUXSERVER_START = ["CHOWN", "DAC_OVERRIDE", "KILL", "SETGID", "SETUID"];

function appContainer(plan: StackPlan, app: string): Container {
  const manifest = plan.manifests.find((m) => m.kind === "StatefulSet" && m.metadata.name === app);
  assert.ok(manifest, `no StatefulSet ${app}`);
  const spec = (manifest.spec as { template: { spec: PodSpec } }).template.spec;
  return spec.containers.find((c) => c.name === app) as Container;
}

describe("least privilege: the apps' containers", () => {
  let core: StackPlan;
  let downloads: StackPlan;
  before(async () => {
    core = await planCore();
    downloads = await planDownloads();
  });

  it("no app or app-init container keeps NET_RAW or any capability the runtime grants by default: all are dropped", () => {
    const apps = [...containersOf(core), ...containersOf(downloads)].filter(
      ({ namespace, container }) => namespace !== "charmarr-vpn" && !ROUTE_CONTAINERS.includes(container.name),
    );
    assert.ok(apps.length >= 10, `only ${apps.length} app containers planned`);
    for (const { where, container } of apps) {
      const context = container.securityContext ?? {};
      assert.deepEqual(context.capabilities?.drop, ["ALL"], where);
      for (const added of context.capabilities?.add ?? []) {
        assert.ok(LINUXSERVER_START.includes(added), `${where} adds ${added}`);
      }
      assert.equal(context.privileged, undefined, where);
      assert.equal(context.allowPrivilegeEscalation, false, where);
      assert.deepEqual(context.seccompProfile, { type: "RuntimeDefault" }, where);
    }
  });

  it("a LinuxServer app gets back exactly what its start as root needs: chown, DAC override, setuid/setgid to PUID, signals to it", () => {
    for (const [plan, app] of [
      [core, "radarr"],
      [core, "plex"],
      [downloads, "qbittorrent"],
      [downloads, "sabnzbd"],
    ] as const) {
      assert.deepEqual(appContainer(plan, app).securityContext?.capabilities?.add, LINUXSERVER_START, app);
    }
  });

  it("a seeding or library-folder init step only writes and chowns as root: CHOWN and DAC_OVERRIDE, no setuid, no kill", () => {
    const steps = containersOf(downloads).filter(({ container }) =>
      ["qbittorrent-settings", "sabnzbd-settings", "library-folders"].includes(container.name),
    );
    assert.ok(steps.length >= 2, steps.map(({ where }) => where).join(", "));
    for (const { where, container } of steps) {
      assert.deepEqual(container.securityContext?.capabilities?.add, ["CHOWN", "DAC_OVERRIDE"], where);
    }
  });

  it("an image that starts as an unprivileged user (Seerr: USER node) gets no capability at all, its init steps neither", async () => {
    const plan = await planCore();
    const seerr = containersOf(plan).filter(({ where }) => where.includes("/seerr "));
    assert.ok(seerr.length >= 1);
    for (const { where, container } of seerr) {
      assert.deepEqual(container.securityContext?.capabilities, { drop: ["ALL"] }, where);
    }
  });

  it("an image the program does not know (hotio's) is taken to start as root and drop to PUID, as s6-overlay images do", async () => {
    const plan = await planCore({
      "charmarr:apps.radarr.image": "ghcr.io/hotio/radarr",
      "charmarr:apps.radarr.tag": "release-5.27.5.10198",
    });
    assert.deepEqual(appContainer(plan, "radarr").securityContext?.capabilities?.add, LINUXSERVER_START);
  });

  it("the route containers alone hold NET_ADMIN and NET_RAW in the clients' namespace", () => {
    const holders = containersOf(downloads)
      .filter(({ namespace }) => namespace === "charmarr-downloads")
      .filter(({ container }) =>
        (container.securityContext?.capabilities?.add ?? []).some((c) => c === "NET_ADMIN" || c === "NET_RAW"),
      )
      .map(({ container }) => container.name);
    assert.ok(holders.length > 0);
    assert.deepEqual([...new Set(holders)].sort(), [...ROUTE_CONTAINERS].sort());
  });
});
