// Sessions and access tokens. An access token is a short-lived HS256 JWT naming its session (sid); every
// request checks the signature, every claim, and that the session is still live in the database, so a
// logout, a rotation replay or a deleted user takes effect at once on every node sharing that database.
// Refresh tokens are 256-bit random strings kept only as SHA-256 hashes, rotated on each use.
import fp from 'fastify-plugin'
import jwt from '@fastify/jwt'
import { createHash, randomBytes } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { tables, and, eq, gt, inArray, isNotNull, isNull, ne, sql } from '@chat/db'
import { InvalidRefreshToken, Unauthorized } from '../errors.ts'
import { perTurn } from '../per-turn.ts'

export const TOKEN_ISSUER = 'chat-api'
export const TOKEN_AUDIENCE = 'chat-api'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export interface AuthContext {
  userId: string
  sessionId: string
  /** Access token expiry, ms since the epoch. */
  expiresAt: number
}

export type RevokeReason = 'logout' | 'password_changed' | 'refresh_reuse' | 'user_deleted'

export interface IssuedTokens {
  accessToken: string
  refreshToken: string
  tokenType: 'Bearer'
  expiresIn: number
}

export interface Sessions {
  /** Starts a session for a user who has just proven their password. */
  start(userId: string): Promise<IssuedTokens>
  /** Rotates a refresh token; a replayed one revokes its session. Returns the user id with the new tokens. */
  refresh(refreshToken: string): Promise<IssuedTokens & { userId: string }>
  revoke(sessionIds: string[], reason: RevokeReason): Promise<void>
  /** Revokes every live session of a user, except one when given. Returns the ids revoked. */
  revokeUser(userId: string, reason: RevokeReason, exceptSessionId?: string): Promise<string[]>
  /** The session exists, belongs to the user, is not revoked, and the user is not deleted. */
  isLive(userId: string, sessionId: string): Promise<boolean>
  /** Called with the ids of sessions just revoked, so their open streams can be ended. */
  onRevoked(listener: (ended: { sessionIds: string[]; reason: RevokeReason }) => void | Promise<void>): void
}

export interface AuthOptions {
  secret: string
  accessTokenTtl: number
  refreshTokenTtl: number
}

declare module 'fastify' {
  interface FastifyInstance {
    sessions: Sessions
    authenticate(request: FastifyRequest): Promise<void>
  }
  interface FastifyRequest {
    auth: AuthContext
  }
  interface FastifyContextConfig {
    /** The SSE route: EventSource cannot send headers, so ?access_token= is accepted too. */
    tokenInQuery?: boolean
  }
}

const sha256 = (token: string) => createHash('sha256').update(token).digest('base64url')

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header) {
    const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(header)
    return match?.[1]
  }
  if (request.routeOptions.config.tokenInQuery) {
    const query = request.query as { access_token?: unknown }
    if (typeof query.access_token === 'string') return query.access_token
  }
  return undefined
}

