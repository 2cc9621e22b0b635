import { startTestRedis } from '../helpers/redis.ts';
import { defineLedgerSuite } from './ledger.suite.ts';

defineLedgerSuite('a single Redis', startTestRedis);
