// Rooms and memberships. Writes that touch a room's log take the room's row lock first (lockRoom), inside a
// transaction the rooms service opens; several rooms are always locked in id order, the order batched posts
// lock them in, so no two writers can wait on each other.
import { v7 as uuidv7 } from 'uuid'
import type { Member, Room } from '@chat/contracts'
import { tables, type Database, type Transaction, and, asc, desc, eq, gt, inArray, lt, lte, sql } from '@chat/db'
import { decodeCursor, isString, toPage } from './page-cursor.ts'
import type { RoomRow } from './room-log.ts'
import { toUser } from './users.ts'

const { rooms, memberships, users } = tables
type Executor = Database | Transaction
export type Role = 'owner' | 'member'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const isUuid = (v: unknown): v is string => typeof v === 'string' && UUID.test(v)

/** The caller's read state in a room; null for a room they are not in. */
export interface ReadState {
  lastReadSeq: number
  unreadCount: number
}

export function toRoom(row: RoomRow, read: ReadState | null): Room {
  return {
    id: row.id,
    name: row.name,
    topic: row.topic,
    ownerId: row.ownerId,
    createdAt: row.createdAt.toISOString(),
    memberCount: row.memberCount,
    lastSeq: row.lastSeq,
    lastReadSeq: read?.lastReadSeq ?? null,
    unreadCount: read?.unreadCount ?? null
  }
}

/**
 * Selected beside a room joined to the caller's membership (left or inner): their marker, and the messages of
 * others after it that are not deleted, counted on the partial index room_events_live_messages. Null columns
 * when the membership is absent.
 */
function readStateColumns(userId: string) {
  return {
    member: memberships.userId,
    lastReadSeq: memberships.lastReadSeq,
    unreadCount: sql<number | null>`(
      SELECT count(*)::integer FROM room_events e
      WHERE e.room_id = ${rooms.id} AND e.seq > ${memberships.lastReadSeq} AND e.type = 'message'
        AND e.deleted_at IS NULL AND e.user_id <> ${userId}
    )`
  }
}

type WithReadState = { room: RoomRow; member: string | null; lastReadSeq: number | null; unreadCount: number | null }

function toRoomFor(row: WithReadState): Room {
  const read = row.member === null ? null : { lastReadSeq: row.lastReadSeq ?? 0, unreadCount: row.unreadCount ?? 0 }
  return toRoom(row.room, read)
}

const memberOf = (userId: string) => and(eq(memberships.roomId, rooms.id), eq(memberships.userId, userId))

/** The room as `userId` reads it (their read state when they are a member); undefined when there is none. */
export async function findRoomFor(db: Executor, roomId: string, userId: string): Promise<Room | undefined> {
  const [row] = await db
    .select({ room: rooms, ...readStateColumns(userId) })
    .from(rooms)
    .leftJoin(memberships, memberOf(userId))
    .where(eq(rooms.id, roomId))
  return row ? toRoomFor(row) : undefined
}

export type ReadOutcome = 'moved' | 'unchanged' | 'room_not_found' | 'not_member' | 'out_of_range'

/** Moves the member's read marker forward to `seq` (chat_mark_read), in one statement. */
export async function markRead(db: Executor, roomId: string, userId: string, seq: number): Promise<ReadOutcome> {
  const [row] = await db
    .select({ outcome: sql<ReadOutcome>`o` })
    .from(sql`chat_mark_read(${roomId}, ${userId}, ${seq}) AS o`)
  return row!.outcome
}

/** Whether the room exists, whether the user is in it and, when they are, the user as others see them. */
/**
 * Who is a member where, for many (room, user) pairs in one prepared statement: each asked room that exists,
 * with those of the asked users who are its members (the profile of each). The caller matches its pairs.
 */
export function prepareMemberProfiles(db: Database) {
  return db
    .select({ roomId: rooms.id, user: users })
    .from(rooms)
    .leftJoin(
      memberships,
      and(eq(memberships.roomId, rooms.id), sql`${memberships.userId} = any(${sql.placeholder('users')}::uuid[])`)
    )
    .leftJoin(users, eq(users.id, memberships.userId))
    .where(sql`${rooms.id} = any(${sql.placeholder('rooms')}::uuid[])`)
    .prepare('chat_member_profiles')
}

/** The rooms of the user with at most `maxMembers` members: where their presence is pushed. */
export async function roomsUpTo(db: Executor, userId: string, maxMembers: number): Promise<string[]> {
  const rows = await db
    .select({ id: rooms.id })
    .from(memberships)
    .innerJoin(rooms, eq(rooms.id, memberships.roomId))
    .where(and(eq(memberships.userId, userId), lte(rooms.memberCount, maxMembers)))
  return rows.map((row) => row.id)
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

/** A new member of a locked room; `lastReadSeq`: their own member.joined, so earlier history is not unread. */
export async function insertMember(tx: Transaction, roomId: string, userId: string, lastReadSeq = 0): Promise<void> {
  await tx.insert(memberships).values({ roomId, userId, role: 'member', lastReadSeq })
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
  // One query a page however many rooms: each room's read state is a column of it, not a query of its own.
  const after = cursor ? lt(rooms.id, decodeCursor(cursor, isUuid)) : undefined
  const select = db.select({ room: rooms, ...readStateColumns(userId) }).from(rooms)
  const base = mine ? select.innerJoin(memberships, memberOf(userId)) : select.leftJoin(memberships, memberOf(userId))
  const rows = await base
    .where(after)
    .orderBy(desc(rooms.id))
    .limit(limit + 1)
  return toPage(rows, limit, toRoomFor, (r) => r.room.id)
}

export async function listMembers(
  db: Executor,
  roomId: string,
  { limit, cursor }: { limit: number; cursor?: string | undefined }
): Promise<{ items: Array<Omit<Member, 'online'>>; nextCursor: string | null }> {
  const conditions = [eq(memberships.roomId, roomId)]
  if (cursor) conditions.push(gt(users.username, decodeCursor(cursor, isString)))
  const rows = await db
    .select({
      user: users,
      role: memberships.role,
      joinedAt: memberships.joinedAt,
      lastReadSeq: memberships.lastReadSeq
    })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(...conditions))
    .orderBy(asc(users.username))
    .limit(limit + 1)
  return toPage(
    rows,
    limit,
    (r) => ({ user: toUser(r.user), role: r.role, joinedAt: r.joinedAt.toISOString(), lastReadSeq: r.lastReadSeq }),
    (r) => r.user.username
  )
}
