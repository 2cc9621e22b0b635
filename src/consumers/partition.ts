// Which partition of an event stream a SKU's events go to. FNV-1a (32-bit) over the
// SKU's UTF-8 bytes, modulo the partition count: stable across processes, Node versions
// and languages (the reference vectors are in the FNV spec), so every producer sends one
// SKU's events to the same partition and a consumer sees them in the order they were
// appended. Changing the partition count moves SKUs: drain the streams first
// (docs/streams.md).
import { fnv1a32 } from '../domain/fnv1a.ts';
import { StockguardError } from '../errors.ts';

/** Partition 0 … partitions − 1 of `sku`. */
export function partitionFor(sku: string, partitions: number): number {
  if (!Number.isSafeInteger(partitions) || partitions < 1 || partitions > 0xffff_ffff) {
    throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `partitions must be a whole number from 1 to 2^32 − 1, got ${String(partitions)}`);
  }
  return fnv1a32(sku) % partitions;
}
