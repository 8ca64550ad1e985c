// The chunked sink writes a stream's bytes to the socket itself: the wire must be exactly what Node's own
// chunked response would send, a shared frame must be framed once, and a response that is not chunked (an
// HTTP/1.0 client) must be left to Node. A detached socket keeps nothing of node:http, and still sees its
// client go.
import t, { type Test } from 'tap'
import http from 'node:http'
import net from 'node:net'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { until } from '@chat/testkit'
import { chunkedSink } from '../src/index.ts'
import type { StreamSink } from '../src/index.ts'

/** A server whose every response is an open SSE stream, collected in `responses` as requests come. */
async function sseServer(t: Test) {
  const responses: http.ServerResponse[] = []
  const sockets = new Set<net.Socket>()
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    res.write('retry: 2000\n\n')
    responses.push(res)
  })
  // Detached sockets are no longer node:http's to close.
  server.on('connection', (socket: net.Socket) => sockets.add(socket))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  const port = (server.address() as AddressInfo).port
  return { port, responses, server }
}

/** Sends a raw request and collects every byte of the answer. */
async function rawClient(port: number, version = '1.1') {
  const socket = net.connect(port, '127.0.0.1')
  let received = ''
  socket.setEncoding('latin1')
  socket.on('data', (chunk: string) => (received += chunk))
  socket.write(`GET /events HTTP/${version}\r\nhost: 127.0.0.1\r\n\r\n`)
  await once(socket, 'connect')
  return {
    socket,
    get received() {
      return received
    },
    body: () => received.slice(received.indexOf('\r\n\r\n') + 4)
  }
}

t.test('bytes on the wire are HTTP/1.1 chunks, ended by the last chunk', async (t) => {
  const { port, responses } = await sseServer(t)
  const client = await rawClient(port)
  await until(() => responses.length === 1, 'the response')
  const sink: StreamSink = chunkedSink(responses[0]!)
  t.not(sink, responses[0], 'a chunked response gets the socket sink')
  sink.write(Buffer.from('id: 1\nevent: message\ndata: {"text":"é"}\n\n'))
  sink.end()
  await until(() => client.body().endsWith('0\r\n\r\n'), 'the last chunk')
  const frame = 'id: 1\nevent: message\ndata: {"text":"é"}\n\n'
  const size = Buffer.byteLength(frame).toString(16)
  t.equal(
    client.body(),
    `d\r\nretry: 2000\n\n\r\n${size}\r\n${Buffer.from(frame).toString('latin1')}\r\n0\r\n\r\n`,
    'Node’s first chunk, ours with its byte length in hex, then the terminating chunk'
  )
})

t.test('a frame shared by several streams is framed once', async (t) => {
  const { port, responses } = await sseServer(t)
  const clients = [await rawClient(port), await rawClient(port)]
  await until(() => responses.length === 2, 'two responses')
  const written: Buffer[] = []
  const sinks = responses.map((res) => {
    const socket = res.socket!
    const write = socket.write.bind(socket) as (chunk: Buffer) => boolean
    socket.write = ((chunk: Buffer) => (written.push(chunk), write(chunk))) as typeof socket.write
    return chunkedSink(res)
  })
  const frame = Buffer.from('event: message\ndata: {}\n\n')
  for (const sink of sinks) sink.write(frame)
  await until(() => clients.every((c) => c.body().includes('data: {}')), 'the frame on both clients')
  t.equal(written.length, 2, 'one socket write per stream')
  t.equal(written[0], written[1], 'of the same framed Buffer')
})

t.test('an HTTP/1.0 response (not chunked) is left to Node', async (t) => {
  const { port, responses } = await sseServer(t)
  const client = await rawClient(port, '1.0')
  await until(() => responses.length === 1, 'the response')
  const sink = chunkedSink(responses[0]!)
  t.equal(sink, responses[0], 'the response itself is the sink')
  sink.write(Buffer.from('data: plain\n\n'))
  sink.end()
  await once(client.socket, 'end')
  t.equal(client.body(), 'retry: 2000\n\ndata: plain\n\n', 'no chunk framing on the wire')
})

t.test('drain and close come from the socket', async (t) => {
  const { port, responses } = await sseServer(t)
  const client = await rawClient(port)
  await until(() => responses.length === 1, 'the response')
  const socket = responses[0]!.socket!
  const sink = chunkedSink(responses[0]!)
  client.socket.pause()
  const big = Buffer.alloc(4 * 1024 * 1024, 'x')
  let accepted = true
  for (let i = 0; i < 8 && accepted; i++) accepted = sink.write(big)
  t.notOk(accepted, 'a consumer that does not read fills the socket')
  t.ok(sink.writableLength > 0, 'and the backlog shows in writableLength')
  const drained = new Promise<void>((resolve) => sink.on('drain', resolve))
  client.socket.resume()
  await drained
  t.pass('drain once the client reads again')
  const closed = new Promise<void>((resolve) => sink.on('close', resolve))
  client.socket.destroy()
  await closed
  t.ok(sink.destroyed, 'close when the client goes, and the sink is destroyed')
  t.ok(socket.destroyed, 'the socket with it')
})

