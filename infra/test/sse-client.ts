// A real Server-Sent Events client for the cluster tests, over node:http, that behaves like a browser's
// EventSource where the tests need it: when a connection drops or the server ends it with a resumable `close`
// (shutdown, slow_consumer), it reconnects to the same URL with the Last-Event-ID header, so the tests can see
// whether a failover lost or repeated anything. Every event of every connection is kept, in arrival order.
import http, { type ClientRequest, type IncomingMessage } from 'node:http'

export interface SseEvent {
  id: string | undefined
  event: string
  data: string
  /** Which connection (1-based) brought it. */
  connection: number
}

export interface StoredEvent {
  seq: number
  type: string
  text: string | null
  roomId: string
}

// Reasons after which the server does not want this stream back (a new token or a rejoin would be needed).
const FINAL_REASONS = new Set(['logout', 'session_ended', 'user_deleted', 'left_room', 'room_deleted', 'token_expired'])

export interface EventStreamOptions {
  /** e.g. http://127.0.0.1:8080 (nginx) or a node's own URL. */
  base: string
  roomId: string
  token: string
  /** Sent as ?lastEventId= (0: the whole room). */
  lastEventId?: number
  /** Wait before reconnecting (the server's `retry:` hint is 2 s; tests go faster). */
  reconnectDelayMs?: number
  /** Reconnect at all (default true). */
  resume?: boolean
}

export class EventStream {
  readonly events: SseEvent[] = []
  readonly comments: string[] = []
  /** Reasons of the `close` events received, in order. */
  readonly closeReasons: string[] = []
  /** Status of every connection attempt that got a response, in order (200s and failures). */
  readonly statuses: number[] = []
  /** Connections that got a 200. */
  connections = 0
  /** The latest `id:` seen, as EventSource keeps it. */
  lastEventId: string | undefined
  /** The stream is over for good: closed by the test, a final close reason, or a refused reconnect. */
  done = false
  doneBecause: string | undefined
  /** The current connection is open (a 200 response that has not ended). */
  open = false

  readonly #opts: Required<Omit<EventStreamOptions, 'lastEventId'>> & { lastEventId?: number }
  readonly #agent = new http.Agent({ keepAlive: false })
  #req: ClientRequest | null = null
  #res: IncomingMessage | null = null
  #timer: NodeJS.Timeout | null = null
  #pending = ''
  #fields: { id?: string; event?: string; data: string[] } = { data: [] }
  #waiters = new Set<() => void>()

  constructor(opts: EventStreamOptions) {
    this.#opts = { reconnectDelayMs: 200, resume: true, ...opts }
  }

  /** Connects; resolves once the first response is a 200 (rejects with its status otherwise). */
  async start(): Promise<this> {
    const status = await this.#connect()
    if (status !== 200) {
      this.#finish(`status ${status}`)
      throw new Error(`stream of room ${this.#opts.roomId} via ${this.#opts.base}: status ${status}`)
    }
    return this
  }

  /** Stored events (those with an id), parsed. */
  get stored(): StoredEvent[] {
    return this.events.filter((e) => e.id !== undefined).map((e) => JSON.parse(e.data) as StoredEvent)
  }

  get seqs(): number[] {
    return this.stored.map((e) => e.seq)
  }

  get lastSeq(): number {
    return this.lastEventId === undefined ? 0 : Number(this.lastEventId)
  }

  /** Resolves once `check` holds; rejects after `ms` saying what was awaited and what had arrived. */
  waitFor(check: () => boolean, what: string, ms = 30_000): Promise<void> {
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

  waitForSeq(seq: number, ms?: number): Promise<void> {
    return this.waitFor(() => this.lastSeq >= seq, `seq ${seq}`, ms)
  }

  describe(): string {
    const seqs = this.seqs
    return (
      `${seqs.length} stored events (seq ${seqs[0]}..${seqs.at(-1)}), ${this.connections} connections, ` +
      `statuses ${this.statuses.join(',')}, close reasons [${this.closeReasons.join(',')}], ` +
      `open ${this.open}, done ${this.doneBecause ?? 'no'}`
    )
  }

  /** Ends the stream for good (no reconnect). */
  close(): void {
    this.#finish('closed by the client')
    this.#req?.destroy()
    this.#res?.destroy()
  }

  #connect(): Promise<number> {
    const first = this.connections === 0 && this.statuses.length === 0
    // Like EventSource, a reconnect keeps the first URL and adds the header, which the server lets win.
    const query = this.#opts.lastEventId !== undefined ? `?lastEventId=${this.#opts.lastEventId}` : ''
    const headers: Record<string, string> = {
      accept: 'text/event-stream',
      authorization: `Bearer ${this.#opts.token}`
    }
    if (this.lastEventId !== undefined) headers['last-event-id'] = this.lastEventId
    const url = new URL(`/rooms/${this.#opts.roomId}/events${query}`, this.#opts.base)
    return new Promise((resolve) => {
      let answered = false
      const req = http.get(url, { agent: this.#agent, headers }, (res) => {
        answered = true
        const status = res.statusCode ?? 0
        this.statuses.push(status)
        if (status !== 200) {
          res.resume()
          resolve(status)
          if (!first) this.#afterFailure(status)
          return
        }
        this.connections++
        this.open = true
        this.#res = res
        this.#pending = ''
        this.#fields = { data: [] }
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => this.#feed(chunk))
        res.once('close', () => this.#dropped())
        resolve(status)
        this.#notify()
      })
      this.#req = req
      req.on('error', () => {
        if (answered) return // the response's own 'close' deals with it
        // No response at all: refused or reset before the headers.
        this.statuses.push(0)
        resolve(0)
        if (!first) this.#afterFailure(0)
      })
    })
  }

  #dropped(): void {
    this.open = false
    this.#res = null
    const reason = this.closeReasons.at(-1)
    if (this.done) return this.#notify()
    if (!this.#opts.resume) return this.#finish('ended (no resume)')
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
  #afterFailure(status: number): void {
    if (this.done) return
    if (status === 0 || status >= 500) this.#scheduleReconnect()
    else this.#finish(`reconnect refused with ${status}`)
    this.#notify()
  }

  #scheduleReconnect(): void {
    if (this.done || this.#timer) return
    this.#timer = setTimeout(() => {
      this.#timer = null
      if (!this.done) void this.#connect()
    }, this.#opts.reconnectDelayMs)
  }

  #finish(why: string): void {
    if (this.done) return
    this.done = true
    this.doneBecause = why
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    this.#notify()
  }

  #feed(chunk: string): void {
    const text = this.#pending + chunk
    let start = 0
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      this.#line(text.slice(start, text[nl - 1] === '\r' ? nl - 1 : nl))
      start = nl + 1
    }
    this.#pending = text.slice(start)
    this.#notify()
  }

  #line(line: string): void {
    if (line === '') return this.#dispatch()
    if (line.startsWith(':')) {
      this.comments.push(line.slice(1).trim())
      return
    }
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') this.#fields.data.push(value)
    else if (field === 'event') this.#fields.event = value
    else if (field === 'id') this.#fields.id = value
  }

  #dispatch(): void {
    const { id, event, data } = this.#fields
    this.#fields = { data: [] }
    if (id !== undefined) this.lastEventId = id
    if (data.length === 0) return
    const type = event ?? 'message'
    this.events.push({ id, event: type, data: data.join('\n'), connection: this.connections })
    if (type === 'close') this.closeReasons.push((JSON.parse(data.join('\n')) as { reason: string }).reason)
  }

  #notify(): void {
    for (const waiter of this.#waiters) waiter()
  }
}
