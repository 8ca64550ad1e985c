// The floor: what Node itself does on this machine. A bare node:http SSE broadcaster with the chat API's two
// routes that matter here (GET /rooms/:roomId/events, POST /rooms/message) and none of its work: no auth, no
// database, no ordering across nodes. Each message becomes one frame of the same shape and size as the chat
// API's, written to every stream of its room with one write per stream.
import http from 'node:http'
import { randomUUID } from 'node:crypto'

const rooms = new Map<string, Set<http.ServerResponse>>()
const seqs = new Map<string, number>()
const user = { id: randomUUID(), username: 'bench', displayName: 'bench', createdAt: new Date().toISOString() }

const server = http.createServer((req, res) => {
  const url = req.url ?? '/'
  const stream = /^\/rooms\/([^/?]+)\/events/.exec(url)
  if (req.method === 'GET' && stream) {
    const roomId = stream[1]!
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    res.write(': connected\n\n')
    let streams = rooms.get(roomId)
    if (!streams) rooms.set(roomId, (streams = new Set()))
    streams.add(res)
    req.on('close', () => streams.delete(res))
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
server.keepAliveTimeout = 60_000
setInterval(() => {
  for (const streams of rooms.values()) for (const s of streams) s.write(': ping\n\n')
}, 15_000).unref()
server.listen(Number(process.env.PORT ?? 3999), '127.0.0.1')
process.on('SIGTERM', () => process.exit(0))
