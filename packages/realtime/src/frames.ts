// The exact bytes of the event stream. Stored events carry `id:` so a client can resume from it;
// everything the server says on its own (deletion, close, keep-alive) has none.
import type { CloseReason, RoomEvent } from './types.ts'

/** A stored event encoded once per node and shared, as the same Buffer, by every local stream. */
export interface Frame {
  readonly seq: number
  readonly bytes: Buffer
  /** The user who left the room when this is a `member.left` event. */
  readonly leaverId: string | null
}

export function encodeEvent(event: RoomEvent): Frame {
  // JSON.stringify escapes every line break, so the event stays on its one data line.
  const bytes = Buffer.from(`id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`)
  return { seq: event.seq, bytes, leaverId: event.type === 'member.left' ? event.user.id : null }
}

export function encodeRoomDeleted(roomId: string): Buffer {
  return Buffer.from(`event: room.deleted\ndata: ${JSON.stringify({ roomId })}\n\n`)
}

export function encodeClose(reason: CloseReason): Buffer {
  return Buffer.from(`event: close\ndata: ${JSON.stringify({ reason })}\n\n`)
}

export const PING = Buffer.from(': ping\n\n')
