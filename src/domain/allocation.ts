// Allocation (issue 12, DESIGN.md I8): what each channel should show for one SKU, and
// whether a write may go out now, so that Σ_c exposure_c ≤ available (+ budget).
// Pure: no I/O, no clock. The pusher keeps one ChannelAccount per SKU and channel, feeds it
// what happens (sales seen by the ledger, writes sent, confirmations, stale reads) through
// the record* functions below, and asks allocate() what to send. docs/allocation.md
// explains the accounting and the modes; src/sim/allocationSim.ts proves them.
//
// exposure_c bounds the units channel c can still sell that the ledger has not reserved:
// its unseen sales plus everything it can sell from now on. If Σ_c exposure_c ≤ available
// whenever the channels enforce what they show, every sale finds its unit reserved.
import { type ChannelPolicy, sellable } from './sellable.ts';

/** 'cas': Shopify changeFromQuantity. 'absolute': Amazon PATCH, applied later, no compare. */
export type WriteKind = 'cas' | 'absolute';

/** A write sent to the channel and not yet confirmed in effect. */
export interface PendingWrite {
  readonly value: number;
  readonly sentAtMs: number;
  /** salesSeenSinceConfirm when it was sent: sales seen later were made against it, if it wins. */
  readonly salesSeenAtSend: number;
}

/**
 * A bound on sales made on the channel in (madeAfterMs, madeUntilMs] that the ledger has
 * not seen yet. Exact on CAS channels (a stale read tells how many); an upper bound after
 * an absolute write (the write erased the channel's own count). An absolute bucket ends at
 * expiresAtMs = madeUntilMs + delivery-lag bound: by then every such sale has arrived, or
 * it is late and its oversell is lag-oversold. CAS buckets never expire (expiresAtMs null).
 */
export interface UnseenSales {
  readonly units: number;
  readonly madeAfterMs: number;
  readonly madeUntilMs: number;
  readonly expiresAtMs: number | null;
}

/** What the pusher holds per SKU and channel (the I8 accounting). */
export interface ChannelAccount {
  readonly writeKind: WriteKind;
  /** What the channel showed at confirmedAtMs, as last confirmed in effect. */
  readonly confirmed: number;
  readonly confirmedAtMs: number;
  /** Units the ledger reserved for sales made on this channel after confirmedAtMs. */
  readonly salesSeenSinceConfirm: number;
  readonly unseenBefore: readonly UnseenSales[];
  /** Oldest first. A CAS channel has at most one (allocate never sends a second). */
  readonly pending: readonly PendingWrite[];
  /** Set when a pending write outlived confirmTimeoutMs and was written off (alert). */
  readonly stuckSinceMs: number | null;
}

/** A channel that showed `shown` at `atMs` with nothing in flight and nothing unseen. */
export function openAccount(writeKind: WriteKind, shown: number, atMs: number): ChannelAccount {
  return { writeKind, confirmed: shown, confirmedAtMs: atMs, salesSeenSinceConfirm: 0, unseenBefore: [], pending: [], stuckSinceMs: null };
}

const sum = (values: readonly number[]): number => values.reduce((total, value) => total + value, 0);
const unseenUnits = (account: ChannelAccount): number => sum(account.unseenBefore.map((bucket) => bucket.units));

/** What the channel shows now by the ledger's count: the confirmed value less the sales seen since. */
export function shownEstimate(account: ChannelAccount): number {
  return Math.max(0, account.confirmed - account.salesSeenSinceConfirm);
}

/** The value the channel will show once everything sent is in effect (before further sales). */
export function intendedValue(account: ChannelAccount): number {
  const last = account.pending[account.pending.length - 1];
  return last === undefined ? shownEstimate(account) : last.value;
}

/**
 * exposure_c (I8): unseen sales + the most the channel can still sell.
 * - absolute: the confirmed value and every pending value count in full (the old value
 *   sells until a write applies, then the write's value sells): confirmed + Σ pending −
 *   sales seen since the confirmation.
 * - cas: a write either wins at once (the channel then shows its value, and every sale
 *   before it was seen, or the compare would have failed) or loses (the old count stands):
 *   max(shown, value − sales seen since it was sent). Both outcomes are counted, the larger
 *   one bounds; they cannot both sell, which is what compare-and-set buys.
 */
