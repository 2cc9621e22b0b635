import { startTestCluster } from '../helpers/redis.ts';
import { defineBundleSuite } from './bundles.suite.ts';

defineBundleSuite('a local 3-master Redis Cluster', startTestCluster);
