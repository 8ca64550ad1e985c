// The envelopes nodes exchange on the bus. Building and checking them lives here alone, so the
// server never hand-builds one and a malformed message is refused before it reaches any stream.
import { END_REASONS, EVENT_TYPES } from '@chat/contracts'
import type { Bus } from './bus.ts'
import type { EndReason, RoomEvent } from './types.ts'

export const CONTROL_CHANNEL = 'control'

export function roomChannel(roomId: string): string {
  return `room:${roomId}`
}

/** What concerns one user's connections on every node: rooms they joined or created. */
export function userChannel(userId: string): string {
  return `user:${userId}`
}

/** The user became a member of the room with the event `seq` (their member.joined; 0 for a room they created). */
export interface JoinedMessage {
  readonly k: 'joined'
  readonly roomId: string
  readonly seq: number
}

/** The user's read marker in the room moved to `seq`: for their own connections. */
export interface ReadMessage {
  readonly k: 'read'
  readonly roomId: string
  readonly seq: number
}

/** The author of a typing notice, as the contract's User (carried as it is into the notice). */
export interface TypingUser {
  readonly id: string
  readonly [field: string]: unknown
}

/** Unstored news of the room: a member typing or not, a member online or not. Never stored, never replayed. */
export type RoomNoticeMessage =
  | { readonly k: 'typing'; readonly roomId: string; readonly user: TypingUser; readonly typing: boolean }
  | { readonly k: 'presence'; readonly roomId: string; readonly userId: string; readonly online: boolean }

/** A stored event (`t`: when it was published, ms epoch), a room deletion or a notice, on `room:<id>`. */
export type RoomMessage =
  | { readonly k: 'event'; readonly t: number; readonly e: RoomEvent }
  | { readonly k: 'room.deleted'; readonly roomId: string }
  | RoomNoticeMessage

/** Streams to end: those of the listed sessions, and/or all of a user's but one session's. */
export interface EndStreamsFilter {
  readonly sessionIds?: readonly string[]
  readonly userId?: string
  readonly exceptSessionId?: string
}

export interface EndMessage extends EndStreamsFilter {
  readonly k: 'end'
  readonly reason: EndReason
}

const eventTypes: ReadonlySet<string> = new Set(EVENT_TYPES)
const endReasons: ReadonlySet<string> = new Set(END_REASONS)

type Json = Record<string, unknown>

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isRoomEvent(value: unknown, roomId: string): value is RoomEvent {
  return (
    isObject(value) &&
    value.roomId === roomId &&
    Number.isSafeInteger(value.seq) &&
    (value.seq as number) > 0 &&
    typeof value.type === 'string' &&
    eventTypes.has(value.type) &&
    isObject(value.user) &&
    typeof value.user.id === 'string'
  )
}

function isOptionalString(value: unknown): boolean {
  return value === undefined || typeof value === 'string'
}

function parseJson(raw: string): Json {
  const value: unknown = JSON.parse(raw)
  if (!isObject(value)) throw new Error('bus message is not a JSON object')
  return value
}

/** Parses a message of `room:<roomId>`; throws when it is not one this room can deliver. */
export function parseRoomMessage(raw: string, roomId: string): RoomMessage {
  const msg = parseJson(raw)
  if (msg.k === 'event' && typeof msg.t === 'number' && isRoomEvent(msg.e, roomId)) {
    return { k: 'event', t: msg.t, e: msg.e }
  }
  if (msg.k === 'room.deleted' && msg.roomId === roomId) return { k: 'room.deleted', roomId }
  if (msg.k === 'typing' && msg.roomId === roomId && typeof msg.typing === 'boolean' && isObject(msg.user)) {
    const user = msg.user
    if (typeof user.id === 'string') return { k: 'typing', roomId, user: { ...user, id: user.id }, typing: msg.typing }
  }
  if (
    msg.k === 'presence' &&
    msg.roomId === roomId &&
    typeof msg.userId === 'string' &&
    typeof msg.online === 'boolean'
  ) {
    return { k: 'presence', roomId, userId: msg.userId, online: msg.online }
  }
  throw new Error(`malformed message on ${roomChannel(roomId)}`)
}

/** Parses a message of `user:<id>`; throws when it is malformed. */
export function parseUserMessage(raw: string): JoinedMessage | ReadMessage {
  const msg = parseJson(raw)
  if (msg.k === 'read' && typeof msg.roomId === 'string' && Number.isSafeInteger(msg.seq) && (msg.seq as number) >= 0) {
    return { k: 'read', roomId: msg.roomId, seq: msg.seq as number }
  }
  if (
    msg.k === 'joined' &&
    typeof msg.roomId === 'string' &&
    Number.isSafeInteger(msg.seq) &&
    (msg.seq as number) >= 0
  ) {
    return { k: 'joined', roomId: msg.roomId, seq: msg.seq as number }
  }
  throw new Error('malformed message on a user channel')
}

/** Parses a message of the control channel; throws when it is malformed. */
export function parseControlMessage(raw: string): EndMessage {
  const msg = parseJson(raw)
  const sessionIds = msg.sessionIds
  if (
    msg.k === 'end' &&
    typeof msg.reason === 'string' &&
    endReasons.has(msg.reason) &&
    (sessionIds === undefined || (Array.isArray(sessionIds) && sessionIds.every((id) => typeof id === 'string'))) &&
    isOptionalString(msg.userId) &&
    isOptionalString(msg.exceptSessionId)
  ) {
    return msg as unknown as EndMessage
  }
  throw new Error(`malformed message on ${CONTROL_CHANNEL}`)
}

/** Builds the envelopes and puts them on the bus; receivers may read a published event back from the database. */
export class Publisher {
  readonly #bus: Bus

  constructor(bus: Bus) {
    this.#bus = bus
  }

  /** Call only after the event's transaction committed. */
  publishEvent(event: RoomEvent): Promise<void> {
    return this.#bus.publish(roomChannel(event.roomId), JSON.stringify({ k: 'event', t: Date.now(), e: event }))
  }

  /** The user's connections on every node start following the room from the event `seq` (0: its first). */
  publishJoined(userId: string, roomId: string, seq: number): Promise<void> {
    const msg: JoinedMessage = { k: 'joined', roomId, seq }
    return this.#bus.publish(userChannel(userId), JSON.stringify(msg))
  }

  /** The user's connections on every node hear that their read marker in the room moved to `seq`. */
  publishRead(userId: string, roomId: string, seq: number): Promise<void> {
    const msg: ReadMessage = { k: 'read', roomId, seq }
    return this.#bus.publish(userChannel(userId), JSON.stringify(msg))
  }

  /** A notice to every node's connections of the room (its subject's own connections left out). */
  publishNotice(msg: RoomNoticeMessage): Promise<void> {
    return this.#bus.publish(roomChannel(msg.roomId), JSON.stringify(msg))
  }

  publishRoomDeleted(roomId: string): Promise<void> {
    return this.#bus.publish(roomChannel(roomId), JSON.stringify({ k: 'room.deleted', roomId }))
  }

  /** Ends matching streams on every node, each with a `close` frame carrying `reason`. */
  endStreams(filter: EndStreamsFilter, reason: EndReason): Promise<void> {
    const msg: EndMessage = {
      k: 'end',
      reason,
      sessionIds: filter.sessionIds,
      userId: filter.userId,
      exceptSessionId: filter.exceptSessionId
    }
    return this.#bus.publish(CONTROL_CHANNEL, JSON.stringify(msg))
  }
}
