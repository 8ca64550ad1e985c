// Rate limits: registration, login and refresh share one budget per client address; posting, editing, deleting
// and reacting (over REST or WebSocket) share one budget per user. Routes opt in with
// `config: { rateLimit: app.rateLimits.auth }`; WebSocket commands check `app.rateLimits.messageBudget`. The
// client address is the socket's unless TRUST_PROXY says which proxies may set X-Forwarded-For. With Redis (the
// redis plugin's commands connection) the budgets are cluster-wide; without it they live in one map of this node's.
import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import rateLimit, { type RateLimitOptions } from '@fastify/rate-limit'
import { RateLimited } from '../errors.ts'
import { MemoryStore, redisStore } from '../rate-limit-stores.ts'

export interface RateLimitPluginOptions {
  authPerMinute: number
  messagesPer10s: number
}

declare module 'fastify' {
  interface FastifyInstance {
    rateLimits: {
      auth: RateLimitOptions
      message: RateLimitOptions
      /** Counts one message-budget use by the request's user; resolves with the seconds to wait, or 0. */
      messageBudget: (request: FastifyRequest) => Promise<number>
    }
  }
}

export default fp<RateLimitPluginOptions>(
  async (app, opts) => {
    await app.register(rateLimit, {
      global: false,
      store: app.redis ? redisStore(app.redis.commands, 'chat:rl:') : MemoryStore,
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
    const message: RateLimitOptions = {
      max: opts.messagesPer10s,
      timeWindow: 10_000,
      hook: 'preHandler',
      keyGenerator: (request) => `message:${request.auth.userId}`
    }
    const messageLimit = app.createRateLimit(message)
    app.decorate('rateLimits', {
      auth: {
        max: opts.authPerMinute,
        timeWindow: 60_000,
        keyGenerator: (request) => `auth:${request.ip}`
      },
      message,
      // As on the routes (skipOnError), a budget that cannot be counted does not refuse.
      messageBudget: async (request) => {
        const result = await messageLimit(request).catch(() => null)
        return !result || result.isAllowed || !result.isExceeded ? 0 : result.ttlInSeconds
      }
    })
  },
  { name: 'rate-limit', dependencies: ['redis'] }
)
