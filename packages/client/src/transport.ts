// What a transport is to the stream that drives it: one connection attempt, reporting each event as it comes
// and how the connection ended.
import type { CloseReason } from '@chat/contracts'
import type { SessionKeeper } from './session.ts'
import type { ChatEvent, WebSocketConstructor } from './types.ts'

export interface Attempt {
  session: SessionKeeper
  token: string | null
  cursor: string | undefined
  signal: AbortSignal
  /** No byte for this long (ms) means the connection is dead (the server pings every 15 s). */
  idleTimeoutMs: number
  WebSocket: WebSocketConstructor | undefined
  deliver(event: ChatEvent): void
}

export interface AttemptEnd {
  /** The reason of the `close` frame the server sent before it ended the connection. */
  reason?: CloseReason
  /** What broke the connection, or the refusal of the request (a ChatApiError). */
  error?: unknown
  /** The server refused the token: refresh before the next attempt. */
  unauthorized?: boolean
  /** Retrying cannot help (a 400, 403 or 404 refusal). */
  fatal?: boolean
  /** From a 429's Retry-After. */
  retryAfterMs?: number
}

/** How a refused connection (its status) bears on the next attempt. */
export function refusal(statusCode: number, error: unknown, retryAfter?: number): AttemptEnd {
  if (statusCode === 401) return { error, unauthorized: true }
  if (statusCode === 429) return { error, ...(retryAfter !== undefined && { retryAfterMs: retryAfter * 1000 }) }
  if (statusCode >= 400 && statusCode < 500 && statusCode !== 408) return { error, fatal: true }
  return { error }
}

/** Calls `onIdle` when `touch` has not been called for `ms`. */
export function idleTimer(ms: number, onIdle: () => void): { touch(): void; stop(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined
  const touch = () => {
    if (timer !== undefined) clearTimeout(timer)
    timer = setTimeout(onIdle, ms)
  }
  touch()
  return { touch, stop: () => clearTimeout(timer) }
}
