// What each channel should show for one SKU, and whether to tell it now: the first half
// of the pushers' walk (the coordinator drains the dirty index and calls decide(); the
// lanes then decide when and how a value is sent, lane.ts).
//
//   shared:               sellable(c) = policy_c(max(0, on_hand − reserved − holdback)),
//                         with resync and drift deciding when an unchanged value is sent
//                         again (src/domain/sellable.ts, src/domain/drift.ts);
//   strict, budget:N, auto: the bounded allocation (allocator.ts over src/domain/allocation.ts).
//
// holdback = static + dynamic; the dynamic holdback is kept in the pushers' own key
// (store.ts), never in the ledger. docs/pushers.md and docs/allocation.md explain the flow.
import type { Catalog } from '../catalog/catalog.ts';
import { allocationModeOf, type CatalogEntry, type SalesChannel } from '../catalog/entry.ts';
import type { PusherSettings } from '../config.ts';
import type { AllocationMode } from '../domain/allocation.ts';
import { bundlesAvailable } from '../domain/bundles.ts';
import { type DriftVerdict, judgeDrift } from '../domain/drift.ts';
import { dynamicHoldback, pruneSales, recordSales, salesRatePerSecond } from '../domain/dynamicHoldback.ts';
import { exposure, sellable } from '../domain/sellable.ts';
import type { Clock } from '../ledger/ledger.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { BoundedAllocator } from './allocator.ts';
import type { PushLane } from './lane.ts';
import type { PushRequest } from './pusher.ts';
import { SALE_LATENCY_TTL_MS } from './saleLatency.ts';
import type { PushStore, SkuPushView } from './store.ts';

export interface ComputeTally {
  offered: number;
  drift: number;
  fbaSkipped: number;
}

export interface DeciderOptions {
  store: PushStore;
  allocator: BoundedAllocator;
  catalog: Catalog;
  lanes: ReadonlyMap<SalesChannel, PushLane>;
  settings: PusherSettings;
  metrics: Metrics;
  logger: Logger;
  clock: Clock;
  /** The SKU's catalogue entry (cached by the coordinator). */
  entryFor(sku: string): Promise<CatalogEntry | undefined>;
  /** Puts SKUs back in the dirty index. */
  requeue(items: ReadonlyArray<{ sku: string; changedAtMs: number }>): Promise<void>;
  /** The bundles that draw on a SKU, with the units of it one bundle holds (empty: none). */
  bundlesUsing?(sku: string): Promise<ReadonlyArray<{ bundle: string; quantity: number }>>;
}

const BUCKET_MS = 1_000;
const JOURNAL_PAGE = 1_000;

export class SkuDecider {
  /** Per SKU, Σ exposure beyond available after the last decision (gauges). */
  readonly exposures = new Map<string, number>();
  /** Per bounded SKU, exposure_c per channel after the last decision (gauges). */
  readonly channelExposures = new Map<string, Partial<Record<SalesChannel, number>>>();
  /** Per SKU, the dynamic holdback in force (gauges). */
  readonly dynamicHoldbacks = new Map<string, number>();
  /** The bounded mode of each SKU decided lately (absent: shared), for the send-time check. */
  readonly boundedModes = new Map<string, AllocationMode>();
  /** Per bundle, what each channel was last offered (charged to bounded components). */
  readonly bundleShown = new Map<string, Partial<Record<SalesChannel, number>>>();
  private latency: { p99Ms: number; readAtMs: number; measured: boolean } | undefined;
  private warnedLatency = false;

  constructor(private readonly options: DeciderOptions) {}

  /** The lanes of the channels the SKU is pushed to; FBA listings are skipped and counted (I6). */
  private lanesFor(entry: CatalogEntry, tally: ComputeTally): PushLane[] {
    const lanes: PushLane[] = [];
    for (const lane of this.options.lanes.values()) {
      const eligibility = lane.pusher.eligibility(entry);
      if (eligibility.push) lanes.push(lane);
      else if (eligibility.reason === 'fba') {
        tally.fbaSkipped += 1;
        this.options.metrics.fbaSkipped.inc();
      }
    }
    return lanes;
  }

