// 32-bit FNV-1a over UTF-8 bytes: the one stable hash stockguard places SKUs with (event
// stream partitions, src/consumers/partition.ts; layout partitions, src/domain/layout.ts).
// Stable across processes, Node versions and languages: the reference vectors are in the
// FNV spec (draft-eastlake-fnv).

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const encoder = new TextEncoder();

/** 32-bit FNV-1a of the UTF-8 bytes of `text`, as an unsigned integer. */
export function fnv1a32(text: string): number {
  let hash = FNV_OFFSET_BASIS;
  for (const byte of encoder.encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}
