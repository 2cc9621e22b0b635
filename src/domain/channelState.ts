// A SKU's durable channel state, packed into one short string: the SKU's field of its `chan`
// layout bucket (`<prefix>:chan-bucket:{p<N>}:<bucket>`, field = SKU; docs/pushers.md,
// "Channel state"). The Lua twin is src/lua/includes/decodeChannelState.lua and
// encodeChannelState.lua: both sides write the same bytes for the same state
// (test/unit/channelStateCodec.test.ts runs one against the other through a real Redis).
//
//   value   := base36(T) *(";" segment)          T = the newest time of any segment (ms)
//   segment := kind name ":" quantity "," base36(T − time) ["," base36(version)]
//   kind    := "P" pushed (pushers: the last push the channel acknowledged)
//            | "Q" pushed and confirmed in effect by a report of its value (confirmApplied)
//            | "O" observed: the newest level the channel reported (ledger, drift input)
//            | "F" the newest FBA fulfillable quantity of an Amazon marketplace (informational)
//   name    := "s" (shopify) | "a" (amazon) | the name itself (2–64 of [A-Za-z0-9_-])
//
// Segments in kind order P/Q, O, F, then by name (bytewise); quantities in decimal (a
// channel may report a negative one); the version only on P/Q, left out when 0. A SKU pushed
// to both channels and reported by each, at rest: `m4x1k2pa;Ps:12,4f2,2s;Pa:12,3e1,2s;Os:12,0;Oa:12,1kw`,
// ~50 bytes, under Redis's hash-max-listpack-value of 64, so the bucket hash stays a listpack.
//
// What it leaves out, on purpose:
// - An observation's event id. Layout 3 kept it (`e`), but nothing read it: the newest
//   observation wins by its time, so a redelivered event is STALE or rewrites the same
//   figures, and the id was only ever shown back by Ledger.observations. A Shopify webhook
//   id or an SQS message id is 36+ bytes: it alone would push the value past 64.
// - The pushers' transient state (sales window, cursor, dynamic holdback, the I8 accounts,
//   the channel reports): it stays in the per-SKU `pushstate` hash, whose JSON values grow
//   long under load and would turn a whole bucket into a hashtable for good.
import { StockguardError } from '../errors.ts';

export interface PackedPushedLevel {
  quantity: number;
  atMs: number;
  version: number;
  /** A report of this very push was seen after it (PushStore.confirmApplied): its apply lag is counted. */
  applied: boolean;
}

export interface PackedObservation {
  quantity: number;
  observedAtMs: number;
}

export interface ChannelState {
  /** channel → the last push it acknowledged. */
  pushed: Record<string, PackedPushedLevel>;
  /** channel → the newest level it reported. */
  observed: Record<string, PackedObservation>;
  /** Amazon marketplace → the newest FBA fulfillable quantity. */
  fba: Record<string, PackedObservation>;
}

export function emptyChannelState(): ChannelState {
  return { pushed: {}, observed: {}, fba: {} };
}

export function isEmptyChannelState(state: ChannelState): boolean {
  return Object.keys(state.pushed).length === 0 && Object.keys(state.observed).length === 0 && Object.keys(state.fba).length === 0;
}

const NAME_CODES: Readonly<Record<string, string>> = { shopify: 's', amazon: 'a' };
const CODE_NAMES: Readonly<Record<string, string>> = { s: 'shopify', a: 'amazon' };
const LITERAL_NAME = /^[A-Za-z0-9_-]{2,64}$/u;

/** True when `name` can be a channel or marketplace of the packed state. */
export function isPackableName(name: string): boolean {
  return NAME_CODES[name] !== undefined || (LITERAL_NAME.test(name) && CODE_NAMES[name] === undefined);
}

function encodeName(name: string): string {
  const code = NAME_CODES[name];
  if (code !== undefined) return code;
  if (!isPackableName(name)) {
    throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `a channel or marketplace name must be shopify, amazon or 2–64 of A-Z a-z 0-9 _ -, got ${JSON.stringify(name)}`);
  }
  return name;
}

function decodeName(stored: string): string {
  return CODE_NAMES[stored] ?? stored;
}

