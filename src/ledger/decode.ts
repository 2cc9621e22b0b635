// Helpers the per-script decoders share: they turn a raw Redis reply into typed values
// and fail loudly (STOCKGUARD_E_SCRIPT_REPLY) on anything unexpected.
import { StockguardError } from '../errors.ts';
import { isLedgerStatus, type LedgerStatus } from './status.ts';

/** The SKU's ledger numbers as a script saw them after its change. */
export interface InventorySnapshot {
  onHand: number;
  reserved: number;
  holdback: number;
  oversold: number;
  version: number;
}

export function replyArray(script: string, raw: unknown, minimumLength: number): unknown[] {
  if (!Array.isArray(raw) || raw.length < minimumLength) {
    throw badReply(script, `expected an array of at least ${minimumLength} items, got ${JSON.stringify(raw)}`);
  }
  return raw;
}

export function replyStatus<S extends LedgerStatus>(script: string, value: unknown, allowed: readonly S[]): S {
  if (!isLedgerStatus(value) || !(allowed as readonly LedgerStatus[]).includes(value)) {
    throw badReply(script, `unexpected status ${JSON.stringify(value)}`);
  }
  return value as S;
}

export function replyInteger(script: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw badReply(script, `expected an integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Reads on_hand, reserved, holdback, oversold, version from reply[offset..offset+4]. */
export function replyInventory(script: string, reply: readonly unknown[], offset = 1): InventorySnapshot {
  return {
    onHand: replyInteger(script, reply[offset]),
    reserved: replyInteger(script, reply[offset + 1]),
    holdback: replyInteger(script, reply[offset + 2]),
    oversold: replyInteger(script, reply[offset + 3]),
    version: replyInteger(script, reply[offset + 4]),
  };
}

function badReply(script: string, detail: string): StockguardError {
  return new StockguardError('STOCKGUARD_E_SCRIPT_REPLY', `${script}: ${detail}`);
}

/** What a script returns when it refuses to run: one member per status so `if` narrows. */
export type ScriptRefusal = { status: LedgerStatus.UNKNOWN_SKU } | { status: LedgerStatus.BAD_ARGUMENT };
