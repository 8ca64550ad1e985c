// Sessions: started at login, rotated by refresh, revoked by logout, password change, refresh replay or account
// deletion. `isLive` is asked on every authenticated request; every check asked during one turn of the event loop
// is answered by one query. A session found live is taken as live for LIVE_FOR_MS (750 ms) after the query was
// sent, so a busy client costs a query a second at most, not one per turn. A revocation is seen at once by the
// node that made it, and by every other node as soon as the bus brings the end of its streams (`forget`); with
// the bus down, the lapse bounds it: every node refuses a revoked session within a second, Redis or not.
// Revocations are announced as a typed `revoked` event, which the realtime plugin turns into the end of the
// sessions' streams on every node.
import fp from 'fastify-plugin'
import { createHash, randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { Database } from '@chat/db'
import { InvalidRefreshToken } from '../errors.ts'
import { Lookups } from '../per-turn.ts'
import {
  insertSession,
  prepareLiveSessions,
  revokeSessions,
  revokeUserSessions,
  rotateRefreshToken,
  sessionOfRotatedToken,
  type NewRefreshToken,
  type RevokeReason
} from '../repositories/sessions.ts'

export type { RevokeReason }

export interface Revocation {
  sessionIds: string[]
  reason: RevokeReason
}

export interface StartedSession {
  userId: string
  sessionId: string
  refreshToken: string
}

interface LiveCheck {
  userId: string
  sessionId: string
}

/** How long a session found live is taken as live without asking again; under a second, query time included. */
export const LIVE_FOR_MS = 750
/** Sessions remembered at most; past it the lapsed ones go, and if none had lapsed, all of them. */
const MAX_REMEMBERED = 100_000

declare module 'fastify' {
  interface FastifyInstance {
    sessions: Sessions
  }
}

const sha256 = (token: string) => createHash('sha256').update(token).digest('base64url')

export class Sessions extends EventEmitter<{ revoked: [Revocation] }> {
  readonly #db: Database
  readonly #refreshTokenTtl: number
  readonly #checks: Lookups<LiveCheck, boolean>
  /** Sessions found live: session id → its user and until when (performance.now()) that answer stands. */
  readonly #live = new Map<string, { userId: string; until: number }>()
  /** Bumped by every forget, so a query sent before a revocation does not bring the session back. */
  #generation = 0

  constructor(db: Database, refreshTokenTtl: number) {
    super()
    this.#db = db
    this.#refreshTokenTtl = refreshTokenTtl
    const liveSessions = prepareLiveSessions(db)
    this.#checks = new Lookups(async (checks) => {
      const asked = { at: performance.now(), generation: this.#generation }
      const rows = await liveSessions.execute({ ids: [...new Set(checks.map((c) => c.sessionId))] })
      const owners = new Map(rows.map((row) => [row.id, row.userId]))
      if (asked.generation === this.#generation) this.#remember(owners, asked.at + LIVE_FOR_MS)
      return (c) => owners.get(c.sessionId) === c.userId
    })
  }

  /** Starts a session for a user who has just proven their password. */
  async start(userId: string): Promise<StartedSession> {
    const refresh = this.#newRefreshToken()
    const sessionId = await insertSession(this.#db, userId, refresh)
    return { userId, sessionId, refreshToken: refresh.token }
  }

  /** Rotates a refresh token; a replayed one revokes its session. Anything else is CHAT_INVALID_REFRESH_TOKEN. */
  async refresh(refreshToken: string): Promise<StartedSession> {
    const hash = sha256(refreshToken)
    const next = this.#newRefreshToken()
    const rotated = await rotateRefreshToken(this.#db, hash, next, new Date())
    if (rotated) return { ...rotated, refreshToken: next.token }
    const replayed = await sessionOfRotatedToken(this.#db, hash)
    if (replayed) await this.revoke([replayed], 'refresh_reuse')
    throw new InvalidRefreshToken()
  }

  async revoke(sessionIds: string[], reason: RevokeReason): Promise<void> {
    this.#announce(await revokeSessions(this.#db, sessionIds, reason), reason)
  }

  /** Revokes every live session of a user, except one when given. */
  async revokeUser(userId: string, reason: RevokeReason, exceptSessionId?: string): Promise<void> {
    this.#announce(await revokeUserSessions(this.#db, userId, reason, exceptSessionId), reason)
  }

  /** The session exists, belongs to the user, is not revoked, and the user is not deleted. */
  isLive(userId: string, sessionId: string): Promise<boolean> {
    const known = this.#live.get(sessionId)
    if (known && known.userId === userId && known.until > performance.now()) return Promise.resolve(true)
    return this.#checks.ask({ userId, sessionId })
  }

  /** These sessions are asked of the database again at their next check. */
  forget(sessionIds: readonly string[]): void {
    this.#generation++
    for (const id of sessionIds) this.#live.delete(id)
  }

  /** Answers the checks gathered so far and takes no more: before the database closes. */
  async close(): Promise<void> {
    await this.#checks.close()
    this.#live.clear()
  }

  #announce(sessionIds: string[], reason: RevokeReason): void {
    if (sessionIds.length === 0) return
    this.forget(sessionIds)
    this.emit('revoked', { sessionIds, reason })
  }

  #remember(owners: ReadonlyMap<string, string>, until: number): void {
    if (this.#live.size + owners.size > MAX_REMEMBERED) {
      const now = performance.now()
      for (const [id, known] of this.#live) if (known.until <= now) this.#live.delete(id)
      if (this.#live.size + owners.size > MAX_REMEMBERED) this.#live.clear()
    }
    for (const [sessionId, userId] of owners) this.#live.set(sessionId, { userId, until })
  }

  #newRefreshToken(): NewRefreshToken & { token: string } {
    const token = randomBytes(32).toString('base64url')
    return { token, hash: sha256(token), expiresAt: new Date(Date.now() + this.#refreshTokenTtl * 1000) }
  }
}

export default fp<{ refreshTokenTtl: number }>(
  async (app, opts) => {
    const sessions = new Sessions(app.db, opts.refreshTokenTtl)
    app.decorate('sessions', sessions)
    app.addHook('onClose', async () => {
      await sessions.close()
      sessions.removeAllListeners()
    })
  },
  { name: 'sessions', dependencies: ['db'] }
)
