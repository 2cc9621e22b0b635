// Bounded allocation in the pushers (issue 12, invariant I8): for a SKU whose mode is
// strict, budget:N or auto, what each channel may be told comes from the pure allocate()
// in src/domain/allocation.ts, fed with the I8 accounting kept here per SKU and channel.
//
// The walk, in one direction: a ledger change → decide() reads the units each channel sold
// (the ledger's `sold:<channel>`, kept by the same script that reserves them) with on_hand
// and reserved in one read, the channels' reports, settles the accounts, calls allocate() →
// the coordinator offers the writes it may send to the lanes → beforeSend() records each
// write as pending at the moment it leaves (and drops one that no longer fits) →
// afterResult() books what the channel answered (a compare-and-set won or lost, an absolute
// write accepted) → a channel report (LISTINGS_ITEM_MFN_QUANTITY_CHANGE) confirms it.
//
// The accounts live in the SKU's pushstate hash (fields `alloc:<channel>`, `alloc:auto`,
// `alloc:booked:<channel>`, `alloc:vel:<channel>`, `alloc:keep`), in the SKU's slot; one SKU's
// operations are serialised in this process. The hash expires after the idle horizon
// (pushStateWrite.ts) unless `alloc:keep` is set: then an account holds unseen sales of a
// compare-and-set channel, which no time bounds. An account that expired is opened again
// from the channel state (openFromView), like a SKU's first.
import { readInventoryRecord } from '../ledger/inventoryRecord.ts';
import type { CatalogEntry, SalesChannel } from '../catalog/entry.ts';
import {
  type AllocationMode,
  type AutoState,
  type ChannelAccount,
  type ChannelDecision,
  type ChannelTiming,
  exposureOf,
  openAccount,
  recordCasApplied,
  recordCasStale,
  recordSaleSeen,
  recordShownReport,
  recordWriteSent,
  settleAccount,
  allocate,
  type WriteKind,
} from '../domain/allocation.ts';
import { burstRatePerSecond, pruneSales, recordSales, salesRatePerSecond } from '../domain/dynamicHoldback.ts';
import type { ChannelPolicy } from '../domain/sellable.ts';
import type { KeySpace } from '../redis/keys.ts';
import type { RedisClient } from '../redis/client.ts';
import type { PushOutcome, PushRequest } from './pusher.ts';
import type { ChannelReport, SkuPushView } from './store.ts';
import { DEFAULT_PUSH_STATE_HORIZON_MS, KEEP_FIELD, writePushState } from './pushStateWrite.ts';

export const WRITE_KINDS: Readonly<Record<SalesChannel, WriteKind>> = { shopify: 'cas', amazon: 'absolute' };

/** How far the channel's clock may run behind ours when a report confirms a write. */
const CLOCK_SLACK_MS = 2_000;
const VELOCITY_BUCKET_MS = 1_000;
/** How many sales the configured channel mix counts as (allocator.priorRate). */
export const PRIOR_SALES = 10;

interface SkuAccounts {
  channels: Partial<Record<SalesChannel, ChannelAccount>>;
  velocity: Partial<Record<SalesChannel, Array<[number, number]>>>;
  auto: AutoState | null;
  /** `sold:<channel>` of the ledger as last booked into the accounts. */
  booked: Partial<Record<SalesChannel, number>>;
}

export interface DecideInput {
  sku: string;
  entry: CatalogEntry;
  mode: AllocationMode;
  view: SkuPushView;
  /** The channels this SKU is pushed to, with their policy. */
  channels: ReadonlyArray<{ channel: SalesChannel; policy: ChannelPolicy }>;
  /** Static + dynamic holdback. */
  holdbackUnits: number;
  nowMs: number;
}

export interface Decision {
  /** on_hand − reserved the decision was made against (read with the sold counters). */
  available: number;
  limit: number;
  exposureBefore: number;
  exposureAfter: number;
  decisions: readonly (ChannelDecision & { channel: SalesChannel })[];
  strict: boolean;
}

