import { HttpClient, HttpRequest, send, sendJson } from "./http";
import type { Change } from "./servarr";

/** The Jellyfin administrator the program makes through Jellyfin's startup wizard, for Seerr's sign-in. */
export interface JellyfinAdmin {
  readonly username: string;
  readonly password: string;
}

const APP = "jellyfin";

/** `GET /System/Info/Public` needs no user (jellyfin v10.11.11 Jellyfin.Api/Controllers/SystemController.cs L92). */
export async function jellyfinStatus(http: HttpClient): Promise<{ StartupWizardCompleted?: boolean }> {
  return (
    (await sendJson<{ StartupWizardCompleted?: boolean }>(
      http,
      APP,
      { method: "GET", path: "/System/Info/Public" },
      [200],
    )) ?? {}
  );
}

/**
 * Finishes Jellyfin's startup wizard with the program's administrator, as its web wizard does, while
 * the wizard is open to anyone (jellyfin v10.11.11 Jellyfin.Api/Controllers/StartupController.cs L19,
 * Jellyfin.Api/Auth/FirstTimeSetupPolicy/FirstTimeSetupHandler.cs L29-31): `GET /Startup/User` makes
 * the first user (StartupController.cs L107-119), `POST /Startup/User` names it and sets its password
 * (L130-160), `POST /Startup/Complete` closes the wizard (L41-48). The server name, languages and
 * remote access keep Jellyfin's defaults: `POST /Startup/Configuration` would blank what it is not
 * sent (L76-82), so it is not called.
 *
 * A wizard finished before (by hand) is left alone: the entry is `unmanaged` when the program's
 * administrator cannot sign in, with what the user does instead. Nothing is ever undone: a closed
 * wizard does not reopen, and removing the administrator could leave Jellyfin without one.
 */
export async function reconcileJellyfinAdmin(
  http: HttpClient,
  admin: JellyfinAdmin | undefined,
  owned: readonly string[],
  changes: Change[] = [],
): Promise<Change[]> {
  if (admin === undefined) {
    return changes;
  }
  const entry = { app: APP, collection: "administrator", name: admin.username } as const;
  const info = await jellyfinStatus(http);
  if (info.StartupWizardCompleted === true) {
    const request: HttpRequest = {
      method: "POST",
      path: "/Users/AuthenticateByName",
      headers: { Authorization: 'MediaBrowser Client="Charmarr", Device="Charmarr", DeviceId="charmarr", Version="1"' },
      json: { Username: admin.username, Pw: admin.password },
    };
    // 200 or 401 are both answers here: accepting them, send still names a request that got none.
    const login = await send(http, APP, request, [200, 401]);
    if (login.status === 200) {
      changes.push({ ...entry, action: owned.includes(admin.username) ? "unchanged" : "unmanaged" });
    } else {
      changes.push({
        ...entry,
        action: "unmanaged",
        detail:
          "Jellyfin's startup wizard was finished by hand, so the program made no administrator of its own: sign in to Seerr once with a Jellyfin administrator of yours",
      });
    }
    return changes;
  }
  await send(http, APP, { method: "GET", path: "/Startup/User" }, [200]);
  await send(
    http,
    APP,
    { method: "POST", path: "/Startup/User", json: { Name: admin.username, Password: admin.password } },
    [204],
  );
  await send(http, APP, { method: "POST", path: "/Startup/Complete" }, [204]);
  changes.push({ ...entry, action: "created" });
  return changes;
}
