// Rate limits: registration, login and refresh share one budget per client address; posting, editing, deleting
// and reacting (over REST or WebSocket) share one budget per user; typing (REST or WebSocket) has one of its own
// per user. Routes opt in with `config: { rateLimit: app.rateLimits.auth }`; WebSocket commands check
// `app.rateLimits.messageBudget` / `typingBudget`. The
// client address is the socket's unless TRUST_PROXY says which proxies may set X-Forwarded-For. With Redis (the
// redis plugin's commands connection) the budgets are cluster-wide; without it they live in one map of this node's.
import fp from 'fastify-plugin'
import rateLimit, { type RateLimitOptions } from '@fastify/rate-limit'
import { RateLimited } from '../errors.ts'
import { MemoryCounters, RedisCounters, storeOf } from '../rate-limit-stores.ts'

export interface RateLimitPluginOptions {
  authPerMinute: number
  messagesPer10s: number
  /** Typing requests per 10 seconds per user (default 50). */
  typingPer10s?: number
}

/**
 * Counts one use of a budget by the user; resolves with the seconds to wait, or 0. It takes the user, not a
 * request, so that an open WebSocket keeps only its user's id.
 */
export type Budget = (userId: string) => Promise<number>

declare module 'fastify' {
  interface FastifyInstance {
    rateLimits: {
      auth: RateLimitOptions
      message: RateLimitOptions
      typing: RateLimitOptions
      messageBudget: Budget
      typingBudget: Budget
    }
  }
}

export default fp<RateLimitPluginOptions>(
  async (app, opts) => {
    const counters = app.redis ? new RedisCounters(app.redis.commands, `${app.redis.prefix}rl:`) : new MemoryCounters()
    await app.register(rateLimit, {
      global: false,
      store: storeOf(counters),
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
    // A budget per user over 10 s, for routes (the options) and WebSocket commands (the budget), on one key.
    const perUser = (name: string, max: number): [RateLimitOptions, Budget] => {
      const window = 10_000
      const options: RateLimitOptions = {
        max,
        timeWindow: window,
        hook: 'preHandler',
        keyGenerator: (request) => `${name}:${request.auth.userId}`
      }
      // Counted as the routes count (over max: refused until the window ends); as on the routes (skipOnError),
      // a budget that cannot be counted does not refuse.
      const budget: Budget = async (userId) => {
        const counted = await counters.incr(`${name}:${userId}`, window).catch(() => null)
        return counted && counted.current > max ? Math.ceil(counted.ttl / 1000) : 0
      }
      return [options, budget]
    }
    const [message, messageBudget] = perUser('message', opts.messagesPer10s)
    const [typing, typingBudget] = perUser('typing', opts.typingPer10s ?? 50)
    app.decorate('rateLimits', {
      auth: {
        max: opts.authPerMinute,
        timeWindow: 60_000,
        keyGenerator: (request) => `auth:${request.ip}`
      },
      message,
      typing,
      messageBudget,
      typingBudget
    })
  },
  { name: 'rate-limit', dependencies: ['redis'] }
)
