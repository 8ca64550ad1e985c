// The frames of the event streams that are not stored events (the room stream's and the user stream's): what
// their data lines carry, the user stream's query and cursor, and the body of a stream as the OpenAPI document
// describes it.
import { Type, type Static } from 'typebox'
import { OneOf, Uuid } from './common.ts'
import { User } from './users.ts'
import { CLOSE_REASONS, END_REASONS, RESET_REASONS } from './vocabulary.ts'

export const CloseReason = OneOf(CLOSE_REASONS, { description: 'why the server ended the stream' })
export type CloseReason = Static<typeof CloseReason>

/** The close reasons that end streams on every node at once. */
export const EndReason = OneOf(END_REASONS)
export type EndReason = Static<typeof EndReason>

/** `event: room.deleted`: the room is gone; a `close` frame with `room_deleted` follows. */
export const RoomDeletedData = Type.Object({ roomId: Uuid }, { additionalProperties: false })
export type RoomDeletedData = Static<typeof RoomDeletedData>

/** `event: close`: sent just before the server ends the stream on purpose. */
export const CloseData = Type.Object({ reason: CloseReason }, { additionalProperties: false })
export type CloseData = Static<typeof CloseData>

/** The stream's body: SSE frames, never JSON as a whole. */
export const EventStreamBody = Type.String({
  description: 'SSE frames: `id:`/`event:`/`data:` lines, each frame ended by a blank line'
})

// A user stream's cursor: opaque to clients, at most 512 characters of A-Z a-z 0-9 - _ . ~.
export const CURSOR_PATTERN = '^[A-Za-z0-9._~-]{1,512}$'
export const Cursor = Type.String({
  pattern: CURSOR_PATTERN,
  description: 'opaque; the user stream position in every room at once (at most 512 of A-Z a-z 0-9 - _ . ~)'
})

export const UserStreamQuery = Type.Object(
  {
    access_token: Type.Optional(
      Type.String({ maxLength: 4096, description: 'for EventSource, which cannot send headers' })
    ),
    cursor: Type.Optional(
      Type.String({ pattern: CURSOR_PATTERN, description: 'resume after this cursor; the Last-Event-ID header wins' })
    )
  },
  { additionalProperties: false }
)
export type UserStreamQuery = Static<typeof UserStreamQuery>

/** `event: room.left`: the caller left the room since the cursor; nothing of it follows. */
export const RoomLeftData = Type.Object({ roomId: Uuid }, { additionalProperties: false })
export type RoomLeftData = Static<typeof RoomLeftData>

/** `event: ready` (with `id: <cursor>`): every replay is done; the rooms the stream covers and where each stands. */
export const ReadyData = Type.Object(
  {
    rooms: Type.Array(
      Type.Object({ roomId: Uuid, lastSeq: Type.Integer({ minimum: 0 }) }, { additionalProperties: false })
    )
  },
  { additionalProperties: false }
)
export type ReadyData = Static<typeof ReadyData>

export const ResetReason = OneOf(RESET_REASONS, { description: 'why the cursor could not be resumed' })
/** `event: reset`: the cursor cannot be resumed; the stream goes on as a fresh start (reload history). */
export const ResetData = Type.Object({ reason: ResetReason }, { additionalProperties: false })
export type ResetData = Static<typeof ResetData>

/** `event: typing` (unstored): another member started (true) or stopped (false) typing in the room. */
export const TypingData = Type.Object(
  { roomId: Uuid, user: User, typing: Type.Boolean() },
  { additionalProperties: false }
)
export type TypingData = Static<typeof TypingData>

/** `event: presence` (unstored): a member of the room came online or went offline. */
export const PresenceData = Type.Object(
  { roomId: Uuid, userId: Uuid, online: Type.Boolean() },
  { additionalProperties: false }
)
export type PresenceData = Static<typeof PresenceData>

/** `event: read` (unstored, to the reader's own connections): their read marker in the room moved to seq. */
export const ReadData = Type.Object(
  { roomId: Uuid, seq: Type.Integer({ minimum: 0 }) },
  { additionalProperties: false }
)
export type ReadData = Static<typeof ReadData>
