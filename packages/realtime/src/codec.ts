// How a user connection writes what it has to say: as Server-Sent Events (`GET /events`) or as WebSocket
// messages (`GET /ws`), one JSON object a text frame. A stored event's bytes are shared by every connection of
// its room on the node either way (the frame's body, or its JSON); only the cursor is the connection's own.
import { encodeClose, encodeReady, encodeReset, encodeRoomDeleted, encodeRoomLeft, PING, type Frame } from './frames.ts'
import type { Notice } from './notice.ts'
import type { Composed } from './outgoing.ts'
import type { CloseReason } from './types.ts'

export interface Codec {
  /** Each queued buffer is a message of its own (WebSocket), not bytes of one stream (SSE). */
  readonly messages: boolean
  /** A stored event: the connection's cursor around the frame's shared bytes. */
  event(cursor: string, frame: Frame): Composed
  ready(cursor: string, rooms: ReadonlyArray<{ roomId: string; lastSeq: number }>): Buffer
  reset(reason: string): Buffer
  roomDeleted(roomId: string): Buffer
  roomLeft(roomId: string): Buffer
  close(reason: CloseReason): Buffer
  /** An unstored notice (typing, presence, read): the node's shared bytes for this transport. */
  notice(notice: Notice): Buffer
  /** A keep-alive written as data; null when the transport has its own (WebSocket pings). */
  readonly ping: Buffer | null
}

export const sseCodec: Codec = {
  messages: false,
  event: (cursor, frame) => ({ head: `id: ${cursor}\n`, body: frame.body, tail: '' }),
  ready: encodeReady,
  reset: encodeReset,
  roomDeleted: encodeRoomDeleted,
  roomLeft: encodeRoomLeft,
  close: encodeClose,
  notice: (notice) => notice.sse,
  ping: PING
}

const message = (value: object) => Buffer.from(JSON.stringify(value))
export const wsCodec: Codec = {
  messages: true,
  // A cursor is made of characters JSON never escapes.
  event: (cursor, frame) => ({ head: `{"type":"event","cursor":"${cursor}","event":`, body: frame.json, tail: '}' }),
  ready: (cursor, rooms) => message({ type: 'ready', cursor, rooms }),
  reset: (reason) => message({ type: 'reset', reason }),
  roomDeleted: (roomId) => message({ type: 'room.deleted', roomId }),
  roomLeft: (roomId) => message({ type: 'room.left', roomId }),
  close: (reason) => message({ type: 'close', reason }),
  notice: (notice) => notice.ws,
  ping: null
}