export function exposureOf(account: ChannelAccount): number {
  const seen = account.salesSeenSinceConfirm;
  if (account.writeKind === 'absolute') {
    return unseenUnits(account) + Math.max(0, account.confirmed + sum(account.pending.map((write) => write.value)) - seen);
  }
  const ifWritesWin = account.pending.map((write) => write.value - (seen - write.salesSeenAtSend));
  return unseenUnits(account) + Math.max(shownEstimate(account), ...ifWritesWin);
}

/**
 * The ledger reserved `units` for a sale made on this channel at soldAtMs (the channel's
 * order time). A sale made after the confirmation counts against the confirmed value; one
 * made before it belongs to the unseen bucket covering its time. A sale no bucket covers
 * (its bucket expired: it is late, or it ran empty) counts against the confirmed value:
 * either way exposure drops by what the ledger reserved, never by more.
 */
export function recordSaleSeen(account: ChannelAccount, sale: { units: number; soldAtMs: number }): ChannelAccount {
  let left = sale.units;
  let unseenBefore = account.unseenBefore;
  if (sale.soldAtMs <= account.confirmedAtMs) {
    unseenBefore = account.unseenBefore.map((bucket) => {
      if (left === 0 || bucket.units === 0 || sale.soldAtMs <= bucket.madeAfterMs || sale.soldAtMs > bucket.madeUntilMs) return bucket;
      const taken = Math.min(left, bucket.units);
      left -= taken;
      return { ...bucket, units: bucket.units - taken };
    });
    unseenBefore = unseenBefore.filter((bucket) => bucket.units > 0);
  }
  return { ...account, unseenBefore, salesSeenSinceConfirm: account.salesSeenSinceConfirm + left };
}

/** A write of `value` left for the channel at sentAtMs. */
export function recordWriteSent(account: ChannelAccount, write: { value: number; sentAtMs: number }): ChannelAccount {
  const pending: PendingWrite = { value: write.value, sentAtMs: write.sentAtMs, salesSeenAtSend: account.salesSeenSinceConfirm };
  return { ...account, pending: [...account.pending, pending] };
}

/**
 * The CAS write in flight won at atMs: the channel showed exactly the expected value, so
 * every sale made since the confirmation was already seen, and it now shows the value.
 * Sales seen while the write was in flight were made against the new value.
 */
export function recordCasApplied(account: ChannelAccount, atMs: number): ChannelAccount {
  const write = account.pending[0];
  if (write === undefined) return account;
  return {
    ...account,
    confirmed: write.value,
    confirmedAtMs: atMs,
    salesSeenSinceConfirm: Math.max(0, account.salesSeenSinceConfirm - write.salesSeenAtSend),
    pending: account.pending.slice(1),
  };
}

/**
 * The CAS write in flight lost (the channel's count was not the expected one) and the
 * channel was read: it shows `shown` at atMs. The difference between what the ledger thought
 * it showed and what it shows is sales made on it that the ledger has not seen: they move
 * into an unseen bucket (exact, no expiry) until they arrive.
 */
export function recordCasStale(account: ChannelAccount, read: { shown: number; atMs: number }): ChannelAccount {
  const discovered = Math.max(0, shownEstimate(account) - read.shown);
  const bucket: UnseenSales = { units: discovered, madeAfterMs: account.confirmedAtMs, madeUntilMs: read.atMs, expiresAtMs: null };
  return {
    ...account,
    confirmed: read.shown,
    confirmedAtMs: read.atMs,
    salesSeenSinceConfirm: 0,
    unseenBefore: discovered > 0 ? [...account.unseenBefore, bucket] : account.unseenBefore,
    pending: account.pending.slice(1),
  };
}

/**
 * The channel reported showing `shown` at shownAtMs (its own time: Amazon's
 * LISTINGS_ITEM_MFN_QUANTITY_CHANGE, a read), with every pending write sent at or before
 * appliedThroughSentAtMs now in effect. Sales made before shownAtMs and not yet seen are
 * bounded by what the channel could sell in that time (the confirmed value and each applied
 * write, in full: `sellableSince`) less what it shows now and what was seen; on an absolute
 * channel that bound lasts one delivery-lag bound, after which such a sale is late.
 *
 * The report may be taken after sales made since shownAtMs were seen (the daemon waits one
 * delivery-lag bound before it trusts a report's order). Seen sales beyond the drop the
 * report explains (sellableSince − shown) cannot have been made before it: they stay
 * counted against the new value. Either way exposure after the report is sellableSince −
 * sales seen (+ later pending writes); dropping them would overstate it by exactly those
 * units, which starves the other channels near the tail. A report above sellableSince (a
 * hand edit: the channel's count was reset) keeps none: the sales seen may have been made
 * before the reset.
 */
