// An SSE response written straight to its socket as HTTP/1.1 chunks once its head is out. ServerResponse.write
// frames every write itself (size line, data, CRLF: a corked writev on the next tick); a room's frame is the
// same Buffer for every stream, so here its chunk is framed once and each socket gets one plain write. On the
// fan-out path that is a fifth less CPU per delivery and a shorter tail. Several messages (a user stream's
// `id:` lines around shared bodies) are copied once, straight into their one chunk. Where it can, the socket is
// taken out of node:http first (detach.ts) and the stream keeps nothing but the socket; a response still holding
// bytes of its own keeps its socket, and a response that is not chunked (an HTTP/1.0 client) is used as it is.
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { detachSocket } from './detach.ts'
import { loneBuffer, writeAllInto, writeAscii, type Outgoing } from './outgoing.ts'
import type { StreamSink } from './types.ts'

const CRLF = Buffer.from('\r\n')
const LAST_CHUNK = Buffer.from('0\r\n\r\n')
// A written Buffer carries its framed chunk once framed, so the chunk lives exactly as long as the Buffer: a
// frame shared by a room's streams is framed once per node, a stream's own batch once and dropped with it,
// and no table outside the buffers has to be kept.
const CHUNK = Symbol('http chunk')

type Framable = Buffer & { [CHUNK]?: Buffer }

function chunkOf(data: Framable): Buffer {
  return (data[CHUNK] ??= Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, CRLF]))
}

/**
 * The sink for a response: its socket taken out of node:http when the head and everything written with it are
 * on the socket; else the socket written beside the response once the head is out and chunked; else the response.
 */
export function chunkedSink(res: ServerResponse): StreamSink {
  const detached = detachSocket(res)
  if (detached) return new SocketSink(detached)
  const socket = res.socket
  const chunked = (res as ServerResponse & { chunkedEncoding?: boolean }).chunkedEncoding === true
  return socket && chunked && res.headersSent ? new ChunkedSink(res, socket) : res
}

/** A lone shared frame as its cached chunk; else every message copied once into one chunk. */
function chunkOfAll(messages: readonly Outgoing[], bytes: number): Buffer {
  const lone = loneBuffer(messages)
  if (lone) return chunkOf(lone)
  const size = `${bytes.toString(16)}\r\n`
  const chunk = Buffer.allocUnsafe(size.length + bytes + 2)
  writeAscii(chunk, writeAllInto(chunk, writeAscii(chunk, 0, size), messages), '\r\n')
  return chunk
}

// Classes, so that ten thousand idle streams share their methods instead of holding closures each.
/** The chunked body of a detached response: the socket alone, ended with the last chunk. */
class SocketSink implements StreamSink {
  protected readonly socket: Socket

  constructor(socket: Socket) {
    this.socket = socket
  }

  write(data: Buffer): boolean {
    return this.socket.write(chunkOf(data))
  }

  writeAll(messages: readonly Outgoing[], bytes: number): boolean {
    return this.socket.write(chunkOfAll(messages, bytes))
  }

  /** The last chunk, then the connection's end, as its head (`connection: close`) said. */
  end(): void {
    this.socket.end(LAST_CHUNK)
  }

  destroy(): void {
    this.socket.destroy()
  }

  get writableLength(): number {
    return this.socket.writableLength
  }

  get destroyed(): boolean {
    return this.socket.destroyed
  }

  on(event: 'close' | 'drain', listener: () => void): this {
    this.socket.on(event, listener)
    return this
  }
}

/** A response still in node:http: chunks written to its socket beside it; the response ends and closes it. */
class ChunkedSink extends SocketSink {
  readonly #res: ServerResponse

  constructor(res: ServerResponse, socket: Socket) {
    super(socket)
    this.#res = res
  }

  /** The response writes the last chunk (0 CRLF CRLF) after what the socket already holds. */
  override end(): void {
    this.#res.end()
  }

  override destroy(): void {
    this.#res.destroy()
  }

  override get writableLength(): number {
    return this.#res.writableLength
  }

  override get destroyed(): boolean {
    return this.#res.destroyed || this.socket.destroyed
  }

  override on(event: 'close' | 'drain', listener: () => void): this {
    if (event === 'close') {
      this.#res.on('close', listener)
      return this
    }
    // The response only relays 'drain' for its own writes; these go to the socket, which outlives the
    // response on a kept-alive connection: the listener goes with the response.
    const socket = this.socket
    socket.on('drain', listener)
    this.#res.once('close', () => socket.off('drain', listener))
    return this
  }
}
