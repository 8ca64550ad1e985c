// A real Server-Sent Events client for the tests: node:http against a listening app, the token in the
// Authorization header or in ?access_token=, an optional Last-Event-ID. It parses the stream the way the SSE
// spec does (fields, comments, blank-line dispatch) and keeps each event's raw block so tests can assert the
// exact framing. `pause()` stops reading the socket, which is how a slow consumer looks to the server.
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { RoomEvent } from '@chat/contracts'

// Many streams at once, each on its own connection that closes with it.
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity })

export const WAIT_MS = 20_000

export interface SseEvent {
  /** The block's own `id:` field (stored events only). */
  id: string | undefined
  event: string
  data: string
  /** The block as it came over the wire, lines joined with \n, without the blank line that ended it. */
  raw: string
  dataLines: number
}

export interface StreamOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string
  /** Sent as `?access_token=<token>`. */
  queryToken?: string
  /** Sent as the Last-Event-ID header. */
  lastEventId?: string | number
  /** More query parameters (e.g. lastEventId). */
  query?: Record<string, string | number>
  headers?: Record<string, string>
  /** Stop reading as soon as the headers are in: a consumer that never keeps up. */
  paused?: boolean
}

/** The base URL of the app, listening on a random local port (once per app). */
export async function listen(app: FastifyInstance): Promise<string> {
  const address = app.server.address()
  if (address && typeof address === 'object') return `http://127.0.0.1:${address.port}`
  return app.listen({ port: 0, host: '127.0.0.1' })
}

export function streamUrl(roomId: string, opts: Pick<StreamOptions, 'queryToken' | 'query'> = {}): string {
  const query = new URLSearchParams()
  if (opts.queryToken !== undefined) query.set('access_token', opts.queryToken)
  for (const [key, value] of Object.entries(opts.query ?? {})) query.set(key, String(value))
  const qs = query.toString()
  return `/rooms/${roomId}/events${qs ? `?${qs}` : ''}`
}

/** Opens a stream (any status) and closes it when the test ends. */
export async function openStream(t: Test, base: string, roomId: string, opts: StreamOptions = {}): Promise<SseClient> {
  const client = await SseClient.connect(base, streamUrl(roomId, opts), opts)
  t.teardown(() => client.close())
  return client
}

type Waiter = { check: () => boolean; resolve: () => void }

export class SseClient {
  readonly events: SseEvent[] = []
  readonly comments: string[] = []
  /** Everything received, as text. */
  raw = ''
  ended = false
  /** 'end' for a clean end of the response, otherwise what broke it. */
  endedBy: string | undefined
  /** The latest `id:` seen, as EventSource keeps it for a reconnect. */
  lastEventId: string | undefined

  readonly #req: http.ClientRequest
  readonly #res: IncomingMessage
  #pending = ''
  #block: string[] = []
  #fields: { id?: string; event?: string; data: string[] } = { data: [] }
  #waiters = new Set<Waiter>()