export function recordShownReport(
  account: ChannelAccount,
  report: { shown: number; shownAtMs: number; appliedThroughSentAtMs: number; deliveryLagBoundMs: number },
): ChannelAccount {
  const applied = account.pending.filter((write) => write.sentAtMs <= report.appliedThroughSentAtMs);
  const sellableSince = account.confirmed + sum(applied.map((write) => write.value));
  const explained = sellableSince - report.shown;
  const unseen = Math.max(0, explained - account.salesSeenSinceConfirm);
  const seenSince = explained >= 0 ? Math.max(0, account.salesSeenSinceConfirm - explained) : 0;
  const expiresAtMs = account.writeKind === 'absolute' ? report.shownAtMs + report.deliveryLagBoundMs : null;
  const bucket: UnseenSales = { units: unseen, madeAfterMs: account.confirmedAtMs, madeUntilMs: report.shownAtMs, expiresAtMs };
  return {
    ...account,
    confirmed: report.shown,
    confirmedAtMs: report.shownAtMs,
    salesSeenSinceConfirm: seenSince,
    unseenBefore: unseen > 0 ? [...account.unseenBefore, bucket] : account.unseenBefore,
    pending: account.pending.filter((write) => write.sentAtMs > report.appliedThroughSentAtMs),
    stuckSinceMs: null,
  };
}

/** Per channel, how long its blind windows are and when it counts as stuck. */
export interface ChannelTiming {
  /** A sale reaches the ledger within this long after it was made (the delivery-lag bound). */
  deliveryLagBoundMs: number;
  /** absolute: a write is in effect within this long. cas: the round trip of one compare-and-set. */
  applyLagBoundMs: number;
  /**
   * A write not confirmed this long after it was sent is written off: the channel is taken
   * to show its last confirmed value and the account is flagged stuck (alert). Without it a
   * channel that stops confirming would hold its pending value out of every other channel
   * for ever. If the write does apply later, what it sells beyond the ledger is not bounded.
   */
  confirmTimeoutMs: number;
}

/**
 * The account as of nowMs: absolute buckets past their delivery-lag bound are dropped, and
 * pending writes older than confirmTimeoutMs are written off with the stuck flag set.
 */
export function settleAccount(account: ChannelAccount, nowMs: number, timing: ChannelTiming): ChannelAccount {
  const unseenBefore = account.unseenBefore.filter((bucket) => bucket.expiresAtMs === null || bucket.expiresAtMs > nowMs);
  const timedOut = account.pending.filter((write) => nowMs - write.sentAtMs > timing.confirmTimeoutMs);
  if (timedOut.length === 0 && unseenBefore.length === account.unseenBefore.length) return account;
  return {
    ...account,
    unseenBefore,
    pending: account.pending.filter((write) => nowMs - write.sentAtMs <= timing.confirmTimeoutMs),
    stuckSinceMs: timedOut.length > 0 ? (account.stuckSinceMs ?? nowMs) : account.stuckSinceMs,
  };
}

// ---------------------------------------------------------------- modes

export type AllocationMode = { kind: 'shared' } | { kind: 'strict' } | { kind: 'budget'; budget: number } | { kind: 'auto' };

/**
 * 'shared' | 'strict' | 'budget:N' (N a whole number ≥ 0) | 'auto'. Anything else throws
 * with the accepted forms, so a bad catalogue or setting fails at start-up, not at a sale.
 */
