// A closed-loop load generator: `workers` callers each take the next batch of op indexes,
// run it, and take another as soon as it is done, so exactly workers × batchSize ops are in
// flight until the op count is reached. Every op of a batch gets the batch's latency (the
// time from sending it to having its reply), as redis-benchmark reports pipelined commands.
import { performance } from 'node:perf_hooks';

export type RunBatch = (worker: number, first: number, count: number) => Promise<void>;

export interface LoopResult {
  /** Latency of op i in milliseconds. */
  latenciesMs: Float64Array;
  elapsedMs: number;
}

export async function closedLoop(options: { ops: number; workers: number; batchSize?: number }, runBatch: RunBatch): Promise<LoopResult> {
  const batchSize = Math.max(1, options.batchSize ?? 1);
  const latenciesMs = new Float64Array(options.ops);
  let next = 0;
  const worker = async (id: number) => {
    while (next < options.ops) {
      const first = next;
      const count = Math.min(batchSize, options.ops - first);
      next += count;
      const started = performance.now();
      await runBatch(id, first, count);
      const latency = performance.now() - started;
      latenciesMs.fill(latency, first, first + count);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.max(1, options.workers) }, (_unused, id) => worker(id)));
  return { latenciesMs, elapsedMs: performance.now() - started };
}
