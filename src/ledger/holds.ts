// Checkout holds: the synchronous reservation API reserves stock for a merchant's own
// checkout for a limited time. A hold is confirmed (it becomes an ordinary reservation,
// shipped by the WMS later), cancelled, or it expires and the reaper releases it.
//
// Closing a hold takes several commands on several Cluster slots (the expiry index, the
// hold's lines, one script per SKU), so it cannot be one atomic step. It is ordered so that
// a crash between any two of them leaves a state a retry or the reaper completes (issue 11 §3):
//   1. closeHold.lua decides the outcome on the expiry index in one step: the entry's score
//      becomes a closing mark (RELEASING or CONFIRMING) instead of the entry being removed.
//      Cancel, confirm and the reaper race on this step; whoever closes an open hold first
//      owns the outcome, so an expired hold is never confirmed and a confirmed one never released.
//   2. RELEASING only: every line is released, each idempotently on its reservation id.
//   3. The hold's lines are forgotten (hold-lines entry).
//   4. removeHold.lua removes the index entry, last, and only while it still has the mark.
// A closing entry sorts before every expiry, so the reaper picks it up on its next round;
// a retry of the same cancel or confirm resumes it and answers as the first call would have.
import { type BundleLookup, expandWithLookup } from '../domain/bundles.ts';
import { StockguardError } from '../errors.ts';
import type { Clock, Ledger, OrderLine, OrderLineResult } from './ledger.ts';
import { closeHold, type HoldCloseAction } from './operations/closeHold.ts';
import { removeHold } from './operations/removeHold.ts';
import { reservationId } from './reservationId.ts';
import type { RedisClient } from '../redis/client.ts';
import { LedgerStatus } from './status.ts';

export const HOLD_CHANNEL = 'api';

export type HoldResult =
  | { held: true; orderId: string; expiresAtMs: number; lines: OrderLineResult[] }
  | { held: false; orderId: string; lines: OrderLineResult[] };

export class CheckoutHolds {
  constructor(
    private readonly redis: RedisClient,
    private readonly ledger: Ledger,
    private readonly clock: Clock,
    /** The components of each SKU that is a bundle (the catalogue's); absent: no SKU is a bundle. */
    private readonly bundleComponents?: BundleLookup,
  ) {}

