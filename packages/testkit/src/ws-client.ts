// A real WebSocket client for the tests, on `ws`: the token in the Authorization header or in ?access_token=,
// an optional Origin. A refused upgrade is kept as its HTTP status and body; an opened socket keeps every
// message (parsed), answers the server's pings (ws does), and knows how it was closed. `command()` sends a
// command and resolves with the reply carrying its id.
import WebSocket from 'ws'
import { WAIT_MS } from './sse-client.ts'

export interface WsOptions {
  token?: string
  queryToken?: string
  query?: Record<string, string | number>
  origin?: string
  /** Leave the server's pings unanswered: a client that died without closing (ws answers them by default). */
  silent?: boolean
}

export type WsMessage = { type: string; [key: string]: unknown }

export class WsClient {
  readonly messages: WsMessage[] = []
  /** The HTTP status of a refused upgrade (101 when it opened). */
  status = 0
  /** A refused upgrade's body. */
  body = ''
  closed: { code: number; reason: string } | null = null
  readonly #socket: WebSocket
  #waiters = new Set<() => void>()
  #nextId = 1

  private constructor(socket: WebSocket) {
    this.#socket = socket
  }

  static connect(base: string, opts: WsOptions = {}): Promise<WsClient> {
    const url = new URL('/ws', base.replace(/^http/, 'ws'))
    if (opts.queryToken !== undefined) url.searchParams.set('access_token', opts.queryToken)
    for (const [key, value] of Object.entries(opts.query ?? {})) url.searchParams.set(key, String(value))
    const headers: Record<string, string> = {}
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`
    const socket = new WebSocket(url, {
      headers,
      autoPong: !opts.silent,
      ...(opts.origin ? { origin: opts.origin } : {})
    })
    const client = new WsClient(socket)
    return new Promise((resolve, reject) => {
      socket.on('open', () => {
        client.status = 101
        resolve(client)
      })
      socket.on('unexpected-response', (_req, res) => {
        client.status = res.statusCode ?? 0
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (client.body += chunk))
        res.on('end', () => resolve(client))
      })
      socket.on('message', (data, isBinary) => {
        if (!isBinary) client.messages.push(JSON.parse(data.toString()) as WsMessage)
        client.#notify()
      })
      socket.on('close', (code, reason) => {
        client.closed = { code, reason: reason.toString() }
        client.#notify()
      })
      socket.on('error', (err) => {
        if (client.status === 0) reject(err)
      })
    })
  }

  get open(): boolean {
    return this.#socket.readyState === WebSocket.OPEN
  }

  /** Sends raw data (a string is a text frame; a Buffer with binary: true a binary one). */
  sendRaw(data: string | Buffer, binary = false): void {
    this.#socket.send(data, { binary })
  }

  /** Sends a command with a fresh id (unless it has one) and resolves with its reply. */
  async command(body: Record<string, unknown>, ms = WAIT_MS): Promise<WsMessage> {
    const id = body.id ?? this.#nextId++
    this.#socket.send(JSON.stringify({ ...body, id }))
    await this.waitFor(() => this.replyTo(id) !== undefined, `the reply to ${String(id)}`, ms)
    return this.replyTo(id)!
  }

  replyTo(id: unknown): WsMessage | undefined {
    return this.messages.find((m) => m.type === 'reply' && m.id === id)
  }

  waitFor(check: () => boolean, what: string, ms = WAIT_MS): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = () => {
        if (!check()) return
        clearTimeout(timer)
        this.#waiters.delete(done)
        resolve()
      }
      const timer = setTimeout(() => {
        this.#waiters.delete(done)
        const last = this.messages.slice(-3).map((m) => m.type)
        reject(
          new Error(
            `timed out after ${ms} ms waiting for ${what}: ${this.messages.length} messages (last ${last}), closed ${JSON.stringify(this.closed)}`
          )
        )
      }, ms)
      this.#waiters.add(done)
      done()
    })
  }

  waitForClose(ms = WAIT_MS): Promise<{ code: number; reason: string }> {
    return this.waitFor(() => this.closed !== null, 'the socket to close', ms).then(() => this.closed!)
  }

  /** Stops reading the socket: a consumer that does not keep up. */
  pause(): void {
    this.#socket.pause()
  }

  close(): void {
    if (this.#socket.readyState === WebSocket.OPEN || this.#socket.readyState === WebSocket.CONNECTING) {
      this.#socket.terminate()
    }
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter()
  }
}