export function parseAllocationMode(text: string): AllocationMode {
  const trimmed = text.trim();
  if (trimmed === 'shared' || trimmed === 'strict' || trimmed === 'auto') return { kind: trimmed };
  const budget = /^budget:(.*)$/.exec(trimmed);
  if (budget) {
    const raw = budget[1]!.trim();
    if (!/^-?\d+$/.test(raw)) throw new Error(`allocation mode ${JSON.stringify(text)}: the budget must be a whole number of units, e.g. budget:5`);
    const units = Number(raw);
    if (units < 0) throw new Error(`allocation mode ${JSON.stringify(text)}: the budget cannot be negative (it is how many units the channels may oversell together); use budget:0 or strict`);
    if (!Number.isSafeInteger(units)) throw new Error(`allocation mode ${JSON.stringify(text)}: the budget is too large`);
    return { kind: 'budget', budget: units };
  }
  throw new Error(`allocation mode ${JSON.stringify(text)} is not one of shared, strict, budget:N (N ≥ 0 units), auto`);
}

export function formatAllocationMode(mode: AllocationMode): string {
  return mode.kind === 'budget' ? `budget:${mode.budget}` : mode.kind;
}

/** The auto rule's knobs. */
export interface AutoRule {
  /** Strict below k × Σ_c velocity_c × blind window_c (default 8: chosen on the allocation benchmark, docs/allocation.md). */
  k: number;
  /** Strict below this many units whatever the velocities (default 20): no data at a sale's start. */
  minUnits: number;
  /** Back to shared only above hysteresis × the threshold (default 2), so it does not flap. */
  hysteresis: number;
}

export const DEFAULT_AUTO_RULE: Readonly<AutoRule> = Object.freeze({ k: 8, minUnits: 20, hysteresis: 2 });

/**
 * A channel's blind window at a given velocity: how long a sale stays unseen plus how long a
 * write takes to be in effect.
 * - absolute: delivery-lag bound + apply-lag bound.
 * - cas: delivery-lag bound + the time a compare-and-set takes to win. A CAS wins only if no
 *   sale lands on the channel during its round trip (applyLagBoundMs for a CAS channel), so
 *   at v sales/s it needs about e^(v × RTT) attempts of one RTT each: at 6 sales/s and
 *   200 ms that is 0.7 s, at 60 sales/s hours. A fast-selling CAS channel cannot be brought
 *   down by writes, only by its own sales; auto must not count on it (capped at 1 day).
 */
export function blindWindowMs(timing: ChannelTiming, writeKind: WriteKind, velocityPerSec: number): number {
  if (writeKind === 'absolute') return timing.deliveryLagBoundMs + timing.applyLagBoundMs;
  const roundTripMs = timing.applyLagBoundMs;
  const attempts = Math.exp(Math.min(20, Math.max(0, velocityPerSec) * (roundTripMs / 1000)));
  return timing.deliveryLagBoundMs + Math.min(86_400_000, roundTripMs * attempts);
}

/** What auto decided last time for a SKU; the pusher keeps it and passes it back. */
export interface AutoState {
  readonly strict: boolean;
  /** The threshold in units it compared free stock with. */
  readonly thresholdUnits: number;
}

/**
 * The auto rule: strict when free stock (available − holdback) is below
 * threshold = max(minUnits, k × Σ_c velocity_c × blind window_c), i.e. when the channels
 * could sell a k-th of it before the ledger and the channels catch up. Far above it every
 * channel may be shown everything (shared): together they cannot sell enough in one blind
 * window to reach the tail.
 * Once strict, the threshold never shrinks (a channel shown less sells less, and a velocity
 * measured while it was starved, or while its sales are still on their way, is no evidence
 * that it is slow), and auto goes back to shared only above hysteresis × that threshold:
 * after a restock, never because the velocity estimate fell.
 */
export function autoDecision(input: {
  available: number;
  holdback: number;
  channels: readonly { velocityPerSec: number; timing: ChannelTiming; account: { writeKind: WriteKind } }[];
  rule?: AutoRule;
  previous?: AutoState | null;
}): AutoState {
  const rule = input.rule ?? DEFAULT_AUTO_RULE;
  const blindSales = sum(
    input.channels.map((channel) => Math.max(0, channel.velocityPerSec) * (blindWindowMs(channel.timing, channel.account.writeKind, channel.velocityPerSec) / 1000)),
  );
  const measured = Math.max(rule.minUnits, rule.k * blindSales);
  const free = Math.max(0, input.available - input.holdback);
  if (input.previous?.strict) {
    const thresholdUnits = Math.max(measured, input.previous.thresholdUnits);
    return { strict: free < thresholdUnits * rule.hysteresis, thresholdUnits };
  }
  return { strict: free < measured, thresholdUnits: measured };
}

