// A WebSocket as a connection's sink: each write one text message; the socket's own buffer counts against the
// connection's bound; heartbeats are WebSocket pings, and a socket that did not answer the last one is cut;
// ending carries the reason as a close code. Typed by shape, so the package needs no `ws` of its own.
import type { Socket } from 'node:net'
import type { CloseReason, StreamSink } from './types.ts'

/** What this sink needs of a `ws` WebSocket. */
export interface WebSocketLike {
  readonly readyState: number
  readonly bufferedAmount: number
  send(data: Buffer, options: { binary: boolean }): void
  ping(): void
  close(code: number, reason: string): void
  terminate(): void
  on(event: 'close' | 'pong', listener: () => void): unknown
}

const OPEN = 1

/** Close codes: 1001 when the node shuts down, 1013 (try again later) for a slow consumer, 1011 when the
 * server could not catch up, 1000 for the rest (the `close` message before says why). */
export const WS_CLOSE_CODES: Record<CloseReason, number> = {
  token_expired: 1000,
  logout: 1000,
  session_ended: 1000,
  user_deleted: 1000,
  left_room: 1000,
  room_deleted: 1000,
  slow_consumer: 1013,
  shutdown: 1001,
  catch_up_failed: 1011
}

export function wsSink(ws: WebSocketLike, socket: Socket): StreamSink {
  return new WsSink(ws, socket)
}

class WsSink implements StreamSink {
  readonly #ws: WebSocketLike
  readonly #socket: Socket
  #alive = true

  constructor(ws: WebSocketLike, socket: Socket) {
    this.#ws = ws
    this.#socket = socket
    ws.on('pong', () => {
      this.#alive = true
    })
  }

  write(data: Buffer): boolean {
    if (this.#ws.readyState !== OPEN) return false
    this.#ws.send(data, { binary: false })
    return !this.#socket.writableNeedDrain
  }

  get writableLength(): number {
    return this.#ws.bufferedAmount
  }

  get destroyed(): boolean {
    return this.#ws.readyState !== OPEN
  }

  end(): void {
    this.endWith('shutdown')
  }

  endWith(reason: CloseReason): void {
    if (this.#ws.readyState === OPEN) this.#ws.close(WS_CLOSE_CODES[reason], reason)
  }

  destroy(): void {
    this.#ws.terminate()
  }

  heartbeat(): void {
    if (!this.#alive) return this.#ws.terminate()
    this.#alive = false
    this.#ws.ping()
  }

  on(event: 'close' | 'drain', listener: () => void): unknown {
    if (event === 'close') return this.#ws.on('close', listener)
    return this.#socket.on('drain', listener)
  }
}
