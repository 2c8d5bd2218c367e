import { isNamedError, relationError } from "./http";

/** How long to wait for an app to answer: `attempts` tries, `intervalMs` apart. */
export interface RetryPolicy {
  readonly attempts: number;
  readonly intervalMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls `probe` until it resolves, at most `policy.attempts` times. An app that never answers fails
 * with a message naming it, what was asked and the last answer, after a bounded time. An app that
 * answers and refuses the credentials fails at once: retrying a wrong password only gets the caller
 * banned (qBittorrent bans an address after 5 failed logins).
 */
export async function waitUntilReady(
  app: string,
  what: string,
  probe: () => Promise<void>,
  policy: RetryPolicy,
): Promise<void> {
  let last = "";
  for (let attempt = 1; attempt <= policy.attempts; attempt++) {
    try {
      await probe();
      return;
    } catch (error) {
      if (isNamedError(error, "CredentialsRefusedError")) {
        throw error;
      }
      last = (error as Error).message;
    }
    if (attempt < policy.attempts) {
      await sleep(policy.intervalMs);
    }
  }
  const seconds = ((policy.attempts - 1) * policy.intervalMs) / 1000;
  throw relationError(
    `${app} is not ready: ${what} did not answer after ${policy.attempts} attempts over ${seconds} s (last: ${last})`,
  );
}
