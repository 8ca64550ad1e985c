// The per-user cap on open streams (MAX_STREAMS_PER_USER). On one node a count of granted slots is the truth. With
// Redis the count is cluster-wide: each open stream holds a member `<node id>:<stream>` of a per-user sorted set
// whose score is a lease expiry, renewed while the stream lives. Each node also keeps a short-lived liveness key
// alive; a user at the cap has the slots of nodes whose key is gone (a node killed without closing) dropped
// before being refused, so a crash frees its slots within NODE_TTL_MS, and the lease bounds the rest. The script
// touches the user's set only (one slot, so it runs on a Redis Cluster too); the liveness keys of the nodes
// holding a full set's slots are asked separately, and only then. If Redis cannot be asked, the node falls back
// to its local count rather than refusing everyone.
import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'

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
const nothing = () => {}

// KEYS[1] the user's set; ARGV: now, lease expiry, member, max. Drops expired leases, then adds one if there is
// room (1); at the cap, answers the members held, so the caller can drop those of nodes that are gone and ask again.
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return redis.call('ZRANGE', KEYS[1], 0, -1) end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ${LEASE_MS})
return 1`

export default fp<{ maxStreamsPerUser: number }>(
  async (app, opts) => {
    const max = opts.maxStreamsPerUser
    // This node's slots, counted from the grant (not from the attach, which comes later), so that concurrent
    // opens cannot all pass the check; every grant, Redis or not, is counted until it is released.
    const slots = new Map<string, number>()
    const track = (userId: string, onRelease: () => void = nothing) => {
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
    const node = app.node
    // The members of a full set whose node's liveness key is gone.
    const ofGoneNodes = async (members: string[]) => {
      const nodeOf = (member: string) => member.slice(0, member.indexOf(':'))
      const nodes = [...new Set(members.map(nodeOf))].filter((id) => id && id !== node.id)
      const alive = await Promise.all(nodes.map((id) => redis.exists(node.keyPrefix + id)))
      const gone = new Set(nodes.filter((_, i) => alive[i] === 0))
      return members.filter((member) => gone.has(nodeOf(member)) || !nodeOf(member))
    }

    const renew = setInterval(() => {
      if (held.size === 0) return
      const expiry = Date.now() + LEASE_MS
      // One command per lease (the users' sets lie in many slots of a cluster); a few thousand every 15 s.
      Promise.all([...held].map(([member, userId]) => redis.zadd(key(userId), 'XX', expiry, member))).catch((err) =>
        app.log.warn({ err }, 'stream lease renewal failed')
      )
    }, RENEW_MS)
    renew.unref()
    app.addHook('onClose', async () => {
      clearInterval(renew)
    })

    app.decorate('streamSlots', {
      async acquire(userId) {
        const member = `${node.id}:${randomUUID()}`
        const ask = () => redis.eval(ACQUIRE, 1, key(userId), Date.now(), Date.now() + LEASE_MS, member, max)
        let granted: unknown
        try {
          // The liveness key is renewed with every grant, sent just before it (on one Redis, on the same connection,
          // so it lands first), so no node takes the new lease for one of a gone node.
          void node.alive()
          granted = await ask()
          if (Array.isArray(granted)) {
            const gone = await ofGoneNodes(granted as string[])
            if (gone.length > 0) {
              await redis.zrem(key(userId), ...gone)
              granted = await ask()
            }
          }
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
