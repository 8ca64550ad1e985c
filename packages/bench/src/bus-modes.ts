// The bus on a Redis Cluster beside the bus on one Redis: the cross-node and user-fanout shapes with the nodes
// on a local Redis Cluster (3 masters, 3 replicas of the machine's redis-server, started once for the run and
// stopped at its end), and the user-fanout shape with its one node on one Redis, so that both sides of the
// comparison carry every event over a bus. Each is measured beside the floor in the same run, like every mode.
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startRedisCluster, type LocalRedisCluster } from '@chat/infra/redis-cluster'
import { busTarget } from './nodes.ts'
import { size, type ModeResult } from './run.ts'
import { userStream } from './subscribers.ts'
import { userFanout } from './user-modes.ts'

let cluster: Promise<LocalRedisCluster> | undefined

/** Runs `measure` with every node of it on the run's Redis Cluster (started on first use). */
async function onRedisCluster(measure: () => Promise<ModeResult>): Promise<ModeResult> {
  cluster ??= startRedisCluster({
    basePort: size('BENCH_REDIS_CLUSTER_PORT', 7200),
    dir: join(tmpdir(), `chat-bench-redis-cluster-${process.pid}`)
  })
  const { seeds } = await cluster
  return onBus(measure, seeds)
}

async function onBus(measure: () => Promise<ModeResult>, clusterNodes?: string): Promise<ModeResult> {
  busTarget.always = true
  busTarget.clusterNodes = clusterNodes
  try {
    return await measure()
  } finally {
    busTarget.always = false
    busTarget.clusterNodes = undefined
  }
}

/** Stops the run's Redis Cluster, if a mode started one. */
export async function stopRedisCluster(): Promise<void> {
  await (await cluster)?.stop()
}

export function busModes(crossNode: () => Promise<ModeResult>): Record<string, () => Promise<ModeResult>> {
  const named = (mode: string) => (result: ModeResult) => ({ ...result, mode })
  return {
    /** `cross-node` with both nodes on the Redis Cluster (sharded pub/sub). */
    'cross-node-cluster': () => onRedisCluster(crossNode).then(named('cross-node-cluster')),
    /** `user-fanout` with its node on one Redis: every event goes out to Redis and back. */
    'user-fanout-redis': () => onBus(() => userFanout('user-fanout-redis', userStream)),
    /** `user-fanout` with its node on the Redis Cluster. */
    'user-fanout-cluster': () => onRedisCluster(() => userFanout('user-fanout-cluster', userStream))
  }
}
