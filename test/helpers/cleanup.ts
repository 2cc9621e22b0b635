// Deletes the keys of test prefixes on a Redis the tests shared (`<prefix>:…` and
// `<prefix>-…`, on every master of a Cluster). test/helpers/redis.ts runs it from its
// 'exit' hook for prefixes whose close() never ran; by hand:
//   node --import tsx test/helpers/cleanup.ts "redis://127.0.0.1:6379 sgtest-1a2b3c4d" ...
import { deleteTestKeys } from './redis.ts';

let failed = false;
for (const target of process.argv.slice(2)) {
  const [url, prefix] = target.split(' ');
  if (!url || !prefix?.startsWith('sgtest-')) {
    console.error(`cleanup: expected "<redis url> sgtest-<id>", got ${JSON.stringify(target)}`);
    failed = true;
    continue;
  }
  try {
    await deleteTestKeys(url, prefix);
  } catch (error) {
    console.error(`cleanup: could not delete the keys of ${prefix}: ${(error as Error).message}`);
    failed = true;
  }
}
process.exitCode = failed ? 1 : 0;
