/**
 * The settings classes of the providers the relations create, as the Servarr apps define them: each
 * field's API name (the C# property, first letter lowercased: Radarr v6.0.3.10276
 * src/Radarr.Http/ClientSchema/SchemaBuilder.cs L134), in `FieldDefinition` order (the order the API
 * answers them in, L49), the constructor's default (what a field the client does not send keeps,
 * `ReadFromSchema` L52-84, which starts from a new instance) and whether the API masks it (privacy
 * ApiKey or Password, L40-44). Read from the pinned tags; a default the constructor does not set is
 * the C# default (null, 0, false).
 */
export interface SettingsField {
  readonly name: string;
  readonly value: unknown;
  readonly masked?: true;
}

const field = (name: string, value: unknown = null): SettingsField => ({ name, value });
const secret = (name: string, value: unknown = null): SettingsField => ({ name, value, masked: true });

/** `QBittorrentSettings` fields from `host` to `password`, shared by Radarr and Lidarr (Sonarr adds `apiKey`). */
const QBITTORRENT_CONNECTION = [
  field("host", "localhost"),
  field("port", 8080),
  field("useSsl", false),
  field("urlBase"),
] as const;
const QBITTORRENT_TRAILER = [
  field("initialState", 0),
  field("sequentialOrder", false),
  field("firstAndLast", false),
  field("contentLayout", 0),
] as const;

/** `SabnzbdSettings` from `host` to `password`: the same in the three apps. */
const SABNZBD_CONNECTION = [
  field("host", "localhost"),
  field("port", 8080),
  field("useSsl", false),
  field("urlBase"),
  secret("apiKey"),
  field("username"),
  secret("password"),
] as const;

/** SabnzbdPriority.Default (src/NzbDrone.Core/Download/Clients/Sabnzbd/SabnzbdPriority.cs). */
const SABNZBD_DEFAULT_PRIORITY = -100;

/** What an arr app calls its category fields: the media it manages. */
export type ArrKind = "movie" | "tv" | "music";

function qbittorrent(kind: ArrKind, category: string, apiKey: boolean): readonly SettingsField[] {
  const Kind = kind[0].toUpperCase() + kind.slice(1);
  return [
    ...QBITTORRENT_CONNECTION,
    ...(apiKey ? [secret("apiKey")] : []),
    field("username"),
    secret("password"),
    field(`${kind}Category`, category),
    field(`${kind}ImportedCategory`),
    field(`recent${Kind}Priority`, 0),
    field(`older${Kind}Priority`, 0),
    ...QBITTORRENT_TRAILER,
  ];
}

function sabnzbd(kind: ArrKind, category: string): readonly SettingsField[] {
  const Kind = kind[0].toUpperCase() + kind.slice(1);
  return [
    ...SABNZBD_CONNECTION,
    field(`${kind}Category`, category),
    field(`recent${Kind}Priority`, SABNZBD_DEFAULT_PRIORITY),
    field(`older${Kind}Priority`, SABNZBD_DEFAULT_PRIORITY),
  ];
}

/** Prowlarr's `<App>Settings` for an application: URLs, the app's key, the categories it syncs. */
function prowlarrApplication(baseUrl: string, categories: readonly number[], extra: readonly SettingsField[] = []) {
  return [
    field("prowlarrUrl", "http://localhost:9696"),
    field("baseUrl", baseUrl),
    secret("apiKey"),
    field("syncCategories", [...categories]),
    ...extra,
    field("syncRejectBlocklistedTorrentHashesWhileGrabbing", false),
  ];
}

/**
 * Each app's settings classes by config contract: the relations' providers, and in Radarr two a user
 * may make by hand, which the tests put under the relations' names.
 */