t.test('several messages (cursor heads around shared bodies) go out as one chunk, byte for byte', async (t) => {
  const { port, responses } = await sseServer(t)
  const client = await rawClient(port)
  await until(() => responses.length === 1, 'the response')
  const socket = responses[0]!.socket!
  const sink = chunkedSink(responses[0]!)
  const body = Buffer.from('event: message\ndata: {"text":"é"}\n\n')
  const notice = Buffer.from('event: room.left\ndata: {}\n\n')
  const messages = [{ head: 'id: 1.a.0~1\n', body, tail: '' }, notice, { head: 'id: 1.a.0~2\n', body, tail: '' }]
  const text = `id: 1.a.0~1\n${body.toString('latin1')}${notice.toString('latin1')}id: 1.a.0~2\n${body.toString('latin1')}`
  const bytes = Buffer.byteLength(text, 'latin1')
  let writes = 0
  const write = socket.write.bind(socket) as (chunk: Buffer) => boolean
  socket.write = ((chunk: Buffer) => (writes++, write(chunk))) as typeof socket.write
  sink.writeAll!(messages, bytes)
  t.equal(writes, 1, 'one socket write')
  sink.end()
  await until(() => client.body().endsWith('0\r\n\r\n'), 'the last chunk')
  t.equal(
    client.body(),
    `d\r\nretry: 2000\n\n\r\n${bytes.toString(16)}\r\n${text}\r\n0\r\n\r\n`,
    'one chunk of them all'
  )
})

t.test('a detached socket keeps nothing of node:http, and the response is finished', async (t) => {
  const { port, responses } = await sseServer(t)
  const client = await rawClient(port)
  await until(() => responses.length === 1, 'the response')
  const res = responses[0]!
  const socket = res.socket! as net.Socket & { parser?: unknown; _httpMessage?: unknown }
  let finished = false
  res.on('finish', () => (finished = true))
  const sink = chunkedSink(res)
  t.equal(res.socket, null, 'the response let go of the socket')
  t.equal(socket._httpMessage, null, 'and the socket of the response')
  t.equal(socket.parser, null, 'the parser is freed')
  t.equal(socket.listenerCount('data'), 0, 'no HTTP reader on the socket')
  t.ok(finished, "'finish' was emitted on the response")
  // What a client sends after its request is read and dropped: no second response, no error.
  client.socket.write('GET /again HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n')
  sink.write(Buffer.from('data: after\n\n'))
  await until(() => client.body().includes('data: after'), 'the frame after the pipelined bytes')
  t.equal(responses.length, 1, 'no other request read from the connection')
  t.notOk(client.received.includes('HTTP/1.1', 10), 'no second response head')
  const closed = new Promise<void>((resolve) => sink.on('close', resolve))
  client.socket.end()
  await closed
  t.ok(sink.destroyed, 'a client that half-closes is gone: the sink closes')
})

t.test('a detached sink ends with the last chunk and closes the connection', async (t) => {
  const { port, responses } = await sseServer(t)
  const client = await rawClient(port)
  await until(() => responses.length === 1, 'the response')
  const sink = chunkedSink(responses[0]!)
  sink.write(Buffer.from('data: last\n\n'))
  sink.end()
  await once(client.socket, 'end')
  t.ok(client.body().endsWith('0\r\n\r\n'), 'the last chunk, then the end of the connection')
})

t.test('a response with bytes still in it keeps its socket', async (t) => {
  const { port, responses } = await sseServer(t)
  const client = await rawClient(port)
  await until(() => responses.length === 1, 'the response')
  const res = responses[0]!
  res.socket!.cork()
  res.write('data: corked\n\n')
  const pending = res as http.ServerResponse & { outputSize?: number }
  if (pending.outputSize === 0) {
    res.socket!.uncork()
    t.pass('this Node hands corked writes to the socket at once')
    return
  }
  const sink = chunkedSink(res)
  t.not(res.socket, null, 'not detached while the response holds bytes')
  res.socket!.uncork()
  sink.write(Buffer.from('data: next\n\n'))
  await until(() => client.body().includes('data: next'), 'the frame after the held bytes')
  t.ok(client.body().indexOf('corked') < client.body().indexOf('next'), 'in order')
})
