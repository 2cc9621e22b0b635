import { startTestRedis } from '../helpers/redis.ts';
import { defineMigrateJournalsSuite } from './migrate-journals.suite.ts';

defineMigrateJournalsSuite('one server', startTestRedis);