export interface AllocatorOptions {
  redis: RedisClient;
  keys: KeySpace;
  timing: Readonly<Record<SalesChannel, ChannelTiming>>;
  /** Window for per-channel sales velocity (ms). */
  velocityWindowMs: number;
  /** The merchant's usual channel mix (weights), the velocity prior; unset: none (equal shares at first). */
  channelMix?: Partial<Record<SalesChannel, number>>;
  clock: () => number;
  /** Every report the channel made of the SKU's quantity (PushStore.channelReports). */
  reports(sku: string, channel: SalesChannel): Promise<ChannelReport[]>;
  /**
   * Keeps a report the channel made as an anchor (PushStore.noteChannelReport with `anchor`):
   * the newest observation when an absolute channel's account is opened (openFromView).
   */
  anchorReport?(sku: string, channel: SalesChannel, report: ChannelReport): Promise<void>;
  /** Told of a report that raised the channel's quantity with no write of ours to explain it (a hand edit). */
  onUnexplained?(sku: string, channel: SalesChannel, report: ChannelReport & { before: number }, account: ChannelAccount): void;
  /** The pushstate hash's idle horizon (PushStore.idleMs; default 6 h). */
  idleMs?: number;
}

export class BoundedAllocator {
  private readonly locks = new Map<string, Promise<unknown>>();
  /** The mode each SKU was last decided in, its budget less what it has oversold. */
  private readonly modes = new Map<string, AllocationMode>();

  constructor(private readonly options: AllocatorOptions) {}

  /** What each channel should show and which writes may go now, with the accounts brought up to date. */
  decide(input: DecideInput): Promise<Decision | undefined> {
    return this.serialised(input.sku, async () => {
      const accounts = await this.load(input.sku);
      const ledger = await this.readSales(input.sku, accounts, input.nowMs);
      if (!ledger) return undefined;
      // Read after the journal: a sale recorded oversold since is already off the budget.
      const oversold = input.mode.kind === 'budget' ? ((await readInventoryRecord(this.options.redis, this.options.keys, input.sku))?.oversold ?? 0) : 0;
      const mode = budgetLeft(input.mode, Math.max(oversold, input.view.ledger?.oversold ?? 0));
      this.modes.set(input.sku, mode);
      for (const { channel } of input.channels) {
        let account = accounts.channels[channel];
        if (!account) {
          account = this.openFromView(channel, input.view, input.nowMs);
          // The channel reported before the account was opened (its pushstate expired, or the
          // SKU was shared): that report is the predecessor of the next one, which is then no
          // "first report" (a sale's report equal to a write sent from this account must not
          // confirm it). Kept as an anchor: it confirms nothing itself.
          const observed = input.view.observed[channel];
          if (account.writeKind === 'absolute' && observed) await this.options.anchorReport?.(input.sku, channel, { quantity: observed.quantity, observedAtMs: observed.observedAtMs, anchor: true });
        }
        if (account.writeKind === 'absolute') account = this.applyReports(input.sku, channel, account, await this.options.reports(input.sku, channel), input.nowMs);
        accounts.channels[channel] = settleAccount(account, input.nowMs, this.options.timing[channel]);
      }
      const channelInputs = input.channels.map(({ channel, policy }) => ({
        id: channel,
        account: accounts.channels[channel]!,
        policy,
        velocityPerSec: salesRatePerSecond(accounts.velocity[channel] ?? [], input.nowMs, this.window()) + this.priorRate(channel, input.channels),
        // A flash sale's first seconds must count at once for auto's switch to strict.
        burstVelocityPerSec: burstRatePerSecond(accounts.velocity[channel] ?? [], input.nowMs, this.window()),
        timing: this.options.timing[channel],
      }));
      const allocation = allocate({
        mode,
        available: ledger.available,
        holdback: input.holdbackUnits,
        nowMs: input.nowMs,
        channels: channelInputs,
        autoPrevious: accounts.auto,
      });
      for (const decision of allocation.decisions) accounts.channels[decision.id as SalesChannel] = decision.account;
      accounts.auto = allocation.auto;
      await this.save(input.sku, accounts);
      return {
        available: ledger.available,
        limit: allocation.limit,
        exposureBefore: allocation.exposureBefore,
        exposureAfter: allocation.exposureAfter,
        decisions: allocation.decisions.map((decision) => ({ ...decision, channel: decision.id as SalesChannel })),
        strict: allocation.applied.kind === 'bounded',
      };
    });
  }

