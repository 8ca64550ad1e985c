// ChatStream: the user stream kept open over either transport. It resumes from the last cursor after any
// break, waits between attempts with capped full-jitter backoff, refreshes the access token when the server
// refuses it or ends the stream with `token_expired`, stops on a final close reason, and delivers each stored
// event once per (roomId, seq) in its room's order.
import type { CloseReason } from '@chat/contracts'
import { sleep } from './abort.ts'
import type { ChatClient } from './client.ts'
import { ChatApiError } from './errors.ts'
import { connectSse } from './sse-transport.ts'
import type { AttemptEnd } from './transport.ts'
import {
  FINAL_CLOSE_REASONS,
  type ChatEvent,
  type ChatEventType,
  type ConnectionState,
  type EventOf,
  type StateChange,
  type StreamOptions
} from './types.ts'
import { connectWs } from './ws-transport.ts'

const FINAL: ReadonlySet<string> = new Set(FINAL_CLOSE_REASONS)

/** Full jitter: a delay drawn uniformly in [0, min(max, initial · 2^(attempt-1))]. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number): number {
  return Math.random() * Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1))
}

type Listener = (event: ChatEvent) => void

export class ChatStream {
  #stateNow: ConnectionState = 'connecting'
  #cursorNow: string | undefined
  readonly #seen = new Map<string, number>()
  readonly #listeners = new Set<{ type: ChatEventType | undefined; listener: Listener }>()
  readonly #stateListeners = new Set<(change: StateChange) => void>()
  readonly #controller = new AbortController()
  #resolveDone!: (change: StateChange) => void
  /** Settles once the stream is closed for good, with the last state change (its reason or error). */
  readonly done: Promise<StateChange>
  readonly #client: ChatClient
  readonly #options: StreamOptions

  constructor(client: ChatClient, options: StreamOptions) {
    this.#client = client
    this.#options = options
    this.#cursorNow = options.cursor
    this.done = new Promise((resolve) => (this.#resolveDone = resolve))
    if (options.onEvent) this.on(options.onEvent)
    if (options.onState) this.onState(options.onState)
    const signal = options.signal
    if (signal?.aborted) this.#controller.abort(signal.reason)
    else signal?.addEventListener('abort', () => this.#controller.abort(signal.reason), { once: true })
    void this.#run()
  }

  /** Where the connection stands. */
  get state(): ConnectionState {
    return this.#stateNow
  }

  /** The position to resume from: the cursor of the latest stored event or `ready` received. */
  get cursor(): string | undefined {
    return this.#cursorNow
  }

  /** Listens to every event, or to those of one type; returns the function that stops listening. */
  on(listener: (event: ChatEvent) => void): () => void
  on<T extends ChatEventType>(type: T, listener: (event: EventOf<T>) => void): () => void
  on(a: ChatEventType | Listener, b?: Listener): () => void {
    const entry = typeof a === 'function' ? { type: undefined, listener: a } : { type: a, listener: b! }
    this.#listeners.add(entry)
    return () => this.#listeners.delete(entry)
  }

  /** Listens to connection-state changes; returns the function that stops listening. */
  onState(listener: (change: StateChange) => void): () => void {
    this.#stateListeners.add(listener)
    return () => this.#stateListeners.delete(listener)
  }

  /** Ends the stream for good (state `closed`, reason `closed_by_client`). */
  close(): void {
    this.#controller.abort(new DOMException('closed by client', 'AbortError'))
  }

  #emit(event: ChatEvent): void {
    for (const { type, listener } of this.#listeners) {
      if (type !== undefined && type !== event.type) continue
      try {
        listener(event)
      } catch (error) {
        // A listener's bug is reported as an uncaught error would be, and the others still hear the event.
        queueMicrotask(() => {
          throw error
        })
      }
    }
  }

  #setState(change: StateChange): void {
    this.#stateNow = change.state
    for (const listener of this.#stateListeners) listener(change)
    if (change.state === 'closed') this.#resolveDone(change)
  }

  #deliver(event: ChatEvent): void {
    if (event.type === 'event' || event.type === 'ready') this.#cursorNow = event.cursor
    if (event.type === 'event') {
      const { roomId, seq } = event.event
      if (seq <= (this.#seen.get(roomId) ?? 0)) return
      this.#seen.set(roomId, seq)
    }
    if (event.type === 'ready') {
      this.#attempt = 0
      this.#refusedAfterRefresh = false
      this.#setState({ state: 'live', attempt: 0 })
    }
    this.#emit(event)
  }

  #attempt = 0
  /** Refused with 401 right after a refresh, not live since: the next refusal waits like any failure. */
  #refusedAfterRefresh = false

  async #run(): Promise<void> {
    const signal = this.#controller.signal
    const initial = this.#options.initialDelayMs ?? 500
    const max = this.#options.maxDelayMs ?? 30_000
    const session = this.#client.session
    this.#setState({ state: 'connecting', attempt: 0 })
    for (;;) {
      let end: AttemptEnd
      let token: string | null = null
      try {
        token = await session.accessToken(signal)
        end = await (this.#options.transport === 'websocket' ? connectWs : connectSse)({
          session,
          token,
          cursor: this.#cursorNow,
          signal,
          idleTimeoutMs: 45_000,
          WebSocket: this.#client.options.WebSocket,
          deliver: (event) => this.#deliver(event)
        })
      } catch (error) {
        end = { error, fatal: error instanceof ChatApiError && error.statusCode === 401 }
      }
      if (signal.aborted) return this.#finish(signal.reason)
      if (end.reason !== undefined && FINAL.has(end.reason)) {
        return this.#setState({ state: 'closed', attempt: this.#attempt, reason: end.reason })
      }
      if (end.fatal) return this.#setState({ state: 'closed', attempt: this.#attempt, error: end.error })
      if (end.unexplained) {
        // A call that refreshes on 401 tells whether the token was the cause, and repairs it if it was.
        try {
          await this.#client.me({ signal })
        } catch (error) {
          if (signal.aborted) return this.#finish(signal.reason)
          if (error instanceof ChatApiError && error.statusCode === 401) {
            return this.#setState({ state: 'closed', attempt: this.#attempt, error })
          }
        }
      }
      let delayMs: number | undefined
      if (end.unauthorized || end.reason === 'token_expired') {
        try {
          if ((await session.renew(token, signal)) === null) {
            return this.#setState({ state: 'closed', attempt: this.#attempt, error: end.error })
          }
        } catch (error) {
          if (signal.aborted) return this.#finish(signal.reason)
          if (error instanceof ChatApiError && error.statusCode === 401) {
            return this.#setState({ state: 'closed', attempt: this.#attempt, error })
          }
          end = { error }
        }
        // A fresh token goes at once; refused again right after a refresh, the next try waits like any other.
        if (!this.#refusedAfterRefresh) delayMs = 0
        this.#refusedAfterRefresh = end.unauthorized === true
      }
      this.#attempt++
      delayMs ??= end.retryAfterMs ?? backoffDelay(this.#attempt, initial, max)
      this.#setState({ state: 'reconnecting', attempt: this.#attempt, delayMs, reason: end.reason, error: end.error })
      try {
        await sleep(delayMs, signal)
      } catch {
        return this.#finish(signal.reason)
      }
    }
  }

  #finish(reason: unknown): void {
    const byClient = reason instanceof DOMException && reason.message === 'closed by client'
    const closeReason: CloseReason | 'aborted' | 'closed_by_client' = byClient ? 'closed_by_client' : 'aborted'
    this.#setState({ state: 'closed', attempt: this.#attempt, reason: closeReason })
  }
}
