import { type InventorySnapshot, type ScriptRefusal, replyArray, replyInventory, replyStatus } from '../decode.ts';
import { luaScripts } from '../../redis/scripts.ts';
import { LedgerStatus } from '../status.ts';
import { baseArgs, type ScriptContext, scriptKeys } from './context.ts';

export interface CoverGapInput {
  /** `reconcile:<run id>:<sku>`. */
  eventId: string;
  /** What to add to on_hand (0 when the missing movements cancel out). */
  delta: number;
  /** The SKU's last movement number in the snapshot: every number up to it counts as covered. */
  watermark: number;
  /** The SKU's record of applied numbers as the reconciliation read it (`wms_seq`, `wms_ahead`). */
  expected: { applied: number; ahead: string };
}

export type CoverGapReply =
  | { status: LedgerStatus.APPLIED | LedgerStatus.DUPLICATE | LedgerStatus.CONFLICT | LedgerStatus.STALE; inventory: InventorySnapshot }
  | ScriptRefusal;

export function decodeCoverWmsGap(raw: unknown): CoverGapReply {
  const reply = replyArray('coverWmsGap', raw, 1);
  const status = replyStatus('coverWmsGap', reply[0], [
    LedgerStatus.APPLIED,
    LedgerStatus.DUPLICATE,
    LedgerStatus.CONFLICT,
    LedgerStatus.STALE,
    LedgerStatus.UNKNOWN_SKU,
    LedgerStatus.BAD_ARGUMENT,
  ]);
  if (status === LedgerStatus.UNKNOWN_SKU || status === LedgerStatus.BAD_ARGUMENT) return { status };
  replyArray('coverWmsGap', raw, 6);
  return { status, inventory: replyInventory('coverWmsGap', reply) };
}

export async function coverWmsGap(context: ScriptContext, cover: CoverGapInput): Promise<CoverGapReply> {
  const raw = await luaScripts().coverWmsGap.run(context.redis, scriptKeys(context.keys), [
    ...baseArgs(context),
    cover.eventId,
    cover.delta,
    cover.watermark,
    cover.expected.applied,
    cover.expected.ahead,
  ], context.replicaWait);
  return decodeCoverWmsGap(raw);
}
