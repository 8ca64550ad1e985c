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
  getViewSelectedFields,
  gt,
  inArray,
  is,
  lt,
  sql,
  View,
  type Column,
  type SQL,
  type Table
} from '@chat/db'
import { toUser } from './users.ts'

const { rooms, roomEventStates: states } = tables
export type RoomRow = typeof rooms.$inferSelect
type Executor = Database | Transaction

/** An event as room_event_states reads it: the stored row, its author, and a message's current reactions. */
export type EventRow = typeof states.$inferSelect

export function toEvent(row: EventRow): RoomEvent {
  return {
    id: row.id,
    roomId: row.roomId,
    seq: row.seq,
    type: row.type,
    user: toUser({
      id: row.userId,
      username: row.username,
      displayName: row.displayName,
      createdAt: row.userCreatedAt
    }),
    text: row.text,
    clientMsgId: row.clientMsgId,
    replyTo: row.replyTo,
    target: row.target,
    key: row.key,
    editedAt: row.editedAt?.toISOString() ?? null,
    deletedAt: row.deletedAt?.toISOString() ?? null,
    reactions: row.reactions,
    createdAt: row.createdAt.toISOString()
  }
}

/**
 * A table's or view's columns by their bare names, each read as its column reads it: for rows a SQL function
 * returns (chat_written has the columns of room_event_states).
 */
export function columnsOf<T extends Table | View>(source: T): { [K in keyof Columns<T>]: SQL<DataOf<Columns<T>[K]>> } {
  const fields = (is(source, View) ? getViewSelectedFields(source) : getTableColumns(source)) as Record<string, Column>
  const columns = Object.entries(fields).map(([key, column]) => [
    key,
    sql`${sql.identifier(column.name)}`.mapWith(column)
  ])
  return Object.fromEntries(columns)
}
type Columns<T> = T extends Table ? T['_']['columns'] : T extends View ? T['_']['selectedFields'] : never
type DataOf<C> = C extends Column ? C['_']['data'] : never

function selectEvents(db: Executor) {
  return db.select().from(states)
}

/** Stored events with seq > afterSeq, ascending: what replays and gap fills read. */
export async function eventsAfter(db: Executor, roomId: string, afterSeq: number, limit: number): Promise<RoomEvent[]> {
  const rows = await selectEvents(db)
    .where(and(eq(states.roomId, roomId), gt(states.seq, afterSeq)))
    .orderBy(asc(states.seq))
    .limit(limit)
  return rows.map(toEvent)
}

/**
 * Stored events of many rooms in one read: after each room's own seq, at most `limit` per room, ascending within
 * a room. What a user stream's replay reads, one query a page whatever the number of rooms.
 */
export async function eventsAfterMany(
  db: Executor,
  after: ReadonlyArray<{ roomId: string; afterSeq: number }>,
  limit: number
): Promise<Map<string, RoomEvent[]>> {
  const byRoom = new Map<string, RoomEvent[]>()
  if (after.length === 0) return byRoom
  const wanted = JSON.stringify(after.map(({ roomId, afterSeq }) => ({ rid: roomId, after: afterSeq })))
  const rows = await db.select(columnsOf(states)).from(
    sql`jsonb_to_recordset(${wanted}::jsonb) AS p(rid uuid, after bigint) CROSS JOIN LATERAL (
        SELECT * FROM room_event_states e WHERE e.room_id = p.rid AND e.seq > p.after ORDER BY e.seq LIMIT ${limit}
      ) AS s`
  )
  for (const row of rows) {
    const event = toEvent(row)
    const list = byRoom.get(event.roomId)
    if (list) list.push(event)
    else byRoom.set(event.roomId, [event])
  }
  for (const list of byRoom.values()) list.sort((a, b) => a.seq - b.seq)
  return byRoom
}

/** One page of history, always ascending; hasMore says whether more lie in the direction read. */
export async function history(
  db: Executor,
  roomId: string,
  { limit, before, after }: { limit: number; before?: number | undefined; after?: number | undefined }
): Promise<{ items: RoomEvent[]; hasMore: boolean }> {
  const inRoom = eq(states.roomId, roomId)
  const rows =
    after !== undefined
      ? await selectEvents(db)
          .where(and(inRoom, gt(states.seq, after)))
          .orderBy(asc(states.seq))
          .limit(limit + 1)
      : await selectEvents(db)
          .where(before !== undefined ? and(inRoom, lt(states.seq, before)) : inRoom)
          .orderBy(desc(states.seq))
          .limit(limit + 1)
  const page = rows.slice(0, limit)
  if (after === undefined) page.reverse()
  return { items: page.map(toEvent), hasMore: rows.length > limit }
}

/** The seq of each room's newest event (0 for a new room, none for one that is gone), in one read. */
export async function headSeqs(db: Executor, roomIds: readonly string[]): Promise<Map<string, number>> {
  if (roomIds.length === 0) return new Map()
  const rows = await db
    .select({ id: rooms.id, lastSeq: rooms.lastSeq })
    .from(rooms)
    .where(inArray(rooms.id, [...roomIds]))
  return new Map(rows.map((row) => [row.id, row.lastSeq]))
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
  const [row] = await selectEvents(tx).where(eq(states.id, id))
  return { event: toEvent(row!), room: room! }
}
