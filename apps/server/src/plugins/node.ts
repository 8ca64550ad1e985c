// This node's identity in the cluster, when Redis is configured: a random id and a short-lived liveness key
// (`<prefix>node:<id>`) renewed every HEARTBEAT_MS. What a node registers in Redis under its id (stream slots,
// presence) is taken for gone by the other nodes once the key lapses: a node killed without closing frees it
// within NODE_TTL_MS. The key is deleted on a clean close. Without Redis there is no cluster and `app.node` is
// null.
import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'

export const NODE_TTL_MS = 6_000
const HEARTBEAT_MS = 2_000

export interface NodeLiveness {
  readonly id: string
  /** What a node's liveness key is named after: this plus its id. */
  readonly keyPrefix: string
  /** Renews the key now (every heartbeat does); resolves once Redis has it, never rejects. */
  alive(): Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    node: NodeLiveness | null
  }
}

export default fp(
  async (app) => {
    if (!app.redis) {
      app.decorate('node', null)
      return
    }
    const redis = app.redis.commands
    const id = randomUUID()
    const keyPrefix = `${app.redis.prefix}node:`
    const alive = () =>
      redis
        .set(keyPrefix + id, '1', 'PX', NODE_TTL_MS)
        .then(() => undefined)
        .catch((err: unknown) => app.log.warn({ err }, 'node heartbeat failed'))
    const onReady = () => void alive()
    redis.on('ready', onReady)
    if (redis.status === 'ready') void alive()
    const heartbeat = setInterval(alive, HEARTBEAT_MS)
    heartbeat.unref()
    app.decorate('node', { id, keyPrefix, alive })
    app.addHook('onClose', async () => {
      clearInterval(heartbeat)
      redis.off('ready', onReady)
      await redis.del(keyPrefix + id).catch(() => {})
    })
  },
  { name: 'node', dependencies: ['redis'] }
)