  /**
   * Holds every line or nothing. A line on a bundle holds each component under the line's id
   * (the hold's recorded lines are the component lines, so a cancel, the reaper and a crash
   * recovery release exactly those); the answer has one line per component.
   */
  async hold(orderId: string, requested: readonly OrderLine[], ttlSeconds: number): Promise<HoldResult> {
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > 86_400) {
      throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `ttlSeconds must be a whole number from 1 to 86400, got ${ttlSeconds}`);
    }
    const lines = (await expandWithLookup(requested, this.bundleComponents)).map(({ lineId, sku, quantity }) => ({ lineId, sku, quantity }));
    const keys = this.ledger.keys;
    const encodedLines = JSON.stringify(lines.map(({ sku, lineId }) => ({ sku, lineId })));
    const alreadyOpen = await this.redis.zscore(keys.holdExpiries(), orderId);
    if (alreadyOpen !== null && Number(alreadyOpen) < 0) {
      // Closing (closeHold.lua's mark): its outcome is decided and its clean-up may still run.
      throw new StockguardError('STOCKGUARD_E_CONFLICT', `the hold for order ${JSON.stringify(orderId)} is being closed; use a new order id for a new checkout`);
    }
    if (alreadyOpen !== null) {
      // A retry of the same checkout is answered from the ledger; other lines under an open
      // order id would overwrite what the reaper releases and leak the first lines' stock.
      if ((await this.redis.hget(keys.holdLines(), orderId)) !== encodedLines) {
        throw new StockguardError('STOCKGUARD_E_CONFLICT', `a hold for order ${JSON.stringify(orderId)} is open with other lines; confirm or cancel it first`);
      }
      return this.reserve(orderId, lines, Number(alreadyOpen), 'retry');
    }
    // An order id whose earlier hold was refused, cancelled, confirmed or expired has
    // reservation records already: reusing it would report lines as held that are not.
    for (const line of lines) {
      if (await this.ledger.hasReservation(line.sku, reservationId(HOLD_CHANNEL, orderId, line.lineId))) {
        throw new StockguardError('STOCKGUARD_E_CONFLICT', `order id ${JSON.stringify(orderId)} was used by an earlier hold; use a new order id for a new checkout`);
      }
    }
    // Record the hold before reserving: if the process dies in between, the reaper
    // releases lines that may not exist (a no-op) rather than leaking held stock.
    const expiresAtMs = this.clock() + ttlSeconds * 1000;
    await this.redis.hset(keys.holdLines(), orderId, encodedLines);
    await this.redis.zadd(keys.holdExpiries(), expiresAtMs, orderId);
    return this.reserve(orderId, lines, expiresAtMs, 'first');
  }

  /** Reserves the lines of a hold whose index entry and lines are written. */
  private async reserve(orderId: string, lines: readonly OrderLine[], expiresAtMs: number, attempt: 'first' | 'retry'): Promise<HoldResult> {
    let result: { held: boolean; lines: OrderLineResult[] };
    try {
      result = await this.ledger.holdOrder({ channel: HOLD_CHANNEL, orderId, lines });
    } catch (error) {
      // A refusal (an unknown SKU): release what may be held, the way a cancel does; if that
      // fails, the entry is still there and the reaper finishes it. Redis going away half-way
      // (any other error): keep the hold as it is, so that the retry the 500 asks for resumes
      // it (the lines held so far come back DUPLICATE), and the reaper releases it when it
      // expires if nobody retries. Removing the entry would leak the lines held so far.
      if (error instanceof StockguardError) await this.close(orderId, 'cancel').catch(() => undefined);
      throw error;
    }
    if (!result.held) {
      // Short. holdOrder released the lines it had just held, which on a first attempt are
      // all of them; a retry may find lines held by the interrupted attempt: release those
      // as a cancel does.
      if (attempt === 'first') await this.forget(orderId);
      else await this.close(orderId, 'cancel');
      return { held: false, orderId, lines: result.lines };
    }
    return { held: true, orderId, expiresAtMs, lines: result.lines };
  }

  /**
   * The checkout completed: the hold becomes a plain reservation. False when it had expired,
   * was cancelled or never existed. A retry after a failure part-way answers true again.
   */
  async confirm(orderId: string): Promise<boolean> {
    return (await this.close(orderId, 'confirm')) === LedgerStatus.CONFIRMING;
  }

  /**
   * The checkout was abandoned: release now. False when there was no open hold. A retry
   * after a failure part-way finishes the release and answers true again.
   */
  async cancel(orderId: string): Promise<boolean> {
    return (await this.close(orderId, 'cancel')) === LedgerStatus.RELEASING;
  }

  /**
   * Releases every hold whose time is up, and finishes every close a crash interrupted;
   * returns how many holds it released. Safe to run on every replica. One hold that fails
   * does not stop the others; the first error is thrown at the end and the next round retries.
   */
  async reapExpired(limit = 100): Promise<number> {
    const due = await this.redis.zrangebyscore(this.ledger.keys.holdExpiries(), '-inf', this.clock(), 'LIMIT', 0, limit);
    let reaped = 0;
    let firstError: unknown;
    for (const orderId of due) {
      try {
        if ((await this.close(orderId, 'expire')) === LedgerStatus.RELEASING) reaped += 1;
      } catch (error) {
        firstError ??= error;
      }
    }
    if (firstError !== undefined) throw firstError;
    return reaped;
  }

  /** Decides the hold's outcome (or reads the one decided earlier) and carries it out to the end. */
  private async close(orderId: string, action: HoldCloseAction): Promise<LedgerStatus> {
    const keys = this.ledger.keys;
    const { status } = await closeHold(this.redis, keys.holdExpiries(), orderId, action, this.clock());
    if (status === LedgerStatus.BAD_ARGUMENT) {
      throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `closeHold refused order id ${JSON.stringify(orderId)}`);
    }
    if (status !== LedgerStatus.RELEASING && status !== LedgerStatus.CONFIRMING) return status;
    if (status === LedgerStatus.RELEASING) await this.releaseLines(orderId);
    // The lines go before the index entry: an entry without lines is finished by a retry,
    // lines without an entry would be found by nobody.
    await this.redis.hdel(keys.holdLines(), orderId);
    await removeHold(this.redis, keys.holdExpiries(), orderId, status);
    return status;
  }

  private async releaseLines(orderId: string): Promise<void> {
    const encoded = await this.redis.hget(this.ledger.keys.holdLines(), orderId);
    const lines = encoded ? (JSON.parse(encoded) as { sku: string; lineId: string }[]) : [];
    for (const line of lines) {
      // Idempotent per line: a line released by an interrupted attempt comes back DUPLICATE
      // and is not released twice.
      await this.ledger.release(line.sku, reservationId(HOLD_CHANNEL, orderId, line.lineId)).catch((error: unknown) => {
        // A line whose SKU was never reserved (the hold failed half-way) has nothing to release.
        if (!(error instanceof StockguardError && error.code === 'STOCKGUARD_E_UNKNOWN_SKU')) throw error;
      });
    }
  }

  /** For a hold that holds nothing: the index entry first, so its lines are never missing from an open entry. */
  private async forget(orderId: string): Promise<void> {
    await this.redis.zrem(this.ledger.keys.holdExpiries(), orderId);
    await this.redis.hdel(this.ledger.keys.holdLines(), orderId);
  }
}
