// Rate limits: registration, login and refresh share one budget per client address; posting has a budget per
// user. Routes opt in with `config: { rateLimit: app.rateLimits.auth }`. The client address is the socket's
// unless TRUST_PROXY says which proxies may set X-Forwarded-For. With Redis (the redis plugin's
// commands connection) the budgets are cluster-wide; without it they live in one map of this node's.
import fp from 'fastify-plugin'
import rateLimit, { type FastifyRateLimitStore, type RateLimitOptions } from '@fastify/rate-limit'
import { RateLimited } from '../errors.ts'

// Past this many budgets the oldest is dropped, so a flood of client addresses cannot grow memory without bound.
const MAX_BUDGETS = 50_000

/**
 * The in-process store: one map for every route, so the routes of a group (auth, message) draw on one budget,
 * as they do on Redis. (@fastify/rate-limit's own LocalStore gives each route a map of its own.) Every route
 * limited here names its group, which is part of the key.
 */
class MemoryStore implements FastifyRateLimitStore {
  readonly #budgets = new Map<string, { count: number; resetAt: number }>()

  incr(
    key: string,
    callback: (error: Error | null, result?: { current: number; ttl: number }) => void,
    timeWindow: number
  ): void {
    const now = Date.now()
    let budget = this.#budgets.get(key)
    if (!budget || budget.resetAt <= now) {
      budget = { count: 0, resetAt: now + timeWindow }
      this.#budgets.delete(key)
      this.#budgets.set(key, budget)
      if (this.#budgets.size > MAX_BUDGETS) this.#budgets.delete(this.#budgets.keys().next().value!)
    }
    budget.count++
    callback(null, { current: budget.count, ttl: budget.resetAt - now })
  }

  child(): FastifyRateLimitStore {
    return this
  }
}

export interface RateLimitPluginOptions {
  authPerMinute: number
  messagesPer10s: number
}

declare module 'fastify' {
  interface FastifyInstance {
    rateLimits: { auth: RateLimitOptions; message: RateLimitOptions }
  }
}

export default fp<RateLimitPluginOptions>(
  async (app, opts) => {
    await app.register(rateLimit, {
      global: false,
      ...(app.redis ? { redis: app.redis.commands, nameSpace: 'chat:rl:' } : { store: MemoryStore }),
      skipOnError: true,
      addHeadersOnExceeding: { 'x-ratelimit-limit': true, 'x-ratelimit-remaining': true, 'x-ratelimit-reset': true },
      addHeaders: {
        'retry-after': true,
        'x-ratelimit-limit': true,
        'x-ratelimit-remaining': true,
        'x-ratelimit-reset': true
      },
      errorResponseBuilder: (_request, context) => new RateLimited(context.after)
    })
    app.decorate('rateLimits', {
      auth: { max: opts.authPerMinute, timeWindow: 60_000, groupId: 'auth' },
      message: {
        max: opts.messagesPer10s,
        timeWindow: 10_000,
        groupId: 'message',
        hook: 'preHandler',
        keyGenerator: (request) => request.auth.userId
      }
    })
  },
  { name: 'rate-limit', dependencies: ['redis'] }
)
