// Every status code a ledger script can return. test/unit/luaHeaders.test.ts checks that
// each code named in a script header exists here.
export enum LedgerStatus {
  OK = 'OK',
  UNKNOWN_SKU = 'UNKNOWN_SKU',
  BAD_ARGUMENT = 'BAD_ARGUMENT',
  APPLIED = 'APPLIED',
  DUPLICATE = 'DUPLICATE',
  CONFLICT = 'CONFLICT',
  UNCHANGED = 'UNCHANGED',
  RELEASED = 'RELEASED',
  PENDING = 'PENDING',
  CREATED = 'CREATED',
  EXISTS = 'EXISTS',
  RESERVED = 'RESERVED',
  OVERSOLD = 'OVERSOLD',
  SHIPPED = 'SHIPPED',
  CANCELLED = 'CANCELLED',
  APPENDED = 'APPENDED',
  STALE = 'STALE',
  INSUFFICIENT = 'INSUFFICIENT',
  RELEASING = 'RELEASING',
  CONFIRMING = 'CONFIRMING',
  NOT_DUE = 'NOT_DUE',
  NO_HOLD = 'NO_HOLD',
}

/** Outcome of one order line. */
export type LineStatus =
  | LedgerStatus.RESERVED
  | LedgerStatus.OVERSOLD
  | LedgerStatus.SHIPPED
  | LedgerStatus.CANCELLED
  | LedgerStatus.DUPLICATE
  | LedgerStatus.STALE;

/** State of a reservation record, derived from its fields. */
export type ReservationState =
  | LedgerStatus.PENDING
  | LedgerStatus.RESERVED
  | LedgerStatus.OVERSOLD
  | LedgerStatus.SHIPPED
  | LedgerStatus.CANCELLED;

const ALL = new Set<string>(Object.values(LedgerStatus));

export function isLedgerStatus(value: unknown): value is LedgerStatus {
  return typeof value === 'string' && ALL.has(value);
}
