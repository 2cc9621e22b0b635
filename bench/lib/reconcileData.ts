// The reconcile benchmark's data, computed from (seed, index) alone so that the ledger
// seeding in the benchmark process and the WMS fake in its own process agree without
// shipping a million rows between them.

export function benchSku(index: number): string {
  return `BENCH-${String(index).padStart(7, '0')}`;
}

/** A 32-bit hash of (seed, index), uniform enough for picking stock levels and discrepancies. */
function hash(seed: number, index: number, salt: number): number {
  let t = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(index, 0xc2b2ae35) + salt) >>> 0;
  t = Math.imul(t ^ (t >>> 16), 0x7feb352d);
  t = Math.imul(t ^ (t >>> 15), 0x846ca68b);
  return (t ^ (t >>> 16)) >>> 0;
}

/** What the ledger holds for the SKU before the run: 0 … 499 units. */
export function ledgerOnHand(seed: number, index: number): number {
  return hash(seed, index, 1) % 500;
}

/** WMS on-hand minus ledger on-hand: 0 for all but `rate` of the SKUs, else ±1 … ±5 (never below 0 on hand). */
export function wmsDelta(seed: number, index: number, rate: number): number {
  if (hash(seed, index, 2) / 4294967296 >= rate) return 0;
  const size = 1 + (hash(seed, index, 3) % 5);
  const shrink = hash(seed, index, 4) % 2 === 0 && ledgerOnHand(seed, index) >= size;
  return shrink ? -size : size;
}
