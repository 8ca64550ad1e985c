// Rooms, memberships and the room log. Every change that stores an event runs in one transaction that first
// locks the room's row: that lock orders concurrent writers, so `seq = last_seq + 1` has no gap and no
// duplicate however many nodes write. Callers publish the returned events only after the commit.
import { v7 as uuidv7 } from 'uuid'
import type { EventType, Member, Room, RoomEvent } from '@chat/contracts'
import {
  tables,
  type Database,
  type Transaction,
  and,
  asc,
  desc,
  eq,
  getTableColumns,
  gt,
  inArray,
  lt,
  sql,
  type SQL,
  type Table
} from '@chat/db'
import { NotMember, NotRoomOwner, OwnerCannotLeave, RoomNotFound, refusedByDatabase } from '../errors.ts'
import { perTurn } from '../per-turn.ts'
import { decodeCursor, encodeCursor, isUniqueViolation, toUser } from './users.ts'

const { rooms, memberships, roomEvents, users } = tables
type RoomRow = typeof rooms.$inferSelect
type Executor = Database | Transaction

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

const eventColumns = {
  id: roomEvents.id,
  roomId: roomEvents.roomId,
  seq: roomEvents.seq,
  type: roomEvents.type,
  text: roomEvents.text,
  clientMsgId: roomEvents.clientMsgId,
  createdAt: roomEvents.createdAt,
  user: { id: users.id, username: users.username, displayName: users.displayName, createdAt: users.createdAt }
}

type EventRow = {
  id: string
  roomId: string
  seq: number
  type: EventType
  text: string | null
  clientMsgId: string | null
  createdAt: Date
  user: Parameters<typeof toUser>[0]
}

/** A table's columns by their bare names, each read as its column reads it: for rows a function returns. */
function columnsOf<T extends Table>(
  table: T
): { [K in keyof T['_']['columns']]: SQL<T['_']['columns'][K]['_']['data']> } {
  const columns = Object.entries(getTableColumns(table)).map(([key, column]) => [
    key,
    sql`${sql.identifier(column.name)}`.mapWith(column)
  ])
  return Object.fromEntries(columns)
}

function toEvent(row: EventRow): RoomEvent {
  return {
    id: row.id,
    roomId: row.roomId,
    seq: row.seq,
    type: row.type,
    user: toUser(row.user),
    text: row.text,
    clientMsgId: row.clientMsgId,
    createdAt: row.createdAt.toISOString()
  }
}

function selectEvents(db: Executor) {
  return db.select(eventColumns).from(roomEvents).innerJoin(users, eq(users.id, roomEvents.userId))
}

/** Stored events with seq > afterSeq, ascending: what replays and gap fills read. */
export async function eventsAfter(db: Executor, roomId: string, afterSeq: number, limit: number): Promise<RoomEvent[]> {
  const rows = await selectEvents(db)
    .where(and(eq(roomEvents.roomId, roomId), gt(roomEvents.seq, afterSeq)))
    .orderBy(asc(roomEvents.seq))
    .limit(limit)
  return rows.map(toEvent)
}

/** One page of history, always ascending; hasMore says whether more lie in the direction read. */
export async function history(
  db: Database,
  roomId: string,
  { limit, before, after }: { limit: number; before?: number | undefined; after?: number | undefined }
): Promise<{ items: RoomEvent[]; hasMore: boolean }> {
  const inRoom = eq(roomEvents.roomId, roomId)
  const rows =
    after !== undefined
      ? await selectEvents(db)
          .where(and(inRoom, gt(roomEvents.seq, after)))
          .orderBy(asc(roomEvents.seq))
          .limit(limit + 1)
      : await selectEvents(db)
          .where(before !== undefined ? and(inRoom, lt(roomEvents.seq, before)) : inRoom)
          .orderBy(desc(roomEvents.seq))
          .limit(limit + 1)
  const page = rows.slice(0, limit)
  if (after === undefined) page.reverse()
  return { items: page.map(toEvent), hasMore: rows.length > limit }
}

export async function findRoom(db: Executor, roomId: string): Promise<RoomRow | undefined> {
  const [row] = await db.select().from(rooms).where(eq(rooms.id, roomId))
  return row
}

/** Locks the room's row for the rest of the transaction; 404 when there is no such room. */
async function lockRoom(tx: Transaction, roomId: string): Promise<RoomRow> {
  const [row] = await tx.select().from(rooms).where(eq(rooms.id, roomId)).for('update')
  if (!row) throw new RoomNotFound()
  return row
}

async function membership(db: Executor, roomId: string, userId: string) {
  const [row] = await db
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.roomId, roomId), eq(memberships.userId, userId)))
  return row
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

/** 404 for an unknown room, 403 CHAT_NOT_MEMBER for a room the user is not in. */
export async function requireMember(db: Executor, roomId: string, userId: string): Promise<void> {
  const access = await roomAccess(db, roomId, userId)
  if (!access.room) throw new RoomNotFound()
  if (!access.member) throw new NotMember()
}

