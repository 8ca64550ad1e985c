// What "typing" means: a member says they are typing in a room (or stopped), and the room's other members, on
// every node, hear it through the bus. `typing: true` lasts ttlMs unless sent again; a repeat within repeatMs
// only extends it, it is not fanned out again; `typing: false` or a post ends it at once. Lapses are found by a
// sweep every sweepMs on every node, over the shared store (typing-store.ts), so a typer whose node died still
// stops typing for everyone. A room shows at most maxPerRoom typists at once (TYPING_MAX_PER_ROOM, 5); the
// store refuses the others until one stops. Never stored in PostgreSQL.
import fp from 'fastify-plugin'
import type { FastifyBaseLogger } from 'fastify'
import type { TypingBody, User } from '@chat/contracts'
import type { Database } from '@chat/db'
import { NotMember, RoomNotFound, Unavailable } from '../errors.ts'
import type { Realtime } from '../plugins/realtime.ts'
import { PerTurn } from '../per-turn.ts'
import { MemberProfiles } from '../repositories/member-profiles.ts'
import { MemoryTypingStore, RedisTypingStore, type TypingStore } from '../typing-store.ts'

export interface TypingOptions {
  /** How long `typing: true` lasts unless sent again (6 s). */
  ttlMs?: number
  /** A repeat within this long is not fanned out again (2 s). */
  repeatMs?: number
  /** How often each node looks for lapsed typing (1 s): receivers hear of a lapse within this much of it. */
  sweepMs?: number
  /** Typists a room shows at once (TYPING_MAX_PER_ROOM, 5). */
  maxPerRoom?: number
}

export const TYPING_DEFAULTS = { ttlMs: 6_000, repeatMs: 2_000, sweepMs: 1_000, maxPerRoom: 5 } as const
// Lapses announced per sweep step; a sweep goes on step after step while it finds this many.
const SWEEP_LIMIT = 500
// Posts whose authors' typing one store call ends.
const POSTED_BATCH = 500

declare module 'fastify' {
  interface FastifyInstance {
    typing: TypingService
  }
}

export class TypingService {
  readonly options: Required<TypingOptions>
  readonly #profiles: MemberProfiles
  readonly #realtime: Realtime
  readonly #store: TypingStore
  readonly #log: FastifyBaseLogger
  /** The posts of one turn end their authors' typing in one store call. */
  readonly #posted: PerTurn<{ roomId: string; user: User }>

  constructor(db: Database, realtime: Realtime, store: TypingStore, options: TypingOptions, log: FastifyBaseLogger) {
    this.#profiles = new MemberProfiles(db)
    this.#realtime = realtime
    this.#store = store
    this.#log = log
    this.options = { ...TYPING_DEFAULTS, ...options }
    this.#posted = new PerTurn((batch) => this.#endTyping(batch), POSTED_BATCH)
  }

  /** Members only (404 for an unknown room, 403 CHAT_NOT_MEMBER). */
  async set(userId: string, { roomId, typing = true }: TypingBody): Promise<void> {
    const { room, user } = await this.#profiles.get(roomId, userId)
    if (!room) throw new RoomNotFound()
    if (!user) throw new NotMember()
    const fanOut = await this.#stored(() =>
      typing ? this.#store.start(roomId, user, Date.now(), this.options) : this.#store.stop(roomId, userId)
    )
    if (fanOut) await this.#realtime.publishTyping(roomId, user, typing)
  }

  /** Answers the membership questions asked so far, and ends the typing of the posts so far: before the database closes. */
  async close(): Promise<void> {
    await Promise.all([this.#profiles.close(), this.#posted.close()])
  }

  /**
   * A post ends its author's typing in the room at once (with the other posts of its turn, in one store call).
   * Never fails the post: the lapse would end it anyway.
   */
  posted(roomId: string, user: User): void {
    try {
      this.#posted.push({ roomId, user })
    } catch {
      // Closing: the lapse ends it.
    }
  }

  async #endTyping(batch: { roomId: string; user: User }[]): Promise<void> {
    try {
      const ended = await this.#store.stopMany(batch.map(({ roomId, user }) => ({ roomId, userId: user.id })))
      await Promise.all(
        batch.map(({ roomId, user }, i) => ended[i] && this.#realtime.publishTyping(roomId, user, false))
      )
    } catch (err) {
      this.#log.warn({ err }, 'typing: posts did not end it')
    }
  }

  /** Announces `typing: false` for every entry that lapsed. */
  async sweep(): Promise<void> {
    for (;;) {
      const lapsed = await this.#store.sweep(Date.now(), SWEEP_LIMIT)
      for (const { roomId, user } of lapsed) await this.#realtime.publishTyping(roomId, user, false)
      if (lapsed.length < SWEEP_LIMIT) return
    }
  }

  async #stored<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call()
    } catch (err) {
      this.#log.warn({ err }, 'typing store unavailable')
      throw new Unavailable()
    }
  }
}

export default fp<TypingOptions>(
  async (app, opts) => {
    const store = app.redis ? new RedisTypingStore(app.redis.commands, app.redis.prefix) : new MemoryTypingStore()
    const typing = new TypingService(app.db, app.realtime, store, opts, app.log)
    app.decorate('typing', typing)
    // One sweep at a time: a slow one makes the next tick skip, never pile up.
    let sweeping: Promise<void> | null = null
    const timer = setInterval(() => {
      sweeping ??= typing
        .sweep()
        .catch((err: unknown) => app.log.warn({ err }, 'typing: lapses not swept'))
        .finally(() => (sweeping = null))
    }, typing.options.sweepMs)
    timer.unref()
    app.addHook('onClose', async () => {
      clearInterval(timer)
      await sweeping
      await typing.close()
    })
  },
  { name: 'typing-service', dependencies: ['db', 'redis', 'realtime'] }
)
