/**
 * The configuration templates Recyclarr v8 offers (`recyclarr config list templates`), by app: each
 * template's id and its path in recyclarr/config-templates, as that repository's `templates.json`
 * lists them on branch `v8` at commit {@link CONFIG_TEMPLATES_COMMIT} (the branch Recyclarr v8 reads:
 * recyclarr v8.7.1 src/Recyclarr.Core/ResourceProviders/Infrastructure/ConfigTemplatesStrategy.cs
 * L15-16). Data, not code: a test compares it with the pinned `templates.json`.
 */

/** The config-templates commit the CronJob fetches (branch `v8`, 2026-04-28). */
export const CONFIG_TEMPLATES_COMMIT = "71d7cee341c0010c7219463e3cfbdcd48785b4d9";

/** Where the CronJob fetches config-templates from (recyclarr v8.7.1 ConfigTemplatesStrategy.cs L15). */
export const CONFIG_TEMPLATES_REPOSITORY = "https://github.com/recyclarr/config-templates.git";

export const RECYCLARR_APPS = ["radarr", "sonarr"] as const;
export type RecyclarrApp = (typeof RECYCLARR_APPS)[number];

/** Template id → its file in config-templates, per app. */
export const CONFIG_TEMPLATES: Readonly<Record<RecyclarrApp, Readonly<Record<string, string>>>> = {
  radarr: {
    "french-multi-vf-hd-bluray-web": "radarr/templates/french-multi-vf-hd-bluray-web.yml",
    "french-multi-vf-hd-remux-web": "radarr/templates/french-multi-vf-hd-remux-web.yml",
    "french-multi-vf-uhd-bluray-web": "radarr/templates/french-multi-vf-uhd-bluray-web.yml",
    "french-multi-vf-uhd-remux-web": "radarr/templates/french-multi-vf-uhd-remux-web.yml",
    "french-multi-vo-hd-bluray-web": "radarr/templates/french-multi-vo-hd-bluray-web.yml",
    "french-multi-vo-hd-remux-web": "radarr/templates/french-multi-vo-hd-remux-web.yml",
    "french-multi-vo-uhd-bluray-web": "radarr/templates/french-multi-vo-uhd-bluray-web.yml",
    "french-multi-vo-uhd-remux-web": "radarr/templates/french-multi-vo-uhd-remux-web.yml",
    "french-vostfr-hd-bluray-web": "radarr/templates/french-vostfr-hd-bluray-web.yml",
    "french-vostfr-hd-remux-web": "radarr/templates/french-vostfr-hd-remux-web.yml",
    "french-vostfr-uhd-bluray-web": "radarr/templates/french-vostfr-uhd-bluray-web.yml",
    "french-vostfr-uhd-remux-web": "radarr/templates/french-vostfr-uhd-remux-web.yml",
    "hd-bluray-web": "radarr/templates/hd-bluray-web.yml",
    "radarr-anime-remux-1080p": "radarr/templates/anime-remux-1080p.yml",
    "radarr-german-anime-hd-bluray-web": "radarr/templates/german-anime-hd-bluray-web.yml",
    "radarr-german-hd-bluray-web": "radarr/templates/german-hd-bluray-web.yml",
    "radarr-german-hd-remux-web": "radarr/templates/german-hd-remux-web.yml",
    "radarr-german-uhd-bluray-web": "radarr/templates/german-uhd-bluray-web.yml",
    "radarr-german-uhd-bluray-web-alternative": "radarr/templates/german-uhd-bluray-web-alternative.yml",
    "radarr-german-uhd-remux-web": "radarr/templates/german-uhd-remux-web.yml",
    "remux-2160p-alternative": "radarr/templates/remux-2160p-alternative.yml",
    "remux-2160p-combined": "radarr/templates/remux-2160p-combined.yml",
    "remux-web-1080p": "radarr/templates/remux-web-1080p.yml",
    "remux-web-2160p": "radarr/templates/remux-web-2160p.yml",
    "sqp-1-1080p": "radarr/templates/sqp/sqp-1-1080p.yml",
    "sqp-1-2160p": "radarr/templates/sqp/sqp-1-2160p.yml",
    "sqp-1-web-1080p": "radarr/templates/sqp/sqp-1-web-1080p.yml",
    "sqp-1-web-2160p": "radarr/templates/sqp/sqp-1-web-2160p.yml",
    "sqp-2": "radarr/templates/sqp/sqp-2.yml",
    "sqp-3": "radarr/templates/sqp/sqp-3.yml",
    "sqp-3-audio": "radarr/templates/sqp/sqp-3-audio.yml",
    "sqp-4": "radarr/templates/sqp/sqp-4.yml",
    "sqp-4-ma-hybrid": "radarr/templates/sqp/sqp-4-ma-hybrid.yml",
    "sqp-5": "radarr/templates/sqp/sqp-5.yml",
    "uhd-bluray-web": "radarr/templates/uhd-bluray-web.yml",
  },
  sonarr: {
    "french-multi-vf-bluray-web-1080p": "sonarr/templates/french-multi-vf-bluray-web-1080p.yml",
    "french-multi-vf-bluray-web-2160p": "sonarr/templates/french-multi-vf-bluray-web-2160p.yml",
    "french-multi-vo-bluray-web-1080p": "sonarr/templates/french-multi-vo-bluray-web-1080p.yml",
    "french-multi-vo-bluray-web-2160p": "sonarr/templates/french-multi-vo-bluray-web-2160p.yml",
    "french-vostfr-bluray-web-1080p": "sonarr/templates/french-vostfr-bluray-web-1080p.yml",
    "french-vostfr-bluray-web-2160p": "sonarr/templates/french-vostfr-bluray-web-2160p.yml",
    "sonarr-anime-remux-1080p": "sonarr/templates/anime-remux-1080p.yml",
    "sonarr-german-anime-hd-bluray-web": "sonarr/templates/german-anime-hd-bluray-web.yml",
    "sonarr-german-hd-bluray-web": "sonarr/templates/german-hd-bluray-web.yml",
    "sonarr-german-hd-remux-web": "sonarr/templates/german-hd-remux-web.yml",
    "sonarr-german-uhd-bluray-web": "sonarr/templates/german-uhd-bluray-web.yml",
    "sonarr-german-uhd-bluray-web-alternative": "sonarr/templates/german-uhd-bluray-web-alternative.yml",
    "sonarr-german-uhd-remux-web": "sonarr/templates/german-uhd-remux-web.yml",
    "web-1080p": "sonarr/templates/web-1080p.yml",
    "web-1080p-alternative": "sonarr/templates/web-1080p-alternative.yml",
    "web-2160p": "sonarr/templates/web-2160p.yml",
    "web-2160p-alternative": "sonarr/templates/web-2160p-alternative.yml",
    "web-2160p-combined": "sonarr/templates/web-2160p-combined.yml",
  },
};