  private get store(): PushStore {
    return this.options.store;
  }

  private get allocator(): BoundedAllocator {
    return this.options.allocator;
  }

  private get clock(): Clock {
    return this.options.clock;
  }

  /** Works out each channel's value for one SKU and offers it to the lane. */
  async decide(sku: string, changedAtMs: number, cause: 'change' | 'sweep', tally: ComputeTally): Promise<void> {
    const entry = await this.options.entryFor(sku);
    if (!entry) return;
    if (entry.components) return this.decideBundle(entry, changedAtMs, cause, tally);
    const view = await this.store.view(sku);
    const ledger = view.ledger;
    if (!ledger) return;
    const now = this.clock();
    const dynamic = await this.updateDynamicHoldback(sku, view, now);
    const mode = allocationModeOf(entry);
    if (mode.kind !== 'shared') {
      this.boundedModes.set(sku, mode);
      // What the bundles drawing on this SKU show is exposure of this SKU too (docs/catalog.md, "Bundles").
      const bundled = await this.bundleCharge(sku);
      return this.computeBounded({ sku, entry, view, mode, holdbackUnits: ledger.holdback + dynamic + bundled, changedAtMs, cause, now, tally });
    }
    this.boundedModes.delete(sku);
    const quantities = { onHand: ledger.onHand, reserved: ledger.reserved, holdback: ledger.holdback + dynamic };
    const shown: number[] = [];
    for (const lane of this.lanesFor(entry, tally)) {
      const channel = lane.channel;
      const target = sellable(quantities, this.options.catalog.policyFor(entry, channel));
      shown.push(target);
      const pushed = view.pushed[channel];
      const observed = view.observed[channel];
      const known = newest([
        pushed ? { quantity: pushed.quantity, atMs: pushed.atMs } : undefined,
        observed ? { quantity: observed.quantity, atMs: observed.observedAtMs } : undefined,
        lane.seenAfter(sku, 0),
      ]);
      let requestCause: PushRequest['cause'] = cause;
      if (cause === 'sweep') {
        const verdict = await this.judge(sku, channel, view, now);
        if (verdict.kind === 'drift') {
          requestCause = 'drift';
          tally.drift += 1;
          this.options.metrics.driftUnits.inc({ channel }, Math.abs(verdict.units));
          this.options.metrics.driftCorrections.inc({ channel });
          this.options.logger.warn(
            { sku, channel, observed: observed?.quantity, expected: verdict.expected, units: verdict.units, target },
            'channel level drifted from what was pushed; pushing a correction',
          );
        }
      }
      const told = newest([pushed ? { quantity: pushed.quantity, atMs: pushed.atMs } : undefined, lane.seenAfter(sku, 0)]);
      if (requestCause !== 'drift' && told && told.quantity === target && ledger.updatedMs >= told.atMs) {
        // The channel subtracts its own sales from what it was told: when sellable comes back
        // to the value last pushed (a receipt or a cancel after a sale there), the channel
        // shows less than that value and must be told again (even when it reported that lower
        // value since: the report agrees with the push minus the sale, so drift sees nothing).
        // A ledger that has not changed since the push has no sales to count (a sweep reads no
        // journal).
        // A cancellation on the channel counts too: the channel restocks the whole line
        // (Shopify's cancel with restock, Amazon's MFN cancel), even when the ledger freed
        // nothing because the line was recorded OVERSOLD and held nothing.
        const since = await this.channelActivitySince(sku, channel, told.atMs);
        if (since.sold !== 0 || since.cancels > 0) requestCause = 'resync';
      }
      const request: PushRequest = {
        sku,
        channel,
        entry,
        quantity: target,
        known: known?.quantity,
        knownAtMs: known?.atMs ?? 0,
        version: ledger.version,
        // A sweep that finds a missing push measures from the ledger's last change.
        changedAtMs: cause === 'change' && changedAtMs > 0 ? changedAtMs : ledger.updatedMs,
        cause: requestCause,
      };
      if (requestCause === 'drift' || requestCause === 'resync' || pushed?.quantity !== target) tally.offered += 1;
      lane.offer(request, pushed?.quantity);
    }
    this.exposures.set(sku, exposure(ledger.onHand - ledger.reserved, shown));
  }

