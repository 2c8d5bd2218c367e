import { strict as assert } from "node:assert";
import { httpClient } from "../lib/relations/http";
import { reconcileJellyfinAdmin } from "../lib/relations/jellyfin";
import { FakeJellyfin } from "./support/fakeSeerr";

// Jellyfin's first administrator, made through its startup wizard, against the Jellyfin stand-in
// (test/support/fakeSeerr.ts, as strict as Jellyfin v10.11.11): what Jellyfin receives, what the
// relation reports, and what it never touches.
const ADMIN = { username: "charmarr", password: "generated-jellyfin-password" };

describe("relations: Jellyfin's administrator", () => {
  let jellyfin: FakeJellyfin;
  beforeEach(async () => {
    jellyfin = await FakeJellyfin.create();
  });
  afterEach(() => jellyfin.stop());
  const http = () => httpClient(jellyfin.url, 5000);
  const log = () => jellyfin.log.splice(0);

  it("a new Jellyfin: the wizard makes the administrator with the generated password and is closed; the next run signs in and changes nothing", async () => {
    assert.deepEqual(await reconcileJellyfinAdmin(http(), ADMIN, []), [
      { app: "jellyfin", collection: "administrator", name: "charmarr", action: "created" },
    ]);
    assert.deepEqual(log(), [
      "GET /System/Info/Public 200",
      "GET /Startup/User 200",
      "POST /Startup/User 204",
      "POST /Startup/Complete 204",
    ]);
    assert.deepEqual(
      jellyfin.users.map((user) => [user.name, user.password, user.admin]),
      [["charmarr", ADMIN.password, true]],
    );
    assert.equal(jellyfin.wizardCompleted, true);

    assert.deepEqual(await reconcileJellyfinAdmin(http(), ADMIN, ["charmarr"]), [
      { app: "jellyfin", collection: "administrator", name: "charmarr", action: "unchanged" },
    ]);
    assert.deepEqual(log(), ["GET /System/Info/Public 200", "POST /Users/AuthenticateByName 200"]);
    assert.deepEqual(jellyfin.violations, []);
  });

  it("a wizard finished by hand with the same name and password: the administrator works but is the user's, never owned", async () => {
    jellyfin.finishWizardByHand(ADMIN.username, ADMIN.password);
    assert.deepEqual(await reconcileJellyfinAdmin(http(), ADMIN, []), [
      { app: "jellyfin", collection: "administrator", name: "charmarr", action: "unmanaged" },
    ]);
    assert.deepEqual(log(), ["GET /System/Info/Public 200", "POST /Users/AuthenticateByName 200"]);
  });

  it("a wizard finished by hand with another administrator: nothing is changed, and the user is told to sign in to Seerr with theirs", async () => {
    jellyfin.finishWizardByHand("me", "my-password");
    assert.deepEqual(await reconcileJellyfinAdmin(http(), ADMIN, ["charmarr"]), [
      {
        app: "jellyfin",
        collection: "administrator",
        name: "charmarr",
        action: "unmanaged",
        detail:
          "Jellyfin's startup wizard was finished by hand, so the program made no administrator of its own: sign in to Seerr once with a Jellyfin administrator of yours",
      },
    ]);
    assert.deepEqual(log(), ["GET /System/Info/Public 200", "POST /Users/AuthenticateByName 401"]);
    assert.deepEqual(
      jellyfin.users.map((user) => user.name),
      ["me"],
    );
  });

  it("no administrator wanted (relations off, or destroy): Jellyfin is not asked anything, the administrator stays", async () => {
    jellyfin.finishWizardByHand(ADMIN.username, ADMIN.password);
    assert.deepEqual(await reconcileJellyfinAdmin(http(), undefined, ["charmarr"]), []);
    assert.deepEqual(log(), []);
  });

  it("the stand-in refuses a sign-in without the client fields, as Jellyfin does, with 400", async () => {
    jellyfin.finishWizardByHand(ADMIN.username, ADMIN.password);
    const signIn = (headers: Record<string, string>) =>
      http().send({
        method: "POST",
        path: "/Users/AuthenticateByName",
        headers,
        json: { Username: ADMIN.username, Pw: ADMIN.password },
      });
    const statuses: number[] = [];
    for (const headers of <Record<string, string>[]>[
      {},
      { Authorization: 'MediaBrowser Client="Charmarr", Device="Charmarr", DeviceId="charmarr"' },
      { Authorization: 'Basic Client="Charmarr", Device="Charmarr", DeviceId="charmarr", Version="1"' },
      { Authorization: 'MediaBrowser Client="", Device="Charmarr", DeviceId="charmarr", Version="1"' },
      { Authorization: 'mediabrowser Client="Charmarr", Device="Charmarr", DeviceId="charmarr", Version="1"' },
      { "X-Emby-Authorization": 'Emby Client="Charmarr", Device="Charmarr", DeviceId="charmarr", Version="1"' },
    ]) {
      statuses.push((await signIn(headers)).status);
    }
    assert.deepEqual(statuses, [400, 400, 400, 400, 200, 200]);
  });
});
