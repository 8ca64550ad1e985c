// The vocabulary the realtime package shares with the server: the slice of a stored room event it
// relies on, the reasons a stream can end, the writable it streams to, and the hooks it reports through.
// The names themselves (event types, close reasons) are the contract's lists.
import type { CloseReason, EndReason, EventType } from '@chat/contracts'
import type { Outgoing } from './outgoing.ts'

export type { CloseReason, EndReason }
export type RoomEventType = EventType

/**
 * A stored room event. Only these fields steer delivery; every other field of the server's
 * RoomEvent travels untouched into the SSE data line.
 */
export interface RoomEvent {
  readonly roomId: string
  readonly seq: number
  readonly type: RoomEventType
  readonly user: { readonly id: string }
}

/** Reads stored events of a room with seq > afterSeq, ascending, at most `limit` of them. */
export type LoadEvents = (roomId: string, afterSeq: number, limit: number) => Promise<RoomEvent[]>

/** The same for many rooms in one read: at most `limit` events per room, by room. */
export type LoadEventsMany = (
  rooms: ReadonlyArray<{ roomId: string; afterSeq: number }>,
  limit: number
) => Promise<Map<string, RoomEvent[]>>

/** Why a stream stopped, as metrics see it: a close we sent, or the client going away. */
export type StreamEndReason = CloseReason | 'client_closed'

/**
 * What a stream writes to: an `http.ServerResponse` whose headers are already written,
 * or anything shaped like one.
 */
export interface StreamSink {
  write(chunk: Buffer): boolean
  /**
   * Writes the messages in one write (one HTTP chunk, or one WebSocket frame each); `bytes` is their total
   * length. Without it, a connection writes them packed into one Buffer.
   */
  writeAll?(messages: readonly Outgoing[], bytes: number): boolean
  end(): void
  /** Ends with a reason the transport can carry (a WebSocket close code); else end() is used. */
  endWith?(reason: CloseReason): void
  /** For transports with their own keep-alive (WebSocket pings): called on every heartbeat. */
  heartbeat?(): void
  destroy(): void
  readonly writableLength: number
  readonly destroyed: boolean
  on(event: 'close' | 'drain', listener: () => void): unknown
}

/** Observer the server maps onto its Prometheus metrics. */
/** The kinds of connection a node holds: a room stream, a user stream over SSE, a user stream over WebSocket. */
export const CONNECTION_KINDS = ['room', 'user', 'ws'] as const
export type ConnectionKind = (typeof CONNECTION_KINDS)[number]

export interface RealtimeMetrics {
  streamOpened(kind: ConnectionKind): void
  streamClosed(reason: StreamEndReason, kind: ConnectionKind): void
  /** Stored-event frames queued to streams (live, replayed or drained after a replay). */
  delivered(count: number): void
  /** Publish-to-delivery time of a live event, once per event per node. */
  deliveryLatency(ms: number): void
  slowConsumer(): void
  /** Events a broadcaster had to read from the database because the bus lost them. */
  gapFilled(count: number): void
}

export type ErrorHandler = (error: unknown) => void
