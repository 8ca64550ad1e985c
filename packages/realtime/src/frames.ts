// The exact bytes of the event streams. Stored events carry `id:` so a client can resume from it: the room's
// seq on a room stream, the connection's cursor on a user stream; everything the server says on its own
// (deletion, leave, ready, reset, close, keep-alive) has none but `ready`.
import type { CloseReason, RoomEvent } from './types.ts'

/**
 * A stored event encoded once per node and shared by every local connection of its room: `bytes` as a room
 * stream sends it, `body` (the same memory without the `id:` line) for user streams, which put their own cursor
 * in front.
 */
export interface Frame {
  readonly roomId: string
  readonly seq: number
  /** The seq in base 36, as cursors write it: converted once per node, not once per connection. */
  readonly seq36: string
  readonly bytes: Buffer
  readonly body: Buffer
  /** The event's JSON alone (the same memory again), for WebSocket messages. */
  readonly json: Buffer
  /** The user who left the room when this is a `member.left` event. */
  readonly leaverId: string | null
}

export function encodeEvent(event: RoomEvent): Frame {
  const idLine = `id: ${event.seq}\n`
  const head = `${idLine}event: ${event.type}\ndata: `
  // JSON.stringify escapes every line break, so the event stays on its one data line.
  const bytes = Buffer.from(`${head}${JSON.stringify(event)}\n\n`)
  return {
    roomId: event.roomId,
    seq: event.seq,
    seq36: event.seq.toString(36),
    bytes,
    body: bytes.subarray(Buffer.byteLength(idLine)),
    json: bytes.subarray(Buffer.byteLength(head), bytes.length - 2),
    leaverId: event.type === 'member.left' ? event.user.id : null
  }
}

export function encodeRoomDeleted(roomId: string): Buffer {
  return Buffer.from(`event: room.deleted\ndata: ${JSON.stringify({ roomId })}\n\n`)
}

export function encodeRoomLeft(roomId: string): Buffer {
  return Buffer.from(`event: room.left\ndata: ${JSON.stringify({ roomId })}\n\n`)
}

export function encodeReady(cursor: string, rooms: ReadonlyArray<{ roomId: string; lastSeq: number }>): Buffer {
  return Buffer.from(`event: ready\nid: ${cursor}\ndata: ${JSON.stringify({ rooms })}\n\n`)
}

export function encodeReset(reason: string): Buffer {
  return Buffer.from(`event: reset\ndata: ${JSON.stringify({ reason })}\n\n`)
}

export function encodeClose(reason: CloseReason): Buffer {
  return Buffer.from(`event: close\ndata: ${JSON.stringify({ reason })}\n\n`)
}

export const PING = Buffer.from(': ping\n\n')
