// Stream entry ids ("<ms>-<seq>") compared as numbers, never as strings: "9-0" < "10-0".
import { StockguardError } from '../errors.ts';

export interface StreamId {
  readonly ms: bigint;
  readonly seq: bigint;
}

const STREAM_ID = /^(\d+)-(\d+)$/;

export function parseStreamId(id: string): StreamId {
  const match = STREAM_ID.exec(id);
  if (!match) throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `${JSON.stringify(id)} is not a stream entry id "<ms>-<seq>"`);
  return { ms: BigInt(match[1]!), seq: BigInt(match[2]!) };
}

export function compareStreamIds(left: string, right: string): number {
  const a = parseStreamId(left);
  const b = parseStreamId(right);
  if (a.ms !== b.ms) return a.ms < b.ms ? -1 : 1;
  if (a.seq !== b.seq) return a.seq < b.seq ? -1 : 1;
  return 0;
}

/** The smallest id greater than `id` (sequence numbers are 64-bit; overflow carries into ms). */
export function nextStreamId(id: string): string {
  const { ms, seq } = parseStreamId(id);
  return seq === 0xffff_ffff_ffff_ffffn ? `${ms + 1n}-0` : `${ms}-${seq + 1n}`;
}

export function minStreamId(ids: readonly string[]): string | undefined {
  let smallest: string | undefined;
  for (const id of ids) if (smallest === undefined || compareStreamIds(id, smallest) < 0) smallest = id;
  return smallest;
}
