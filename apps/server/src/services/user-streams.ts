// Where a user stream starts. Without a cursor: every room of the user, live. With one: its base (the user's
// own, else `reset` and a fresh start), each room the user is still in replayed after the cursor's position
// (a room joined since, from the user's member.joined), and a notice for each room of the base the user left or
// that was deleted since. Only the caller's current rooms are ever replayed, so a forged cursor can do no more
// than replay those. Four queries at most, whatever the number of rooms. Old bases are swept once an hour.
import fp from 'fastify-plugin'
import type { Database } from '@chat/db'
import { parseCursor, positionsOf, type UserPlan } from '@chat/realtime'
import { InvalidCursor } from '../errors.ts'
import { deleteBasesBefore, existingRooms, joinSeqs, loadBase, memberRoomHeads } from '../repositories/stream-bases.ts'

/** A cursor stays resumable this long after its base was stored. */
export const BASE_RETENTION_MS = 7 * 24 * 3600 * 1000
const SWEEP_EVERY_MS = 3600 * 1000

declare module 'fastify' {
  interface FastifyInstance {
    userStreams: UserStreamsService
  }
}

export class UserStreamsService {
  readonly #db: Database

  constructor(db: Database) {
    this.#db = db
  }

  /** Throws CHAT_INVALID_CURSOR (400) for a string that is not a cursor this server writes. */
  checkCursor(cursor: string | undefined): void {
    if (cursor !== undefined && !parseCursor(cursor)) throw new InvalidCursor()
  }

  async plan(userId: string, cursor: string | undefined): Promise<UserPlan> {
    const heads = await memberRoomHeads(this.#db, userId)
    const fresh = (reset: string | null): UserPlan => ({
      base: null,
      rooms: heads.map(({ roomId }) => ({ roomId, afterSeq: null })),
      deleted: [],
      left: [],
      reset
    })
    const parsed = cursor === undefined ? null : parseCursor(cursor)
    if (!parsed) return fresh(null)
    const base = await loadBase(this.#db, userId, parsed.baseId)
    if (!base) return fresh('cursor_expired')
    const positions = positionsOf(base, parsed)
    const rooms: Array<{ roomId: string; afterSeq: number }> = []
    const joinedSince: string[] = []
    for (const { roomId, lastSeq } of heads) {
      const at = positions.get(roomId)
      if (at === undefined) joinedSince.push(roomId)
      else rooms.push({ roomId, afterSeq: Math.min(at, lastSeq) })
    }
    const member = new Set(heads.map((h) => h.roomId))
    const gone = base.rooms.filter((roomId) => !member.has(roomId))
    const [joins, existing] = await Promise.all([
      joinSeqs(this.#db, userId, joinedSince),
      existingRooms(this.#db, gone)
    ])
    // A room the user created has no member.joined of theirs: it is replayed from its first event.
    for (const roomId of joinedSince) rooms.push({ roomId, afterSeq: Math.max(0, (joins.get(roomId) ?? 1) - 1) })
    return {
      base,
      rooms,
      deleted: gone.filter((roomId) => !existing.has(roomId)),
      left: gone.filter((roomId) => existing.has(roomId)),
      reset: null
    }
  }

  sweep(): Promise<void> {
    return deleteBasesBefore(this.#db, new Date(Date.now() - BASE_RETENTION_MS))
  }
}

export default fp(
  async (app) => {
    const service = new UserStreamsService(app.db)
    app.decorate('userStreams', service)
    const timer = setInterval(() => {
      service.sweep().catch((err: unknown) => app.log.warn({ err }, 'stream bases not swept'))
    }, SWEEP_EVERY_MS)
    timer.unref()
    app.addHook('onClose', async () => clearInterval(timer))
  },
  { name: 'user-streams-service', dependencies: ['db'] }
)
