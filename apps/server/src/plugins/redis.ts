// The node's Redis connections. With REDIS_URL (one Redis): one connection for commands (publishing, rate-limit
// counters, stream slots, presence, typing) and a dedicated subscriber for the bus. With REDIS_CLUSTER_NODES (a
// Redis Cluster): one ioredis Cluster for the commands, whose sharded subscribers (one connection per master) carry
// the bus on sharded pub/sub. This plugin opens them, hands them out through `app.redis`, and closes them last,
// after everything that borrows them has let go. Without either, `app.redis` is null and the node runs alone on its
// in-process bus. Every key and channel of the deployment starts with `prefix` (REDIS_PREFIX, `chat:`), so
// deployments that share a Redis never see each other's; a script's keys always share one hash tag, so every
// script runs on a cluster too.
import fp from 'fastify-plugin'
import { once } from 'node:events'
import { Cluster, Redis, type RedisOptions } from 'ioredis'

/** What the stores and plugins send their commands to: one Redis or a cluster, the same commands. */
export type RedisClient = Redis | Cluster

export type RedisConnections =
  | {
      kind: 'single'
      /** Short commands; no offline queue, so a call fails at once while Redis is down instead of piling up. */
      commands: Redis
      /** Subscribe-only; ioredis resubscribes it after a reconnect. */
      subscriber: Redis
      /** What every key and channel name starts with. */
      prefix: string
    }
  | {
      kind: 'cluster'
      /** Commands, routed by slot; its sharded subscribers hold one connection per master for the bus. */
      commands: Cluster
      /** How many hash-tagged partitions the bus's channels are spread over (REDIS_CLUSTER_PARTITIONS). */
      partitions: number
      prefix: string
    }

declare module 'fastify' {
  interface FastifyInstance {
    redis: RedisConnections | null
  }
}

export interface RedisPluginOptions {
  url?: string | undefined
  cluster?: { nodes: { host: string; port: number }[]; partitions: number } | undefined
  prefix: string
}

const retryStrategy = (times: number) => Math.min(100 * times, 2000)
// How long a node waits at start for the cluster to answer; past it the node starts anyway, degraded (not ready),
// as it does when its one Redis is down.
const CLUSTER_START_MS = 10_000

export default fp<RedisPluginOptions>(
  async (app, opts) => {
    const quit = (client: RedisClient) => (client.status === 'ready' ? client.quit() : client.disconnect())
    if (opts.cluster) {
      const cluster = new Cluster(opts.cluster.nodes, {
        shardedSubscribers: true,
        // A command while the cluster is down fails at once, as with one Redis; within a failover ioredis
        // follows the new slot owners by itself.
        enableOfflineQueue: false,
        clusterRetryStrategy: retryStrategy,
        slotsRefreshInterval: 2_000,
        // No command timeout: the sharded subscribers share these options, and a SSUBSCRIBE cut short while its
        // subscriber's connection is still opening (a loaded machine) left that node's subscriber unusable.
        redisOptions: { maxRetriesPerRequest: 1, connectionName: 'chat' }
      })
      cluster.on('error', (err) => app.log.warn({ err }, 'redis cluster'))
      const started = await Promise.race([
        once(cluster, 'ready').then(() => true),
        new Promise<false>((resolve) => setTimeout(resolve, CLUSTER_START_MS, false).unref())
      ])
      if (!started) app.log.warn('redis cluster: not ready at start; the node starts degraded and keeps trying')
      app.decorate('redis', {
        kind: 'cluster',
        commands: cluster,
        partitions: opts.cluster.partitions,
        prefix: opts.prefix
      })
      app.addHook('onClose', async () => {
        await Promise.allSettled([quit(cluster)])
      })
      return
    }
    if (!opts.url) {
      app.decorate('redis', null)
      return
    }
    const common: RedisOptions = { maxRetriesPerRequest: 1, retryStrategy }
    const commands = new Redis(opts.url, { ...common, enableOfflineQueue: false, connectionName: 'chat-commands' })
    const subscriber = new Redis(opts.url, { ...common, autoResubscribe: true, connectionName: 'chat-sub' })
    for (const client of [commands, subscriber]) client.on('error', (err) => app.log.warn({ err }, 'redis'))
    app.decorate('redis', { kind: 'single', commands, subscriber, prefix: opts.prefix })
    app.addHook('onClose', async () => {
      // QUIT waits for an answer; a connection that is down is simply dropped.
      await Promise.allSettled([quit(commands), quit(subscriber)])
    })
  },
  { name: 'redis' }
)
