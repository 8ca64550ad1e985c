// Sessions and their refresh tokens. Only the SHA-256 of a refresh token is kept; a token whose row has
// rotated_at set and is presented again is a replay.
import { tables, type Database, and, eq, gt, inArray, isNotNull, isNull, ne, sql } from '@chat/db'

const { sessions, refreshTokens, users } = tables

export type RevokeReason = 'logout' | 'password_changed' | 'refresh_reuse' | 'user_deleted'

export interface NewRefreshToken {
  hash: string
  expiresAt: Date
}

/** Inserts a session and its first refresh token; returns the session id. */
export async function insertSession(db: Database, userId: string, refresh: NewRefreshToken): Promise<string> {
  return db.transaction(async (tx) => {
    const [session] = await tx
      .insert(sessions)
      .values({ userId, expiresAt: refresh.expiresAt })
      .returning({ id: sessions.id })
    await tx
      .insert(refreshTokens)
      .values({ tokenHash: refresh.hash, sessionId: session!.id, expiresAt: refresh.expiresAt })
    return session!.id
  })
}

/**
 * Trades the live, unexpired refresh token `hash` for `next`, in one transaction; null when `hash` is not a
 * live token of a live session. Only one caller can flip rotated_at from null: a concurrent replay finds it set.
 */
export async function rotateRefreshToken(
  db: Database,
  hash: string,
  next: NewRefreshToken,
  now: Date
): Promise<{ sessionId: string; userId: string } | null> {
  return db.transaction(async (tx) => {
    const [used] = await tx
      .update(refreshTokens)
      .set({ rotatedAt: now })
      .where(and(eq(refreshTokens.tokenHash, hash), isNull(refreshTokens.rotatedAt), gt(refreshTokens.expiresAt, now)))
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
}

/** The session of a refresh token that was already rotated: presenting it again is a replay. */
export async function sessionOfRotatedToken(db: Database, hash: string): Promise<string | undefined> {
  const [row] = await db
    .select({ sessionId: refreshTokens.sessionId })
    .from(refreshTokens)
    .where(and(eq(refreshTokens.tokenHash, hash), isNotNull(refreshTokens.rotatedAt)))
  return row?.sessionId
}

/** Revokes the listed sessions that are still live; returns the ids it revoked. */
export async function revokeSessions(db: Database, sessionIds: string[], reason: RevokeReason): Promise<string[]> {
  if (sessionIds.length === 0) return []
  const ended = await db
    .update(sessions)
    .set({ revokedAt: new Date(), revokedReason: reason })
    .where(and(inArray(sessions.id, sessionIds), isNull(sessions.revokedAt)))
    .returning({ id: sessions.id })
  return ended.map((s) => s.id)
}

/** Revokes every live session of a user but one (when given); returns the ids it revoked. */
export async function revokeUserSessions(
  db: Database,
  userId: string,
  reason: RevokeReason,
  exceptSessionId?: string
): Promise<string[]> {
  const conditions = [eq(sessions.userId, userId), isNull(sessions.revokedAt)]
  if (exceptSessionId) conditions.push(ne(sessions.id, exceptSessionId))
  const ended = await db
    .update(sessions)
    .set({ revokedAt: new Date(), revokedReason: reason })
    .where(and(...conditions))
    .returning({ id: sessions.id })
  return ended.map((s) => s.id)
}

/** Of the given sessions, the live ones (not revoked, user not deleted) with their user: asked on every request. */
export function prepareLiveSessions(db: Database) {
  return db
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
}