export const SETTINGS: Readonly<Record<string, Readonly<Record<string, readonly SettingsField[]>>>> = {
  // Radarr v6.0.3.10276 src/NzbDrone.Core/Download/Clients/QBittorrent/QBittorrentSettings.cs L25-30, L32-74;
  // Sabnzbd/SabnzbdSettings.cs L38-45, L47-78; Nzbget/NzbgetSettings.cs L27-36, L38-69;
  // Transmission/TransmissionSettings.cs L32-38, L52-90.
  radarr: {
    QBittorrentSettings: qbittorrent("movie", "radarr", false),
    SabnzbdSettings: sabnzbd("movie", "movies"),
    NzbgetSettings: [
      field("host", "localhost"),
      field("port", 6789),
      field("useSsl", false),
      field("urlBase"),
      field("username", "nzbget"),
      secret("password", "tegbzn6789"),
      field("movieCategory", "Movies"),
      field("recentMoviePriority", 0),
      field("olderMoviePriority", 0),
      field("addPaused", false),
    ],
    TransmissionSettings: [
      field("host", "localhost"),
      field("port", 9091),
      field("useSsl", false),
      field("urlBase", "/transmission/"),
      field("username"),
      secret("password"),
      field("movieCategory", "radarr"),
      field("movieImportedCategory"),
      field("movieDirectory"),
      field("recentMoviePriority", 0),
      field("olderMoviePriority", 0),
      field("addPaused", false),
    ],
  },
  // Sonarr v4.0.19.2979 QBittorrentSettings.cs L32-37, L39-84 (`apiKey` at order 4, new in 4.0.16);
  // SabnzbdSettings.cs L38-45, L47-78.
  sonarr: { QBittorrentSettings: qbittorrent("tv", "tv-sonarr", true), SabnzbdSettings: sabnzbd("tv", "tv") },
  // Lidarr v2.14.5.4836 QBittorrentSettings.cs L26-31, L33-73; SabnzbdSettings.cs L39-46, L48-76
  // (`music` is not one of SABnzbd's default categories).
  lidarr: { QBittorrentSettings: qbittorrent("music", "lidarr", false), SabnzbdSettings: sabnzbd("music", "music") },
  // Prowlarr v2.3.5.5327 src/NzbDrone.Core/Applications/Radarr/RadarrSettings.cs L24-44,
  // Sonarr/SonarrSettings.cs L23-50, Lidarr/LidarrSettings.cs L23-43.
  prowlarr: {
    RadarrSettings: prowlarrApplication(
      "http://localhost:7878",
      [2000, 2010, 2020, 2030, 2040, 2045, 2050, 2060, 2070, 2080, 2090],
    ),
    SonarrSettings: prowlarrApplication(
      "http://localhost:8989",
      [5000, 5010, 5020, 5030, 5040, 5045, 5050, 5090],
      [
        field("animeSyncCategories", [5070]),
        // A property initializer, not the constructor (SonarrSettings.cs L47).
        field("syncAnimeStandardFormatSearch", true),
      ],
    ),
    LidarrSettings: prowlarrApplication("http://localhost:8686", [3000, 3010, 3030, 3040, 3050, 3060]),
    // Prowlarr v2.3.5.5327 src/NzbDrone.Core/IndexerProxies/FlareSolverr/FlareSolverrSettings.cs L20-30.
    FlareSolverrSettings: [field("host", "http://localhost:8191/"), field("requestTimeout", 60)],
  },
};

/** The kind of media each arr app's category fields name. */
export const ARR_KIND: Readonly<Record<string, ArrKind>> = { radarr: "movie", sonarr: "tv", lidarr: "music" };

/** One failure of a Servarr validation or test, as its error pipeline answers it in a 400's JSON array. */
export interface ValidationFailure {
  readonly propertyName: string;
  readonly errorMessage: string;
  readonly isWarning: boolean;
}

export const failure = (propertyName: string, errorMessage: string, isWarning = false): ValidationFailure => ({
  propertyName,
  errorMessage,
  isWarning,
});

