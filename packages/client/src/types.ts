// The client's public types beside the contract's: options, tokens, the events a stream delivers and the
// states of its connection.
import type { CloseReason, WsServerMessage } from '@chat/contracts'

/** The tokens of a session. `expiresAt` (ms since the epoch) is when the access token lapses, if known. */
export interface Tokens {
  accessToken: string
  refreshToken: string
  expiresAt?: number
}

/** The global fetch's signature, so any conforming fetch (a wrapper that counts, a polyfill) can be passed. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

/** What the WebSocket transport needs of a WebSocket class: the browser's, Node 22's, or the `ws` package's. */
export interface WebSocketLike {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  addEventListener(type: 'open' | 'close' | 'error' | 'message', listener: (event: never) => void): void
}
export type WebSocketConstructor = new (url: string) => WebSocketLike

export interface ChatClientOptions {
  /** The API's origin (and path prefix, if any): `https://chat.example.com` or `/api`-less `http://127.0.0.1:3000`. */
  baseUrl: string
  /** Defaults to the global `fetch`. */
  fetch?: FetchLike
  /** The tokens of a session kept from an earlier run (from `onTokens`). */
  tokens?: Tokens | null
  /** Called whenever the tokens change: login, refresh, logout, or `null` when the session is gone. */
  onTokens?: (tokens: Tokens | null) => void
  /** The WebSocket class for the `websocket` transport; defaults to the global one (browsers, Node ≥ 22). */
  WebSocket?: WebSocketConstructor
  /** Refresh this long (ms) before the access token's known expiry rather than after a 401. Default 10 000. */
  refreshMarginMs?: number
}

/** Every call takes an AbortSignal. */
export interface CallOptions {
  signal?: AbortSignal
}

/** A stream's events: the user stream's, the same over SSE and over WebSocket (a WebSocket's server messages less replies). */
export type ChatEvent = Exclude<WsServerMessage, { type: 'reply' }>
export type ChatEventType = ChatEvent['type']
/** The event of a given type, narrowed: `EventOf<'typing'>` is `{type: 'typing', roomId, user, typing}`. */
export type EventOf<T extends ChatEventType> = Extract<ChatEvent, { type: T }>

/**
 * Where the connection stands: `connecting` (first attempt), `live` (caught up, after `ready`), `reconnecting`
 * (lost; waiting or trying again), `closed` (ended for good: `close()`, abort, a final close reason, or an
 * error that retrying cannot cure).
 */
export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'closed'

export interface StateChange {
  state: ConnectionState
  /** Attempts since the stream was last live (1 for the first retry). */
  attempt: number
  /** reconnecting: how long (ms) before the next attempt. */
  delayMs?: number
  /** Why the last connection ended or the stream closed: a close frame's reason. */
  reason?: CloseReason | 'aborted' | 'closed_by_client'
  /** The error that ended the last connection, or (on `closed`) the one that made retrying pointless. */
  error?: unknown
}

export type Transport = 'sse' | 'websocket'

export interface StreamOptions {
  /** `sse` (default): `GET /events` over fetch; `websocket`: `GET /ws`. Both deliver the same events. */
  transport?: Transport
  /** Resume after this cursor (a `cursor` of an earlier event or `ready`, of either transport). */
  cursor?: string
  /** Aborting ends the stream, like `close()`. */
  signal?: AbortSignal
  /** Backoff between reconnects: full jitter, `random(0, min(maxDelayMs, initialDelayMs · 2^attempt))`. */
  initialDelayMs?: number
  maxDelayMs?: number
  /** Listeners attached before the first connection starts (same as `stream.on(...)` right after). */
  onEvent?: (event: ChatEvent) => void
  onState?: (change: StateChange) => void
}

/** Close reasons after which reconnecting is pointless: the session or the user is gone. */
export const FINAL_CLOSE_REASONS = ['logout', 'session_ended', 'user_deleted'] as const satisfies readonly CloseReason[]
