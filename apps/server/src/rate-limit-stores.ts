// Where rate-limit budgets are counted. @fastify/rate-limit gives each route a store of its own (its LocalStore
// and RedisStore both make one per route in child()), so routes could never share a budget. These stores hand
// every route the same counters: a budget is named by its key alone, and each key names its group
// (`auth:<address>`, `message:<user>`), so the routes of a group, and the WebSocket commands, draw on one budget.
import type { FastifyRateLimitStore } from '@fastify/rate-limit'
import type { RedisClient } from './plugins/redis.ts'

type Callback = (error: Error | null, result?: { current: number; ttl: number }) => void

// Past this many budgets the oldest is dropped, so a flood of client addresses cannot grow memory without bound.
const MAX_BUDGETS = 50_000

/** One node's budgets, in one map. */
export class MemoryStore implements FastifyRateLimitStore {
  readonly #budgets = new Map<string, { count: number; resetAt: number }>()

  incr(key: string, callback: Callback, timeWindow: number): void {
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

// A fixed window per key: the first hit starts it, later hits count in it; returns the count and what is left.
const INCR = `
local current = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {current, ttl}
`

/** The cluster's budgets, on the redis plugin's commands connection. */
export function redisStore(redis: RedisClient, prefix: string): new () => FastifyRateLimitStore {
  return class RedisStore implements FastifyRateLimitStore {
    incr(key: string, callback: Callback, timeWindow: number): void {
      redis.eval(INCR, 1, `${prefix}${key}`, timeWindow).then(
        (result) => {
          const [current, ttl] = result as [number, number]
          callback(null, { current, ttl })
        },
        (error: Error) => callback(error)
      )
    }

    child(): FastifyRateLimitStore {
      return this
    }
  }
}