  private constructor(req: http.ClientRequest, res: IncomingMessage, paused: boolean) {
    this.#req = req
    this.#res = res
    res.setEncoding('utf8')
    if (paused) res.pause()
    res.on('data', (chunk: string) => this.#feed(chunk))
    res.on('end', () => this.#end('end'))
    res.on('aborted', () => this.#end('aborted'))
    res.on('error', (err) => this.#end(err.message))
    res.on('close', () => this.#end('closed'))
    req.on('error', (err) => this.#end(err.message))
    if (!paused) res.resume()
  }

  static connect(base: string, path: string, opts: StreamOptions = {}): Promise<SseClient> {
    const headers: Record<string, string> = { accept: 'text/event-stream', connection: 'close', ...opts.headers }
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`
    if (opts.lastEventId !== undefined) headers['last-event-id'] = String(opts.lastEventId)
    return new Promise((resolve, reject) => {
      const req = http.get(new URL(path, base), { agent, headers }, (res) => {
        resolve(new SseClient(req, res, opts.paused ?? false))
      })
      req.on('error', reject)
    })
  }

  get status(): number {
    return this.#res.statusCode ?? 0
  }

  get headers(): IncomingHttpHeaders {
    return this.#res.headers
  }

  /** The body of a response that is not a stream (an error), as JSON. */
  async json(): Promise<Record<string, unknown>> {
    await this.waitForEnd()
    return JSON.parse(this.raw) as Record<string, unknown>
  }

  /** Stored events (those with an id), parsed. */
  get stored(): RoomEvent[] {
    return this.events.filter((e) => e.id !== undefined).map((e) => JSON.parse(e.data) as RoomEvent)
  }

  get seqs(): number[] {
    return this.stored.map((e) => e.seq)
  }

  /** Resolves once `check` holds; rejects after `ms` saying what was awaited and what arrived. */
  waitFor(check: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
    if (check()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        check,
        resolve: () => {
          clearTimeout(timer)
          resolve()
        }
      }
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter)
        const seqs = this.seqs
        const types = this.events.slice(-5).map((e) => e.event)
        reject(
          new Error(
            `timed out waiting for ${what}: status ${this.status}, ${this.events.length} events ` +
              `(seq ${seqs[0]}..${seqs.at(-1)}, last types ${types.join(',')}), ended: ${this.endedBy ?? 'no'}`
          )
        )
      }, ms)
      this.#waiters.add(waiter)
    })
  }

  /** Waits for `n` stored events in all. */
  waitForStored(n: number, ms?: number): Promise<void> {
    return this.waitFor(() => this.events.filter((e) => e.id !== undefined).length >= n, `${n} stored events`, ms)
  }

  /** Waits for the stored event with this seq. */
  waitForSeq(seq: number, ms?: number): Promise<void> {
    return this.waitFor(() => this.events.some((e) => e.id === String(seq)), `seq ${seq}`, ms)
  }

  /** Waits for an event of this type and returns the first one. */
  async waitForEvent(type: string, ms?: number): Promise<SseEvent> {
    await this.waitFor(() => this.events.some((e) => e.event === type), `an event of type ${type}`, ms)
    return this.events.find((e) => e.event === type)!
  }

  /** Waits for the `close` event and returns its reason. */
  async closeReason(ms?: number): Promise<string> {
    const close = await this.waitForEvent('close', ms)
    return (JSON.parse(close.data) as { reason: string }).reason
  }

  waitForEnd(ms?: number): Promise<void> {
    return this.waitFor(() => this.ended, 'the end of the stream', ms)
  }

  waitForComment(text: string, ms?: number): Promise<void> {
    return this.waitFor(() => this.comments.includes(text), `a comment "${text}"`, ms)
  }

  /** Stops reading: the socket's buffers fill up and the server sees a consumer that cannot keep up. */
  pause(): void {
    this.#res.pause()
  }

  resume(): void {
    this.#res.resume()
  }

  close(): void {
    this.#req.destroy()
    this.#res.destroy()
  }

  #feed(chunk: string): void {
    this.raw += chunk
    const text = this.#pending + chunk
    let start = 0
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      const line = text.slice(start, text[nl - 1] === '\r' ? nl - 1 : nl)
      start = nl + 1
      this.#line(line)
    }
    this.#pending = text.slice(start)
    this.#notify()
  }

  #line(line: string): void {
    if (line === '') return this.#dispatch()
    if (line.startsWith(':')) {
      this.comments.push(line.slice(1).trimStart())
      return
    }
    this.#block.push(line)
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
    const raw = this.#block.join('\n')
    this.#block = []
    this.#fields = { data: [] }
    if (id !== undefined) this.lastEventId = id
    // A block without data (the `retry:` hint) dispatches nothing, as in EventSource.
    if (data.length === 0) return
    this.events.push({ id, event: event ?? 'message', data: data.join('\n'), raw, dataLines: data.length })
  }

  #end(by: string): void {
    if (this.ended) return
    this.ended = true
    this.endedBy = by
    this.#notify()
  }

  #notify(): void {
    for (const waiter of this.#waiters) {
      if (waiter.check()) {
        this.#waiters.delete(waiter)
        waiter.resolve()
      }
    }
  }
}