  /**
   * A SKU in strict, budget:N or auto: the allocator decides from its I8 accounts what each
   * channel should show and which writes may go now (decreases first); those are offered.
   * A write that may not go yet waits for slack: sales arriving, writes confirmed, unseen
   * buckets expiring each mark the SKU dirty again, and the sweep looks at it anyway.
   */
  private async computeBounded(input: {
    sku: string;
    entry: CatalogEntry;
    view: SkuPushView;
    mode: AllocationMode;
    holdbackUnits: number;
    changedAtMs: number;
    cause: 'change' | 'sweep';
    now: number;
    tally: ComputeTally;
  }): Promise<void> {
    const { sku, entry, view, now, tally } = input;
    const channels = this.lanesFor(entry, tally).map((lane) => ({ channel: lane.channel, policy: this.options.catalog.policyFor(entry, lane.channel), lane }));
    if (channels.length === 0) return;
    const decision = await this.allocator.decide({ sku, entry, mode: input.mode, view, channels, holdbackUnits: input.holdbackUnits, nowMs: now });
    if (!decision) {
      // The ledger moved between the reads: look again on the next pass.
      await this.options.requeue([{ sku, changedAtMs: input.changedAtMs || now }]);
      return;
    }
    for (const choice of decision.decisions) {
      if (choice.stuck) this.options.logger.warn({ sku, channel: choice.channel }, 'a write was never confirmed in effect: the channel is taken to show its last confirmed value (alert)');
      if (!choice.send) continue;
      const lane = channels.find((candidate) => candidate.channel === choice.channel)!.lane;
      tally.offered += 1;
      lane.offer(
        {
          sku,
          channel: choice.channel,
          entry,
          quantity: choice.value,
          known: choice.expected,
          knownAtMs: now,
          version: view.ledger?.version ?? 0,
          changedAtMs: input.cause === 'change' && input.changedAtMs > 0 ? input.changedAtMs : (view.ledger?.updatedMs ?? now),
          cause: 'allocation',
        },
        view.pushed[choice.channel]?.quantity,
      );
    }
    this.exposures.set(sku, decision.exposureAfter - decision.available);
    this.channelExposures.set(sku, Object.fromEntries(decision.decisions.map((choice) => [choice.channel, choice.exposureAfter])));
  }

