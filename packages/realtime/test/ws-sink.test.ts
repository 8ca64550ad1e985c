// The WebSocket sink frames data messages itself: a real `ws` client must read every message whole and in
// order, at each header size (7-bit, 16-bit and 64-bit lengths), a batch arriving in one socket write, and the
// sink's writes must interleave correctly with the pings and the close that `ws` writes.
import t, { type Test } from 'tap'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import type { IncomingMessage } from 'node:http'
import { WebSocket, WebSocketServer } from 'ws'
import { until } from '@chat/testkit'
import { WS_CLOSE_CODES, wsSink, type StreamSink } from '../src/index.ts'

/** A ws server without extensions (as the server's /ws) and one client of it; the server side's sink. */
async function connected(t: Test) {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false })
  await once(server, 'listening')
  const accepted = once(server, 'connection') as Promise<[WebSocket, IncomingMessage]>
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`)
  const received: string[] = []
  client.on('message', (data, isBinary) => {
    if (!isBinary) received.push(String(data))
  })
  await once(client, 'open')
  const [socket, request] = await accepted
  t.teardown(() => {
    client.terminate()
    server.close()
  })
  return { sink: wsSink(socket, request.socket) as StreamSink, socket, client, received, rawSocket: request.socket }
}

t.test('messages of every header size arrive whole, in order, from one socket write', async (t) => {
  const { sink, received, rawSocket } = await connected(t)
  const sizes = [0, 1, 125, 126, 127, 65535, 65536, 70000]
  // Exactly n bytes each, a two-byte character in every one long enough.
  const texts = sizes.map((n) => (n < 2 ? 'x'.repeat(n) : 'é' + 'x'.repeat(n - 2)))
  const messages = texts.map((text) => Buffer.from(text))
  t.same(
    messages.map((m) => m.length),
    sizes
  )
  let writes = 0
  const write = rawSocket.write.bind(rawSocket) as (chunk: Buffer) => boolean
  rawSocket.write = ((chunk: Buffer) => (writes++, write(chunk))) as typeof rawSocket.write
  sink.writeAll!(
    messages,
    messages.reduce((n, m) => n + m.length, 0)
  )
  await until(() => received.length === texts.length, 'every message')
  t.equal(writes, 1, 'one socket write for the batch')
  t.same(received, texts, 'each message exactly, in order (UTF-8 intact)')
})

t.test('a composed message: head, shared body and tail as one message', async (t) => {
  const { sink, received } = await connected(t)
  const body = Buffer.from('{"text":"ça va"}')
  const head = '{"type":"event","cursor":"1.a.0~1","event":'
  sink.writeAll!([{ head, body, tail: '}' }, Buffer.from('{"type":"pong"}')], head.length + body.length + 1 + 15)
  await until(() => received.length === 2, 'both messages')
  t.same(JSON.parse(received[0]!), { type: 'event', cursor: '1.a.0~1', event: { text: 'ça va' } })
  t.equal(received[1], '{"type":"pong"}')
})

t.test("frames and ws's own pings and close keep their order; nothing is written after close", async (t) => {
  const { sink, client, received } = await connected(t)
  let pings = 0
  client.on('ping', () => pings++)
  sink.write(Buffer.from('one'))
  sink.heartbeat!()
  sink.write(Buffer.from('two'))
  const closed = once(client, 'close') as Promise<[number, Buffer]>
  sink.write(Buffer.from('{"type":"close","reason":"shutdown"}'))
  sink.endWith!('shutdown')
  t.notOk(sink.write(Buffer.from('late')), 'a write after close is refused')
  const [code, reason] = await closed
  t.same(received, ['one', 'two', '{"type":"close","reason":"shutdown"}'], 'the messages, then the close')
  t.equal(pings, 1, 'the ping between them')
  t.equal(code, WS_CLOSE_CODES.shutdown)
  t.equal(String(reason), 'shutdown')
  t.ok(sink.destroyed)
})
