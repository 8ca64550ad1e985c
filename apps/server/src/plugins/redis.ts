// The node's Redis connections, when REDIS_URL is set: one for commands (publishing, rate-limit counters, stream
// slots) and a dedicated subscriber for the bus. This plugin opens them, hands them out through `app.redis`, and
// closes them last, after everything that borrows them has let go. Without a URL `app.redis` is null and the
// node runs alone on its in-process bus. Every key and channel of the deployment starts with `prefix`
// (REDIS_PREFIX, `chat:`), so deployments that share a Redis never see each other's.
import fp from 'fastify-plugin'
import { Redis, type RedisOptions } from 'ioredis'

export interface RedisConnections {
  /** Short commands; no offline queue, so a call fails at once while Redis is down instead of piling up. */
  commands: Redis
  /** Subscribe-only; ioredis resubscribes it after a reconnect. */
  subscriber: Redis
  /** What every key and channel name starts with. */
  prefix: string
}

declare module 'fastify' {
  interface FastifyInstance {
    redis: RedisConnections | null
  }
}

export default fp<{ url?: string | undefined; prefix: string }>(
  async (app, opts) => {
    if (!opts.url) {
      app.decorate('redis', null)
      return
    }
    const common: RedisOptions = {
      maxRetriesPerRequest: 1,
      retryStrategy: (times) => Math.min(100 * times, 2000)
    }
    const commands = new Redis(opts.url, { ...common, enableOfflineQueue: false, connectionName: 'chat-commands' })
    const subscriber = new Redis(opts.url, { ...common, autoResubscribe: true, connectionName: 'chat-sub' })
    for (const client of [commands, subscriber]) client.on('error', (err) => app.log.warn({ err }, 'redis'))
    app.decorate('redis', { commands, subscriber, prefix: opts.prefix })
    app.addHook('onClose', async () => {
      // QUIT waits for an answer; a connection that is down is simply dropped.
      const close = (client: Redis) => (client.status === 'ready' ? client.quit() : client.disconnect())
      await Promise.allSettled([close(commands), close(subscriber)])
    })
  },
  { name: 'redis' }
)