  /**
   * A bundle: each channel is shown the whole bundles its components can make, min over
   * components of ⌊available ÷ per-bundle quantity⌋ (available = on_hand − reserved −
   * static and dynamic holdback), then the bundle's channel policy. When a component is in a
   * bounded mode, that number is split evenly between the bundle's channels and what they
   * are shown is charged to the component's allocation (bundleCharge), so the bundle and
   * the component's own listings together never promise more than the component has.
   * A bundle has no journal: an unchanged value is sent again when a component changed
   * after the last push (a sale of the bundle on the channel lowered what it shows).
   */
  private async decideBundle(entry: CatalogEntry, changedAtMs: number, cause: 'change' | 'sweep', tally: ComputeTally): Promise<void> {
    const components = entry.components!;
    const [own, ...views] = await Promise.all([this.store.view(entry.sku), ...components.map((component) => this.store.view(component.sku))]);
    const bySku = new Map(components.map((component, index) => [component.sku, views[index]!]));
    const available = (sku: string) => {
      const ledger = bySku.get(sku)?.ledger;
      return ledger ? ledger.onHand - ledger.reserved - ledger.holdback - bySku.get(sku)!.state.dynamicHoldback : undefined;
    };
    let bundles = bundlesAvailable(components, available);
    const lanes = this.lanesFor(entry, tally);
    if (lanes.length === 0) return;
    const modes = await Promise.all(components.map(async (component) => {
      const componentEntry = await this.options.entryFor(component.sku);
      return componentEntry ? allocationModeOf(componentEntry).kind : 'shared';
    }));
    if (modes.some((kind) => kind !== 'shared')) bundles = Math.floor(bundles / lanes.length);
    const ledgers = views.map((view) => view.ledger);
    const changed = Math.max(0, ...ledgers.map((ledger) => ledger?.updatedMs ?? 0));
    const version = ledgers.reduce((sum, ledger) => sum + (ledger?.version ?? 0), 0);
    const shown: Partial<Record<SalesChannel, number>> = {};
    for (const lane of lanes) {
      const channel = lane.channel;
      const target = sellable({ onHand: bundles, reserved: 0, holdback: 0 }, this.options.catalog.policyFor(entry, channel));
      shown[channel] = target;
      const pushed = own.pushed[channel];
      const observed = own.observed[channel];
      const known = newest([
        pushed ? { quantity: pushed.quantity, atMs: pushed.atMs } : undefined,
        observed ? { quantity: observed.quantity, atMs: observed.observedAtMs } : undefined,
        lane.seenAfter(entry.sku, 0),
      ]);
      const told = newest([pushed ? { quantity: pushed.quantity, atMs: pushed.atMs } : undefined, lane.seenAfter(entry.sku, 0)]);
      let requestCause: PushRequest['cause'] = cause;
      if (told && told.quantity === target && changed >= told.atMs) requestCause = 'resync';
      const request: PushRequest = {
        sku: entry.sku,
        channel,
        entry,
        quantity: target,
        known: known?.quantity,
        knownAtMs: known?.atMs ?? 0,
        version,
        changedAtMs: cause === 'change' && changedAtMs > 0 ? changedAtMs : changed,
        cause: requestCause,
      };
      if (requestCause === 'resync' || pushed?.quantity !== target) tally.offered += 1;
      lane.offer(request, pushed?.quantity);
    }
    this.bundleShown.set(entry.sku, shown);
  }

  /**
   * Units of a bounded SKU that the bundles drawing on it may sell: per bundle, what each
   * channel was last offered or acknowledged (the larger), times the SKU's per-bundle quantity.
   */
  private async bundleCharge(sku: string): Promise<number> {
    const users = (await this.options.bundlesUsing?.(sku)) ?? [];
    let units = 0;
    for (const { bundle, quantity } of users) {
      const pushed = await this.store.pushed(bundle);
      const offered = this.bundleShown.get(bundle) ?? {};
      for (const channel of new Set([...Object.keys(pushed), ...Object.keys(offered)]) as Set<SalesChannel>) {
        units += Math.max(pushed[channel]?.quantity ?? 0, offered[channel] ?? 0) * quantity;
      }
    }
    return units;
  }

  /** Reads new sales from the journal into the SKU's window and returns the dynamic holdback. */
  private async updateDynamicHoldback(sku: string, view: SkuPushView, now: number): Promise<number> {
    const settings = this.options.settings.dynamicHoldback;
    const window = { windowMs: settings.windowMs, bucketMs: BUCKET_MS };
    // Never before the window: older sales are pruned anyway, and the journal is the layout
    // partition's, so a cursor left days ago by an idle SKU would page through every entry
    // the partition's other SKUs journaled since.
    const windowStart = `${Math.max(0, now - settings.windowMs)}-0`;
    const stored = view.state.cursor;
    const afterId = stored !== undefined && /^\d+-\d+$/.test(stored) && compareStreamIds(stored, windowStart) > 0 ? stored : windowStart;
    const entries = await this.store.journalAfter(sku, afterId, JOURNAL_PAGE);
    let sales = view.state.sales;
    for (const entry of entries) {
      const units = entry.cause === 'reserve' ? entry.dReserved + entry.dOversold : 0;
      if (units > 0) sales = recordSales(sales, entry.atMs, units, now, window);
    }
    sales = pruneSales(sales, now, window);
    const latency = await this.saleLatencyMs(now);
    const units = settings.maxUnits === 0 ? 0 : dynamicHoldback(salesRatePerSecond(sales, now, window), latency, { maxUnits: settings.maxUnits });
    const cursor = entries.length > 0 ? entries[entries.length - 1]!.id : view.state.cursor;
    if (entries.length > 0 || units !== view.state.dynamicHoldback || sales.length !== view.state.sales.length) {
      await this.store.saveState(sku, { sales, cursor, dynamicHoldback: units });
    }
    if (units > 0) this.dynamicHoldbacks.set(sku, units);
    else this.dynamicHoldbacks.delete(sku);
    return units;
  }

