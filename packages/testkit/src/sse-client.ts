// A real Server-Sent Events client for the tests, over node:http: the token in the Authorization header or in
// ?access_token=, an optional Last-Event-ID. It parses the stream the way the SSE spec does (fields, comments,
// blank-line dispatch) and keeps each event's raw block so tests can assert the exact framing. `pause()` stops
// reading the socket, which is how a slow consumer looks to the server.
// With `reconnect` it behaves like a browser's EventSource: when a connection drops or the server ends it with a
// resumable `close` (shutdown, slow_consumer), it reconnects to the same URL with the Last-Event-ID header, so a
// test can see whether a failover lost or repeated anything. Every event of every connection is kept, in order.
import http, { type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import type { RoomEvent } from '@chat/contracts'
import { SseParser, type ParsedEvent } from './sse-parser.ts'

// Many streams at once, each on its own connection that closes with it.
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity })

const NOTICES = new Set(['typing', 'presence', 'read'])

/** How long the waits wait by default. */
export const WAIT_MS = 20_000

// Reasons after which the server does not want this stream back (a new token or a rejoin would be needed).
const FINAL_REASONS = new Set(['logout', 'session_ended', 'user_deleted', 'left_room', 'room_deleted', 'token_expired'])

export interface SseEvent extends ParsedEvent {
  /** Which connection (1-based) brought it. */
  connection: number
}

export interface StreamOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string
  /** Sent as `?access_token=<token>`. */
  queryToken?: string
  /** Sent as the Last-Event-ID header (on a reconnect, the latest id seen is sent instead). */
  lastEventId?: string | number
  /** More query parameters (e.g. lastEventId), kept for every reconnect as EventSource keeps its URL. */
  query?: Record<string, string | number>
  headers?: Record<string, string>
  /** Stop reading as soon as the headers are in: a consumer that never keeps up. */
  paused?: boolean
  /** Reconnect like EventSource after a dropped connection or a resumable `close` (default false). */
  reconnect?: boolean
  /** Wait before reconnecting (the server's `retry:` hint is 2 s; tests go faster). */
  reconnectDelayMs?: number
}

export class SseClient {
  readonly events: SseEvent[] = []
  readonly comments: string[] = []
  /** Reasons of the `close` events received, in order. */
  readonly closeReasons: string[] = []
  /** Status of every connection attempt, in order (0: no response at all). */
  readonly statuses: number[] = []
  /** Everything received, as text: the first response's body (a stream or an error) and every later stream's. */
  raw = ''
  /** Connections that got a 200. */
  connections = 0
  /** The current connection is open (a 200 response that has not ended). */
  open = false
  /** Over for good: the response ended (and no reconnect follows), or the test closed the client. */
  ended = false
  /** 'end' for a clean end of the response, otherwise what broke it or why no reconnect follows. */
  endedBy: string | undefined
  /** The latest `id:` seen, as EventSource keeps it for a reconnect. */
  lastEventId: string | undefined

