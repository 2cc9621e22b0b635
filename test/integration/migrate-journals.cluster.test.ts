import { startTestCluster } from '../helpers/redis.ts';
import { defineMigrateJournalsSuite } from './migrate-journals.suite.ts';

defineMigrateJournalsSuite('a Redis Cluster', startTestCluster);