function assertTime(what: string, ms: number): void {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new StockguardError('STOCKGUARD_E_BAD_QUANTITY', `${what} must be a whole number of ms ≥ 0, got ${String(ms)}`);
}

function assertWhole(what: string, value: number): void {
  if (!Number.isSafeInteger(value)) throw new StockguardError('STOCKGUARD_E_BAD_QUANTITY', `${what} must be a whole number, got ${String(value)}`);
}

/** Bytewise order of the stored names (Lua compares them byte by byte too). */
function byName(a: [string, unknown], b: [string, unknown]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/** The packed string of `state`; undefined when there is nothing to keep (the field is deleted). */
export function encodeChannelState(state: ChannelState): string | undefined {
  type Row = { kind: string; name: string; quantity: number; atMs: number; version?: number };
  const rows: Row[] = [];
  const add = (kind: string, entries: Array<[string, Row]>) => rows.push(...entries.sort(byName).map(([, row]) => row));
  add(
    'P',
    Object.entries(state.pushed).map(([name, level]) => {
      assertWhole('a pushed quantity', level.quantity);
      assertTime('a push time', level.atMs);
      if (!Number.isSafeInteger(level.version) || level.version < 0) throw new StockguardError('STOCKGUARD_E_BAD_QUANTITY', `a pushed version must be a whole number ≥ 0, got ${String(level.version)}`);
      const code = encodeName(name);
      return [code, { kind: level.applied ? 'Q' : 'P', name: code, quantity: level.quantity, atMs: level.atMs, version: level.version }];
    }),
  );
  for (const [kind, observations] of [['O', state.observed], ['F', state.fba]] as const) {
    add(
      kind,
      Object.entries(observations).map(([name, observation]) => {
        assertWhole('an observed quantity', observation.quantity);
        assertTime('an observation time', observation.observedAtMs);
        const code = encodeName(name);
        return [code, { kind, name: code, quantity: observation.quantity, atMs: observation.observedAtMs }];
      }),
    );
  }
  if (rows.length === 0) return undefined;
  const newest = Math.max(...rows.map((row) => row.atMs));
  const segments = rows.map((row) => {
    const base = `${row.kind}${row.name}:${row.quantity},${(newest - row.atMs).toString(36)}`;
    return row.version ? `${base},${row.version.toString(36)}` : base;
  });
  return [newest.toString(36), ...segments].join(';');
}

const BASE36 = /^[0-9a-z]{1,11}$/u;
const SEGMENT = /^([PQOF])([A-Za-z0-9_-]+):(-?\d{1,16}),([0-9a-z]{1,11})(?:,([0-9a-z]{1,11}))?$/u;

function corrupt(value: string, why: string): StockguardError {
  return new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `not a packed channel state (${why}): ${JSON.stringify(value.slice(0, 200))}`);
}

/** The state packed in `value` (a missing field is the empty state). Throws for a value it cannot read. */
export function decodeChannelState(value: string | null | undefined): ChannelState {
  const state = emptyChannelState();
  if (value === null || value === undefined || value === '') return state;
  const [head, ...segments] = value.split(';');
  if (!BASE36.test(head!)) throw corrupt(value, 'time');
  const newest = parseInt(head!, 36);
  for (const segment of segments) {
    const match = SEGMENT.exec(segment);
    if (!match) throw corrupt(value, `segment ${JSON.stringify(segment)}`);
    const [, kind, code, quantityText, ageText, versionText] = match;
    const name = decodeName(code!);
    const quantity = Number(quantityText);
    const atMs = newest - parseInt(ageText!, 36);
    if (!Number.isSafeInteger(quantity) || atMs < 0) throw corrupt(value, `segment ${JSON.stringify(segment)}`);
    if (kind === 'P' || kind === 'Q') {
      state.pushed[name] = { quantity, atMs, version: versionText === undefined ? 0 : parseInt(versionText, 36), applied: kind === 'Q' };
    } else if (versionText !== undefined) {
      throw corrupt(value, `segment ${JSON.stringify(segment)}`);
    } else {
      (kind === 'O' ? state.observed : state.fba)[name] = { quantity, observedAtMs: atMs };
    }
  }
  return state;
}
