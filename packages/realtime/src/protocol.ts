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

/** A stored event (`t`: when it was published, ms epoch) or a room deletion, on `room:<id>`. */
export type RoomMessage =
  | { readonly k: 'event'; readonly t: number; readonly e: RoomEvent }
  | { readonly k: 'room.deleted'; readonly roomId: string }

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
  throw new Error(`malformed message on ${roomChannel(roomId)}`)
}

/** Parses a message of `user:<id>`; throws when it is malformed. */
export function parseUserMessage(raw: string): JoinedMessage {
  const msg = parseJson(raw)
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
