// Loads the Lua scripts from src/lua, expands `--- @include "name"` lines from
// src/lua/includes, and runs them by SHA with a fallback to EVAL when the server does
// not have the script yet (after a restart, a failover, or on a new Cluster node).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cluster, Redis } from 'ioredis';

export type RedisClient = Redis | Cluster;

export const SCRIPT_NAMES = [
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
] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

/** src/lua, found from this file both under tsx (src/ledger) and in the build (dist/src/ledger). */
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

export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: ScriptName,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Runs the script; every key must carry the same `{sku}` hash tag. */
  async run(redis: RedisClient, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
        return redis.eval(this.source, keys.length, ...keys, ...args);
      }
      throw error;
    }
  }
}

let cached: Record<ScriptName, LuaScript> | undefined;

/** All scripts, read once per process. */
export function ledgerScripts(): Record<ScriptName, LuaScript> {
  if (!cached) {
    const entries = SCRIPT_NAMES.map((name) => [name, new LuaScript(name, loadScriptSource(name))] as const);
    cached = Object.fromEntries(entries) as Record<ScriptName, LuaScript>;
  }
  return cached;
}
