// The WebSocket (`GET /ws`) over a real listener and a real `ws` client: refused upgrades are HTTP responses
// (no token, a bad token, a foreign Origin, a malformed cursor, the per-user cap); the user stream's events and
// resumption as JSON messages, exchangeable with `/events` cursors; the `message` command answers with the same
// event as REST and is idempotent by clientMsgId; bad frames get the contract's answer; rate limits shared with
// REST; close codes for logout and shutdown.
import t, { type Test } from 'tap'
import { listen, openUserStream, until, WsClient, type WsMessage } from '@chat/testkit'
import type { RoomEvent } from '@chat/contracts'
import { as, build, freshDatabase, signUp, type TestUser } from '../helper.ts'
import { createRoom, fullHistory, joinRoom, post, range } from '../rooms-helper.ts'

const app = await build(t, {
  config: { maxStreamsPerUser: 2, corsOrigins: ['https://app.example'] }
})
const base = await listen(app)

async function connect(t: Test, opts: Parameters<typeof WsClient.connect>[1]): Promise<WsClient> {
  const client = await WsClient.connect(base, opts)
  t.teardown(() => client.close())
  return client
}

const ready = (client: WsClient) => client.waitFor(() => client.messages.some((m) => m.type === 'ready'), 'ready')
const events = (client: WsClient) => client.messages.filter((m) => m.type === 'event').map((m) => m.event as RoomEvent)
const lastCursor = (client: WsClient) => client.messages.findLast((m) => typeof m.cursor === 'string')!.cursor as string

t.test('refused upgrades are HTTP responses in the error shape', async (t) => {
  const user = await signUp(app)
  const cases: Array<[string, Parameters<typeof WsClient.connect>[1], number, string]> = [
    ['no token', {}, 401, 'CHAT_UNAUTHORIZED'],
    ['a bad token', { token: 'x.y.z' }, 401, 'CHAT_UNAUTHORIZED'],
    ['a foreign Origin', { token: user.accessToken, origin: 'https://evil.example' }, 403, 'CHAT_FORBIDDEN'],
    ['a malformed cursor', { token: user.accessToken, query: { cursor: 'not a cursor' } }, 400, 'CHAT_INVALID_CURSOR']
  ]
  for (const [what, opts, status, code] of cases) {
    const client = await connect(t, opts)
    t.equal(client.status, status, what)
    t.match(JSON.parse(client.body), { statusCode: status, code }, `${what}: the contract's error body`)
  }
  const allowed = await connect(t, { token: user.accessToken, origin: 'https://app.example' })
  t.equal(allowed.status, 101, 'an Origin CORS_ORIGINS allows')
  const own = await connect(t, { token: user.accessToken, origin: base })
  t.equal(own.status, 101, "the server's own Origin")
  const over = await connect(t, { token: user.accessToken })
  t.equal(over.status, 429, 'past MAX_STREAMS_PER_USER, counted with the other sockets')
  t.match(JSON.parse(over.body), { code: 'CHAT_RATE_LIMITED' })
  const plain = await app.inject({ url: '/ws', headers: { authorization: `Bearer ${user.accessToken}` } })
  t.equal(plain.statusCode, 426, 'a request without Upgrade')
  t.equal(plain.json().code, 'CHAT_UPGRADE_REQUIRED')
})

t.test(
  'events of every room as messages, each once and in order; resumption by cursor, also from /events',
  async (t) => {
    const [reader, poster] = await Promise.all([signUp(app), signUp(app)])
    const rooms = await Promise.all(range(1, 4).map(() => createRoom(app, poster)))
    for (const room of rooms) await joinRoom(app, reader, room.id)
    const socket = await connect(t, { token: reader.accessToken })
    await ready(socket)
    for (const i of range(1, 20)) await post(app, poster, rooms[i % 4]!.id, `m${i}`)
    await socket.waitFor(() => events(socket).length >= 20, '20 events')
    for (const room of rooms) {
      const got = events(socket)
        .filter((e) => e.roomId === room.id)
        .map((e) => e.seq)
      const want = (await fullHistory(app, reader, room.id)).filter((e) => e.type === 'message').map((e) => e.seq)
      t.same(got, want, `room ${room.name}: each once, in order`)
    }
    const cursor = lastCursor(socket)
    socket.close()
    for (const i of range(21, 28)) await post(app, poster, rooms[i % 4]!.id, `m${i}`)

    // A WebSocket cursor resumes the SSE user stream...
    const sse = await openUserStream(t, base, { token: reader.accessToken, lastEventId: cursor })
    await sse.waitFor(() => sse.events.some((e) => e.event === 'ready'), 'ready on /events')
    t.same(
      sse.events
        .filter((e) => e.event === 'message')
        .map((e) => JSON.parse(e.data).text)
        .sort(),
      range(21, 28).map((i) => `m${i}`),
      '/events replays what the socket missed (rooms are not ordered among themselves)'
    )
    const sseCursor = sse.lastEventId!
    sse.close()
    await post(app, poster, rooms[0]!.id, 'after the SSE stream')
    // ...and the other way round.
    const again = await connect(t, { token: reader.accessToken, query: { cursor: sseCursor } })
    await ready(again)
    t.same(
      events(again).map((e) => e.text),
      ['after the SSE stream']
    )
  }
)