// ---------------------------------------------------------------- targets

/**
 * Splits `units` across channels in proportion to `weights`, none above its cap: water-
 * filling (a capped channel's remainder goes to the others), then whole units by largest
 * remainder, ties to the earlier channel. Σ result ≤ units; each result ≤ its cap.
 */
export function splitByWeight(units: number, weights: readonly number[], caps: readonly number[]): number[] {
  const shares = weights.map(() => 0);
  let open = weights.map((weight, index) => weight > 0 && caps[index]! > 0);
  let left = units;
  // At most one pass per channel: each pass either caps a channel or settles the rest.
  for (let pass = 0; pass <= weights.length && left > 0; pass++) {
    const totalWeight = sum(weights.filter((_, index) => open[index]));
    if (totalWeight <= 0) break;
    const capped = open.map((isOpen, index) => isOpen && (left * weights[index]!) / totalWeight >= caps[index]!);
    if (!capped.some(Boolean)) {
      const exact = weights.map((weight, index) => (open[index] ? (left * weight) / totalWeight : 0));
      const whole = exact.map(Math.floor);
      let rest = left - sum(whole);
      const order = exact.map((value, index) => ({ index, fraction: value - whole[index]! })).filter(({ index }) => open[index]);
      order.sort((a, b) => b.fraction - a.fraction || a.index - b.index);
      for (const { index } of order) {
        if (rest <= 0) break;
        whole[index]! += 1;
        rest -= 1;
      }
      whole.forEach((value, index) => (shares[index]! += value));
      break;
    }
    capped.forEach((isCapped, index) => {
      if (!isCapped) return;
      shares[index] = caps[index]!;
      left -= caps[index]!;
    });
    open = open.map((isOpen, index) => isOpen && !capped[index]);
  }
  return shares;
}

/** Below this share of the mean weight a channel's velocity is raised to it: see strictTargets. */
const MIN_WEIGHT_SHARE = 0.05;

/**
 * Strict targets: the pool (free stock + budget) split in proportion to recent sales
 * velocity, each channel capped by its policy applied to the whole pool (percent, maximum
 * shown, safety), and a share below the channel's floor given to the others. Every channel
 * keeps at least 5 % of the mean weight, so one that sold nothing lately (perhaps because
 * it was shown 0) still gets a share and can show that it sells. No velocity anywhere
 * (a sale's first seconds): equal shares.
 */
export function strictTargets(pool: number, channels: readonly { policy: ChannelPolicy; velocityPerSec: number }[]): number[] {
  const velocities = channels.map((channel) => (Number.isFinite(channel.velocityPerSec) ? Math.max(0, channel.velocityPerSec) : 0));
  const mean = sum(velocities) / Math.max(1, channels.length);
  const weights = mean > 0 ? velocities.map((velocity) => Math.max(velocity, MIN_WEIGHT_SHARE * mean)) : channels.map(() => 1);
  const caps = channels.map((channel) => sellable({ onHand: pool, reserved: 0, holdback: 0 }, { ...channel.policy, floor: 0 }));
  const belowFloor = channels.map(() => false);
  for (;;) {
    const shares = splitByWeight(pool, weights.map((weight, index) => (belowFloor[index] ? 0 : weight)), caps);
    const newlyBelow = shares.map((share, index) => !belowFloor[index] && share > 0 && share < channels[index]!.policy.floor);
    if (!newlyBelow.some(Boolean)) return shares.map((share, index) => (belowFloor[index] ? 0 : share));
    newlyBelow.forEach((below, index) => (belowFloor[index] = belowFloor[index] || below));
  }
}

// ---------------------------------------------------------------- allocate

export interface ChannelInput {
  readonly id: string;
  readonly account: ChannelAccount;
  readonly policy: ChannelPolicy;
  /** Recent sales per second on this channel (e.g. salesRatePerSecond from dynamicHoldback.ts). */
  readonly velocityPerSec: number;
  /**
   * The same over the last few seconds when higher (burstRatePerSecond): auto's switch
   * reads it, so the first seconds of a flash sale turn the SKU strict at once. The strict
   * split keeps the steadier velocityPerSec. Default: velocityPerSec.
   */
  readonly burstVelocityPerSec?: number;
  readonly timing: ChannelTiming;
}

