import {
  Category,
  QbittorrentTarget,
  SabnzbdTarget,
  qbittorrentLogin,
  reconcileQbittorrentCategories,
  reconcileSabnzbdCategories,
  sabnzbdReady,
} from "./downloadClients";
import { HttpClient, describe } from "./http";
import { JellyfinAdmin, jellyfinStatus, reconcileJellyfinAdmin } from "./jellyfin";
import { SeerrMediaServer, SeerrService, SeerrTarget, seerrStatus, reconcileSeerr } from "./seerr";
import { RetryPolicy, waitUntilReady } from "./ready";
import {
  Change,
  ProviderCollection,
  ProviderEntry,
  ServarrTarget,
  apiPath,
  reconcileProviders,
  reconcileRootFolder,
  servarrStatus,
} from "./servarr";

/**
 * One relation as data: which app it configures, and the entries it owns there. Every relation is
 * one of these kinds; the stack builds them (plan.ts) and a provider runs them (runRelation).
 */
export type RelationSpec =
  /** Download clients in an arr app (`downloadclient`), arr apps (`applications`) or FlareSolverr (`indexerproxy`) in Prowlarr. */
  | {
      readonly kind: "providers";
      readonly collection: ProviderCollection;
      readonly target: ServarrTarget;
      readonly entries: readonly ProviderEntry[];
    }
  /** The arr app's root folder in the shared library; none removes the owned one. */
  | { readonly kind: "rootFolder"; readonly target: ServarrTarget; readonly path?: string; readonly name: string }
  /** One category per arr app in qBittorrent. */
  | {
      readonly kind: "qbittorrentCategories";
      readonly target: QbittorrentTarget;
      readonly categories: readonly Category[];
    }
  /** One category per arr app in SABnzbd. */
  | { readonly kind: "sabnzbdCategories"; readonly target: SabnzbdTarget; readonly categories: readonly Category[] }
  /** Jellyfin's first administrator, made through its startup wizard for Seerr's sign-in; none leaves it as it is. */
  | { readonly kind: "jellyfinAdmin"; readonly admin?: JellyfinAdmin }
  /** Radarr and Sonarr in Seerr, signed in through and linked to the media server when the program can. */
  | {
      readonly kind: "seerr";
      readonly target: SeerrTarget;
      readonly services: readonly SeerrService[];
      readonly mediaServer?: SeerrMediaServer;
    };

/** The app a relation configures. */
export function relationApp(spec: RelationSpec): string {
  switch (spec.kind) {
    case "providers":
    case "rootFolder":
      return spec.target.app;
    case "qbittorrentCategories":
      return "qbittorrent";
    case "sabnzbdCategories":
      return "sabnzbd";
    case "seerr":
      return "seerr";
    case "jellyfinAdmin":
      return "jellyfin";
  }
}

/** The same relation with no entries: running it removes what the relation owned (`pulumi destroy`, or a disabled app). */
export function withoutEntries(spec: RelationSpec): RelationSpec {
  switch (spec.kind) {
    case "providers":
      return { ...spec, entries: [] };
    case "rootFolder":
      return { kind: "rootFolder", target: spec.target, name: spec.name };
    case "qbittorrentCategories":
    case "sabnzbdCategories":
      return { ...spec, categories: [] };
    case "seerr":
      return { kind: "seerr", target: spec.target, services: [] };
    case "jellyfinAdmin":
      return { kind: "jellyfinAdmin" };
  }
}

/** What the relation asks first, to know its app is up and takes its credentials. */
async function probe(http: HttpClient, spec: RelationSpec): Promise<void> {
  switch (spec.kind) {
    case "providers":
    case "rootFolder":
      return servarrStatus(http, spec.target);
    case "qbittorrentCategories":
      await qbittorrentLogin(http, spec.target);
      return;
    case "sabnzbdCategories":
      return sabnzbdReady(http, spec.target);
    case "seerr":
      return seerrStatus(http);
    case "jellyfinAdmin":
      await jellyfinStatus(http);
      return;
  }
}

function probeDescription(spec: RelationSpec): string {
  switch (spec.kind) {
    case "providers":
    case "rootFolder":
      return describe({ method: "GET", path: apiPath(spec.target, "system/status") });
    case "qbittorrentCategories":
      return "POST /api/v2/auth/login";
    case "sabnzbdCategories":
      return `GET ${spec.target.basePath}/api?mode=get_config`;
    case "seerr":
      return "GET /api/v1/status";
    case "jellyfinAdmin":
      return "GET /System/Info/Public";
  }
}

export interface RunOptions {
  /** Entries the relation created before (from its last state); empty on create. */
  readonly owned: readonly string[];
  /** Re-send secrets the apps answer masked (the credentials changed since the last run). */
  readonly rotateSecrets: boolean;
  readonly retry: RetryPolicy;
}

/**
 * Waits (bounded) until the relation's app answers, then brings its owned entries to `spec`. Running
 * it again with the same spec changes nothing; running {@link withoutEntries} removes the entries.
 * Each change is recorded in `changes` as it is made, so a run that fails part-way still tells what
 * it created.
 */
export async function runRelation(
  http: HttpClient,
  spec: RelationSpec,
  options: RunOptions,
  changes: Change[] = [],
): Promise<Change[]> {
  await waitUntilReady(relationApp(spec), probeDescription(spec), () => probe(http, spec), options.retry);
  const { owned, rotateSecrets } = options;
  switch (spec.kind) {
    case "providers":
      return reconcileProviders(
        http,
        { target: spec.target, collection: spec.collection, desired: spec.entries, owned, rotateSecrets },
        changes,
      );
    case "rootFolder":
      return reconcileRootFolder(http, { target: spec.target, path: spec.path, name: spec.name, owned }, changes);
    case "qbittorrentCategories":
      return reconcileQbittorrentCategories(http, spec.target, { desired: spec.categories, owned }, changes);
    case "sabnzbdCategories":
      return reconcileSabnzbdCategories(http, spec.target, { desired: spec.categories, owned }, changes);
    case "seerr":
      return reconcileSeerr(
        http,
        spec.target,
        { services: spec.services, owned, mediaServer: spec.mediaServer, rotateSecrets },
        changes,
      );
    case "jellyfinAdmin":
      return reconcileJellyfinAdmin(http, spec.admin, owned, changes);
  }
}
