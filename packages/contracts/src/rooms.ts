// Rooms, memberships and the room log: bodies, responses and the stored event shape shared by history and
// the SSE stream.
import { Type, type Static } from 'typebox'
import {
  LAST_EVENT_ID_PATTERN,
  MAX_SEQ,
  NO_CONTROL_CHARS,
  OneOf,
  PageQuery,
  REACTION_KEY,
  SINGLE_LINE,
  Timestamp,
  Uuid
} from './common.ts'
import { User } from './users.ts'
import { EVENT_TYPES } from './vocabulary.ts'

export const Room = Type.Object({
  id: Uuid,
  name: Type.String(),
  topic: Type.Union([Type.String(), Type.Null()]),
  ownerId: Uuid,
  createdAt: Timestamp,
  memberCount: Type.Integer(),
  lastSeq: Type.Integer({ description: 'seq of the newest stored event; 0 for a new room' }),
  lastReadSeq: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
    description: "the caller's read marker (the seq they have read up to); null when the caller is not a member"
  }),
  unreadCount: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
    description:
      'message events by other users after the marker that are not deleted; null when the caller is not a member'
  })
})
export type Room = Static<typeof Room>

export const EventType = OneOf(EVENT_TYPES)
export type EventType = Static<typeof EventType>

const Seq = (description: string) => Type.Integer({ minimum: 1, maximum: MAX_SEQ, description })
const SeqOrNull = (description: string) => Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description })
const TimestampOrNull = (description: string) => Type.Union([Timestamp, Type.Null()], { description })

export const Reaction = Type.Object({
  key: Type.String(),
  count: Type.Integer({ minimum: 1 }),
  userIds: Type.Array(Uuid, { maxItems: 50, description: 'the first 50 who reacted, in the order they did' })
})
export type Reaction = Static<typeof Reaction>

export const RoomEvent = Type.Object(
  {
    id: Uuid,
    roomId: Uuid,
    seq: Type.Integer({ minimum: 1 }),
    type: EventType,
    user: User,
    text: Type.Union([Type.String(), Type.Null()], {
      description:
        'message: its current text (null once deleted) when read from history or a replay, the text as posted ' +
        'when pushed live; message.edited: the new text (null once the message is deleted); else null'
    }),
    clientMsgId: Type.Union([Type.String(), Type.Null()]),
    replyTo: SeqOrNull('message: the seq of the message it answers'),
    target: SeqOrNull('message.edited, message.deleted, reaction.*: the seq of the message changed'),
    key: Type.Union([Type.String(), Type.Null()], { description: 'reaction.*: the reaction' }),
    editedAt: TimestampOrNull('message: when it was last edited (current state)'),
    deletedAt: TimestampOrNull('message: when it was deleted (current state)'),
    reactions: Type.Union([Type.Array(Reaction), Type.Null()], {
      description: 'message: its reactions by key, in the order each key was first used; null on other types'
    }),
    createdAt: Timestamp
  },
  {
    description:
      'A stored room event. A message pushed live when posted has editedAt and deletedAt null and reactions []; ' +
      'read from history or a replay it shows its current state; later changes arrive as their own events.'
  }
)
export type RoomEvent = Static<typeof RoomEvent>

export const Member = Type.Object({
  user: User,
  role: Type.Union([Type.Literal('owner'), Type.Literal('member')]),
  joinedAt: Timestamp,
  lastReadSeq: Type.Integer({ minimum: 0, description: "the member's read marker" }),
  online: Type.Boolean({ description: 'at least one stream or WebSocket of theirs is open on some node' })
})
export type Member = Static<typeof Member>

export const CreateRoomBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64, pattern: SINGLE_LINE }),
    topic: Type.Optional(Type.Union([Type.String({ maxLength: 256, pattern: SINGLE_LINE }), Type.Null()]))
  },
  { additionalProperties: false }
)
export type CreateRoomBody = Static<typeof CreateRoomBody>

