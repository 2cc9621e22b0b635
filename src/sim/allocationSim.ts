// A deterministic, seeded discrete-event simulator of one SKU sold on several channels,
// to prove the allocation (src/domain/allocation.ts, I8) and to benchmark its modes.
// Pure: no Redis, no timers, no Date.now. The pusher loop below calls the real allocate()
// and keeps the real ChannelAccount per channel; the channels, buyers and the ledger are
// modelled here:
//   - buyers arrive per channel as a Poisson process and buy one unit at what the channel
//     shows (channels enforce what they show);
//   - a sale reaches the ledger after its channel's delivery lag (uniform, bounded), except
//     a `lateProbability` share that arrives after the bound on purpose;
//   - the ledger reserves every sale; a sale beyond on_hand is oversold (recorded, never
//     dropped);
//   - CAS writes (Shopify changeFromQuantity) are decided when they reach the channel (after
//     the apply lag, the request latency) and answered at once: won, or stale with the
//     channel's count read back;
//   - absolute writes (Amazon PATCH) replace the channel's count after the apply lag, in the
//     order they were sent, and the channel reports the new count at that moment; a channel
//     with `confirms: false` accepts writes and never applies them (stuck).
// Times are real numbers of ms (buyers arrive at continuous times, so events do not tie).
import {
  type AllocationMode,
  allocate,
  type AutoState,
  type ChannelAccount,
  type ChannelTiming,
  exposureOf,
  openAccount,
  recordCasApplied,
  recordCasStale,
  recordSaleSeen,
  recordShownReport,
  recordWriteSent,
  settleAccount,
  type WriteKind,
} from '../domain/allocation.ts';
import { seededRandom } from '../domain/random.ts';
import { type ChannelPolicy, DEFAULT_POLICY } from '../domain/sellable.ts';

export interface LagRange {
  minMs: number;
  maxMs: number;
}

export interface SimChannel {
  id: string;
  writeKind: WriteKind;
  /** Buyers per second arriving at this channel (true demand). */
  buyersPerSec: number;
  /** Sale → ledger delay; maxMs is the channel's delivery-lag bound. */
  deliveryLag: LagRange;
  /** Share of sales (0..1) that arrive after the bound, by lateExtra beyond it. */
  lateProbability?: number;
  lateExtra?: LagRange;
  /** Absolute: send → in effect (and reported). CAS: send → decided at the channel. */
  applyLag: LagRange;
  policy?: ChannelPolicy;
  /** The pusher sends to this channel at most once per interval (rate limits). Default 0. */
  minWriteIntervalMs?: number;
  /** false: an absolute channel that accepts writes and never applies them. Default true. */
  confirms?: boolean;
  /**
   * Sales per second the pusher expects before it has measured any (a hot SKU's history).
   * It fills the part of the velocity window not yet observed. Default 0.
   */
  velocityPrior?: number;
  /** What the channel shows at time 0 (confirmed). Default: allocate()'s target at time 0. */
  initialShown?: number;
}

export interface SimSchedule {
  seed: number;
  /** on_hand at time 0; nothing reserved. */
  stock: number;
  holdback?: number;
  mode: AllocationMode;
  channels: SimChannel[];
  /** Buyers arrive during [0, horizonMs); the run continues until every sale has arrived. */
  horizonMs: number;
  /** The pusher runs every tickMs. */
  tickMs: number;
  /** Written off after this long unconfirmed (ChannelTiming.confirmTimeoutMs). Default 10 × max apply lag + 1 s. */
  confirmTimeoutMs?: number;
  /** Velocity window for the allocation (seen sales per second). Default 10 s. */
  velocityWindowMs?: number;
  /** Check the accounting against the ground truth after every event (tests). Default false. */
  audit?: boolean;
  /** Called with a line per pusher tick that sent something (debugging a schedule). */
  trace?: (line: string) => void;
}

export interface SimResult {
  /** Units bought on the channels (each one reached the ledger by the end). */
  sold: number;
  /** Of those, reserved beyond on_hand: lines with a shortfall, as the ledger records them. */
  oversold: number;
  /** Ground truth from the channels: max(0, units bought − stock). Equals oversold by the end. */
  oversoldTruth: number;
  /** Oversold units that late sales (absolute channels, after their bound) account for: min(oversold, late). */
  lagOversold: number;
  /** Sales on absolute channels that reached the ledger after their delivery-lag bound. */
  lateUnits: number;
  /** min(sold, stock) ÷ stock. */
  sellThrough: number;
  /** Units still available at the end, although buyers kept coming until the horizon. */
  stranded: number;
  /** From the last sale made to the last write sent or confirmed (ms, ≥ 0). */
  timeToQuietMs: number;
  /** Largest Σ exposure − (available + budget) seen after a pusher tick (bounded modes); ≤ 0 is I8. */
  maxExcess: number;
  /** Audit: times a channel's accounted exposure was below its true exposure (only checked before any late sale or write-off). */
  accountingMisses: number;
  /** Channels whose writes were written off (stuck alert). */
  stuckChannels: string[];
  writes: number;
  /** Time the run ended (ms). */
  endMs: number;
}

