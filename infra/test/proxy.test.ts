// What nginx must do for the API, checked end to end on a real cluster: stream bytes at once (room streams and
// the user stream), pass WebSocket upgrades on, keep an idle stream open across heartbeats, answer oversized
// bodies in the API's error shape; and what the nodes must do
// together: a logout on one node ends the session's streams held by another and its token everywhere.
// One stream is opened first and checked again last, so the wait for heartbeats overlaps the other tests.
import t from 'tap'
import { openStream, openUserStream, storedEvents, WsClient } from '@chat/testkit'
import { createUser, login, metric, post, request, roomWith, testCluster } from './helpers.ts'

const cluster = await testCluster(t, { port: 4110, basePort: 4111 })
const [n1, n2, n3] = cluster.nodes.map((n) => n.url) as [string, string, string]
const owner = await createUser(cluster.url, 'owner')
const roomId = await roomWith(cluster.url, [owner])

const idle = await openStream(t, cluster.url, roomId, { token: owner.token })
const idleOpenedAt = Date.now()

t.test('the first event reaches a client through nginx while its stream stays open', async (t) => {
  t.equal(idle.status, 200, 'the stream opened through nginx')
  const seq = await post(n1, roomId, owner, 'first')
  await idle.waitForSeq(seq, 10_000)
  t.equal(idle.stored[0]?.text, 'first', 'the event arrived')
  t.ok(idle.open && !idle.ended, 'and the stream is still open: nginx did not hold it back for the end')
})

t.test('the user stream and the WebSocket through nginx: an event posted on another node arrives', async (t) => {
  const user = await createUser(cluster.url, 'through')
  const room = await roomWith(n1, [owner, user])
  const sse = await openUserStream(t, cluster.url, { token: user.token })
  await sse.waitFor(() => sse.events.some((e) => e.event === 'ready'), 'ready through nginx', 10_000)
  const socket = await WsClient.connect(cluster.url, { token: user.token })
  t.teardown(() => socket.close())
  t.equal(socket.status, 101, 'nginx passed the upgrade on')
  await socket.waitFor(() => socket.messages.some((m) => m.type === 'ready'), 'ready on the socket', 10_000)
  await post(n3, room, owner, 'to both')
  await sse.waitFor(() => storedEvents(sse.events).some((e) => e.text === 'to both'), 'the event on /events', 10_000)
  await socket.waitFor(
    () => socket.messages.some((m) => m.type === 'event' && (m.event as { text?: string }).text === 'to both'),
    'the event on /ws',
    10_000
  )
  const reply = await socket.command({ type: 'ping' })
  t.match(reply, { type: 'reply', ok: true }, 'and a command is answered through nginx')
})

t.test('logout on one node ends the stream another node holds, within a second', async (t) => {
  await createUser(n1, 'leaving')
  const session = await login(n1, 'leaving')
  await request(n1, 'POST', '/rooms/join', { roomId }, session.token)
  const onNode2 = await openStream(t, n2, roomId, { token: session.token, reconnect: true })
  const viaNginx = await openStream(t, cluster.url, roomId, { token: session.token, reconnect: true })
  t.same([onNode2.status, viaNginx.status], [200, 200], 'both streams open')
  // Both streams fully attached and live first: a stream whose attach races the logout is ended by the node's
  // own re-check of the session instead, with reason session_ended.
  const live = await post(n3, roomId, owner, 'before the logout')
  await Promise.all([onNode2, viaNginx].map((s) => s.waitForSeq(live, 10_000)))

  const sentAt = Date.now()
  const out = await request(n1, 'POST', '/auth/logout', {}, session.token)
  t.equal(out.status, 204, 'logout on node 1')
  await Promise.all([onNode2, viaNginx].map((s) => s.waitFor(() => s.ended, 'the end of the stream', 1000)))
  t.comment(`streams ended ${Date.now() - sentAt} ms after the logout was sent`)
  t.same(onNode2.closeReasons, ['logout'], 'node 2 sent close {reason: logout}')
  t.same(viaNginx.closeReasons, ['logout'], 'so did the node behind nginx')

  for (const base of [n1, n2, n3, cluster.url]) {
    const me = await request(base, 'GET', '/users/me', undefined, session.token)
    t.equal(me.status, 401, `the token is refused by ${base}`)
    t.equal(me.json.code, 'CHAT_UNAUTHORIZED')
  }
  const again = await openStream(t, n3, roomId, { token: session.token })
  t.equal(again.status, 401, 'and a new stream with it is refused')
})

t.test('bodies past 64 KiB are refused with 413 in the API error shape, by the node or by nginx', async (t) => {
  const nodes413 = async () => {
    let total = 0
    for (const base of [n1, n2, n3]) total += await metric(base, 'chat_http_request_duration_seconds_count', '"413"')
    return total
  }
  for (const [size, fromNode] of [
    [70 * 1024, 1],
    [300 * 1024, 0]
  ] as const) {
    const before = await nodes413()
    const res = await request(cluster.url, 'POST', '/rooms/message', { roomId, text: 'a'.repeat(size) }, owner.token)
    t.equal(res.status, 413, `${size} bytes: 413`)
    t.equal(res.json.code, 'FST_ERR_CTP_BODY_TOO_LARGE', 'with the API error code')
    t.equal(await nodes413(), before + fromNode, fromNode ? 'answered by a node: nginx let it through' : 'by nginx')
  }
  const ok = await request(cluster.url, 'POST', '/rooms/message', { roomId, text: 'b'.repeat(4000) }, owner.token)
  t.equal(ok.status, 201, 'a large but valid message still goes through')
})

t.test('the stream through nginx stays open across heartbeats and still delivers', async (t) => {
  // The server pings every 15 s and nginx would cut a stream idle for proxy_read_timeout: two pings and a
  // live event after them show the stream outlives several heartbeat intervals.
  await idle.waitFor(() => idle.comments.filter((c) => c === 'ping').length >= 2, 'two pings', 45_000)
  const seq = await post(n3, roomId, owner, 'after the pings')
  await idle.waitForSeq(seq, 10_000)
  t.ok(idle.open && idle.connections === 1, 'one connection the whole time')
  t.comment(`stream open ${Math.round((Date.now() - idleOpenedAt) / 1000)} s, ${idle.comments.length} pings`)
})
