// What a user stream reads and writes besides the room log: cursor bases (a snapshot of one user's positions,
// stored once, read back only with its owner's id), the user's rooms with their heads, where the user joined
// rooms, and which rooms still exist. Each is one query, whatever the number of rooms.
import type { CursorBase } from '@chat/realtime'
import { tables, type Database, and, eq, inArray, lt, sql } from '@chat/db'

const { streamBases, memberships, rooms, roomEvents } = tables

// Base ids are bigserial values written in base 36 in cursors; 13 digits cover every safe integer.
const BASE_ID = /^[0-9a-z]{1,13}$/

export async function saveBase(
  db: Database,
  userId: string,
  positions: ReadonlyMap<string, number>
): Promise<CursorBase> {
  const roomIds = [...positions.keys()]
  const seqs = [...positions.values()]
  const [row] = await db.insert(streamBases).values({ userId, rooms: roomIds, seqs }).returning({ id: streamBases.id })
  return { id: row!.id.toString(36), rooms: roomIds, seqs }
}

/** The user's own base with that id; null when it is gone, malformed or someone else's. */
export async function loadBase(db: Database, userId: string, baseId: string): Promise<CursorBase | null> {
  const id = BASE_ID.test(baseId) ? parseInt(baseId, 36) : NaN
  if (!Number.isSafeInteger(id)) return null
  const [row] = await db
    .select({ rooms: streamBases.rooms, seqs: streamBases.seqs })
    .from(streamBases)
    .where(and(eq(streamBases.id, id), eq(streamBases.userId, userId)))
  return row ? { id: baseId, rooms: row.rooms, seqs: row.seqs.map(Number) } : null
}

export async function deleteBasesBefore(db: Database, before: Date): Promise<void> {
  await db.delete(streamBases).where(lt(streamBases.createdAt, before))
}

/** Every room the user is a member of, with its head. */
export async function memberRoomHeads(
  db: Database,
  userId: string
): Promise<Array<{ roomId: string; lastSeq: number }>> {
  return db
    .select({ roomId: memberships.roomId, lastSeq: rooms.lastSeq })
    .from(memberships)
    .innerJoin(rooms, eq(rooms.id, memberships.roomId))
    .where(eq(memberships.userId, userId))
}

/** The seq of the user's latest member.joined in each of the rooms (absent: none, e.g. the room's creator). */
export async function joinSeqs(db: Database, userId: string, roomIds: readonly string[]): Promise<Map<string, number>> {
  if (roomIds.length === 0) return new Map()
  const rows = await db
    .select({ roomId: roomEvents.roomId, seq: sql<number>`max(${roomEvents.seq})`.mapWith(Number) })
    .from(roomEvents)
    .where(
      and(inArray(roomEvents.roomId, [...roomIds]), eq(roomEvents.userId, userId), eq(roomEvents.type, 'member.joined'))
    )
    .groupBy(roomEvents.roomId)
  return new Map(rows.map((row) => [row.roomId, row.seq]))
}

export async function existingRooms(db: Database, roomIds: readonly string[]): Promise<Set<string>> {
  if (roomIds.length === 0) return new Set()
  const rows = await db
    .select({ id: rooms.id })
    .from(rooms)
    .where(inArray(rooms.id, [...roomIds]))
  return new Set(rows.map((row) => row.id))
}
