// Checkout holds: the synchronous reservation API reserves stock for a merchant's own
// checkout for a limited time. A hold is confirmed (it becomes an ordinary reservation,
// shipped by the WMS later), cancelled, or it expires and the reaper releases it.
// Confirm and the reaper race on ZREM: whoever removes the order from the expiry set
// owns the outcome, so an expired hold is never confirmed and a confirmed one never released.
import { StockguardError } from '../errors.ts';
import type { Clock, Ledger, OrderLine, OrderLineResult } from './ledger.ts';
import { reservationId } from './reservationId.ts';
import type { RedisClient } from './scripts.ts';

export const HOLD_CHANNEL = 'api';

export type HoldResult =
  | { held: true; orderId: string; expiresAtMs: number; lines: OrderLineResult[] }
  | { held: false; orderId: string; lines: OrderLineResult[] };

export class CheckoutHolds {
  constructor(
    private readonly redis: RedisClient,
    private readonly ledger: Ledger,
    private readonly clock: Clock,
  ) {}

  async hold(orderId: string, lines: readonly OrderLine[], ttlSeconds: number): Promise<HoldResult> {
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > 86_400) {
      throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `ttlSeconds must be a whole number from 1 to 86400, got ${ttlSeconds}`);
    }
    const keys = this.ledger.keys;
    const encodedLines = JSON.stringify(lines.map(({ sku, lineId }) => ({ sku, lineId })));
    const alreadyOpen = await this.redis.zscore(keys.holdExpiries(), orderId);
    if (alreadyOpen !== null) {
      // A retry of the same checkout is answered from the ledger; other lines under an open
      // order id would overwrite what the reaper releases and leak the first lines' stock.
      if ((await this.redis.hget(keys.holdLines(), orderId)) !== encodedLines) {
        throw new StockguardError('STOCKGUARD_E_CONFLICT', `a hold for order ${JSON.stringify(orderId)} is open with other lines; confirm or cancel it first`);
      }
      const replay = await this.ledger.holdOrder({ channel: HOLD_CHANNEL, orderId, lines });
      return { held: true, orderId, expiresAtMs: Number(alreadyOpen), lines: replay.lines };
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
    let result: { held: boolean; lines: OrderLineResult[] };
    try {
      result = await this.ledger.holdOrder({ channel: HOLD_CHANNEL, orderId, lines });
    } catch (error) {
      await this.forget(orderId);
      throw error;
    }
    if (!result.held) {
      await this.forget(orderId);
      return { held: false, orderId, lines: result.lines };
    }
    return { held: true, orderId, expiresAtMs, lines: result.lines };
  }

  /** The checkout completed: the hold becomes a plain reservation. False when it had expired or never existed. */
  async confirm(orderId: string): Promise<boolean> {
    const removed = await this.redis.zrem(this.ledger.keys.holdExpiries(), orderId);
    if (removed === 1) await this.redis.hdel(this.ledger.keys.holdLines(), orderId);
    return removed === 1;
  }

  /** The checkout was abandoned: release now. False when there was no open hold. */
  async cancel(orderId: string): Promise<boolean> {
    const removed = await this.redis.zrem(this.ledger.keys.holdExpiries(), orderId);
    if (removed !== 1) return false;
    await this.releaseLines(orderId);
    return true;
  }

  /** Releases every hold whose time is up; returns how many. Safe to run on every replica. */
  async reapExpired(limit = 100): Promise<number> {
    const due = await this.redis.zrangebyscore(this.ledger.keys.holdExpiries(), '-inf', this.clock(), 'LIMIT', 0, limit);
    let reaped = 0;
    for (const orderId of due) {
      if ((await this.redis.zrem(this.ledger.keys.holdExpiries(), orderId)) !== 1) continue;
      try {
        await this.releaseLines(orderId);
      } catch (error) {
        // Put it back so the next round retries: a hold must never leak its stock.
        await this.redis.zadd(this.ledger.keys.holdExpiries(), this.clock(), orderId);
        throw error;
      }
      reaped += 1;
    }
    return reaped;
  }

  private async releaseLines(orderId: string): Promise<void> {
    const encoded = await this.redis.hget(this.ledger.keys.holdLines(), orderId);
    const lines = encoded ? (JSON.parse(encoded) as { sku: string; lineId: string }[]) : [];
    for (const line of lines) {
      await this.ledger.release(line.sku, reservationId(HOLD_CHANNEL, orderId, line.lineId)).catch((error: unknown) => {
        // A line whose SKU was never reserved (the hold failed half-way) has nothing to release.
        if (!(error instanceof StockguardError && error.code === 'STOCKGUARD_E_UNKNOWN_SKU')) throw error;
      });
    }
    await this.redis.hdel(this.ledger.keys.holdLines(), orderId);
  }

  private async forget(orderId: string): Promise<void> {
    await this.redis.zrem(this.ledger.keys.holdExpiries(), orderId);
    await this.redis.hdel(this.ledger.keys.holdLines(), orderId);
  }
}