/** Appends an event to a locked room's log (chat_append_event) and returns it, with the room's new state. */
async function append(
  tx: Transaction,
  roomId: string,
  event: { type: EventType; userId: string; text?: string; clientMsgId?: string },
  memberDelta = 0
): Promise<{ event: RoomEvent; room: RoomRow }> {
  const id = uuidv7()
  const [room] = await tx
    .select(columnsOf(rooms))
    .from(
      sql`chat_append_event(${roomId}, ${id}, ${event.type}, ${event.userId}, ${event.text ?? null}, ${event.clientMsgId ?? null}, ${memberDelta})`
    )
  const [row] = await selectEvents(tx).where(eq(roomEvents.id, id))
  return { event: toEvent(row as EventRow), room: room! }
}

export async function createRoom(db: Database, ownerId: string, name: string, topic: string | null): Promise<Room> {
  return db.transaction(async (tx) => {
    const [room] = await tx.insert(rooms).values({ id: uuidv7(), name, topic, ownerId, memberCount: 1 }).returning()
    await tx.insert(memberships).values({ roomId: room!.id, userId: ownerId, role: 'owner' })
    return toRoom(room!)
  })
}

/** Joins (idempotent): the event is null when the user was already a member. */
export async function joinRoom(
  db: Database,
  roomId: string,
  userId: string
): Promise<{ room: Room; event: RoomEvent | null }> {
  return db.transaction(async (tx) => {
    const locked = await lockRoom(tx, roomId)
    if (await membership(tx, roomId, userId)) return { room: toRoom(locked), event: null }
    await tx.insert(memberships).values({ roomId, userId, role: 'member' })
    const { event, room } = await append(tx, roomId, { type: 'member.joined', userId }, 1)
    return { room: toRoom(room), event }
  })
}

/** Leaves (idempotent): the event is null when the user was not a member. */
export async function leaveRoom(db: Database, roomId: string, userId: string): Promise<RoomEvent | null> {
  return db.transaction(async (tx) => {
    await lockRoom(tx, roomId)
    const member = await membership(tx, roomId, userId)
    if (!member) return null
    if (member.role === 'owner') throw new OwnerCannotLeave()
    return removeMember(tx, roomId, userId)
  })
}

/** Deletes a membership of a locked room and logs member.left. */
async function removeMember(tx: Transaction, roomId: string, userId: string): Promise<RoomEvent> {
  await tx.delete(memberships).where(and(eq(memberships.roomId, roomId), eq(memberships.userId, userId)))
  return (await append(tx, roomId, { type: 'member.left', userId }, -1)).event
}

export async function deleteRoom(db: Database, roomId: string, userId: string): Promise<void> {
  await db.transaction(async (tx) => {
    const room = await lockRoom(tx, roomId)
    if (room.ownerId !== userId) throw new NotRoomOwner()
    await tx.delete(rooms).where(eq(rooms.id, roomId))
  })
}

// Posting. chat_post_message locks the room, checks membership and clientMsgId, appends, and returns the
// outcome with the event and its author: one round trip. Posts that arrive in the same turn of the event loop
// go together through chat_post_messages: one round trip and one commit for all of them.
type PostOutcome = 'created' | 'existing' | 'room_not_found' | 'not_member'
const postedColumns = {
  outcome: sql<PostOutcome>`outcome`,
  ...columnsOf(roomEvents),
  user: {
    id: sql<string>`user_id`,
    username: sql<string>`username`,
    displayName: sql<string>`display_name`,
    createdAt: sql<Date>`user_created_at`.mapWith(users.createdAt)
  }
}
type PostedRow = { outcome: PostOutcome } & EventRow

interface Post {
  id: string
  roomId: string
  userId: string
  text: string
  clientMsgId: string | null
  settle(row: PostedRow | undefined): void
  fail(error: unknown): void
}

const MAX_BATCH = 100

/** The prepared statements of one database handle, and the batch of posts gathering for it this turn. */
function poster(db: Database) {
  const one = db
    .select(postedColumns)
    .from(
      sql`chat_post_message(${sql.placeholder('id')}, ${sql.placeholder('roomId')}, ${sql.placeholder('userId')}, ${sql.placeholder('text')}, ${sql.placeholder('clientMsgId')})`
    )
    .prepare('chat_post_message')
  const many = db
    .select({ idx: sql<number>`idx`, ...postedColumns })
    .from(sql`chat_post_messages(${sql.placeholder('posts')}::jsonb)`)
    .prepare('chat_post_messages')

  /** One post on its own. Two identical retries racing: the loser's insert fails and rolls back; asked again, it finds the winner's event. */
  const postOne = async (post: Post): Promise<void> => {
    const { id, roomId, userId, text, clientMsgId } = post
    const run = () => one.execute({ id, roomId, userId, text, clientMsgId })
    try {
      const [row] = await run().catch((error: unknown) => {
        if (clientMsgId !== null && isUniqueViolation(error)) return run()
        throw error
      })
      post.settle(row)
    } catch (error) {
      post.fail(error)
    }
  }

  return perTurn<Post>(async (batch) => {
    if (batch.length === 1) return postOne(batch[0]!)
    let rows: Array<PostedRow & { idx: number }>
    try {
      const posts = batch.map(({ id, roomId, userId, text, clientMsgId }) => ({
        id,
        roomId,
        userId,
        text,
        clientMsgId
      }))
      rows = await many.execute({ posts: JSON.stringify(posts) })
    } catch (error) {
      // The batch is one statement: when the database answered with an error, nothing of it was stored, and
      // each post is tried again on its own. A lost connection proves nothing (it may have committed), so then
      // every post fails rather than risk storing one twice.
      if (!refusedByDatabase(error)) return batch.forEach((post) => post.fail(error))
      await Promise.all(batch.map(postOne))
      return
    }
    const byIndex = new Map(rows.map((row) => [row.idx, row]))
    batch.forEach((post, i) => post.settle(byIndex.get(i)))
  }, MAX_BATCH)
}
const posters = new WeakMap<Database, ReturnType<typeof poster>>()