  /**
   * A write is leaving for the channel: books it as pending (in full until confirmed, I8).
   * Answers false, booking nothing, when the SKU's accounts say it no longer fits the bound
   * (another write went out since it was decided): the caller drops it and recomputes.
   */
  beforeSend(request: PushRequest, limit: { mode: AllocationMode; available: () => Promise<number | undefined> }): Promise<boolean> {
    return this.serialised(request.sku, async () => {
      const mode = this.modes.get(request.sku) ?? limit.mode;
      const accounts = await this.load(request.sku);
      const account = accounts.channels[request.channel];
      if (!account) return false;
      const now = this.options.clock();
      const sent = recordWriteSent(account, { value: request.quantity, sentAtMs: now });
      const budget = mode.kind === 'budget' ? mode.budget : mode.kind === 'strict' || (mode.kind === 'auto' && accounts.auto?.strict) ? 0 : null;
      if (budget !== null) {
        const available = await limit.available();
        if (available === undefined) return false;
        let total = exposureOf(sent);
        for (const [channel, other] of Object.entries(accounts.channels) as [SalesChannel, ChannelAccount][]) if (channel !== request.channel) total += exposureOf(other);
        // A write that lowers exposure always goes (a decrease); a raise only within the bound.
        if (total > available + budget && exposureOf(sent) > exposureOf(account)) return false;
      }
      accounts.channels[request.channel] = sent;
      await this.save(request.sku, accounts);
      return true;
    });
  }

  /** Books the channel's answer to a write that beforeSend booked. */
  afterResult(request: PushRequest, outcome: PushOutcome): Promise<void> {
    return this.serialised(request.sku, async () => {
      const accounts = await this.load(request.sku);
      const account = accounts.channels[request.channel];
      if (!account) return;
      const index = account.pending.findIndex((write) => write.value === request.quantity);
      if (index === -1) return;
      const now = this.options.clock();
      let next = account;
      if (account.writeKind === 'cas') {
        // A CAS channel has one write in flight at most; put it first for the record* functions.
        const reordered = { ...account, pending: [account.pending[index]!, ...account.pending.filter((_, position) => position !== index)] };
        if (outcome.kind === 'acked') next = recordCasApplied(reordered, outcome.atMs);
        else if (outcome.kind === 'stale' && outcome.channelQuantity !== undefined) next = recordCasStale(reordered, { shown: outcome.channelQuantity, atMs: now });
        else next = { ...account, pending: account.pending.filter((_, position) => position !== index) };
      } else if (outcome.kind === 'invalid' || outcome.kind === 'rejected' || outcome.kind === 'blocked') {
        // Refused: never in effect. An accepted write stays pending until the channel reports
        // it; a failed one may have been applied (a timeout after Amazon took it) and stays
        // until it is reported or written off (confirmTimeoutMs).
        next = { ...account, pending: account.pending.filter((_, position) => position !== index) };
      }
      accounts.channels[request.channel] = next;
      await this.save(request.sku, accounts);
    });
  }

  /** on_hand − reserved now (the send-time check). */
  async available(sku: string): Promise<number | undefined> {
    const inventory = await readInventoryRecord(this.options.redis, this.options.keys, sku);
    return inventory === undefined ? undefined : inventory.onHand - inventory.reserved;
  }

