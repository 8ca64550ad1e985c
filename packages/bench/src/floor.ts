// The floor: what Node itself does on this machine. A bare node:http SSE broadcaster with the chat API's routes
// that matter here (GET /rooms/:roomId/events, POST /rooms/message) and none of its work: no auth, no database,
// no ordering across nodes. Each message becomes one frame of the same shape and size as the chat API's room
// stream frame, written to every stream of its room with one write per stream.
//
// GET /events?rooms=<id>,<id>,… stands in for the user stream: one connection hearing every room named, so the
// floor holds the same connections and the same subscriptions as the chat API's user streams. It gets each
// room's frame as it is (`id: <seq>`, one write per stream per event): no cursor of its own, no replay, no
// `ready`; the per-connection cursor is part of the work the chat API is measured doing.
//
// GET /ws is the floor of an idle WebSocket: the upgrade answered by hand (node:http hands the socket over with
// no response of its own) and the bare socket kept and pinged; it hears no room.
import http from 'node:http'
import type { Duplex } from 'node:stream'
import { createHash, randomUUID } from 'node:crypto'

const rooms = new Map<string, Set<http.ServerResponse>>()
const seqs = new Map<string, number>()
/** the /events streams, pinged once each rather than once per room */
const multiRoom = new Set<http.ServerResponse>()
const sockets = new Set<Duplex>()
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
const WS_PING = Buffer.from([0x89, 0x00])
const user = { id: randomUUID(), username: 'bench', displayName: 'bench', createdAt: new Date().toISOString() }

const server = http.createServer((req, res) => {
  const url = req.url ?? '/'
  const stream = /^\/rooms\/([^/?]+)\/events/.exec(url)
  const several = /^\/events\?rooms=([^&]+)/.exec(url)
  if (req.method === 'GET' && (stream || several)) {
    const ids = stream ? [stream[1]!] : several![1]!.split(',').map(decodeURIComponent)
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    res.write(': connected\n\n')
    for (const roomId of ids) {
      let streams = rooms.get(roomId)
      if (!streams) rooms.set(roomId, (streams = new Set()))
      streams.add(res)
    }
    if (several) multiRoom.add(res)
    req.on('close', () => {
      for (const roomId of ids) rooms.get(roomId)?.delete(res)
      multiRoom.delete(res)
    })
    return
  }
  if (req.method === 'POST' && url === '/rooms/message') {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk) => (body += chunk))
    req.on('end', () => {
      const { roomId, text, clientMsgId = null } = JSON.parse(body) as Record<string, string>
      const seq = (seqs.get(roomId!) ?? 0) + 1
      seqs.set(roomId!, seq)
      const event = { id: randomUUID(), roomId, seq, type: 'message', user, text, clientMsgId, createdAt: new Date() }
      const frame = `id: ${seq}\nevent: message\ndata: ${JSON.stringify(event)}\n\n`
      for (const s of rooms.get(roomId!) ?? []) s.write(frame)
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(event))
    })
    return
  }
  if (url === '/healthz') return void res.writeHead(200).end('{}')
  res.writeHead(404).end()
})
server.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
  const key = req.headers['sec-websocket-key']
  if (req.url !== '/ws' || typeof key !== 'string') return void socket.destroy()
  const accept = createHash('sha1')
    .update(key + WS_GUID)
    .digest('base64')
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n' +
      `sec-websocket-accept: ${accept}\r\n\r\n`
  )
  sockets.add(socket)
  // The client's pongs are read and dropped.
  socket.on('data', () => {})
  socket.on('error', () => socket.destroy())
  socket.on('close', () => sockets.delete(socket))
})
server.keepAliveTimeout = 60_000
setInterval(() => {
  for (const streams of rooms.values()) for (const s of streams) if (!multiRoom.has(s)) s.write(': ping\n\n')
  for (const s of multiRoom) s.write(': ping\n\n')
  for (const socket of sockets) socket.write(WS_PING)
}, 15_000).unref()
server.listen(Number(process.env.PORT ?? 3999), '127.0.0.1')
process.on('SIGTERM', () => process.exit(0))
