// The WMS fake in a process of its own for the reconcile benchmark, so the benchmark
// process's peak RSS is the reconciler's, not the fake's million-row table.
// Usage: node --import tsx bench/lib/wmsChild.ts '{"skus":N,"seed":S,"rate":R,"token":"…","maxPageSize":P}'
// Prints `READY <url>` once serving; exits when stdin closes.
import { WmsFake } from '../../src/sim/wms/index.ts';
import { benchSku, ledgerOnHand, wmsDelta } from './reconcileData.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as { skus: number; seed: number; rate: number; token: string; maxPageSize: number };
const fake = await WmsFake.start({ token: options.token, maxPageSize: options.maxPageSize });
function* rows(): Iterable<readonly [string, number]> {
  for (let index = 0; index < options.skus; index += 1) yield [benchSku(index), ledgerOnHand(options.seed, index) + wmsDelta(options.seed, index, options.rate)];
}
fake.seed(rows());
process.stdout.write(`READY ${fake.url}\n`);
process.stdin.resume();
process.stdin.on('end', () => void fake.close().then(() => process.exit(0)));
