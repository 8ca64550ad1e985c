// Rate limits: registration, login and refresh share one budget per client address; posting has a budget per
// user. Routes opt in with `config: { rateLimit: app.rateLimits.auth }`. The client address is the socket's
// unless TRUST_PROXY says which proxies may set X-Forwarded-For. With Redis (the redis plugin's
// commands connection) the budgets are cluster-wide.
import fp from 'fastify-plugin'
import rateLimit, { type RateLimitOptions } from '@fastify/rate-limit'
import { RateLimited } from '../errors.ts'

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
      ...(app.redis ? { redis: app.redis.commands, nameSpace: 'chat:rl:' } : {}),
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
