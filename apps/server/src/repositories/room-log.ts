// Each room's log: its stored events, numbered by seq. Appending happens in a transaction that holds the room's
// row lock (see rooms.ts lockRoom), so `seq = last_seq + 1` has no gap and no duplicate however many nodes write;
// reading goes after a seq (replays and gap fills), before one (history), or to the head.
import { v7 as uuidv7 } from 'uuid'
import type { EventType, RoomEvent } from '@chat/contracts'
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
  lt,
  sql,
  type SQL,
  type Table
} from '@chat/db'
import { toUser, type UserRow } from './users.ts'

const { rooms, roomEvents, users } = tables
export type RoomRow = typeof rooms.$inferSelect
type Executor = Database | Transaction

export type EventRow = {
  id: string
  roomId: string
  seq: number
  type: EventType
  text: string | null
  clientMsgId: string | null
  createdAt: Date
  user: Pick<UserRow, 'id' | 'username' | 'displayName' | 'createdAt'>
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

export function toEvent(row: EventRow): RoomEvent {
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

/** A table's columns by their bare names, each read as its column reads it: for rows a SQL function returns. */
export function columnsOf<T extends Table>(
  table: T
): { [K in keyof T['_']['columns']]: SQL<T['_']['columns'][K]['_']['data']> } {
  const columns = Object.entries(getTableColumns(table)).map(([key, column]) => [
    key,
    sql`${sql.identifier(column.name)}`.mapWith(column)
  ])
  return Object.fromEntries(columns)
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
  db: Executor,
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

/** The seq of the room's newest event (0 for a new room or one that is gone): where a broadcaster starts. */
export async function headSeq(db: Executor, roomId: string): Promise<number> {
  const [room] = await db.select({ lastSeq: rooms.lastSeq }).from(rooms).where(eq(rooms.id, roomId))
  return room?.lastSeq ?? 0
}

/**
 * Appends an event to a room whose row the transaction has locked (chat_append_event: next seq, last_seq and
 * member_count kept), and returns it with the room's new state.
 */
export async function append(
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