function outcomeOf(row: PostedRow | undefined): { event: RoomEvent; created: boolean } {
  if (!row || row.outcome === 'room_not_found') throw new RoomNotFound()
  if (row.outcome === 'not_member') throw new NotMember()
  return { event: toEvent(row), created: row.outcome === 'created' }
}

/**
 * Posts a message. A clientMsgId already used by this user in this room returns the first event instead
 * (created: false) and stores nothing.
 */
export function postMessage(
  db: Database,
  roomId: string,
  userId: string,
  text: string,
  clientMsgId: string | undefined
): Promise<{ event: RoomEvent; created: boolean }> {
  let post = posters.get(db)
  if (!post) posters.set(db, (post = poster(db)))
  const enqueue = post
  return new Promise((resolve, reject) =>
    enqueue({
      id: uuidv7(),
      roomId,
      userId,
      text,
      clientMsgId: clientMsgId ?? null,
      settle: (row) => {
        try {
          resolve(outcomeOf(row))
        } catch (error) {
          reject(error)
        }
      },
      fail: reject
    })
  )
}

export async function listRooms(
  db: Database,
  userId: string,
  { mine, limit, cursor }: { mine: boolean; limit: number; cursor?: string | undefined }
): Promise<{ items: Room[]; nextCursor: string | null }> {
  const conditions = []
  // Room ids are UUIDv7: ordering by id is ordering by creation, newest first.
  if (cursor) conditions.push(lt(rooms.id, decodeCursor(cursor, isUuid)))
  const base = mine
    ? db
        .select({ room: rooms })
        .from(rooms)
        .innerJoin(memberships, and(eq(memberships.roomId, rooms.id), eq(memberships.userId, userId)))
    : db.select({ room: rooms }).from(rooms)
  const rows = await base
    .where(and(...conditions))
    .orderBy(desc(rooms.id))
    .limit(limit + 1)
  const page = rows.slice(0, limit).map((r) => r.room)
  const last = page.at(-1)
  return { items: page.map(toRoom), nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null }
}

export async function listMembers(
  db: Database,
  roomId: string,
  { limit, cursor }: { limit: number; cursor?: string | undefined }
): Promise<{ items: Member[]; nextCursor: string | null }> {
  const conditions = [eq(memberships.roomId, roomId)]
  if (cursor)
    conditions.push(
      gt(
        users.username,
        decodeCursor(cursor, (v): v is string => typeof v === 'string')
      )
    )
  const rows = await db
    .select({ user: users, role: memberships.role, joinedAt: memberships.joinedAt })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(...conditions))
    .orderBy(asc(users.username))
    .limit(limit + 1)
  const page = rows.slice(0, limit)
  const last = page.at(-1)
  return {
    items: page.map((r) => ({ user: toUser(r.user), role: r.role, joinedAt: r.joinedAt.toISOString() })),
    nextCursor: rows.length > limit && last ? encodeCursor(last.user.username) : null
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const isUuid = (v: unknown): v is string => typeof v === 'string' && UUID.test(v)

/**
 * A deleted user's rooms: the ones they own are deleted, the others they leave (one member.left each).
 * Returns what to publish after the commit.
 */
export async function removeUserFromRooms(
  tx: Transaction,
  userId: string
): Promise<{ deletedRoomIds: string[]; leftEvents: RoomEvent[] }> {
  // Every room this touches is locked first, in id order: the order batched posts lock rooms in.
  const joined = tx.select({ roomId: memberships.roomId }).from(memberships).where(eq(memberships.userId, userId))
  const involved = await tx
    .select({ id: rooms.id, ownerId: rooms.ownerId })
    .from(rooms)
    .where(inArray(rooms.id, joined))
    .orderBy(asc(rooms.id))
    .for('update')
  const owned = involved.filter((r) => r.ownerId === userId).map((r) => r.id)
  if (owned.length) await tx.delete(rooms).where(inArray(rooms.id, owned))
  const leftEvents: RoomEvent[] = []
  for (const room of involved) {
    if (room.ownerId !== userId) leftEvents.push(await removeMember(tx, room.id, userId))
  }
  return { deletedRoomIds: owned, leftEvents }
}
