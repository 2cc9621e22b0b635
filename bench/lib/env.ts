// What the numbers were measured on, printed next to them: Node, Redis, CPU, cores.
import { availableParallelism, cpus } from 'node:os';
import type { Redis } from 'ioredis';

export interface BenchEnv {
  node: string;
  redis: string;
  cpu: string;
  cores: number;
}

export async function benchEnv(redis: Redis): Promise<BenchEnv> {
  const info = await redis.info('server');
  const version = /^redis_version:(.+)$/m.exec(info)?.[1]?.trim() ?? 'unknown';
  return {
    node: process.version,
    redis: version,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
  };
}

export function describeEnv(env: BenchEnv): string {
  return `Node ${env.node}, Redis ${env.redis}, CPU ${env.cpu} × ${env.cores} cores`;
}
