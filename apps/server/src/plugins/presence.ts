// Presence: a user is online while they hold any stream or WebSocket on any node. Each node counts its own
// connections per user; the first one registers the user in the presence store (presence-store.ts: Redis, or
// this node alone), and the store says whether that made them online. When a user's last connection on the node
// closes, the node waits graceMs (5 s) before it unregisters them, so a reconnect within it is no change at all.
// A node that dies is swept out by the others (every sweepMs, 2 s) once its liveness key lapses (6 s).
//
// A change is pushed as `presence` to the user's rooms of at most PRESENCE_MAX_MEMBERS members, on the rooms'
// bus channels. Those publishes are paced node-wide: at most `batch` (100) go out back to back, then the fan-out
// rests paceMs (20 ms), so a user in 1,000 rooms costs ten bursts of 100 over ~0.2 s, and many users connecting at
// once never cost more than batch / paceMs publishes a second. Changes waiting for their turn are kept one per
// user, the latest, so a user who flaps costs one fan-out, not one per flap.
import fp from 'fastify-plugin'
import type { FastifyBaseLogger } from 'fastify'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Database } from '@chat/db'
import { MemoryPresenceStore, RedisPresenceStore, type PresenceStore } from '../presence-store.ts'
import { roomsUpTo } from '../repositories/rooms.ts'
import type { Realtime } from './realtime.ts'

export interface PresenceOptions {
  /** A user's last connection on a node closed this long ago before they are unregistered (5 s). */
  graceMs?: number
  /** How often each node sweeps out the users of dead nodes (2 s). */
  sweepMs?: number
  /** Publishes that go out back to back (100) … */
  batch?: number
  /** … before the fan-out rests this long (20 ms). */
  paceMs?: number
  /** Rooms with more members get no `presence` events (PRESENCE_MAX_MEMBERS, 500). */
  maxMembers?: number
}

/** What presence needs of a connection (a realtime Connection). */
export interface HeldConnection {
  readonly userId: string
  whenEnded(listener: () => void): void
}

export const PRESENCE_DEFAULTS = { graceMs: 5_000, sweepMs: 2_000, batch: 100, paceMs: 20, maxMembers: 500 } as const
const SWEEP_LIMIT = 1_000

declare module 'fastify' {
  interface FastifyInstance {
    presence: Presence
  }
}

export class Presence {
  readonly options: Required<PresenceOptions>
  readonly #store: PresenceStore
  readonly #db: Database
  readonly #realtime: Realtime
  readonly #log: FastifyBaseLogger
  /** This node's open connections per user. */
  readonly #counts = new Map<string, number>()
  /** Users whose last connection here closed, waiting out the grace period. */
  readonly #grace = new Map<string, NodeJS.Timeout>()
  /** Changes waiting to be fanned out: the latest per user. */
  readonly #changes = new Map<string, boolean>()
  readonly #stop = new AbortController()
  #fanningOut: Promise<void> | null = null

  constructor(
    store: PresenceStore,
    db: Database,
    realtime: Realtime,
    options: PresenceOptions,
    log: FastifyBaseLogger
  ) {
    this.#store = store
    this.#db = db
    this.#realtime = realtime
    this.#log = log
    this.options = { ...PRESENCE_DEFAULTS, ...options }
  }

  /** A connection of the user opened on this node. */
  connected(userId: string): void {
    const count = (this.#counts.get(userId) ?? 0) + 1
    this.#counts.set(userId, count)
    const waiting = this.#grace.get(userId)
    if (waiting) {
      clearTimeout(waiting)
      this.#grace.delete(userId)
      return
    }
    if (count === 1) this.#register(userId)
  }

  /** A connection of the user on this node ended. */
  disconnected(userId: string): void {
    const count = (this.#counts.get(userId) ?? 1) - 1
    if (count > 0) return void this.#counts.set(userId, count)
    this.#counts.delete(userId)
    if (this.#stop.signal.aborted) return
    const timer = setTimeout(() => {
      this.#grace.delete(userId)
      this.#store.disconnect(userId).then(
        (offline) => offline && this.#changed(userId, false),
        (err: unknown) => this.#log.warn({ err }, 'presence: not unregistered')
      )
    }, this.options.graceMs)
    timer.unref()
    this.#grace.set(userId, timer)
  }

  /** A connection of the user opened on this node: the user is online here until it ends. */
  holdWhile(connection: HeldConnection): void {
    const { userId } = connection
    this.connected(userId)
    connection.whenEnded(() => this.disconnected(userId))
  }

  /** Which of the users are online (as last announced). */
  online(userIds: readonly string[]): Promise<Set<string>> {
    return this.#store.online(userIds).catch((err: unknown) => {
      this.#log.warn({ err }, 'presence: not read')
      return new Set<string>()
    })
  }

  /** The users of dead nodes go offline; this node registers its users again if its own entries were swept. */
  async sweep(): Promise<void> {
    if (await this.#store.lost())
      for (const userId of [...this.#counts.keys(), ...this.#grace.keys()]) this.#register(userId)
    for (;;) {
      const offline = await this.#store.sweep(SWEEP_LIMIT)
      for (const userId of offline) this.#changed(userId, false)
      if (offline.length < SWEEP_LIMIT) return
    }
  }

  /** Stops timers and the fan-out. The store's entries are left to lapse with the node's key. */
  async close(): Promise<void> {
    this.#stop.abort()
    for (const timer of this.#grace.values()) clearTimeout(timer)
    this.#grace.clear()
    await this.#fanningOut
  }

  #register(userId: string): void {
    this.#store.connect(userId).then(
      (online) => online && this.#changed(userId, true),
      (err: unknown) => this.#log.warn({ err }, 'presence: not registered')
    )
  }

  #changed(userId: string, online: boolean): void {
    if (this.#stop.signal.aborted) return
    this.#changes.delete(userId)
    this.#changes.set(userId, online)
    this.#fanningOut ??= this.#fanOut().finally(() => (this.#fanningOut = null))
  }

  async #fanOut(): Promise<void> {
    const { batch, paceMs, maxMembers } = this.options
    let burst = 0
    try {
      for (const [userId, online] of this.#changes) {
        this.#changes.delete(userId)
        const roomIds = await roomsUpTo(this.#db, userId, maxMembers)
        for (const roomId of roomIds) {
          if (burst >= batch) {
            await sleep(paceMs, undefined, { signal: this.#stop.signal })
            burst = 0
          }
          burst++
          void this.#realtime.publishPresence(roomId, userId, online)
        }
      }
    } catch (err) {
      if (!this.#stop.signal.aborted) this.#log.warn({ err }, 'presence: fan-out failed')
    }
  }
}

export default fp<PresenceOptions>(
  async (app, opts) => {
    const store =
      app.redis && app.node
        ? new RedisPresenceStore(app.redis.commands, app.node, app.redis.prefix)
        : new MemoryPresenceStore()
    const presence = new Presence(store, app.db, app.realtime, opts, app.log)
    app.decorate('presence', presence)
    let sweeping: Promise<void> | null = null
    const timer = setInterval(() => {
      sweeping ??= presence
        .sweep()
        .catch((err: unknown) => app.log.warn({ err }, 'presence: dead nodes not swept'))
        .finally(() => (sweeping = null))
    }, presence.options.sweepMs)
    timer.unref()
    app.addHook('onClose', async () => {
      clearInterval(timer)
      await sweeping
      await presence.close()
    })
  },
  { name: 'presence', dependencies: ['db', 'redis', 'node', 'realtime'] }
)