t.test('the message command: the same event as REST, idempotent by clientMsgId, the REST error codes', async (t) => {
  const [user, stranger] = await Promise.all([signUp(app), signUp(app)])
  const room = await createRoom(app, user)
  const socket = await connect(t, { token: user.accessToken })
  await ready(socket)
  const first = await socket.command({ type: 'message', roomId: room.id, text: 'over the socket', clientMsgId: 'c1' })
  t.match(first, { type: 'reply', ok: true, result: { roomId: room.id, seq: 1, text: 'over the socket' } })
  const repeat = await socket.command({ type: 'message', roomId: room.id, text: 'again', clientMsgId: 'c1' })
  t.same(repeat.result, first.result, 'a repeated clientMsgId returns the first event')
  const [stored] = await fullHistory(app, user, room.id)
  t.same(first.result, stored, 'the event as history has it')
  await socket.waitFor(() => events(socket).length === 1, 'the event itself')
  t.same(events(socket)[0], stored, 'and as the stream delivers it')

  const strangerSocket = await connect(t, { token: stranger.accessToken })
  await ready(strangerSocket)
  const refused = await strangerSocket.command({ type: 'message', roomId: room.id, text: 'not a member' })
  t.match(refused, { ok: false, error: { statusCode: 403, code: 'CHAT_NOT_MEMBER', error: 'Forbidden' } })
  const ping = await socket.command({ id: 'p-1', type: 'ping' })
  t.same(ping, { type: 'reply', id: 'p-1', ok: true, result: null })
  t.match(
    await socket.command({ type: 'typing', roomId: room.id, seq: 1 }),
    { ok: false, error: { statusCode: 400, code: 'CHAT_BAD_COMMAND' } },
    'typing takes no seq'
  )
  t.match(await socket.command({ type: 'read', roomId: room.id, seq: 1 }), { ok: true, result: null }, 'read')
  t.match(
    await strangerSocket.command({ type: 'read', roomId: room.id, seq: 1 }),
    { ok: false, error: { statusCode: 403, code: 'CHAT_NOT_MEMBER' } },
    'read: members only'
  )
  t.match(
    await strangerSocket.command({ type: 'typing', roomId: room.id }),
    { ok: false, error: { statusCode: 403, code: 'CHAT_NOT_MEMBER' } },
    'typing: members only'
  )
  t.equal((await fullHistory(app, user, room.id)).length, 1, 'nothing else was stored')
})

t.test('bad frames: a reply when the id can be read, else the close code the contract names', async (t) => {
  const user = await signUp(app)
  const room = await createRoom(app, user)
  const socket = await connect(t, { token: user.accessToken })
  await ready(socket)
  for (const bad of [
    { id: 1, type: 'no-such-command' },
    { id: 2, type: 'message', roomId: room.id },
    { id: 3, type: 'message', roomId: room.id, text: 'x', isAdmin: true },
    { id: 'x'.repeat(64), type: 'message', roomId: 'not-a-uuid', text: 'x' }
  ]) {
    const reply = await socket.command(bad)
    t.match(
      reply,
      { ok: false, error: { statusCode: 400, code: 'CHAT_BAD_COMMAND' } },
      JSON.stringify(bad).slice(0, 60)
    )
  }
  t.ok(socket.open, 'the socket stays usable after bad commands with ids')
  t.match(await socket.command({ id: 'after', type: 'ping' }), { ok: true })

  const closes: Array<[string, (c: WsClient) => void, number]> = [
    ['binary', (c) => c.sendRaw(Buffer.from('{"id":1,"type":"ping"}'), true), 1003],
    ['not JSON', (c) => c.sendRaw('{not json'), 1007],
    ['no id', (c) => c.sendRaw('{"type":"ping"}'), 1008],
    ['an id too long', (c) => c.sendRaw(JSON.stringify({ id: 'x'.repeat(65), type: 'ping' })), 1008],
    ['70 KiB', (c) => c.sendRaw(JSON.stringify({ id: 1, type: 'ping', pad: 'x'.repeat(70 * 1024) })), 1009]
  ]
  for (const [what, send, code] of closes) {
    const other = await signUp(app)
    const client = await connect(t, { token: other.accessToken })
    await ready(client)
    send(client)
    t.equal((await client.waitForClose()).code, code, `${what}: closed with ${code}`)
  }
})

