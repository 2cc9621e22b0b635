// The one interface every channel pusher implements. The coordinator (coordinator.ts)
// decides what each channel should show and when; a Pusher only knows how to write a
// batch of quantities to its channel, within its API's rules and rate limits, and reports
// what happened to each one.
import type { CatalogEntry, SalesChannel } from '../catalog/entry.ts';

/** One quantity to set on one channel for one SKU. */
export interface PushRequest {
  readonly sku: string;
  readonly channel: SalesChannel;
  /** The SKU's catalogue entry: where on the channel the quantity goes. */
  readonly entry: CatalogEntry;
  /** The value the channel should show. */
  readonly quantity: number;
  /**
   * What we believe the channel shows now (newest of our last acknowledged push, the
   * channel's last report, a read-back); undefined when we do not know. Shopify sends it
   * as changeFromQuantity.
   */
  readonly known: number | undefined;
  /** When `known` was true (ms); 0 when unknown. */
  readonly knownAtMs: number;
  /** The ledger version the quantity was computed from. */
  readonly version: number;
  /** When the oldest ledger change not yet on the channel happened (ms). */
  readonly changedAtMs: number;
  /** Why: a ledger change, the scheduled sweep, or a correction after drift. */
  /** `resync`: sellable is back at the value last pushed, but the channel has sold since and shows less. */
  /** `allocation`: a bounded mode (strict, budget:N, auto) decided it against its I8 account (allocator.ts). */
  readonly cause: 'change' | 'sweep' | 'drift' | 'resync' | 'allocation';
}

export type PushOutcome =
  /** The channel took the value (Shopify: applied; Amazon: ACCEPTED, i.e. queued). */
  | { readonly kind: 'acked'; readonly atMs: number }
  /** Compare-and-set lost (Shopify): `channelQuantity` is what a read-back found. */
  | { readonly kind: 'stale'; readonly channelQuantity: number | undefined }
  /** The channel refused this value: Amazon INVALID, a Shopify userError, a 4xx. */
  /** `feed`: refused inside an Amazon JSON_LISTINGS_FEED (amazonFeed.ts); the coordinator dead-letters it. */
  | { readonly kind: 'invalid' | 'rejected'; readonly code: string; readonly message: string; readonly issues?: readonly unknown[]; readonly feed?: { readonly feedId: string; readonly messageId: number } }
  /** Never sent, on purpose (invariant I6): a Shopify location that may not be written. */
  | { readonly kind: 'blocked'; readonly reason: string }
  /** Retries exhausted (throttling storm, 5xx, network): the SKU stays due. */
  | { readonly kind: 'failed'; readonly message: string };

export interface PushResult {
  readonly request: PushRequest;
  readonly outcome: PushOutcome;
}

/** Whether a catalogue entry is pushed to the channel at all. */
export type Eligibility =
  | { readonly push: true }
  /** Not mapped to this channel, or mapped to a marketplace this daemon does not serve. */
  | { readonly push: false; readonly reason: 'unmapped' | 'marketplace' }
  /** Fulfilled by Amazon: its quantity is Amazon's and never written (I6); counted. */
  | { readonly push: false; readonly reason: 'fba' };

/**
 * A second, slower path for backlogs (Amazon's JSON_LISTINGS_FEED, amazonFeed.ts): many
 * values in one submission that takes effect minutes later. The lane (lane.ts) hands it the
 * values that may wait once enough of them are waiting; docs/pushers.md, "Backlogs".
 */
export interface BulkPusher {
  /** Values that may go by bulk, waiting at once, from which a bulk is sent. */
  readonly threshold: number;
  /** Most values in one bulk. */
  readonly maxMessages: number;
  /** How long a backlog over the threshold collects before its bulk goes (ms). */
  readonly windowMs: number;
  /** A SKU whose request was acknowledged less than this long ago stays off bulks (ms): the two are not ordered on the channel. */
  readonly patchSettleMs: number;
  /** True for a value that must not wait for a bulk (a zero, a large decrease, a correction). */
  patchOnly(request: PushRequest): boolean;
  /** Values with the same key may share a bulk (Amazon: one marketplace per feed). */
  groupOf(request: PushRequest): string;
  /** Takes the rate-limit tokens one bulk needs when they are all there; false otherwise. */
  tryAcquire(): boolean;
  /** Sends one bulk and waits for its outcome; one result per request. Never throws. */
  push(batch: readonly PushRequest[]): Promise<PushResult[]>;
}

export interface Pusher {
  readonly channel: SalesChannel;
  /** The bulk path, when the channel has one and it is enabled. */
  readonly bulk?: BulkPusher;
  /** Most requests one push() call may carry. */
  readonly maxBatch: number;
  /** push() calls that may run at once. */
  readonly concurrency: number;
  eligibility(entry: CatalogEntry): Eligibility;
  /**
   * Called at start-up and on every sweep with the whole catalogue: Shopify checks the
   * mapped locations here. Must not throw for a channel problem; it reports it.
   */
  prepare(entries: readonly CatalogEntry[]): Promise<void>;
  /**
   * Resolves when one more request fits the rate limit, reserving it where the limit is
   * a count of requests (Amazon). `release()` gives it back when nothing was sent.
   */
  acquire(signal: AbortSignal): Promise<void>;
  release(): void;
  /** Writes the batch; one result per request, in any order. Never throws. */
  push(batch: readonly PushRequest[]): Promise<PushResult[]>;
  close(): Promise<void>;
}
