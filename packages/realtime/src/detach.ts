// Takes a streaming response's socket out of node:http once the response head and what was written with it are
// on the socket, the way node's own upgrade path hands a socket over (lib/_http_server.js,
// onParserExecuteCommon): the server's listeners come off the socket, the HTTP parser is unconsumed, finished and
// freed, and the response lets go of the socket. What stays per stream is the socket and what its owner keeps:
// no parser, no `IncomingMessage`, no `ServerResponse`, and nothing kept alive by their listeners (a framework's
// request, reply and child logger, the request headers with the access token in them).
//
// The response is over as far as HTTP is concerned: its head said `connection: close`, so no other request is
// read from the connection (bytes the client sends are read and dropped, which is also how the client's going
// away is seen), and the owner ends the connection after the last chunk. 'finish' is emitted on the response once
// it is detached: a framework waiting for it (Fastify's onResponse hooks, its request log, the HTTP duration
// metric) sees the request done then, with its 200 and the time it took to open the stream; how long the stream
// lived is the realtime metrics' to count.
import { createRequire } from 'node:module'
import type { ServerResponse } from 'node:http'
import { Socket } from 'node:net'

interface Parser {
  _consumed?: boolean
  unconsume(): void
  finish(): void
}

type HttpSocket = Socket & { parser?: Parser | null; _httpMessage?: unknown }

type FreeParser = (parser: Parser, req: unknown, socket: Socket) => void

// node:http's own, as its upgrade path calls it: the parser goes back to the pool (or is closed) and leaves the
// server's list of connections, whose request timeouts would otherwise still look at it.
const { freeParser } = createRequire(import.meta.url)('_http_common') as { freeParser?: FreeParser }

// The listeners node:http puts on a connection's socket (connectionListenerInternal), by their functions' names.
const HTTP_LISTENERS: Record<string, ReadonlySet<string>> = {
  data: new Set(['bound socketOnData']),
  end: new Set(['bound socketOnEnd']),
  close: new Set(['bound socketOnClose']),
  drain: new Set(['bound socketOnDrain']),
  error: new Set(['socketOnError']),
  timeout: new Set(['socketOnTimeout']),
  pause: new Set(['onSocketPause']),
  resume: new Set(['onSocketResume'])
}
const REQUIRED = ['data', 'end', 'close', 'error']
// node:http's own 'finish' listener on a response moves the connection on to its next request.
const RESPONSE_FINISH = 'bound resOnFinish'
// Methods node:http puts on the socket itself while it parses, over net.Socket's.
const SOCKET_OVERRIDES = ['on', 'addListener', 'prependListener', 'setEncoding'] as const

function drop(): void {}

function destroy(this: Socket): void {
  this.destroy()
}

/**
 * The response's socket, taken out of node:http; null (nothing changed) when the response cannot be detached:
 * not chunked, ended, bytes of it still waiting in the response, or a socket that is not node:http's.
 */
export function detachSocket(res: ServerResponse): Socket | null {
  const socket = res.socket as HttpSocket | null
  const parser = socket?.parser
  const pending = res as ServerResponse & { chunkedEncoding?: boolean; outputSize?: number }
  if (!socket || !parser || !freeParser || socket._httpMessage !== res || socket.destroyed) return null
  if (!res.headersSent || res.writableEnded || pending.chunkedEncoding !== true || pending.outputSize !== 0) return null

  const found: Array<[string, () => void]> = []
  for (const [event, names] of Object.entries(HTTP_LISTENERS)) {
    for (const listener of socket.listeners(event)) {
      if (names.has((listener as { name?: string }).name ?? '')) found.push([event, listener as () => void])
    }
  }
  // A Node whose server names its listeners otherwise keeps its sockets: a parser freed under its own reader
  // would be handed the next bytes.
  if (!REQUIRED.every((event) => found.some(([e]) => e === event))) return null
  for (const [event, listener] of found) socket.removeListener(event, listener)
  if (parser._consumed) parser.unconsume()
  parser._consumed = false
  parser.finish()
  freeParser(parser, res.req, socket)
  res.detachSocket(socket)
  // Set back rather than deleted: a deleted property would turn every socket into a dictionary of its own.
  const own = socket as unknown as Record<string, unknown>
  for (const name of SOCKET_OVERRIDES) if (Object.hasOwn(socket, name)) own[name] = Socket.prototype[name]

  socket.setTimeout(0)
  socket.on('error', drop)
  // The client half-closed: it is gone.
  socket.on('end', destroy)
  socket.resume()

  for (const listener of res.listeners('finish')) {
    if ((listener as { name?: string }).name === RESPONSE_FINISH) res.removeListener('finish', listener as () => void)
  }
  res.emit('finish')
  return socket
}