export interface AllocationInput {
  readonly mode: AllocationMode;
  /** on_hand − reserved; may be negative (oversold). */
  readonly available: number;
  /** Static + dynamic holdback, withheld from every channel's target. */
  readonly holdback: number;
  readonly nowMs: number;
  readonly channels: readonly ChannelInput[];
  readonly autoRule?: AutoRule;
  /** Allocation.auto from the previous call for this SKU (auto's hysteresis); null at first. */
  readonly autoPrevious?: AutoState | null;
}

export type Direction = 'decrease' | 'increase' | 'hold';

export interface ChannelDecision {
  readonly id: string;
  /** What the channel should show now. */
  readonly target: number;
  /** What it will show once everything sent is in effect (before further sales). */
  readonly intended: number;
  /** Send `value` now? When false, `reason` says why (waits for slack, a write in flight, …). */
  readonly send: boolean;
  /** The value to send: the target, or less when only part of a raise fits the slack. */
  readonly value: number;
  /** For a CAS write: the count the channel should have now (changeFromQuantity). */
  readonly expected: number;
  readonly direction: Direction;
  readonly reason: string;
  /** exposure_c before this decision, and after it if sent. */
  readonly exposure: number;
  readonly exposureAfter: number;
  /** The settled account (buckets expired, stuck writes written off): store it back. */
  readonly account: ChannelAccount;
  /** A write outlived confirmTimeoutMs: raise the channel-stuck alert. */
  readonly stuck: boolean;
}

export interface Allocation {
  /** The rule applied: shared, or bounded with its budget (strict is budget 0). */
  readonly applied: { kind: 'shared' } | { kind: 'bounded'; budget: number };
  /** For auto: what it decided (pass back as autoPrevious); null in other modes. */
  readonly auto: AutoState | null;
  /** available + budget, the bound on Σ exposure (Infinity when shared). */
  readonly limit: number;
  readonly exposureBefore: number;
  readonly exposureAfter: number;
  /** Decreases first, then increases, then holds: send in this order. */
  readonly decisions: readonly ChannelDecision[];
}

/** The bound a mode enforces, or null for shared; auto resolves by autoUsesStrict. */
function resolveMode(input: AllocationInput): { budget: number | null; auto: AutoState | null } {
  switch (input.mode.kind) {
    case 'shared':
      return { budget: null, auto: null };
    case 'strict':
      return { budget: 0, auto: null };
    case 'budget':
      return { budget: input.mode.budget, auto: null };
    case 'auto': {
      const channels = input.channels.map((channel) => ({ ...channel, velocityPerSec: Math.max(channel.velocityPerSec, channel.burstVelocityPerSec ?? 0) }));
      const auto = autoDecision({ available: input.available, holdback: input.holdback, channels, rule: input.autoRule, previous: input.autoPrevious });
      return { budget: auto.strict ? 0 : null, auto };
    }
  }
}

/** How much exposure_c grows if `value` is written now (may be ≤ 0). */
function exposureAfterSend(account: ChannelAccount, value: number, nowMs: number): number {
  return exposureOf(recordWriteSent(account, { value, sentAtMs: nowMs }));
}

interface Draft {
  channel: ChannelInput;
  account: ChannelAccount;
  target: number;
  intended: number;
  exposure: number;
  direction: Direction;
}

function direction(target: number, intended: number): Direction {
  return target < intended ? 'decrease' : target > intended ? 'increase' : 'hold';
}

/**
 * What each channel should show and which writes may go out now.
 *
 * shared: target_c = sellable(c) = policy_c(max(0, available − holdback)); every change is
 *   sent (one CAS write in flight per channel). Exposure is reported, not bounded.
 * strict / budget:N: targets split the pool max(0, available − holdback) + N by velocity
 *   (strictTargets). A write goes out only if Σ exposure after it stays ≤ available + N:
 *   - decreases first: free on a CAS channel; on an absolute channel the new value counts in
 *     full until confirmed, so it goes out if it fits, or as 0 (which adds nothing) when the
 *     SKU is already over its bound; otherwise the channel keeps its value and sells it down;
 *   - then increases, fastest channel first: the whole raise if it fits, else as much as
 *     fits (a CAS raise costs its difference; an absolute one its full value); else it waits
 *     for slack, which returns as sales arrive, writes confirm and unseen buckets expire.
 * auto: shared or strict by autoUsesStrict. Entering strict from shared finds the SKU over
 *   its bound; decreases then go out at their targets even on absolute channels (a 0 would
 *   stop a channel that is still selling well): auto bounds exposure from then on, not at
 *   the switch itself (docs/allocation.md).
 */
