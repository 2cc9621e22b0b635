// The naive baseline the demo compares stockguard with: what most sync tools do. Every
// channel is told the warehouse's full on-hand at each periodic sync (every 5 minutes by
// default), and in between each channel sells against its own copy without knowing what
// the others sold. Pure: it replays the same purchase attempts the demo made.

export interface PurchaseAttempt {
  atMs: number;
  channel: string;
  sku: string;
  quantity: number;
}

export interface BaselineResult {
  /** Units each channel accepted. */
  acceptedByChannel: Record<string, number>;
  /** Units accepted beyond what the warehouse had, per SKU. */
  oversoldBySku: Record<string, number>;
  oversoldUnits: number;
  /** Units accepted per SKU, every channel together. */
  acceptedBySku: Record<string, number>;
  /** Units of the attempts each channel refused, per SKU (channel → units). */
  refusedBySku: Record<string, Record<string, number>>;
  /** What each channel showed after the last attempt, per SKU (channel → units). */
  shownAtEnd: Record<string, Record<string, number>>;
  /** Cumulative oversold units after each attempt (for the report's chart). */
  oversoldTimeline: { atMs: number; oversold: number }[];
}

export function simulateNaiveSync(options: {
  onHand: Readonly<Record<string, number>>;
  channels: readonly string[];
  attempts: readonly PurchaseAttempt[];
  syncIntervalMs: number;
  startMs: number;
}): BaselineResult {
  const { onHand, channels, syncIntervalMs, startMs } = options;
  const soldTotal = new Map<string, number>();
  const shown = new Map<string, number>();
  const key = (channel: string, sku: string) => `${channel}\u0000${sku}`;
  const sync = () => {
    for (const [sku, stock] of Object.entries(onHand)) {
      const left = Math.max(0, stock - (soldTotal.get(sku) ?? 0));
      for (const channel of channels) shown.set(key(channel, sku), left);
    }
  };
  sync();
  let nextSync = startMs + syncIntervalMs;
  const acceptedByChannel: Record<string, number> = Object.fromEntries(channels.map((channel) => [channel, 0]));
  const oversoldTimeline: BaselineResult['oversoldTimeline'] = [];
  let oversoldUnits = 0;
  const refusedBySku: Record<string, Record<string, number>> = {};
  for (const attempt of [...options.attempts].sort((a, b) => a.atMs - b.atMs)) {
    while (attempt.atMs >= nextSync) {
      sync();
      nextSync += syncIntervalMs;
    }
    const slot = key(attempt.channel, attempt.sku);
    const available = shown.get(slot) ?? 0;
    if (available < attempt.quantity) {
      const refused = (refusedBySku[attempt.sku] ??= {});
      refused[attempt.channel] = (refused[attempt.channel] ?? 0) + attempt.quantity;
      continue;
    }
    shown.set(slot, available - attempt.quantity);
    const before = soldTotal.get(attempt.sku) ?? 0;
    const after = before + attempt.quantity;
    soldTotal.set(attempt.sku, after);
    acceptedByChannel[attempt.channel] = (acceptedByChannel[attempt.channel] ?? 0) + attempt.quantity;
    const stock = onHand[attempt.sku] ?? 0;
    oversoldUnits += Math.max(0, after - stock) - Math.max(0, before - stock);
    oversoldTimeline.push({ atMs: attempt.atMs, oversold: oversoldUnits });
  }
  const oversoldBySku: Record<string, number> = {};
  for (const [sku, sold] of soldTotal) oversoldBySku[sku] = Math.max(0, sold - (onHand[sku] ?? 0));
  const shownAtEnd: Record<string, Record<string, number>> = Object.fromEntries(channels.map((channel) => [channel, {}]));
  for (const sku of Object.keys(onHand)) for (const channel of channels) shownAtEnd[channel]![sku] = shown.get(key(channel, sku)) ?? 0;
  return { acceptedByChannel, oversoldBySku, oversoldUnits, acceptedBySku: Object.fromEntries(soldTotal), refusedBySku, shownAtEnd, oversoldTimeline };
}
