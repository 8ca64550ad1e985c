// Sessions: started at login, rotated by refresh, revoked by logout, password change, refresh replay or account
// deletion. `isLive` is asked on every authenticated request; every check asked during one turn of the event loop
// is answered by one query, each still from the database as it is after its request arrived, so a logout on any
// node is seen by the next request. Revocations are announced as a typed `revoked` event, which the realtime
// plugin turns into the end of the sessions' streams on every node.
import fp from 'fastify-plugin'
import { createHash, randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { Database } from '@chat/db'
import { InvalidRefreshToken } from '../errors.ts'
import { PerTurn } from '../per-turn.ts'
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
  settle(live: boolean): void
  fail(error: unknown): void
}

declare module 'fastify' {
  interface FastifyInstance {
    sessions: Sessions
  }
}

const sha256 = (token: string) => createHash('sha256').update(token).digest('base64url')

export class Sessions extends EventEmitter<{ revoked: [Revocation] }> {
  readonly #db: Database
  readonly #refreshTokenTtl: number
  readonly #checks: PerTurn<LiveCheck>

  constructor(db: Database, refreshTokenTtl: number) {
    super()
    this.#db = db
    this.#refreshTokenTtl = refreshTokenTtl
    const liveSessions = prepareLiveSessions(db)
    this.#checks = new PerTurn(async (batch) => {
      try {
        const rows = await liveSessions.execute({ ids: [...new Set(batch.map((c) => c.sessionId))] })
        const owners = new Map(rows.map((row) => [row.id, row.userId]))
        for (const c of batch) c.settle(owners.get(c.sessionId) === c.userId)
      } catch (error) {
        for (const c of batch) c.fail(error)
      }
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
    return new Promise((settle, fail) => this.#checks.push({ userId, sessionId, settle, fail }))
  }

  /** Answers the checks gathered so far and takes no more: before the database closes. */
  close(): Promise<void> {
    return this.#checks.close()
  }

  #announce(sessionIds: string[], reason: RevokeReason): void {
    if (sessionIds.length > 0) this.emit('revoked', { sessionIds, reason })
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