  /** The measured p99 sale-to-ledger latency, re-read at most once a second; the default until measured. */
  private async saleLatencyMs(now: number): Promise<number> {
    if (this.latency && now - this.latency.readAtMs < 1_000) return this.latency.p99Ms;
    const report = await this.store.saleLatency().catch(() => undefined);
    const measured = report !== undefined && now - report.atMs <= SALE_LATENCY_TTL_MS;
    const p99Ms = measured ? report.p99Ms : this.options.settings.dynamicHoldback.defaultLatencyMs;
    this.latency = { p99Ms, readAtMs: now, measured };
    if (measured && p99Ms > this.options.settings.driftSettleMs && !this.warnedLatency) {
      this.warnedLatency = true;
      this.options.logger.warn({ p99Ms, settleMs: this.options.settings.driftSettleMs }, 'p99 sale-to-ledger latency exceeds the drift settle window: raise STOCKGUARD_DRIFT_SETTLE_SECONDS');
    }
    return p99Ms;
  }

  /** Drift after the settle window, counting the channel's own ingested sales since the push. */
  private async judge(sku: string, channel: SalesChannel, view: SkuPushView, now: number): Promise<DriftVerdict> {
    const input = {
      pushed: view.pushed[channel],
      observed: view.observed[channel],
      channelSalesSincePush: 0,
      ledgerChangedAtMs: view.ledger?.updatedMs ?? 0,
      nowMs: now,
      settleMs: this.options.settings.driftSettleMs,
    };
    const first = judgeDrift(input);
    if (first.kind === 'none' || first.kind === 'settling' || !input.pushed) return first;
    return judgeDrift({ ...input, channelSalesSincePush: (await this.channelActivitySince(sku, channel, input.pushed.atMs)).sold });
  }

  /**
   * In journal entries after atMs, by reservation id `channel:…`: the units the channel
   * sold (reserved minus released) and how many of its lines were cancelled.
   */
  private async channelActivitySince(sku: string, channel: SalesChannel, atMs: number): Promise<{ sold: number; cancels: number }> {
    const prefix = `${channel}:`;
    let units = 0;
    let cancels = 0;
    let afterId = `${atMs}-0`;
    // Bounded: after a long quiet period the settle window has long passed anyway.
    for (let page = 0; page < 20; page += 1) {
      const entries = await this.store.journalAfter(sku, afterId, JOURNAL_PAGE);
      for (const entry of entries) {
        if (!entry.ref.startsWith(prefix)) continue;
        if (entry.cause === 'reserve') units += entry.dReserved + entry.dOversold;
        else if (entry.cause === 'release') {
          units += entry.dReserved;
          cancels += 1;
        }
      }
      if (entries.length < JOURNAL_PAGE) break;
      afterId = entries[entries.length - 1]!.id;
    }
    return { sold: units, cancels };
  }

}

/** Orders two stream ids (`<ms>-<seq>`) as Redis does. */
function compareStreamIds(a: string, b: string): number {
  const [aMs = 0n, aSeq = 0n] = a.split('-').map((part) => BigInt(part));
  const [bMs = 0n, bSeq = 0n] = b.split('-').map((part) => BigInt(part));
  if (aMs !== bMs) return aMs < bMs ? -1 : 1;
  if (aSeq !== bSeq) return aSeq < bSeq ? -1 : 1;
  return 0;
}

function newest(candidates: ReadonlyArray<{ quantity: number; atMs: number } | undefined>): { quantity: number; atMs: number } | undefined {
  let best: { quantity: number; atMs: number } | undefined;
  for (const candidate of candidates) if (candidate && (!best || candidate.atMs > best.atMs)) best = candidate;
  return best;
}
