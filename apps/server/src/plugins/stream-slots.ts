// The per-user cap on open streams (MAX_STREAMS_PER_USER). On one node a count of granted slots is the truth. With
// Redis the count is cluster-wide: each open stream holds a member `<node id>:<stream>` of a per-user sorted set
// whose score is a lease expiry, renewed while the stream lives. Each node also keeps a short-lived liveness key
// alive; a user at the cap has the slots of nodes whose key is gone (a node killed without closing) dropped
// before being refused, so a crash frees its slots within NODE_TTL_MS, and the lease bounds the rest. If Redis
// cannot be asked, the node falls back to its local count rather than refusing everyone.
import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import { NODE_TTL_MS } from './node.ts'

export interface StreamSlots {
  /** A release function when the user may open one more stream, null when they are at the cap. */
  acquire(userId: string): Promise<(() => void) | null>
}

declare module 'fastify' {
  interface FastifyInstance {
    streamSlots: StreamSlots
  }
}

const LEASE_MS = 45_000
const RENEW_MS = 15_000

// KEYS[1] the user's set; ARGV: now, lease expiry, member, max, node key prefix, this node's id, its key's TTL.
// Renews this node's own liveness key first, so a lease is never added for a node another node could take for
// gone; drops expired leases; at the cap, drops the leases of nodes that are gone; then adds one if there is room.
const ACQUIRE = `
redis.call('SET', ARGV[5] .. ARGV[6], '1', 'PX', ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local max = tonumber(ARGV[4])
if redis.call('ZCARD', KEYS[1]) >= max then
  for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    local node = string.match(member, '^([^:]+):')
    if not node or redis.call('EXISTS', ARGV[5] .. node) == 0 then redis.call('ZREM', KEYS[1], member) end
  end
  if redis.call('ZCARD', KEYS[1]) >= max then return 0 end
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ${LEASE_MS})
return 1`

export default fp<{ maxStreamsPerUser: number }>(
  async (app, opts) => {
    const max = opts.maxStreamsPerUser
    // This node's slots, counted from the grant (not from the attach, which comes later), so that concurrent
    // opens cannot all pass the check; every grant, Redis or not, is counted until it is released.
    const slots = new Map<string, number>()
    const track = (userId: string, onRelease: () => void = () => {}) => {
      slots.set(userId, (slots.get(userId) ?? 0) + 1)
      let released = false
      return () => {
        if (released) return
        released = true
        const left = (slots.get(userId) ?? 1) - 1
        if (left > 0) slots.set(userId, left)
        else slots.delete(userId)
        onRelease()
      }
    }
    const local: StreamSlots = {
      acquire: async (userId) => ((slots.get(userId) ?? 0) >= max ? null : track(userId))
    }
    if (!app.redis || !app.node) {
      app.decorate('streamSlots', local)
      return
    }

    const { commands: redis, prefix } = app.redis
    const key = (userId: string) => `${prefix}streams:${userId}`
    const held = new Map<string, string>() // member → userId, for lease renewal
    const { id: nodeId, keyPrefix: nodeKeyPrefix } = app.node

    const renew = setInterval(() => {
      if (held.size === 0) return
      const expiry = Date.now() + LEASE_MS
      const batch = redis.pipeline()
      for (const [member, userId] of held) batch.zadd(key(userId), 'XX', expiry, member)
      batch.exec().catch((err) => app.log.warn({ err }, 'stream lease renewal failed'))
    }, RENEW_MS)
    renew.unref()
    app.addHook('onClose', async () => {
      clearInterval(renew)
    })

    app.decorate('streamSlots', {
      async acquire(userId) {
        const member = `${nodeId}:${randomUUID()}`
        let granted: unknown
        try {
          granted = await redis.eval(
            ACQUIRE,
            1,
            key(userId),
            Date.now(),
            Date.now() + LEASE_MS,
            member,
            max,
            nodeKeyPrefix,
            nodeId,
            NODE_TTL_MS
          )
        } catch (err) {
          app.log.warn({ err }, 'stream slots: redis unavailable, counting locally')
          return local.acquire(userId)
        }
        if (granted !== 1) return null
        held.set(member, userId)
        return track(userId, () => {
          held.delete(member)
          redis.zrem(key(userId), member).catch(() => {})
        })
      }
    } satisfies StreamSlots)
  },
  { name: 'stream-slots', dependencies: ['redis', 'node'] }
)
