// The frames of a room's event stream that are not stored events: what their data lines carry, and the body
// of the stream as the OpenAPI document describes it.
import { Type, type Static } from 'typebox'
import { OneOf, Uuid } from './common.ts'
import { CLOSE_REASONS, END_REASONS } from './vocabulary.ts'

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