  /** Σ_c exposure_c of the SKU as booked now (for gauges and tests). */
  async exposure(sku: string): Promise<number> {
    const accounts = await this.load(sku);
    let total = 0;
    for (const account of Object.values(accounts.channels)) if (account) total += exposureOf(account);
    return total;
  }

  /**
   * The channel mix as a prior: PRIOR_SALES pseudo-sales spread over the velocity window
   * in the configured shares, added to the measured rate. It decides a SKU's split before it
   * sells (a flash sale's opening push) and fades as its own sales arrive (at 10 sales/s
   * over a 60 s window it is under 2 % after one second).
   */
  private priorRate(channel: SalesChannel, channels: DecideInput['channels']): number {
    const mix = this.options.channelMix;
    if (!mix) return 0;
    const total = channels.reduce((sum, { channel: other }) => sum + Math.max(0, mix[other] ?? 0), 0);
    if (total <= 0) return 0;
    return (PRIOR_SALES * Math.max(0, mix[channel] ?? 0)) / total / (this.options.velocityWindowMs / 1000);
  }

  private window() {
    return { windowMs: this.options.velocityWindowMs, bucketMs: VELOCITY_BUCKET_MS };
  }

  /**
   * Books the sales each channel made since the last look. The ledger counts them in
   * `sold:<channel>` of the SKU's packed inventory, in the same script that reserves (or,
   * for a cancellation on the channel, releases) them; one HGET reads those counters with
   * on_hand and reserved, so the sales booked and available describe the same instant.
   */
  private async readSales(sku: string, accounts: SkuAccounts, nowMs: number): Promise<{ available: number } | undefined> {
    const inventory = await readInventoryRecord(this.options.redis, this.options.keys, sku);
    if (inventory === undefined) return undefined;
    const { onHand, reserved } = inventory;
    const totals: Record<SalesChannel, number> = { shopify: inventory.soldShopify, amazon: inventory.soldAmazon };
    for (const channel of ['shopify', 'amazon'] as const) {
      const booked = accounts.booked[channel];
      accounts.booked[channel] = totals[channel];
      // First look: what the channel shows is its account; earlier sales are behind it.
      if (booked === undefined) continue;
      const units = totals[channel] - booked;
      if (units === 0) continue;
      const account = accounts.channels[channel];
      if (account) accounts.channels[channel] = bookSale(account, units, nowMs);
      if (units > 0) accounts.velocity[channel] = recordSales(accounts.velocity[channel] ?? [], nowMs, units, nowMs, this.window());
    }
    for (const channel of Object.keys(accounts.velocity) as SalesChannel[]) accounts.velocity[channel] = pruneSales(accounts.velocity[channel] ?? [], nowMs, this.window());
    return { available: onHand - reserved };
  }

  /**
   * A channel with no account (a SKU's first decision, or its pushstate expired): what it was
   * last told or reported showing, the newer, else 0. On an absolute-write channel a push no
   * report confirmed (`P`, not `Q`), newer than the last report, may not be in effect (a
   * write never applied is written off after its confirm timeout, and an expired account has
   * no pending write left): the channel shows the push's value or the report's, and the
   * account opens at the larger (I8: exposure may be too high, never too low).
   */
  private openFromView(channel: SalesChannel, view: SkuPushView, nowMs: number): ChannelAccount {
    const pushed = view.pushed[channel];
    const observed = view.observed[channel];
    const newest = [pushed ? { quantity: pushed.quantity, atMs: pushed.atMs } : undefined, observed ? { quantity: observed.quantity, atMs: observed.observedAtMs } : undefined]
      .filter((candidate): candidate is { quantity: number; atMs: number } => candidate !== undefined)
      .sort((a, b) => b.atMs - a.atMs)[0];
    let shown = newest?.quantity ?? 0;
    if (WRITE_KINDS[channel] === 'absolute' && pushed && pushed.applied !== true && observed && observed.observedAtMs < pushed.atMs) shown = Math.max(pushed.quantity, observed.quantity);
    return openAccount(WRITE_KINDS[channel], shown, newest?.atMs ?? nowMs);
  }