t.test('posts over the socket count against the message rate limit shared with REST', async (t) => {
  const limited = await build(t, { config: { messageRateLimit: 4 } })
  const limitedBase = await listen(limited)
  const user = await signUp(limited)
  const room = await createRoom(limited, user)
  const socket = await WsClient.connect(limitedBase, { token: user.accessToken })
  t.teardown(() => socket.close())
  await ready(socket)
  for (let i = 0; i < 2; i++) await post(limited, user, room.id, `rest ${i}`)
  const replies: WsMessage[] = []
  for (let i = 0; i < 3; i++) replies.push(await socket.command({ type: 'message', roomId: room.id, text: `ws ${i}` }))
  t.same(
    replies.map((r) => r.ok),
    [true, true, false],
    'the 5th message of 10 seconds is refused, over REST and the socket together'
  )
  t.match(replies.at(-1), { error: { statusCode: 429, code: 'CHAT_RATE_LIMITED', retryAfter: Number } })
  const rest = await as(limited, user, {
    method: 'POST',
    url: '/rooms/message',
    payload: { roomId: room.id, text: 'x' }
  })
  t.equal(rest.statusCode, 429, 'and REST after it')
})

t.test('logout ends the socket with close {logout}; a user stream cap slot is freed', async (t) => {
  const user: TestUser = await signUp(app)
  const socket = await connect(t, { token: user.accessToken })
  await ready(socket)
  await as(app, user, { method: 'POST', url: '/auth/logout', payload: {} })
  const closed = await socket.waitForClose()
  t.equal(closed.code, 1000)
  t.match(socket.messages.at(-1), { type: 'close', reason: 'logout' })
  await until(() => app.realtime.hub.countForUser(user.id) === 0, 'the socket to leave the hub')
})

t.test('shutdown closes every socket with close {shutdown} and 1001', async (t) => {
  const own = await build(t)
  const ownBase = await listen(own)
  const user = await signUp(own)
  const client = await WsClient.connect(ownBase, { token: user.accessToken })
  t.teardown(() => client.close())
  await client.waitFor(() => client.messages.some((m) => m.type === 'ready'), 'ready')
  await own.close()
  const closed = await client.waitForClose()
  t.equal(closed.code, 1001)
  t.match(client.messages.at(-1), { type: 'close', reason: 'shutdown' })
})

t.test('the server pings; a socket that stops answering is cut', async (t) => {
  const quick = await build(t, { realtime: { heartbeatMs: 100 } })
  const quickBase = await listen(quick)
  const user = await signUp(quick)
  const answering = await WsClient.connect(quickBase, { token: user.accessToken })
  const silent = await WsClient.connect(quickBase, { token: user.accessToken, silent: true })
  t.teardown(() => {
    answering.close()
    silent.close()
  })
  const closed = await silent.waitForClose(5000)
  t.equal(closed.code, 1006, 'the silent socket is cut (no close handshake)')
  t.ok(answering.open, 'one that answers stays')
})

t.test('a socket that cannot keep up is closed, and its user resumes with every event', async (t) => {
  const db = await freshDatabase()
  t.teardown(() => db.drop())
  const small = await build(t, { database: db.options, realtime: { maxBacklogBytes: 64 * 1024 } })
  const smallBase = await listen(small)
  // The resumption goes to a node with the default bound, on the same database.
  const other = await build(t, { database: db.options })
  const otherBase = await listen(other)
  const user = await signUp(small)
  const room = await createRoom(small, user)
  const slow = await WsClient.connect(smallBase, { token: user.accessToken })
  t.teardown(() => slow.close())
  await ready(slow)
  slow.pause()
  // 16 KB a message (4,000 four-byte characters), twenty at a time, until the socket's buffers are full.
  const text = '😀'.repeat(3990)
  let n = 0
  await until(async () => {
    await Promise.all(range(1, 20).map(() => post(small, user, room.id, `${n++} ${text}`)))
    return small.realtime.hub.countForUser(user.id) === 0
  }, 'the slow socket to be dropped')
  t.ok(n > 5, `dropped after ${n} posts`)
  const resumed = await WsClient.connect(otherBase, { token: user.accessToken, query: { cursor: lastCursor(slow) } })
  t.teardown(() => resumed.close())
  await ready(resumed)
  t.same(
    events(resumed).map((e) => e.seq),
    range(1, n),
    'resumed from its last cursor: every event, from the database'
  )
})
