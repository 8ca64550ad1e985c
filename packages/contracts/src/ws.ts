// The WebSocket protocol of `GET /ws`: the commands a client sends (each with an id, answered by exactly one
// reply) and the messages the server sends, one JSON object a text frame. The events are the user stream's.
import { Type, type Static } from 'typebox'
import { ErrorBody, Uuid } from './common.ts'
import { PostMessageBody, ReadBody, RoomEvent, TypingBody } from './rooms.ts'
import { CloseReason, Cursor, PresenceData, ReadData, ReadyData, ResetReason, TypingData } from './stream.ts'

export const CommandId = Type.Union([Type.Integer(), Type.String({ maxLength: 64 })], {
  description: 'any integer or a string of at most 64 characters; its reply carries it back'
})
export type CommandId = Static<typeof CommandId>

export const MessageCommand = Type.Object(
  { id: CommandId, type: Type.Literal('message'), ...PostMessageBody.properties },
  { additionalProperties: false, description: 'POST /rooms/message over the socket: same rules, codes, idempotency' }
)
export type MessageCommand = Static<typeof MessageCommand>

export const PingCommand = Type.Object(
  { id: CommandId, type: Type.Literal('ping') },
  { additionalProperties: false, description: 'answered with a reply whose result is null' }
)

export const TypingCommand = Type.Object(
  { id: CommandId, type: Type.Literal('typing'), ...TypingBody.properties },
  { additionalProperties: false, description: 'POST /rooms/typing over the socket; result null' }
)

export const ReadCommand = Type.Object(
  { id: CommandId, type: Type.Literal('read'), ...ReadBody.properties },
  { additionalProperties: false, description: 'POST /rooms/read over the socket; result null' }
)

export const WsCommand = Type.Union([MessageCommand, TypingCommand, ReadCommand, PingCommand])
export type WsCommand = Static<typeof WsCommand>

export const WsEventMessage = Type.Object({ type: Type.Literal('event'), cursor: Cursor, event: RoomEvent })
export const WsReadyMessage = Type.Object({ type: Type.Literal('ready'), cursor: Cursor, ...ReadyData.properties })
export const WsResetMessage = Type.Object({ type: Type.Literal('reset'), reason: ResetReason })
export const WsRoomGoneMessage = Type.Object({
  type: Type.Union([Type.Literal('room.deleted'), Type.Literal('room.left')]),
  roomId: Uuid
})
export const WsReplyOk = Type.Object({
  type: Type.Literal('reply'),
  id: CommandId,
  ok: Type.Literal(true),
  result: Type.Unknown()
})
export const WsReplyError = Type.Object({
  type: Type.Literal('reply'),
  id: CommandId,
  ok: Type.Literal(false),
  error: Type.Object({
    ...ErrorBody.properties,
    retryAfter: Type.Optional(Type.Integer({ description: 'on a 429: seconds to wait' }))
  })
})
export const WsTypingMessage = Type.Object({ type: Type.Literal('typing'), ...TypingData.properties })
export const WsPresenceMessage = Type.Object({ type: Type.Literal('presence'), ...PresenceData.properties })
export const WsReadMessage = Type.Object({ type: Type.Literal('read'), ...ReadData.properties })
export const WsCloseMessage = Type.Object({ type: Type.Literal('close'), reason: CloseReason })

export const WsServerMessage = Type.Union([
  WsEventMessage,
  WsReadyMessage,
  WsResetMessage,
  WsRoomGoneMessage,
  WsTypingMessage,
  WsPresenceMessage,
  WsReadMessage,
  WsReplyOk,
  WsReplyError,
  WsCloseMessage
])
export type WsServerMessage = Static<typeof WsServerMessage>
