// A WebSocket as a connection's sink: each message one text frame; the socket's own buffer counts against the
// connection's bound; heartbeats are WebSocket pings, and a socket that did not answer the last one is cut;
// ending carries the reason as a close code. Typed by shape, so the package needs no `ws` of its own.
//
// Data frames are written here, not by `ws`: a flush's messages go out framed in one Buffer and one socket
// write, where `ws.send` makes a write (a corked writev of header and payload) per message. A server's frame
// is unmasked (RFC 6455 5.1), so framing is a 2–10 byte header; the socket is opened without extensions
// (perMessageDeflate off), the only case in which `ws` itself writes each frame at once, in call order, so
// its control frames (ping, close) and these never interleave out of order.
import type { Socket } from 'node:net'
import { lengthOf, writeInto, type Outgoing } from './outgoing.ts'
import type { CloseReason, StreamSink } from './types.ts'

/** What this sink needs of a `ws` WebSocket. */
export interface WebSocketLike {
  readonly readyState: number
  readonly bufferedAmount: number
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

// FIN and the text opcode: each message is one whole text frame.
const FIN_TEXT = 0x81

function headerLength(length: number): number {
  return length < 126 ? 2 : length < 65536 ? 4 : 10
}

function writeHeader(target: Buffer, at: number, length: number): number {
  target[at] = FIN_TEXT
  if (length < 126) {
    target[at + 1] = length
    return at + 2
  }
  if (length < 65536) {
    target[at + 1] = 126
    target.writeUInt16BE(length, at + 2)
    return at + 4
  }
  target[at + 1] = 127
  target.writeUInt32BE(Math.floor(length / 2 ** 32), at + 2)
  target.writeUInt32BE(length >>> 0, at + 6)
  return at + 10
}

/** The messages as text frames, back to back in one Buffer (`bytes`: their payloads' total length). */
function encodeTextFrames(messages: readonly Outgoing[], bytes: number): Buffer {
  let total = bytes
  for (let i = 0; i < messages.length; i++) total += headerLength(lengthOf(messages[i]!))
  const out = Buffer.allocUnsafe(total)
  let at = 0
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!
    at = writeInto(out, writeHeader(out, at, lengthOf(message)), message)
  }
  return out
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
    return this.writeAll([data], data.length)
  }

  writeAll(messages: readonly Outgoing[], bytes: number): boolean {
    if (this.#ws.readyState !== OPEN) return false
    return this.#socket.write(encodeTextFrames(messages, bytes))
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
