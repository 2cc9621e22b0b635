// The benchmarks use the project's seeded PRNG, so every variant sees the same sequence of
// SKUs and the stock-limited count of reservations is the same for all of them.
export { seededRandom } from '../../src/domain/random.ts';