const blank = (value: unknown) => value === null || value === undefined || String(value).trim() === "";
/** `ValidHost` (Radarr v6.0.3.10276 src/NzbDrone.Core/Validation/RuleBuilderExtensions.cs L11, L28-33; IP literals pass too). */
const validHost = (value: unknown) => !blank(value) && /^[-_a-z0-9.]+$/i.test(String(value));
/** `ValidUrlBase` (L42-45): a path, not a URL. */
const validUrlBase = (value: unknown) => blank(value) || !/^\/?https?:\/\/[-_a-z0-9.]+/i.test(String(value));
/** `IsValidUrl` with http(s) (Prowlarr v2.3.5.5327 RuleBuilderExtensions.cs L39). */
const validUrl = (value: unknown) => {
  try {
    return ["http:", "https:"].includes(new URL(String(value)).protocol);
  } catch {
    return false;
  }
};
/** The category rule of the qBittorrent settings: no `\`, no `//`, not starting or ending with `/`. */
const CATEGORY = /^([^\\/](\/?[^\\/])*)?$/;

const upper = (name: string) => name[0].toUpperCase() + name.slice(1);

/**
 * The settings class's own validator, which the app runs on an enabled provider before its test;
 * errors refuse the request, warnings only without `forceSave` (ProviderControllerBase.cs L168-178,
 * L293-298). Radarr v6.0.3.10276 QBittorrentSettings.cs L10-18 and SabnzbdSettings.cs L10-31; Sonarr
 * v4.0.19.2979 QBittorrentSettings.cs L10-25 (username and password empty with an API key) and
 * SabnzbdSettings.cs L10-31; Lidarr v2.14.5.4836 alike; Prowlarr v2.3.5.5327 RadarrSettings.cs L9-17
 * (SonarrSettings.cs, LidarrSettings.cs alike).
 */
export function validateSettings(
  app: string,
  configContract: string,
  settings: Readonly<Record<string, unknown>>,
): ValidationFailure[] {
  const failures: ValidationFailure[] = [];
  const check = (ok: boolean, property: string, message: string, isWarning = false) => {
    if (!ok) {
      failures.push(failure(upper(property), message, isWarning));
    }
  };
  if (app === "prowlarr" && configContract === "FlareSolverrSettings") {
    // FlareSolverrSettings.cs L7-13 (FluentValidation's NotEmpty and InclusiveBetween messages).
    check(!blank(settings.host), "host", "'Host' must not be empty.");
    const timeout = Number(settings.requestTimeout);
    check(
      Number.isInteger(timeout) && timeout >= 1 && timeout <= 180,
      "requestTimeout",
      `'Request Timeout' must be between 1 and 180. You entered ${String(settings.requestTimeout)}.`,
    );
    return failures;
  }
  if (app === "prowlarr") {
    check(validUrl(settings.baseUrl), "baseUrl", "must be valid URL that starts with http(s)://");
    check(validUrl(settings.prowlarrUrl), "prowlarrUrl", "must be valid URL that starts with http(s)://");
    check(!blank(settings.apiKey), "apiKey", "'Api Key' must not be empty.");
    check(
      Array.isArray(settings.syncCategories) && settings.syncCategories.length > 0,
      "syncCategories",
      "'Sync Categories' must not be empty.",
    );
    return failures;
  }
  check(validHost(settings.host), "host", "must be valid Host without http://");
  check(Number(settings.port) >= 1 && Number(settings.port) <= 65535, "port", "'Port' must be between 1 and 65535.");
  check(validUrlBase(settings.urlBase), "urlBase", `Must be a valid URL path (ie: '/${app}')`);
  const category = `${ARR_KIND[app]}Category`;
  if (configContract === "SabnzbdSettings") {
    check(
      !blank(settings.apiKey) || !blank(settings.username),
      "apiKey",
      "API Key is required when username/password are not configured",
    );
    check(
      !blank(settings.username) || !blank(settings.apiKey),
      "username",
      "Username is required when API key is not configured",
    );
    check(
      !blank(settings.password) || !blank(settings.apiKey),
      "password",
      "Password is required when API key is not configured",
    );
    check(!blank(settings[category]), category, "A category is recommended", true);
  } else {
    if (!blank(settings.apiKey)) {
      check(blank(settings.username), "username", "Username must be empty when using API Key.");
      check(blank(settings.password), "password", "Password must be empty when using API Key.");
    }
    for (const name of [category, `${ARR_KIND[app]}ImportedCategory`]) {
      check(CATEGORY.test(String(settings[name] ?? "")), name, "Can not contain '\\', '//', or start/end with '/'");
    }
  }
  return failures;
}