  /**
   * An absolute-write channel's reports newer than its confirmation, oldest first. A report
   * of a pending write's value confirms that write and every one sent before it (the channel
   * applies them in order). Any other report (the channel sold, or someone edited it by
   * hand) is what the channel shows with no new write in effect: the difference from what
   * it was thought to show becomes unseen sales (the drift path of the accounting).
   * CAS channels are confirmed by their own write answers.
   */
  private applyReports(sku: string, channel: SalesChannel, account: ChannelAccount, reports: readonly ChannelReport[], nowMs: number): ChannelAccount {
    // Reports are taken in the channel's time order, and only once every report before them
    // has had its delivery-lag bound to arrive: a report taken early could be followed by an
    // older one (the confirmation of a write whose earlier sales then go unbounded). Until
    // then the write stays pending, counted in full: conservative.
    const settledBefore = nowMs - this.options.timing[channel].deliveryLagBoundMs;
    let next = account;
    for (const [index, report] of reports.entries()) {
      if (report.observedAtMs > settledBefore) break;
      // The oldest kept report once older ones were dropped (PushStore.keptReports): with no
      // known predecessor it could be a sale's report as well as a write's (a flash sale
      // drops a report per unit). Taken as a write's, a sale report equal to a write sent
      // just after it once confirmed that write early; the write, applied later, then sold
      // what nobody counted. It only serves as the next report's predecessor.
      if (report.anchor) continue;
      // A report cannot confirm a write sent after it (a little slack for the channel's clock).
      // Nor can one that went down from the report before it: a sale lowers the quantity too,
      // and a sale report that happens to equal a pending value would otherwise confirm a
      // write not yet in effect. A raise, a 0 (a pending 0 sells nothing either way) or the
      // first report can only be the write. A lowering write stays pending, counted in full,
      // until a report it alone explains or its confirm timeout: conservative.
      const before = index > 0 ? reports[index - 1]!.quantity : undefined;
      const unambiguous = report.quantity === 0 || before === undefined || report.quantity > before;
      const matching = !unambiguous ? -1 : next.pending.findIndex((write) => write.value === report.quantity && write.sentAtMs <= report.observedAtMs + CLOCK_SLACK_MS);
      if (report.observedAtMs <= next.confirmedAtMs) {
        // Delivered late: a newer report already set what the channel shows, but this one
        // still says the write took effect (notifications arrive out of order).
        if (matching !== -1) next = { ...next, pending: next.pending.slice(matching + 1) };
        continue;
      }
      // A raise no write of ours explains: someone set the quantity by hand (or the channel
      // restocked on its own). It is the drift path: the account takes what the channel says.
      if (matching === -1 && before !== undefined && report.quantity > before) this.options.onUnexplained?.(sku, channel, { ...report, before }, next);
      next = recordShownReport(next, {
        shown: report.quantity,
        shownAtMs: report.observedAtMs,
        appliedThroughSentAtMs: matching === -1 ? Number.NEGATIVE_INFINITY : next.pending[matching]!.sentAtMs,
        deliveryLagBoundMs: this.options.timing[channel].deliveryLagBoundMs,
      });
    }
    return next;
  }

  private async load(sku: string): Promise<SkuAccounts> {
    const fields = ['alloc:shopify', 'alloc:amazon', 'alloc:vel:shopify', 'alloc:vel:amazon', 'alloc:auto', 'alloc:booked:shopify', 'alloc:booked:amazon'];
    const [shopify, amazon, velShopify, velAmazon, auto, bookedShopify, bookedAmazon] = await this.options.redis.hmget(this.options.keys.pushState(sku), ...fields);
    return {
      channels: { ...(shopify ? { shopify: JSON.parse(shopify) as ChannelAccount } : {}), ...(amazon ? { amazon: JSON.parse(amazon) as ChannelAccount } : {}) },
      velocity: { shopify: velShopify ? (JSON.parse(velShopify) as Array<[number, number]>) : [], amazon: velAmazon ? (JSON.parse(velAmazon) as Array<[number, number]>) : [] },
      auto: auto ? (JSON.parse(auto) as AutoState) : null,
      booked: { ...(bookedShopify ? { shopify: Number(bookedShopify) } : {}), ...(bookedAmazon ? { amazon: Number(bookedAmazon) } : {}) },
    };
  }

