// Rooms and memberships. Writes that touch a room's log take the room's row lock first (lockRoom), inside a
// transaction the rooms service opens; several rooms are always locked in id order, the order batched posts
// lock them in, so no two writers can wait on each other.
import { v7 as uuidv7 } from 'uuid'
import type { Member, Room } from '@chat/contracts'
import { tables, type Database, type Transaction, and, asc, desc, eq, gt, inArray, lt } from '@chat/db'
import { decodeCursor, isString, toPage } from './page-cursor.ts'
import type { RoomRow } from './room-log.ts'
import { toUser } from './users.ts'

const { rooms, memberships, users } = tables
type Executor = Database | Transaction
export type Role = 'owner' | 'member'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const isUuid = (v: unknown): v is string => typeof v === 'string' && UUID.test(v)

export function toRoom(row: RoomRow): Room {
  return {
    id: row.id,
    name: row.name,
    topic: row.topic,
    ownerId: row.ownerId,
    createdAt: row.createdAt.toISOString(),
    memberCount: row.memberCount,
    lastSeq: row.lastSeq
  }
}

export async function findRoom(db: Executor, roomId: string): Promise<RoomRow | undefined> {
  const [row] = await db.select().from(rooms).where(eq(rooms.id, roomId))
  return row
}

/** Locks the room's row for the rest of the transaction; undefined when there is no such room. */
export async function lockRoom(tx: Transaction, roomId: string): Promise<RoomRow | undefined> {
  const [row] = await tx.select().from(rooms).where(eq(rooms.id, roomId)).for('update')
  return row
}

/** Locks, in id order, every room the user is a member of. */
export async function lockRoomsOf(tx: Transaction, userId: string): Promise<Array<{ id: string; ownerId: string }>> {
  const joined = tx.select({ roomId: memberships.roomId }).from(memberships).where(eq(memberships.userId, userId))
  return tx
    .select({ id: rooms.id, ownerId: rooms.ownerId })
    .from(rooms)
    .where(inArray(rooms.id, joined))
    .orderBy(asc(rooms.id))
    .for('update')
}

/** The user's role in the room; undefined when not a member. */
export async function roleIn(db: Executor, roomId: string, userId: string): Promise<Role | undefined> {
  const [row] = await db
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.roomId, roomId), eq(memberships.userId, userId)))
  return row?.role
}

/** Whether the room exists and whether the user is in it, in one read. */
export async function roomAccess(
  db: Executor,
  roomId: string,
  userId: string
): Promise<{ room: boolean; member: boolean }> {
  const [row] = await db
    .select({ member: memberships.userId })
    .from(rooms)
    .leftJoin(memberships, and(eq(memberships.roomId, rooms.id), eq(memberships.userId, userId)))
    .where(eq(rooms.id, roomId))
  return { room: row !== undefined, member: row !== undefined && row.member !== null }
}

/** A new room with its owner as first member; no event is stored. */
export async function insertRoom(
  tx: Transaction,
  ownerId: string,
  name: string,
  topic: string | null
): Promise<RoomRow> {
  const [room] = await tx.insert(rooms).values({ id: uuidv7(), name, topic, ownerId, memberCount: 1 }).returning()
  await tx.insert(memberships).values({ roomId: room!.id, userId: ownerId, role: 'owner' })
  return room!
}

export async function insertMember(tx: Transaction, roomId: string, userId: string): Promise<void> {
  await tx.insert(memberships).values({ roomId, userId, role: 'member' })
}

export async function deleteMember(tx: Transaction, roomId: string, userId: string): Promise<void> {
  await tx.delete(memberships).where(and(eq(memberships.roomId, roomId), eq(memberships.userId, userId)))
}

/** Deletes rooms with their memberships and logs. */
export async function deleteRooms(tx: Transaction, roomIds: string[]): Promise<void> {
  if (roomIds.length > 0) await tx.delete(rooms).where(inArray(rooms.id, roomIds))
}

export async function listRooms(
  db: Executor,
  userId: string,
  { mine, limit, cursor }: { mine: boolean; limit: number; cursor?: string | undefined }
): Promise<{ items: Room[]; nextCursor: string | null }> {
  // Room ids are UUIDv7: ordering by id is ordering by creation, newest first.
  const after = cursor ? lt(rooms.id, decodeCursor(cursor, isUuid)) : undefined
  const base = mine
    ? db
        .select({ room: rooms })
        .from(rooms)
        .innerJoin(memberships, and(eq(memberships.roomId, rooms.id), eq(memberships.userId, userId)))
    : db.select({ room: rooms }).from(rooms)
  const rows = await base
    .where(after)
    .orderBy(desc(rooms.id))
    .limit(limit + 1)
  return toPage(
    rows,
    limit,
    (r) => toRoom(r.room),
    (r) => r.room.id
  )
}

export async function listMembers(
  db: Executor,
  roomId: string,
  { limit, cursor }: { limit: number; cursor?: string | undefined }
): Promise<{ items: Member[]; nextCursor: string | null }> {
  const conditions = [eq(memberships.roomId, roomId)]
  if (cursor) conditions.push(gt(users.username, decodeCursor(cursor, isString)))
  const rows = await db
    .select({ user: users, role: memberships.role, joinedAt: memberships.joinedAt })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(...conditions))
    .orderBy(asc(users.username))
    .limit(limit + 1)
  return toPage(
    rows,
    limit,
    (r) => ({ user: toUser(r.user), role: r.role, joinedAt: r.joinedAt.toISOString() }),
    (r) => r.user.username
  )
}