  readonly #url: URL
  readonly #opts: StreamOptions
  #paused: boolean
  #req: ClientRequest | null = null
  #res: IncomingMessage | null = null
  #headers: IncomingHttpHeaders = {}
  #timer: NodeJS.Timeout | null = null
  #parser = new SseParser({
    comment: (text) => this.comments.push(text),
    id: (id) => {
      this.lastEventId = id
    },
    event: (event) => {
      this.events.push({ ...event, connection: this.connections })
      if (event.event === 'close') this.closeReasons.push((JSON.parse(event.data) as { reason: string }).reason)
    }
  })
  #waiters = new Set<() => void>()

  private constructor(base: string, path: string, opts: StreamOptions) {
    this.#url = new URL(path, base)
    this.#opts = opts
    this.#paused = opts.paused ?? false
  }

  /** Opens `path` on `base`; resolves once the response is in, whatever its status (rejects if none comes). */
  static async connect(base: string, path: string, opts: StreamOptions = {}): Promise<SseClient> {
    const client = new SseClient(base, path, opts)
    await client.#connect(true)
    return client
  }

  /** Status of the latest connection attempt. */
  get status(): number {
    return this.statuses.at(-1) ?? 0
  }

  /** Headers of the latest response. */
  get headers(): IncomingHttpHeaders {
    return this.#headers
  }

  /** The body of a response that is not a stream (an error), as JSON. */
  async json(): Promise<Record<string, unknown>> {
    await this.waitForEnd()
    return JSON.parse(this.raw) as Record<string, unknown>
  }

  /**
   * Events other than the live notices (`typing`, `presence`, `read`): those arrive whenever people come, go and
   * type, also from the test's own users connecting, so a check of a stream's exact sequence leaves them out.
   */
  get withoutNotices(): SseEvent[] {
    return this.events.filter((e) => !NOTICES.has(e.event))
  }

  /** Stored events (those with an id), parsed. */
  get stored(): RoomEvent[] {
    return this.events.filter((e) => e.id !== undefined).map((e) => JSON.parse(e.data) as RoomEvent)
  }

  get seqs(): number[] {
    return this.stored.map((e) => e.seq)
  }

  /** Resolves once `check` holds; rejects after `ms` saying what was awaited and what had arrived. */
  waitFor(check: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
    if (check()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const waiter = () => {
        if (!check()) return
        this.#waiters.delete(waiter)
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter)
        reject(new Error(`timed out after ${ms} ms waiting for ${what}: ${this.describe()}`))
      }, ms)
      this.#waiters.add(waiter)
    })
  }

  /** Waits for the stored event with this seq. */
  waitForSeq(seq: number, ms?: number): Promise<void> {
    const id = String(seq)
    return this.waitFor(() => this.events.some((e) => e.id === id), `seq ${seq}`, ms)
  }

  /** Waits for an event of this type and returns the first one. */
  async waitForEvent(type: string, ms?: number): Promise<SseEvent> {
    await this.waitFor(() => this.events.some((e) => e.event === type), `an event of type ${type}`, ms)
    return this.events.find((e) => e.event === type)!
  }

  /** Waits for the first `close` event and returns its reason. */
  async closeReason(ms?: number): Promise<string> {
    await this.waitForEvent('close', ms)
    return this.closeReasons[0]!
  }

  waitForEnd(ms?: number): Promise<void> {
    return this.waitFor(() => this.ended, 'the end of the stream', ms)
  }

  /** What arrived so far, for failure messages. */
  describe(): string {
    const seqs = this.seqs
    const types = this.events.slice(-5).map((e) => e.event)
    return (
      `status ${this.status}, ${this.events.length} events, ${seqs.length} stored (seq ${seqs[0]}..${seqs.at(-1)}), ` +
      `last types ${types.join(',')}, ${this.connections} connections, statuses ${this.statuses.join(',')}, ` +
      `close reasons [${this.closeReasons.join(',')}], open ${this.open}, ended: ${this.endedBy ?? 'no'}`
    )
  }

  /** Stops reading: the socket's buffers fill up and the server sees a consumer that cannot keep up. */
  pause(): void {
    this.#paused = true
    this.#res?.pause()
  }

  resume(): void {
    this.#paused = false
    this.#res?.resume()
  }

  /** Ends the stream for good (no reconnect). */
  close(): void {
    this.#finish('closed by the client')
    this.#req?.destroy()
    this.#res?.destroy()
  }

  #connect(first: boolean): Promise<void> {
    const headers: Record<string, string> = { accept: 'text/event-stream', connection: 'close', ...this.#opts.headers }
    if (this.#opts.token !== undefined) headers.authorization = `Bearer ${this.#opts.token}`
    // Like EventSource, a reconnect keeps the first URL and adds the latest id seen, which the server lets win.
    const lastEventId = this.lastEventId ?? this.#opts.lastEventId
    if (lastEventId !== undefined) headers['last-event-id'] = String(lastEventId)
    return new Promise((resolve, reject) => {
      let answered = false
      let streaming = false
      let gone = false
      // Whichever of the ways a response can stop comes first; once per connection.
      const dropped = (by: string) => {
        if (gone) return
        gone = true
        this.#dropped(by, streaming)
      }
      const req = http.get(this.#url, { agent, headers }, (res) => {
        answered = true
        const status = res.statusCode ?? 0
        this.statuses.push(status)
        this.#headers = res.headers
        if (status !== 200 && !first) {
          gone = true // a refused reconnect: its body is not read
          res.resume()
          this.#refused(status)
          return resolve()
        }
        streaming = status === 200
        if (streaming) {
          this.connections++
          this.open = true
        }
        this.#res = res
        this.#parser.reset()
        res.setEncoding('utf8')
        if (this.#paused) res.pause()
        res.on('data', (chunk: string) => this.#feed(chunk))
        res.on('end', () => dropped('end'))
        res.on('aborted', () => dropped('aborted'))
        res.on('error', (err) => dropped(err.message))
        res.on('close', () => dropped('closed'))
        if (!this.#paused) res.resume()
        resolve()
        this.#notify()
      })
      this.#req = req
      req.on('error', (err) => {
        if (answered) return dropped(err.message)
        // No response at all: refused or reset before the headers.
        this.statuses.push(0)
        if (first) return reject(err)
        this.#refused(0)
        resolve()
      })
    })
  }

  #dropped(by: string, streaming: boolean): void {
    this.open = false
    if (this.ended) return this.#notify()
    if (!streaming || !this.#opts.reconnect) return this.#finish(by)
    const reason = this.closeReasons.at(-1)
    if (reason !== undefined && FINAL_REASONS.has(reason) && this.#lastCloseEndedConnection()) {
      return this.#finish(`close ${reason}`)
    }
    this.#scheduleReconnect()
    this.#notify()
  }

  /** The last event of the connection that just ended was a `close`. */
  #lastCloseEndedConnection(): boolean {
    const last = this.events.at(-1)
    return last?.event === 'close' && last.connection === this.connections
  }

  // Like EventSource: a network error or a 5xx from the proxy means try again; any other refusal is final.
  #refused(status: number): void {
    if (this.ended) return
    if (status === 0 || status >= 500) this.#scheduleReconnect()
    else this.#finish(`reconnect refused with ${status}`)
    this.#notify()
  }

  #scheduleReconnect(): void {
    if (this.ended || this.#timer) return
    this.#timer = setTimeout(() => {
      this.#timer = null
      if (!this.ended) void this.#connect(false)
    }, this.#opts.reconnectDelayMs ?? 200)
  }

  #finish(why: string): void {
    if (this.ended) return
    this.ended = true
    this.endedBy = why
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    this.#notify()
  }

  #feed(chunk: string): void {
    this.raw += chunk
    this.#parser.feed(chunk)
    this.#notify()
  }

  #notify(): void {
    for (const waiter of this.#waiters) waiter()
  }
}