type SimEvent =
  | { kind: 'buyer'; channel: number }
  | { kind: 'arrive'; channel: number; soldAtMs: number; late: boolean }
  | { kind: 'casDecide'; channel: number; expected: number; value: number }
  | { kind: 'absApply'; channel: number; value: number; sentAtMs: number }
  | { kind: 'tick' };

interface Queued {
  atMs: number;
  seq: number;
  event: SimEvent;
}

/** A binary min-heap on (atMs, seq): deterministic order for equal times. */
class EventQueue {
  private readonly heap: Queued[] = [];
  private seq = 0;

  push(atMs: number, event: SimEvent): void {
    this.heap.push({ atMs, seq: this.seq++, event });
    let index = this.heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.before(this.heap[index]!, this.heap[parent]!)) break;
      [this.heap[index], this.heap[parent]] = [this.heap[parent]!, this.heap[index]!];
      index = parent;
    }
  }

  pop(): Queued | undefined {
    const top = this.heap[0];
    const last = this.heap.pop();
    if (top === undefined || last === undefined || this.heap.length === 0) return top;
    this.heap[0] = last;
    let index = 0;
    for (;;) {
      const left = index * 2 + 1;
      const right = left + 1;
      let smallest = index;
      if (left < this.heap.length && this.before(this.heap[left]!, this.heap[smallest]!)) smallest = left;
      if (right < this.heap.length && this.before(this.heap[right]!, this.heap[smallest]!)) smallest = right;
      if (smallest === index) return top;
      [this.heap[index], this.heap[smallest]] = [this.heap[smallest]!, this.heap[index]!];
      index = smallest;
    }
  }

  get size(): number {
    return this.heap.length;
  }

  private before(a: Queued, b: Queued): boolean {
    return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
  }
}

/** The channel as the buyers see it. */
interface ChannelTruth {
  count: number;
  /** Sales made and not yet arrived at the ledger. */
  inTransit: number;
  /** CAS write on its way: decided at the channel later. */
  casInFlight: { expected: number; value: number } | null;
  /** Absolute writes accepted and not yet applied, in order. */
  unapplied: { value: number; sentAtMs: number }[];
  lastApplyAtMs: number;
}

/** The pusher's side of a channel. */
interface ChannelPusher {
  account: ChannelAccount;
  timing: ChannelTiming;
  policy: ChannelPolicy;
  lastWriteAtMs: number;
  /** Arrival times of seen sales; those before arrivalsStart left the velocity window. */
  arrivals: number[];
  arrivalsStart: number;
}

