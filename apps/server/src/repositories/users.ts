// Reading and writing users. A deleted user keeps their row (their messages still name them) but loses their
// name, their password and their profile.
import type { User } from '@chat/contracts'
import { tables, type Database, and, asc, eq, gt, isNull, like } from '@chat/db'
import { InvalidCursor, errorChain } from '../errors.ts'

const { users } = tables
export type UserRow = typeof users.$inferSelect

export const DELETED_USERNAME = 'deleted'
export const DELETED_DISPLAY_NAME = 'Deleted user'

export function toUser(row: Pick<UserRow, 'id' | 'username' | 'displayName' | 'createdAt'>): User {
  return { id: row.id, username: row.username, displayName: row.displayName, createdAt: row.createdAt.toISOString() }
}

export function isUniqueViolation(error: unknown): boolean {
  return errorChain(error).some((e) => e.code === '23505')
}

export async function findLiveUser(db: Database, id: string): Promise<UserRow | undefined> {
  const [row] = await db
    .select()
    .from(users)
    .where(and(eq(users.id, id), isNull(users.deletedAt)))
  return row
}

export async function findLiveUserByName(db: Database, username: string): Promise<UserRow | undefined> {
  const [row] = await db
    .select()
    .from(users)
    .where(and(eq(users.username, username), isNull(users.deletedAt)))
  return row
}

/** Opaque cursors: base64url of the JSON of the last row's sort key. */
export function encodeCursor(key: unknown): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url')
}

export function decodeCursor<T>(cursor: string, valid: (value: unknown) => value is T): T {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw new InvalidCursor()
  }
  if (!valid(value)) throw new InvalidCursor()
  return value
}

const isString = (value: unknown): value is string => typeof value === 'string'

export async function listUsers(
  db: Database,
  { q, limit, cursor }: { q?: string | undefined; limit: number; cursor?: string | undefined }
): Promise<{ items: User[]; nextCursor: string | null }> {
  const conditions = [isNull(users.deletedAt)]
  if (q) conditions.push(like(users.username, `${q.toLowerCase().replace(/[\\%_]/g, '\\$&')}%`))
  if (cursor) conditions.push(gt(users.username, decodeCursor(cursor, isString)))
  const rows = await db
    .select()
    .from(users)
    .where(and(...conditions))
    .orderBy(asc(users.username))
    .limit(limit + 1)
  const page = rows.slice(0, limit)
  const last = page.at(-1)
  return { items: page.map(toUser), nextCursor: rows.length > limit && last ? encodeCursor(last.username) : null }
}
