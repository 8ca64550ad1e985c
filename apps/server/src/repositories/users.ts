// The users table. A deleted user keeps their row (their messages still name them) but loses their name, their
// password and their profile.
import type { User } from '@chat/contracts'
import { tables, type Database, type Transaction, and, asc, eq, gt, isNull, like } from '@chat/db'
import { decodeCursor, isString, toPage } from './page-cursor.ts'

const { users } = tables
export type UserRow = typeof users.$inferSelect
type Executor = Database | Transaction

const DELETED_USERNAME = 'deleted'
const DELETED_DISPLAY_NAME = 'Deleted user'

export function toUser(row: Pick<UserRow, 'id' | 'username' | 'displayName' | 'createdAt'>): User {
  return { id: row.id, username: row.username, displayName: row.displayName, createdAt: row.createdAt.toISOString() }
}

export async function findLiveUser(db: Executor, id: string): Promise<UserRow | undefined> {
  const [row] = await db
    .select()
    .from(users)
    .where(and(eq(users.id, id), isNull(users.deletedAt)))
  return row
}

export async function findLiveUserByName(db: Executor, username: string): Promise<UserRow | undefined> {
  const [row] = await db
    .select()
    .from(users)
    .where(and(eq(users.username, username), isNull(users.deletedAt)))
  return row
}

/** Throws a unique violation when the username is taken by a live user. */
export async function insertUser(
  db: Executor,
  values: { username: string; displayName: string; passwordHash: string }
): Promise<UserRow> {
  const [row] = await db.insert(users).values(values).returning()
  return row!
}

/** Changes a live user; undefined when there is no such live user. */
export async function updateUser(
  db: Executor,
  id: string,
  changes: { displayName?: string; passwordHash?: string }
): Promise<UserRow | undefined> {
  const [row] = await db
    .update(users)
    .set(changes)
    .where(and(eq(users.id, id), isNull(users.deletedAt)))
    .returning()
  return row
}

/** Takes away the user's name, password and profile; the row stays for the messages that name it. */
export async function markUserDeleted(tx: Transaction, id: string): Promise<void> {
  await tx
    .update(users)
    .set({ deletedAt: new Date(), username: DELETED_USERNAME, displayName: DELETED_DISPLAY_NAME, passwordHash: null })
    .where(eq(users.id, id))
}

export async function listUsers(
  db: Executor,
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
  return toPage(rows, limit, toUser, (row) => row.username)
}