export function runAllocationSim(schedule: SimSchedule): SimResult {
  const random = seededRandom(schedule.seed);
  const uniform = (range: LagRange) => range.minMs + random() * (range.maxMs - range.minMs);
  const maxApply = Math.max(0, ...schedule.channels.map((channel) => channel.applyLag.maxMs));
  const confirmTimeoutMs = schedule.confirmTimeoutMs ?? maxApply * 10 + 1_000;
  const velocityWindowMs = schedule.velocityWindowMs ?? 10_000;
  const holdback = schedule.holdback ?? 0;
  const budget = schedule.mode.kind === 'budget' ? schedule.mode.budget : 0;

  const queue = new EventQueue();
  const truth: ChannelTruth[] = schedule.channels.map(() => ({ count: 0, inTransit: 0, casInFlight: null, unapplied: [], lastApplyAtMs: 0 }));
  const pushers: ChannelPusher[] = schedule.channels.map((channel) => ({
    account: openAccount(channel.writeKind, 0, 0),
    timing: {
      deliveryLagBoundMs: channel.deliveryLag.maxMs,
      applyLagBoundMs: channel.applyLag.maxMs,
      confirmTimeoutMs,
    },
    policy: channel.policy ?? DEFAULT_POLICY,
    lastWriteAtMs: Number.NEGATIVE_INFINITY,
    arrivals: [],
    arrivalsStart: 0,
  }));
  let reserved = 0;
  let oversold = 0;
  let sold = 0;
  let lateUnits = 0;
  let lateSeen = false;
  let writes = 0;
  let maxExcess = Number.NEGATIVE_INFINITY;
  let accountingMisses = 0;
  let lastSaleAtMs = 0;
  let lastWriteActivityMs = 0;
  let autoPrevious: AutoState | null = null;
  const stuck = new Set<string>();

  const velocity = (index: number, nowMs: number): number => {
    const pusher = pushers[index]!;
    while (pusher.arrivalsStart < pusher.arrivals.length && pusher.arrivals[pusher.arrivalsStart]! <= nowMs - velocityWindowMs) pusher.arrivalsStart += 1;
    // Until a whole window has been observed, the prior stands in for the part not yet seen.
    const unobservedMs = Math.max(0, velocityWindowMs - nowMs);
    const prior = (schedule.channels[index]!.velocityPrior ?? 0) * (unobservedMs / 1000);
    return (pusher.arrivals.length - pusher.arrivalsStart + prior) / (velocityWindowMs / 1000);
  };

  const runPusher = (nowMs: number) => {
    const result = allocate({
      mode: schedule.mode,
      available: schedule.stock - reserved,
      holdback,
      nowMs,
      autoPrevious,
      channels: schedule.channels.map((channel, index) => ({
        id: channel.id,
        account: pushers[index]!.account,
        policy: pushers[index]!.policy,
        velocityPerSec: velocity(index, nowMs),
        timing: pushers[index]!.timing,
      })),
    });
    autoPrevious = result.auto;
    if (schedule.trace && result.decisions.some((decision) => decision.send)) {
      const shown = truth.map((state) => state.count).join('/');
      const sent = result.decisions.map((decision) => `${decision.id} ${decision.intended}→${decision.target}${decision.send ? ` sent ${decision.value}` : ''} e=${decision.exposure}`);
      schedule.trace(`${nowMs.toFixed(0)}ms available ${schedule.stock - reserved} ${result.applied.kind}${result.auto?.strict ? ' (auto strict)' : ''} Σe ${result.exposureBefore}→${result.exposureAfter} shown ${shown}: ${sent.join('; ')}`);
    }
    for (const decision of result.decisions) {
      const index = schedule.channels.findIndex((channel) => channel.id === decision.id);
      const pusher = pushers[index]!;
      const channel = schedule.channels[index]!;
      pusher.account = decision.account;
      if (decision.stuck) stuck.add(channel.id);
      if (!decision.send || nowMs - pusher.lastWriteAtMs < (channel.minWriteIntervalMs ?? 0)) continue;
      pusher.account = recordWriteSent(pusher.account, { value: decision.value, sentAtMs: nowMs });
      pusher.lastWriteAtMs = nowMs;
      lastWriteActivityMs = nowMs;
      writes += 1;
      const lag = uniform(channel.applyLag);
      if (channel.writeKind === 'cas') {
        truth[index]!.casInFlight = { expected: decision.expected, value: decision.value };
        queue.push(nowMs + lag, { kind: 'casDecide', channel: index, expected: decision.expected, value: decision.value });
      } else {
        truth[index]!.unapplied.push({ value: decision.value, sentAtMs: nowMs });
        if (channel.confirms === false) continue;
        // Amazon applies a seller's updates to one SKU in order: never before an earlier one.
        const applyAt = Math.max(nowMs + lag, truth[index]!.lastApplyAtMs);
        truth[index]!.lastApplyAtMs = applyAt;
        queue.push(applyAt, { kind: 'absApply', channel: index, value: decision.value, sentAtMs: nowMs });
      }
    }
    if (result.applied.kind === 'bounded') {
      const total = pushers.reduce((sum, pusher) => sum + exposureOf(settleAccount(pusher.account, nowMs, pusher.timing)), 0);
      maxExcess = Math.max(maxExcess, total - (schedule.stock - reserved + result.applied.budget));
    }
  };

  // The channels start showing what the allocation gives them at time 0, confirmed (pushed
  // before the sale opened), unless the schedule says otherwise.
  const initial = allocate({
    mode: schedule.mode,
    available: schedule.stock,
    holdback,
    nowMs: 0,
    channels: schedule.channels.map((channel, index) => ({ id: channel.id, account: pushers[index]!.account, policy: pushers[index]!.policy, velocityPerSec: velocity(index, 0), timing: pushers[index]!.timing })),
  });
  schedule.channels.forEach((channel, index) => {
    const target = initial.decisions.find((decision) => decision.id === channel.id)!.target;
    const shown = channel.initialShown ?? target;
    truth[index]!.count = shown;
    pushers[index]!.account = openAccount(channel.writeKind, shown, 0);
  });
  autoPrevious = initial.auto;

  const nextBuyer = (index: number, fromMs: number) => {
    const rate = schedule.channels[index]!.buyersPerSec;
    if (!(rate > 0)) return;
    const atMs = fromMs - Math.log(1 - random()) * (1000 / rate);
    if (atMs < schedule.horizonMs) queue.push(atMs, { kind: 'buyer', channel: index });
  };
  schedule.channels.forEach((_, index) => nextBuyer(index, 0));
  queue.push(schedule.tickMs, { kind: 'tick' });

  const audit = (nowMs: number) => {
    if (lateSeen || stuck.size > 0) return;
    schedule.channels.forEach((channel, index) => {
      const state = truth[index]!;
      let canSell: number;
      if (channel.writeKind === 'cas') {
        const wins = state.casInFlight !== null && state.casInFlight.expected === state.count;
        canSell = wins ? Math.max(state.count, state.casInFlight!.value) : state.count;
      } else {
        canSell = state.count + state.unapplied.reduce((sum, write) => sum + write.value, 0);
      }
      const accounted = exposureOf(settleAccount(pushers[index]!.account, nowMs, pushers[index]!.timing));
      if (accounted < state.inTransit + canSell) accountingMisses += 1;
    });
  };

  let nowMs = 0;
  for (let queued = queue.pop(); queued; queued = queue.pop()) {
    nowMs = queued.atMs;
    const event = queued.event;
    switch (event.kind) {
      case 'buyer': {
        const state = truth[event.channel]!;
        const channel = schedule.channels[event.channel]!;
        if (state.count >= 1) {
          state.count -= 1;
          state.inTransit += 1;
          sold += 1;
          lastSaleAtMs = nowMs;
          const late = random() < (channel.lateProbability ?? 0);
          if (late) lateSeen = true;
          const delay = late ? channel.deliveryLag.maxMs + uniform(channel.lateExtra ?? { minMs: 1, maxMs: channel.deliveryLag.maxMs + 1 }) : uniform(channel.deliveryLag);
          queue.push(nowMs + delay, { kind: 'arrive', channel: event.channel, soldAtMs: nowMs, late });
        }
        nextBuyer(event.channel, nowMs);
        break;
      }
      case 'arrive': {
        const channel = schedule.channels[event.channel]!;
        truth[event.channel]!.inTransit -= 1;
        reserved += 1;
        if (reserved > schedule.stock) oversold += 1;
        const pusher = pushers[event.channel]!;
        // Late by construction (its delay was drawn beyond the bound), not by comparing
        // floating-point times. Only absolute channels count: CAS accounting needs no bound.
        if (event.late && channel.writeKind === 'absolute') lateUnits += 1;
        pusher.account = recordSaleSeen(pusher.account, { units: 1, soldAtMs: event.soldAtMs });
        pusher.arrivals.push(nowMs);
        break;
      }
      case 'casDecide': {
        const state = truth[event.channel]!;
        const pusher = pushers[event.channel]!;
        state.casInFlight = null;
        if (state.count === event.expected) {
          state.count = event.value;
          pusher.account = recordCasApplied(pusher.account, nowMs);
        } else {
          pusher.account = recordCasStale(pusher.account, { shown: state.count, atMs: nowMs });
        }
        lastWriteActivityMs = nowMs;
        break;
      }
      case 'absApply': {
        const state = truth[event.channel]!;
        const pusher = pushers[event.channel]!;
        state.unapplied.shift();
        state.count = event.value;
        pusher.account = recordShownReport(pusher.account, {
          shown: state.count,
          shownAtMs: nowMs,
          appliedThroughSentAtMs: event.sentAtMs,
          deliveryLagBoundMs: pusher.timing.deliveryLagBoundMs,
        });
        lastWriteActivityMs = nowMs;
        break;
      }
      case 'tick': {
        runPusher(nowMs);
        // Keep ticking while buyers may come or anything is still moving.
        const moving = truth.some((state) => state.inTransit > 0 || state.casInFlight !== null) || queue.size > 0;
        if (nowMs < schedule.horizonMs || moving) queue.push(nowMs + schedule.tickMs, { kind: 'tick' });
        break;
      }
    }
    if (schedule.audit) audit(nowMs);
  }

  const available = schedule.stock - reserved;
  const oversoldTruth = Math.max(0, sold - schedule.stock);
  return {
    sold,
    oversold,
    oversoldTruth,
    lagOversold: Math.min(oversold, lateUnits),
    lateUnits,
    sellThrough: schedule.stock > 0 ? Math.min(sold, schedule.stock) / schedule.stock : 1,
    stranded: Math.max(0, available),
    timeToQuietMs: Math.max(0, lastWriteActivityMs - lastSaleAtMs),
    maxExcess: maxExcess === Number.NEGATIVE_INFINITY ? 0 : maxExcess,
    accountingMisses,
    stuckChannels: [...stuck].sort(),
    writes,
    endMs: nowMs,
  };
}