  private async save(sku: string, accounts: SkuAccounts): Promise<void> {
    const fields: string[] = [];
    for (const [channel, account] of Object.entries(accounts.channels)) if (account) fields.push(`alloc:${channel}`, JSON.stringify(account));
    // An emptied velocity window is deleted, not written as []: at rest it is nothing.
    const emptied: string[] = [];
    for (const [channel, buckets] of Object.entries(accounts.velocity)) {
      if (buckets && buckets.length > 0) fields.push(`alloc:vel:${channel}`, JSON.stringify(buckets));
      else emptied.push(`alloc:vel:${channel}`);
    }
    if (accounts.auto) fields.push('alloc:auto', JSON.stringify(accounts.auto));
    for (const [channel, booked] of Object.entries(accounts.booked)) if (booked !== undefined) fields.push(`alloc:booked:${channel}`, String(booked));
    // Unseen sales of a compare-and-set channel have no time bound (they wait for the ledger
    // to see them, however late): the key must not expire while there are any.
    if (Object.values(accounts.channels).some((account) => account?.unseenBefore.some((bucket) => bucket.expiresAtMs === null && bucket.units > 0))) fields.push(KEEP_FIELD, '1');
    else emptied.push(KEEP_FIELD);
    await writePushState(this.options.redis, this.options.keys.pushState(sku), this.options.idleMs ?? DEFAULT_PUSH_STATE_HORIZON_MS, { delete: emptied, set: fields });
  }

  /** Runs one SKU's operations one after another in this process. */
  private serialised<T>(sku: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(sku) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(work);
    const tail = run.catch(() => undefined);
    this.locks.set(sku, tail);
    void tail.then(() => {
      if (this.locks.get(sku) === tail) this.locks.delete(sku);
    });
    return run;
  }
}

/**
 * budget:N is N units over the SKU's whole life, not N per decision: a line recorded
 * OVERSOLD holds nothing, so available does not move and the same N would be granted
 * again after every oversell. The units the ledger recorded oversold are taken off it.
 */
function budgetLeft(mode: AllocationMode, oversold: number): AllocationMode {
  return mode.kind === 'budget' ? { kind: 'budget', budget: Math.max(0, mode.budget - oversold) } : mode;
}

/**
 * Books a sale the ledger reserved. The counters carry no time, let alone the channel's
 * order time, so the books cannot tell a sale made before the last confirmation (one of the unseen
 * sales a bucket bounds) from one made after it. It is taken from the buckets first: if it
 * was in fact made after, the buckets are left too small and the confirmed value too large
 * by the same units — exposure stays as high, and only falls when the bucket expires. The
 * other way round (a bucket's sale booked against the confirmed value) would leave exposure
 * too low once the bucket expired.
 */
function bookSale(account: ChannelAccount, units: number, atMs: number): ChannelAccount {
  if (units <= 0) return recordSaleSeen(account, { units, soldAtMs: atMs });
  let left = units;
  let next = account;
  for (const bucket of account.unseenBefore) {
    if (left === 0) break;
    const taken = Math.min(left, bucket.units);
    if (taken === 0 || bucket.madeUntilMs > next.confirmedAtMs) continue;
    next = recordSaleSeen(next, { units: taken, soldAtMs: bucket.madeUntilMs });
    left -= taken;
  }
  return left > 0 ? recordSaleSeen(next, { units: left, soldAtMs: atMs }) : next;
}