export default fp<AuthOptions>(
  async (app, opts) => {
    await app.register(jwt, {
      secret: opts.secret,
      // @fastify/jwt reads a numeric expiresIn as seconds (it converts to ms for fast-jwt itself).
      sign: { algorithm: 'HS256', iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, expiresIn: opts.accessTokenTtl },
      verify: {
        algorithms: ['HS256'],
        allowedIss: TOKEN_ISSUER,
        allowedAud: TOKEN_AUDIENCE,
        requiredClaims: ['sub', 'sid', 'iat', 'exp', 'iss', 'aud']
      }
    })
    const { sessions, refreshTokens, users } = tables
    const listeners: Array<Parameters<Sessions['onRevoked']>[0]> = []

    // Asked on every authenticated request: prepared once.
    const liveSessions = app.db
      .select({ id: sessions.id, userId: sessions.userId })
      .from(sessions)
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(
        and(
          sql`${sessions.id} = any(${sql.placeholder('ids')}::uuid[])`,
          isNull(sessions.revokedAt),
          isNull(users.deletedAt)
        )
      )
      .prepare('chat_live_sessions')
    // Every check asked during one turn of the event loop is answered by one query; each is still answered from
    // the database as it is after its request arrived, so a logout on any node is seen by the next request.
    const check = perTurn<{ userId: string; sessionId: string; settle(live: boolean): void; fail(e: unknown): void }>(
      async (batch) => {
        try {
          const rows = await liveSessions.execute({ ids: [...new Set(batch.map((c) => c.sessionId))] })
          const owners = new Map(rows.map((row) => [row.id, row.userId]))
          for (const c of batch) c.settle(owners.get(c.sessionId) === c.userId)
        } catch (error) {
          for (const c of batch) c.fail(error)
        }
      }
    )
    const isLive = (userId: string, sessionId: string) =>
      new Promise<boolean>((settle, fail) => check({ userId, sessionId, settle, fail }))

    const signAccess = (userId: string, sessionId: string) => app.jwt.sign({ sub: userId, sid: sessionId })

    const newRefresh = () => {
      const token = randomBytes(32).toString('base64url')
      return { token, hash: sha256(token), expiresAt: new Date(Date.now() + opts.refreshTokenTtl * 1000) }
    }

    const issued = (userId: string, sessionId: string, refreshToken: string): IssuedTokens => ({
      accessToken: signAccess(userId, sessionId),
      refreshToken,
      tokenType: 'Bearer',
      expiresIn: opts.accessTokenTtl
    })

    const notify = async (sessionIds: string[], reason: RevokeReason) => {
      if (sessionIds.length === 0) return
      for (const listener of listeners) await listener({ sessionIds, reason })
    }

    const revoke: Sessions['revoke'] = async (sessionIds, reason) => {
      if (sessionIds.length === 0) return
      const ended = await app.db
        .update(sessions)
        .set({ revokedAt: new Date(), revokedReason: reason })
        .where(and(inArray(sessions.id, sessionIds), isNull(sessions.revokedAt)))
        .returning({ id: sessions.id })
      await notify(
        ended.map((s) => s.id),
        reason
      )
    }

    const service: Sessions = {
      async start(userId) {
        const refresh = newRefresh()
        const sessionId = await app.db.transaction(async (tx) => {
          const [session] = await tx
            .insert(sessions)
            .values({ userId, expiresAt: refresh.expiresAt })
            .returning({ id: sessions.id })
          await tx
            .insert(refreshTokens)
            .values({ tokenHash: refresh.hash, sessionId: session!.id, expiresAt: refresh.expiresAt })
          return session!.id
        })
        return issued(userId, sessionId, refresh.token)
      },

      async refresh(refreshToken) {
        const hash = sha256(refreshToken)
        const next = newRefresh()
        const now = new Date()
        const rotated = await app.db.transaction(async (tx) => {
          // Only one caller can flip rotated_at from null: a concurrent replay finds it set.
          const [used] = await tx
            .update(refreshTokens)
            .set({ rotatedAt: now })
            .where(
              and(eq(refreshTokens.tokenHash, hash), isNull(refreshTokens.rotatedAt), gt(refreshTokens.expiresAt, now))
            )
            .returning({ sessionId: refreshTokens.sessionId })
          if (!used) return null
          const [live] = await tx
            .select({ userId: sessions.userId })
            .from(sessions)
            .innerJoin(users, eq(users.id, sessions.userId))
            .where(and(eq(sessions.id, used.sessionId), isNull(sessions.revokedAt), isNull(users.deletedAt)))
          if (!live) return null
          await tx
            .insert(refreshTokens)
            .values({ tokenHash: next.hash, sessionId: used.sessionId, expiresAt: next.expiresAt })
          await tx.update(sessions).set({ expiresAt: next.expiresAt }).where(eq(sessions.id, used.sessionId))
          return { sessionId: used.sessionId, userId: live.userId }
        })
        if (rotated) return { ...issued(rotated.userId, rotated.sessionId, next.token), userId: rotated.userId }

        const [replayed] = await app.db
          .select({ sessionId: refreshTokens.sessionId })
          .from(refreshTokens)
          .where(and(eq(refreshTokens.tokenHash, hash), isNotNull(refreshTokens.rotatedAt)))
        if (replayed) await revoke([replayed.sessionId], 'refresh_reuse')
        throw new InvalidRefreshToken()
      },

      revoke,

      async revokeUser(userId, reason, exceptSessionId) {
        const conditions = [eq(sessions.userId, userId), isNull(sessions.revokedAt)]
        if (exceptSessionId) conditions.push(ne(sessions.id, exceptSessionId))
        const ended = await app.db
          .update(sessions)
          .set({ revokedAt: new Date(), revokedReason: reason })
          .where(and(...conditions))
          .returning({ id: sessions.id })
        const ids = ended.map((s) => s.id)
        await notify(ids, reason)
        return ids
      },

      isLive,

      onRevoked(listener) {
        listeners.push(listener)
      }
    }
    app.decorate('sessions', service)

    app.decorateRequest('auth', null as unknown as AuthContext)
    app.decorate('authenticate', async (request: FastifyRequest) => {
      const token = bearer(request)
      if (!token) throw new Unauthorized()
      let claims: { sub?: unknown; sid?: unknown; exp?: unknown }
      try {
        claims = app.jwt.verify(token)
      } catch {
        throw new Unauthorized()
      }
      const { sub, sid, exp } = claims
      if (
        typeof sub !== 'string' ||
        typeof sid !== 'string' ||
        typeof exp !== 'number' ||
        !UUID.test(sub) ||
        !UUID.test(sid)
      ) {
        throw new Unauthorized()
      }
      if (!(await service.isLive(sub, sid))) throw new Unauthorized()
      request.auth = { userId: sub, sessionId: sid, expiresAt: exp * 1000 }
    })
  },
  { name: 'auth', dependencies: ['db'] }
)
