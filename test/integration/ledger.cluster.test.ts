import { startTestCluster } from '../helpers/redis.ts';
import { defineLedgerSuite } from './ledger.suite.ts';

defineLedgerSuite('a local 3-master Redis Cluster', startTestCluster);
