// Where rate-limit budgets are counted. @fastify/rate-limit gives each route a store of its own (its LocalStore
// and RedisStore both make one per route in child()), so routes could never share a budget. Here one set of
// counters serves every route and every WebSocket command: a budget is named by its key alone, and each key
// names its group (`auth:<address>`, `message:<user>`), so the routes of a group and the commands draw on one
// budget. The routes reach the counters through `storeOf`; the commands count on them directly.
import type { FastifyRateLimitStore } from '@fastify/rate-limit'
import type { RedisClient } from './plugins/redis.ts'

/** A use counted in a fixed window: the uses so far in it, and the milliseconds until it ends. */
export interface Counted {
  current: number
  ttl: number
}

export interface Counters {
  /** Counts one use of the key's budget; the window (`windowMs` long) starts with the first use. */
  incr(key: string, windowMs: number): Promise<Counted>
}

// Past this many budgets the oldest is dropped, so a flood of client addresses cannot grow memory without bound.
const MAX_BUDGETS = 50_000

/** One node's budgets, in one map. */
export class MemoryCounters implements Counters {
  readonly #budgets = new Map<string, { count: number; resetAt: number }>()

  async incr(key: string, windowMs: number): Promise<Counted> {
    const now = Date.now()
    let budget = this.#budgets.get(key)
    if (!budget || budget.resetAt <= now) {
      budget = { count: 0, resetAt: now + windowMs }
      this.#budgets.delete(key)
      this.#budgets.set(key, budget)
      if (this.#budgets.size > MAX_BUDGETS) this.#budgets.delete(this.#budgets.keys().next().value!)
    }
    budget.count++
    return { current: budget.count, ttl: budget.resetAt - now }
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

/** The cluster's budgets, on the redis plugin's commands connection (one key each, so any Redis Cluster slot). */
export class RedisCounters implements Counters {
  readonly #redis: RedisClient
  readonly #prefix: string

  constructor(redis: RedisClient, prefix: string) {
    this.#redis = redis
    this.#prefix = prefix
  }

  async incr(key: string, windowMs: number): Promise<Counted> {
    const [current, ttl] = (await this.#redis.eval(INCR, 1, `${this.#prefix}${key}`, windowMs)) as [number, number]
    return { current, ttl }
  }
}

/** The counters as @fastify/rate-limit's store: every route is handed the same ones. */
export function storeOf(counters: Counters): new () => FastifyRateLimitStore {
  return class SharedStore implements FastifyRateLimitStore {
    incr(key: string, callback: (error: Error | null, result?: Counted) => void, timeWindow: number): void {
      counters.incr(key, timeWindow).then(
        (counted) => callback(null, counted),
        (error: Error) => callback(error)
      )
    }

    child(): FastifyRateLimitStore {
      return this
    }
  }
}