export function allocate(input: AllocationInput): Allocation {
  const { budget, auto } = resolveMode(input);
  const accounts = input.channels.map((channel) => settleAccount(channel.account, input.nowMs, channel.timing));
  const exposures = accounts.map(exposureOf);
  const exposureBefore = sum(exposures);
  const free = Math.max(0, input.available - input.holdback);
  const targets =
    budget === null
      ? input.channels.map((channel) => sellable({ onHand: free, reserved: 0, holdback: 0 }, channel.policy))
      : strictTargets(free + budget, input.channels);
  const drafts: Draft[] = input.channels.map((channel, index) => {
    const account = accounts[index]!;
    const intended = intendedValue(account);
    return { channel, account, target: targets[index]!, intended, exposure: exposures[index]!, direction: direction(targets[index]!, intended) };
  });
  const limit = budget === null ? Number.POSITIVE_INFINITY : input.available + budget;
  const entering = input.mode.kind === 'auto';
  // Over the bound in strict or budget:N, the compare-and-set channels take the excess
  // first (casAbsorbs): their decrease is exact and in effect within one round trip, while
  // an absolute channel's 0 takes an apply lag and strands what it held until it is raised.
  const absorbedByCas = budget === null || entering ? 0 : casAbsorbs(drafts, exposureBefore - limit);
  // Decreases before increases; among increases the fastest channel first (it would sell the
  // slack soonest); holds last. Stable, so equal channels keep their input order.
  const rank = (draft: Draft) => (draft.direction === 'decrease' ? 0 : draft.direction === 'increase' ? 1 : 2);
  const ordered = [...drafts].sort((a, b) => rank(a) - rank(b) || (a.direction === 'increase' ? b.channel.velocityPerSec - a.channel.velocityPerSec : 0));
  let total = exposureBefore;
  const decisions = ordered.map((draft) => {
    const decision = budget === null ? decideShared(draft, input.nowMs) : decideBounded(draft, input.nowMs, limit - total, entering, exposureBefore - absorbedByCas <= limit);
    total += decision.exposureAfter - decision.exposure;
    return decision;
  });
  return { applied: budget === null ? { kind: 'shared' } : { kind: 'bounded', budget }, auto, limit, exposureBefore, exposureAfter: total, decisions };
}

function decision(draft: Draft, send: boolean, value: number, reason: string, nowMs: number): ChannelDecision {
  return {
    id: draft.channel.id,
    target: draft.target,
    intended: draft.intended,
    send,
    value,
    expected: shownEstimate(draft.account),
    direction: draft.direction,
    reason,
    exposure: draft.exposure,
    exposureAfter: send ? exposureAfterSend(draft.account, value, nowMs) : draft.exposure,
    account: draft.account,
    stuck: draft.account.stuckSinceMs !== null,
  };
}

/** A CAS channel takes one write at a time: the next is computed from the answer to this one. */
function casBusy(draft: Draft): boolean {
  return draft.account.writeKind === 'cas' && draft.account.pending.length > 0;
}

function decideShared(draft: Draft, nowMs: number): ChannelDecision {
  if (draft.direction === 'hold') return decision(draft, false, draft.target, 'already shown', nowMs);
  if (casBusy(draft)) return decision(draft, false, draft.target, 'a compare-and-set write is in flight', nowMs);
  return decision(draft, true, draft.target, 'shared: every channel is shown sellable(c)', nowMs);
}

/** Auto over its bound: an absolute channel is sent a decrease only to ≤ 90 % of its last value. */
const ABSOLUTE_SHED_STEP = 0.9;

/**
 * Auto, over its bound (it has just left shared): bring the channel down towards its share.
 * A CAS channel is sent its target. An absolute write applies up to one apply lag later,
 * and the channel keeps selling until then, sales the write then erases from its count: so
 * it is sent its target less what it sells in one apply lag (0 near the tail, where that
 * is more than its share), and only in steps of at least a tenth, since every absolute
 * write counts in full until confirmed and one per tick would keep the SKU over its bound.
 */
