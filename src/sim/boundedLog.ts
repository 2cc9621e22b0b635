// Logs the fakes keep for tests (deliveries, requests, writes) can be capped, so a long run
// (a chaos run of a million operations) does not hold every entry forever.

/** Checks a log-size option: undefined (unlimited) or a whole number >= 0. */
export function checkLogLimit(name: string, limit: number | undefined): number | undefined {
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) throw new Error(`${name} must be a whole number >= 0, got ${limit}`);
  return limit;
}

/**
 * Drops the oldest entries of `log` once it holds a quarter more than `limit` (at least one
 * more), down to `limit`: each push pays O(1) amortised. Returns what it dropped.
 */
export function trimLog<T>(log: T[], limit: number | undefined): T[] {
  if (limit === undefined || log.length <= limit + Math.max(1, Math.floor(limit / 4))) return [];
  return log.splice(0, log.length - limit);
}
