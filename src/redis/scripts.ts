// The one script runner. Loads the Lua scripts from src/lua, expands
// `--- @include "name"` lines from src/lua/includes, and runs them by SHA with a fallback
// to EVAL when the server does not have the script yet (after a restart, a failover, or
// on a new Cluster node). Many calls of one script run as one pipeline on a single server
// and as one call per key set (each routed to its slot) on Cluster.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StockguardError } from '../errors.ts';
import type { RedisClient } from './client.ts';
import { isCluster, type ReplicaWait, writeThenWait } from './topology.ts';

/** Every script in src/lua, one file each (test/unit/luaHeaders.test.ts keeps this list and the folder equal). */
export const SCRIPT_NAMES = [
  // The ledger (src/ledger/operations, src/ingest/redisSink.ts).
  'reserveOrder',
  'releaseReservation',
  'shipReservation',
  'adjustOnHand',
  'countOnHand',
  'setHoldback',
  'createSku',
  'appendEvent',
  'recordObservation',
  'repairReserved',
  'closeHold',
  'removeHold',
  'coverWmsGap',
  // The pushers' packed channel state (src/pushers/channelStateScripts.ts).
  'recordPushed',
  'confirmApplied',
  // Every write to a SKU's pushstate hash, with its idle expiry (src/pushers/pushStateWrite.ts).
  'writePushState',
  // Reconciliation and snapshots (src/reconcile).
  'readLedgerAsOf',
  'dumpKeys',
  'compareAndDelete',
  'compareAndExpire',
  // The journal trimmer (src/ledger/journalTrimmer.ts).
  'trimJournal',
  // `stockguard migrate layout` (src/redis/migrateLayout.ts).
  'mergeJournals',
  // Consumer groups (src/consumers/deadConsumers.ts) and the catalogue (src/catalog/catalog.ts).
  'retireConsumer',
  'releaseChannelItem',
] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

/** src/lua, found from this file both under tsx (src/redis) and in the build (dist/src/redis). */
export function luaDirectory(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return join(here, '..', 'lua');
}

const INCLUDE_LINE = /^--- @include "([A-Za-z0-9]+)"$/gm;

export function loadScriptSource(name: ScriptName, directory = luaDirectory()): string {
  const source = readFileSync(join(directory, `${name}.lua`), 'utf8');
  return source.replace(INCLUDE_LINE, (_line, include: string) =>
    readFileSync(join(directory, 'includes', `${include}.lua`), 'utf8').trimEnd(),
  );
}

/** One call of a script: its keys (one slot) and arguments. */
export interface ScriptCall {
  readonly keys: readonly string[];
  readonly args: readonly (string | number)[];
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: ScriptName,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /**
   * Runs the script; every key must carry the same hash tag (a SKU's keys: its layout
   * partition's `{p<N>}`). With `wait`, the call is followed by WAIT on the same connection
   * (src/redis/topology.ts, writeThenWait) and resolves only once `wait.replicas` replicas
   * have its writes; when fewer confirm within `wait.timeoutMs` it throws
   * STOCKGUARD_E_NOT_REPLICATED (the script ran: the caller must not acknowledge what it
   * wrote, and a retry must be idempotent, as every write script of stockguard is).
   */
  async run(redis: RedisClient, keys: readonly string[], args: readonly (string | number)[], wait?: ReplicaWait): Promise<unknown> {
    if (wait) return this.runThenWait(redis, keys, args, wait);
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (isNoScript(error)) return redis.eval(this.source, keys.length, ...keys, ...args);
      throw error;
    }
  }

  private async runThenWait(redis: RedisClient, keys: readonly string[], args: readonly (string | number)[], wait: ReplicaWait): Promise<unknown> {
    let written = await writeThenWait(redis, ['EVALSHA', this.sha, keys.length, ...keys, ...args], wait);
    if (isNoScript(written.error)) written = await writeThenWait(redis, ['EVAL', this.source, keys.length, ...keys, ...args], wait);
    if (written.error) throw written.error;
    if (written.replicas < wait.replicas) {
      wait.onShortfall?.(written.replicas);
      throw notReplicated(this.name, keys[0] ?? '', written.replicas, wait);
    }
    return written.reply;
  }

  /**
   * Runs the script once per call and returns the replies in call order; the first error
   * is thrown. One server: one pipeline of EVALSHA, sent again as EVAL when any reply was
   * NOSCRIPT (the script is read-only or idempotent per call: callers batch reads only).
   * Cluster: the keys of different calls live in different slots, so each call goes on
   * its own, routed to its slot.
   */
  async runMany(redis: RedisClient, calls: readonly ScriptCall[]): Promise<unknown[]> {
    if (calls.length === 0) return [];
    if (isCluster(redis)) return Promise.all(calls.map((call) => this.run(redis, call.keys, call.args)));
    const send = async (command: 'evalsha' | 'eval') => {
      const pipeline = redis.pipeline();
      for (const { keys, args } of calls) {
        if (command === 'evalsha') pipeline.evalsha(this.sha, keys.length, ...keys, ...args);
        else pipeline.eval(this.source, keys.length, ...keys, ...args);
      }
      return (await pipeline.exec()) ?? [];
    };
    let results = await send('evalsha');
    if (results.some(([error]) => isNoScript(error))) results = await send('eval');
    return results.map(([error, reply]) => {
      if (error) throw error;
      return reply;
    });
  }
}

/** STOCKGUARD_E_NOT_REPLICATED for a write to `key` that `confirmed` replicas (fewer than asked) have. */
export function notReplicated(what: string, key: string, confirmed: number, wait: ReplicaWait): StockguardError {
  return new StockguardError('STOCKGUARD_E_NOT_REPLICATED', `${what} on ${key}: ${confirmed} of ${wait.replicas} replica(s) confirmed the write within ${wait.timeoutMs} ms`, {
    details: { key, confirmed, replicas: wait.replicas, timeoutMs: wait.timeoutMs },
  });
}

let cached: Record<ScriptName, LuaScript> | undefined;

/** All scripts, read once per process. */
export function luaScripts(): Record<ScriptName, LuaScript> {
  if (!cached) {
    const entries = SCRIPT_NAMES.map((name) => [name, new LuaScript(name, loadScriptSource(name))] as const);
    cached = Object.fromEntries(entries) as Record<ScriptName, LuaScript>;
  }
  return cached;
}