function shedOverBound(draft: Draft, nowMs: number): ChannelDecision {
  if (draft.account.writeKind === 'cas') return decision(draft, true, draft.target, 'over the bound: decrease to the target (auto)', nowMs);
  const soldBeforeApply = Math.ceil(Math.max(0, draft.channel.velocityPerSec) * (draft.channel.timing.applyLagBoundMs / 1000));
  const value = Math.max(0, draft.target - soldBeforeApply);
  if (value === 0 && draft.intended > 0) return decision(draft, true, 0, 'over the bound: 0, the channel would sell its share before a write applies (auto)', nowMs);
  if (value <= Math.floor(draft.intended * ABSOLUTE_SHED_STEP)) return decision(draft, true, value, 'over the bound: target less one apply lag of sales (auto)', nowMs);
  return decision(draft, false, draft.target, 'over the bound: an absolute decrease waits until it is at least a tenth', nowMs);
}

function decideBounded(draft: Draft, nowMs: number, slack: number, enteringFromShared: boolean, casCoversExcess: boolean): ChannelDecision {
  if (draft.direction === 'hold') return decision(draft, false, draft.target, 'already shown', nowMs);
  if (casBusy(draft)) return decision(draft, false, draft.target, 'a compare-and-set write is in flight', nowMs);
  const cost = (value: number) => exposureAfterSend(draft.account, value, nowMs) - draft.exposure;
  if (cost(draft.target) <= slack) return decision(draft, true, draft.target, 'fits the bound', nowMs);
  if (draft.direction === 'decrease') {
    if (slack < 0) {
      // Over the bound (a ledger change outside the channels, sales booked before the
      // channel's report of them, or auto entering strict).
      if (enteringFromShared) return shedOverBound(draft, nowMs);
      // A CAS decrease adds nothing while in flight and takes the excess off once it wins.
      if (draft.account.writeKind === 'cas') return decision(draft, true, draft.target, 'over the bound: decrease to the target (compare-and-set, exact)', nowMs);
      if (casCoversExcess) return decision(draft, false, draft.target, 'over the bound: the compare-and-set channels take the excess; the absolute channel sells its value down', nowMs);
      return decision(draft, true, 0, 'over the bound: 0 adds no exposure until the channel can be raised again', nowMs);
    }
    return decision(draft, false, draft.target, 'an absolute write counts in full: the channel sells its value down instead', nowMs);
  }
  const partial = largestFitting(draft, cost, slack);
  if (partial !== null) return decision(draft, true, partial, 'part of the raise fits the bound', nowMs);
  return decision(draft, false, draft.target, 'waits for slack', nowMs);
}

/**
 * Over the bound by `excess` units: lowers the targets of the compare-and-set channels so
 * that, once their decreases win, Σ exposure is back within the bound, taking from each
 * what it shows (the first channel first; a channel already below its shown value counts
 * what its target takes off). Mutates the drafts' targets and directions. Returns the units
 * their decreases take off Σ exposure; when that is less than the excess, the absolute
 * channels are sent 0 as before. An absolute decrease cannot help sooner: its value counts
 * in full until the channel reports it, one apply lag and one delivery lag later.
 */
function casAbsorbs(drafts: Draft[], excess: number): number {
  if (excess <= 0) return 0;
  let absorbed = 0;
  for (const draft of drafts) {
    if (draft.account.writeKind !== 'cas') continue;
    const shown = shownEstimate(draft.account);
    const already = Math.max(0, shown - draft.target);
    const extra = Math.min(Math.max(0, excess - absorbed - already), Math.max(0, shown - already));
    const target = Math.min(draft.target, shown - extra);
    if (target < draft.target) {
      draft.target = target;
      draft.direction = direction(target, draft.intended);
    }
    absorbed += Math.max(0, shown - draft.target);
    if (absorbed >= excess) break;
  }
  return absorbed;
}

/** The largest value above the intended one whose cost fits the slack, or null. Cost grows with the value. */
function largestFitting(draft: Draft, cost: (value: number) => number, slack: number): number | null {
  let low = draft.intended + 1;
  let high = draft.target - 1;
  let best: number | null = null;
  while (low <= high) {
    const middle = Math.floor((low + high) / 2);
    if (cost(middle) <= slack) {
      best = middle;
      low = middle + 1;
    } else high = middle - 1;
  }
  return best;
}