export const RoomIdBody = Type.Object({ roomId: Uuid }, { additionalProperties: false })
export type RoomIdBody = Static<typeof RoomIdBody>

export const MessageText = Type.String({ minLength: 1, maxLength: 4000, pattern: NO_CONTROL_CHARS })

export const PostMessageBody = Type.Object(
  {
    roomId: Uuid,
    text: MessageText,
    clientMsgId: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' })),
    replyTo: Type.Optional(Seq('the seq of a message of the same room this one answers'))
  },
  { additionalProperties: false }
)
export type PostMessageBody = Static<typeof PostMessageBody>

export const EditMessageBody = Type.Object(
  { roomId: Uuid, seq: Seq('the seq of the message'), text: MessageText },
  { additionalProperties: false }
)
export type EditMessageBody = Static<typeof EditMessageBody>

export const DeleteMessageBody = Type.Object(
  { roomId: Uuid, seq: Seq('the seq of the message') },
  { additionalProperties: false }
)
export type DeleteMessageBody = Static<typeof DeleteMessageBody>

export const ReactBody = Type.Object(
  {
    roomId: Uuid,
    seq: Seq('the seq of the message'),
    key: Type.String({
      minLength: 1,
      maxLength: 32,
      pattern: REACTION_KEY,
      description: 'an emoji or a :name:; no whitespace or control characters'
    }),
    remove: Type.Optional(Type.Boolean({ default: false, description: 'take the reaction back' }))
  },
  { additionalProperties: false }
)
export type ReactBody = Static<typeof ReactBody>

export const ReadBody = Type.Object(
  {
    roomId: Uuid,
    seq: Type.Integer({
      minimum: 0,
      maximum: MAX_SEQ,
      description: "read up to this seq; a lower one than the marker changes nothing; past the room's lastSeq: 400"
    })
  },
  { additionalProperties: false }
)
export type ReadBody = Static<typeof ReadBody>

export const TypingBody = Type.Object(
  {
    roomId: Uuid,
    typing: Type.Optional(
      Type.Boolean({ default: true, description: 'true (default): typing for the next 6 s; false: stopped' })
    )
  },
  { additionalProperties: false }
)
export type TypingBody = Static<typeof TypingBody>

export const RoomParams = Type.Object({ roomId: Uuid }, { additionalProperties: false })
export type RoomParams = Static<typeof RoomParams>

export const RoomListQuery = Type.Object(
  {
    ...PageQuery.properties,
    mine: Type.Optional(Type.Boolean({ description: 'only rooms the caller is a member of' }))
  },
  { additionalProperties: false }
)
export type RoomListQuery = Static<typeof RoomListQuery>

export const HistoryQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
    before: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_SEQ, description: 'the page just before this seq; not with after' })
    ),
    after: Type.Optional(
      Type.Integer({ minimum: 0, maximum: MAX_SEQ, description: 'the page just after this seq; not with before' })
    )
  },
  {
    additionalProperties: false,
    // One direction per read: a request naming both is a 400.
    not: { required: ['before', 'after'] },
    description: 'before and after exclude each other'
  }
)
export type HistoryQuery = Static<typeof HistoryQuery>

export const HistoryPage = Type.Object({
  items: Type.Array(RoomEvent, { description: 'always ascending by seq' }),
  hasMore: Type.Boolean({ description: 'more events lie beyond the page in the direction read' })
})
export type HistoryPage = Static<typeof HistoryPage>

export const StreamQuery = Type.Object(
  {
    access_token: Type.Optional(
      Type.String({ maxLength: 4096, description: 'for EventSource, which cannot send headers' })
    ),
    lastEventId: Type.Optional(
      Type.String({
        pattern: LAST_EVENT_ID_PATTERN,
        description:
          'replay events after this seq: 1–20 digits (a value beyond lastSeq replays nothing); ' +
          'the Last-Event-ID header, same rule, wins'
      })
    )
  },
  { additionalProperties: false }
)
export type StreamQuery = Static<typeof StreamQuery>
