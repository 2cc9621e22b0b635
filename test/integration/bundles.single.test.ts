import { startTestRedis } from '../helpers/redis.ts';
import { defineBundleSuite } from './bundles.suite.ts';

defineBundleSuite('a single redis-server', startTestRedis);
