import type { KubernetesConnection } from "../platform/kubeConnection";
import { HttpClient, isNamedError, namedError, relationError } from "./http";
import type { Reach } from "./plan";
import type { RetryPolicy } from "./ready";
import { RelationSpec, runRelation, withoutEntries } from "./reconcile";
import type { Change } from "./servarr";

/** What a relation resource is given: where its app is and how to reach it, what it owns there, how long to wait. */
export interface RelationInputs extends KubernetesConnection {
  readonly reach: Reach;
  readonly spec: RelationSpec;
  readonly retry: RetryPolicy;
}

/** What it keeps between runs: its inputs, the entries it owns, and whether its app could not take them yet. */
export interface RelationState extends RelationInputs {
  /**
   * The entries this relation created and still wants: only these are ever edited or removed. An
   * entry of the same name the user (or anything else) made first is left alone and never owned.
   */
  readonly owned: readonly string[];
  /** True while an entry waits on the user (Seerr before its setup): the next run tries again. */
  readonly waiting: boolean;
  /** `created radarr downloadclient qBittorrent (Charmarr)`, for the update's log. */
  readonly changes: readonly string[];
}

/** The relation's app no longer runs (disabled or destroyed with its stack): nothing is left to remove. */
export const appGone = (message: string): Error => namedError("AppGoneError", message);

/**
 * Opens a connection to the app at `reach`, through the cluster `connection` names, for the duration
 * of `use`; throws an {@link appGone} error when there is no such app.
 */
export type Connect = <T>(
  reach: Reach,
  connection: KubernetesConnection,
  use: (http: HttpClient) => Promise<T>,
) => Promise<T>;

/** The stack's Kubernetes connection a relation was given (kept in its state, so delete reaches the same cluster). */
const connectionOf = (inputs: RelationInputs): KubernetesConnection => ({
  kubeconfig: inputs.kubeconfig,
  context: inputs.context,
});

function describeChanges(changes: readonly Change[]): string[] {
  return changes
    .filter((change) => change.action !== "unchanged")
    .map(
      (change) =>
        `${change.action} ${change.app} ${change.collection} ${change.name}${change.action === "unmanaged" ? " (it existed before the relation: left as it is, never removed)" : ""}`,
    );
}

/**
 * Actions on an entry the relation owns afterwards: it made it, or it already owned it and still
 * wants it. An array, not a Set: the provider's serialized text carries a Set as a plain object
 * (docs/development.md, "What the relations' provider may capture").
 */
const OWNING: readonly Change["action"][] = ["created", "updated", "unchanged"];

/**
 * What the relation owns after a run: what it created or kept, plus what it owned before and still
 * wants but could not reach yet (Seerr waiting on its setup). An `unmanaged` entry is never owned.
 */
function ownedAfter(previous: readonly string[], changes: readonly Change[]): string[] {
  const waiting = new Set(changes.filter((change) => change.action === "waiting").map((change) => change.name));
  const kept = changes.filter((change) => OWNING.includes(change.action)).map((change) => change.name);
  return [...new Set([...kept, ...previous.filter((name) => waiting.has(name))])];
}

function stateOf(inputs: RelationInputs, previous: readonly string[], changes: readonly Change[]): RelationState {
  return {
    ...inputs,
    owned: ownedAfter(previous, changes),
    waiting: changes.some((change) => change.action === "waiting"),
    changes: describeChanges(changes),
  };
}

/** Whether a relation changes, and the inputs whose change replaces it (as Pulumi's DiffResult takes them). */
export interface RelationDiff {
  readonly changes: boolean;
  readonly replaces: readonly string[];
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The create / diff / update / delete of a relation resource, over any connection: the Pulumi
 * provider passes a port-forward, tests pass local servers.
 */
export function relationLifecycle(connect: Connect) {
  /**
   * Runs the relation towards `inputs.spec`. A run that fails part-way keeps no state of what it
   * made (Pulumi keeps the last state), so it removes the entries it created before failing: left
   * in place, the next run would find them already there and never own them.
   */
  async function run(inputs: RelationInputs, owned: readonly string[], rotateSecrets: boolean): Promise<Change[]> {
    const changes: Change[] = [];
    try {
      return await connect(inputs.reach, connectionOf(inputs), (http) =>
        runRelation(http, inputs.spec, { owned, rotateSecrets, retry: inputs.retry }, changes),
      );
    } catch (error) {
      const created = changes.filter((change) => change.action === "created").map((change) => change.name);
      if (created.length > 0) {
        const undone = { owned: created, rotateSecrets: false, retry: { attempts: 1, intervalMs: 0 } };
        await connect(inputs.reach, connectionOf(inputs), (http) =>
          runRelation(http, withoutEntries(inputs.spec), undone),
        ).catch((undo: Error) => {
          throw relationError(
            `${(error as Error).message}; removing what this run created (${created.join(", ")}) failed too: ${undo.message}`,
          );
        });
      }
      throw error;
    }
  }

  return {
    async create(inputs: RelationInputs): Promise<RelationState> {
      return stateOf(inputs, [], await run(inputs, [], true));
    },

    /**
     * A relation changes when its app, its entries or its credentials change, or while it waits on
     * the user; a new cluster connection is an update too, so delete later uses the current one.
     */
    diff(olds: RelationState, news: RelationInputs): RelationDiff {
      // Another app (a new namespace or pod) is a new relation: the old one's delete runs against the
      // old app. A new port is the same app, updated in place.
      const otherApp = olds.reach.namespace !== news.reach.namespace || olds.reach.pod !== news.reach.pod;
      const replaces = otherApp ? ["reach"] : [];
      return {
        changes:
          otherApp ||
          olds.waiting ||
          !same(olds.reach, news.reach) ||
          !same(olds.spec, news.spec) ||
          !same(connectionOf(olds), connectionOf(news)),
        replaces,
      };
    },

    /** Brings the entries to the new spec; entries owned before and no longer wanted are removed. */
    async update(olds: RelationState, news: RelationInputs): Promise<RelationState> {
      return stateOf(news, olds.owned, await run(news, olds.owned, !same(olds.spec, news.spec)));
    },

    /** Removes every entry the relation owns; an app that no longer runs has nothing left to remove. */
    async delete(olds: RelationState): Promise<void> {
      try {
        await connect(olds.reach, connectionOf(olds), (http) =>
          runRelation(http, withoutEntries(olds.spec), { owned: olds.owned, rotateSecrets: false, retry: olds.retry }),
        );
      } catch (error) {
        if (!isNamedError(error, "AppGoneError")) {
          throw error;
        }
      }
    },
  };
}
