// Where "who is online" lives. With Redis (each key after the deployment's prefix, all under the hash tag
// `{presence}`, so the scripts run on a Redis Cluster too): for each online user, the set of nodes holding a
// connection of theirs (`{presence}:online:<user>`); for each node, the users it registered
// (`{presence}:node-users:<node>`); and the nodes that registered any (`{presence}:nodes`). A user is online while
// their set is not empty. A node's entries are its own to add and remove, while its liveness key (plugins/node.ts)
// lives; once the key is gone (SIGKILL, a lost machine) any other node's sweep removes them, and every user left
// with an empty set is offline. Each change is decided inside one script, so exactly one node sees each
// transition and announces it. Without Redis: one node, one set.
import type { NodeLiveness } from './plugins/node.ts'
import type { RedisClient } from './plugins/redis.ts'

export interface PresenceStore {
  /** The node holds a connection of the user now; true when the user was offline until now. */
  connect(userId: string): Promise<boolean>
  /** The node holds none any more; true when the user is offline now. */
  disconnect(userId: string): Promise<boolean>
  /** Removes the entries of dead nodes; returns the users that went offline with them. */
  sweep(limit: number): Promise<string[]>
  /** Which of the users are online. */
  online(userIds: readonly string[]): Promise<Set<string>>
  /** True when this node's own entries were swept away (its key lapsed during an outage): register again. */
  lost(): Promise<boolean>
}

export class MemoryPresenceStore implements PresenceStore {
  readonly #online = new Set<string>()

  async connect(userId: string): Promise<boolean> {
    if (this.#online.has(userId)) return false
    this.#online.add(userId)
    return true
  }

  async disconnect(userId: string): Promise<boolean> {
    return this.#online.delete(userId)
  }

  async sweep(): Promise<string[]> {
    return []
  }

  async online(userIds: readonly string[]): Promise<Set<string>> {
    return new Set(userIds.filter((id) => this.#online.has(id)))
  }

  async lost(): Promise<boolean> {
    return false
  }
}

// KEYS: the user's set, the node's users, the node list. ARGV: node, user.
const CONNECT = `
local before = redis.call('SCARD', KEYS[1])
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[1])
if before == 0 then return 1 end
return 0`

// A user already swept off this node (removed = 0) was announced offline by the sweep.
const DISCONNECT = `
local removed = redis.call('SREM', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[2])
if removed == 1 and redis.call('SCARD', KEYS[1]) == 0 then return 1 end
return 0`

// KEYS: the node list. ARGV: online prefix, node-users prefix, limit, then the dead nodes (their liveness keys lie in
// other slots, so the caller asks them first). Takes at most `limit` users off dead nodes per run, so one run stays
// short however many users a dead node held.
const SWEEP = `
local offline = {}
local budget = tonumber(ARGV[3])
for i = 4, #ARGV do
  if budget <= 0 then break end
  local node = ARGV[i]
  local users = redis.call('SPOP', ARGV[2] .. node, budget)
  budget = budget - #users
  for _, user in ipairs(users) do
    local key = ARGV[1] .. user
    if redis.call('SREM', key, node) == 1 and redis.call('SCARD', key) == 0 then offline[#offline + 1] = user end
  end
  if redis.call('SCARD', ARGV[2] .. node) == 0 then redis.call('SREM', KEYS[1], node) end
end
return offline`

export class RedisPresenceStore implements PresenceStore {
  readonly #redis: RedisClient
  readonly #node: string
  readonly #nodeKeys: string
  readonly #online: string
  readonly #nodeUsers: string
  readonly #nodes: string
  /** How many users this node has registered: with none, it has nothing to lose. */
  #registered = 0

  constructor(redis: RedisClient, node: Pick<NodeLiveness, 'id' | 'keyPrefix'>, prefix: string) {
    this.#redis = redis
    this.#node = node.id
    this.#nodeKeys = node.keyPrefix
    this.#online = `${prefix}{presence}:online:`
    this.#nodeUsers = `${prefix}{presence}:node-users:`
    this.#nodes = `${prefix}{presence}:nodes`
  }

  #keys(userId: string): string[] {
    return [this.#online + userId, this.#nodeUsers + this.#node, this.#nodes]
  }

  async connect(userId: string): Promise<boolean> {
    const result = await this.#redis.eval(CONNECT, 3, ...this.#keys(userId), this.#node, userId)
    this.#registered++
    return result === 1
  }

  async disconnect(userId: string): Promise<boolean> {
    this.#registered = Math.max(0, this.#registered - 1)
    return (await this.#redis.eval(DISCONNECT, 3, ...this.#keys(userId), this.#node, userId)) === 1
  }

  async sweep(limit: number): Promise<string[]> {
    const others = (await this.#redis.smembers(this.#nodes)).filter((node) => node !== this.#node)
    const alive = await Promise.all(others.map((node) => this.#redis.exists(this.#nodeKeys + node)))
    const dead = others.filter((_, i) => alive[i] === 0)
    if (dead.length === 0) return []
    return (await this.#redis.eval(SWEEP, 1, this.#nodes, this.#online, this.#nodeUsers, limit, ...dead)) as string[]
  }

  async online(userIds: readonly string[]): Promise<Set<string>> {
    if (userIds.length === 0) return new Set()
    const batch = this.#redis.pipeline()
    for (const id of userIds) batch.exists(this.#online + id)
    const results = (await batch.exec()) ?? []
    return new Set(userIds.filter((_, i) => results[i]?.[1] === 1))
  }

  async lost(): Promise<boolean> {
    if (this.#registered === 0) return false
    const lost = (await this.#redis.sismember(this.#nodes, this.#node)) === 0
    if (lost) this.#registered = 0
    return lost
  }
}
