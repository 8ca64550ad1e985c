// The stream route's own contract, over a real listener and a real SSE client: who may open it (401, 403,
// 404, 400 for a bad resumption point, object-level authorization), the response headers, the exact framing
// of an event, text that looks like SSE fields, `: ping` comments, the per-user cap, CORS, and that
// ?access_token= never reaches the logs. One app for the file; each subtest makes its own users and rooms.
import t from 'tap'
import { listen, openStream, SseClient, streamUrl, until } from '@chat/testkit'
import { as, assertError, build, signUp } from '../helper.ts'
import { MISSING_ID, createRoom, getRoom, joinRoom, post, range } from '../rooms-helper.ts'

const logs: string[] = []
const app = await build(t, {
  config: { maxStreamsPerUser: 2, corsOrigins: ['https://app.example'], logLevel: 'info' },
  realtime: { heartbeatMs: 200 },
  logStream: { write: (line: string) => void logs.push(line) }
})
const base = await listen(app)

async function roomWithMember() {
  const [owner, member] = await Promise.all([signUp(app), signUp(app)])
  const room = await createRoom(app, owner)
  await joinRoom(app, member, room.id)
  return { owner, member, room }
}

t.test('refused before streaming: 401, 404, 403, 400', async (t) => {
  const { owner, room } = await roomWithMember()
  const stranger = await signUp(app)
  const get = (url: string, headers: Record<string, string> = {}) => app.inject({ url, headers })
  const bearer = (u: typeof owner) => ({ authorization: `Bearer ${u.accessToken}` })

  assertError(t, await get(streamUrl(room.id)), 401, 'CHAT_UNAUTHORIZED')
  assertError(t, await get(streamUrl(room.id, { queryToken: 'not-a-token' })), 401, 'CHAT_UNAUTHORIZED')
  assertError(t, await get(streamUrl(room.id), { authorization: 'Bearer x.y.z' }), 401, 'CHAT_UNAUTHORIZED')
  assertError(t, await get(streamUrl(MISSING_ID), bearer(owner)), 404, 'CHAT_ROOM_NOT_FOUND')
  assertError(t, await get('/rooms/not-a-uuid/events', bearer(owner)), 400, 'FST_ERR_VALIDATION')
  assertError(t, await get(streamUrl(room.id), bearer(stranger)), 403, 'CHAT_NOT_MEMBER')
  for (const bad of ['abc', '-1', '1.5', '1e3', '', ' ', '0x10', '+1']) {
    const res = await get(streamUrl(room.id), { ...bearer(owner), 'last-event-id': bad })
    t.equal(res.statusCode, 400, `Last-Event-ID ${JSON.stringify(bad)}`)
    t.match(res.json(), { statusCode: 400, code: /^(CHAT_|FST_)/ })
    const query = await get(streamUrl(room.id, { query: { lastEventId: bad } }), bearer(owner))
    t.equal(query.statusCode, 400, `?lastEventId=${JSON.stringify(bad)}`)
  }

  const client = await openStream(t, base, room.id, { token: stranger.accessToken })
  t.equal(client.status, 403, 'a real client gets the same refusal')
  t.match(await client.json(), { statusCode: 403, code: 'CHAT_NOT_MEMBER' })
  t.equal(app.realtime.hub.streamCount, 0, 'no stream was registered')
})

t.test('headers, exact framing of a stored event, no id on unstored ones', async (t) => {
  const { owner, member, room } = await roomWithMember()
  const client = await openStream(t, base, room.id, { token: member.accessToken })
  t.equal(client.status, 200)
  t.match(client.headers['content-type'], /^text\/event-stream/)
  t.equal(client.headers['cache-control'], 'no-cache')
  t.equal(client.headers['x-accel-buffering'], 'no')
  t.equal(client.headers.connection, 'close', 'the connection ends with the stream, never reused after it')

  await until(() => app.realtime.hub.countForUser(member.id) === 1, 'the stream to register')
  const event = await post(app, owner, room.id, 'framing check')
  await client.waitForSeq(event.seq)
  const frame = client.events.find((e) => e.id === String(event.seq))!
  const lines = frame.raw.split('\n')
  t.equal(lines.length, 3, 'id, event, data: nothing else')
  t.equal(lines[0], `id: ${event.seq}`)
  t.equal(lines[1], 'event: message')
  t.ok(lines[2]!.startsWith('data: {'), 'one data line of JSON')
  t.equal(frame.dataLines, 1)
  t.same(JSON.parse(lines[2]!.slice('data: '.length)), event, 'the RoomEvent the post returned')
  t.ok(client.raw.includes(`\n\nid: ${event.seq}\nevent: message\ndata: {`), 'blank line before the frame')
  t.ok(client.raw.includes(`${lines[2]}\n\n`), 'the frame ends with a blank line')

  await as(app, owner, { method: 'POST', url: '/rooms/delete', payload: { roomId: room.id } })
  t.equal(await client.closeReason(), 'room_deleted')
  const unstored = client.withoutNotices.filter((e) => e.event !== 'message')
  t.same(
    unstored.map((e) => [e.event, e.id, e.raw.split('\n')[0]]),
    [
      ['room.deleted', undefined, 'event: room.deleted'],
      ['close', undefined, 'event: close']
    ]
  )
  t.same(JSON.parse(unstored[0]!.data), { roomId: room.id })
})

t.test('a text that looks like SSE fields stays one message event', async (t) => {
  const { owner, member, room } = await roomWithMember()
  const client = await openStream(t, base, room.id, { token: member.accessToken, query: { lastEventId: 1 } })
  const texts = [
    'hi\n\nevent: admin\ndata: x',
    'id: 999\r\nevent: close\r\ndata: {"reason":"logout"}\r\n\r\n',
    '\rretry: 1\r: smuggled\n\n\n'
  ]
  const posted = []
  for (const text of texts) posted.push(await post(app, owner, room.id, text))
  await client.waitForSeq(posted.at(-1)!.seq)
  t.same(
    client.withoutNotices.map((e) => e.event),
    ['message', 'message', 'message']
  )
  t.same(
    client.stored.map((e) => e.text),
    texts,
    'every text exactly'
  )
  t.ok(
    client.events.every((e) => e.dataLines === 1),
    'one data line each'
  )
  t.same(
    client.comments.filter((c) => c !== 'ping'),
    [],
    'no comment was smuggled in (pings are the heartbeat)'
  )
  t.same(client.seqs, [2, 3, 4])
})

t.test('?access_token= works for EventSource and never reaches the logs', async (t) => {
  const { owner, member, room } = await roomWithMember()
  const client = await openStream(t, base, room.id, { queryToken: member.accessToken })
  t.equal(client.status, 200)
  const refused = await openStream(t, base, room.id, { queryToken: `${member.accessToken}x` })
  t.equal(refused.status, 401)
  const stranger = await signUp(app)
  const forbidden = await openStream(t, base, room.id, { queryToken: stranger.accessToken })
  t.equal(forbidden.status, 403)
  await refused.waitForEnd()
  await forbidden.waitForEnd()

  const event = await post(app, owner, room.id, 'via query token')
  await client.waitForSeq(event.seq)
  const text = logs.join('')
  t.ok(text.includes('/events?access_token=[redacted]'), 'the request is logged, its token redacted')
  for (const user of [owner, member, stranger]) {
    t.notOk(text.includes(user.accessToken), 'no access token in the logs')
    t.notOk(text.includes(user.accessToken.split('.')[2]!), 'not even its signature')
  }
})

// The query parser decodes `access%5Ftoken` to access_token (and the stream accepts it), so that spelling
// must be redacted too.
t.test('a percent-encoded ?access_token name is not logged either', async (t) => {
  const { member, room } = await roomWithMember()
  const path = `/rooms/${room.id}/events?access%5Ftoken=${member.accessToken}`
  const client = await SseClient.connect(base, path)
  t.teardown(() => client.close())
  t.equal(client.status, 200, 'accepted as the token')
  t.notOk(logs.join('').includes(member.accessToken), 'no access token in the logs')
})

t.test('`: ping` comments keep the stream open', async (t) => {
  const { member, room } = await roomWithMember()
  const client = await openStream(t, base, room.id, { token: member.accessToken })
  await client.waitFor(() => client.comments.filter((c) => c === 'ping').length >= 2, 'two pings')
  t.ok(client.raw.includes('\n: ping\n\n'), 'a comment line, then a blank line')
  t.same(client.withoutNotices, [], 'a ping is not an event')
  t.notOk(client.ended)
})

t.test('per-user cap: the third stream is 429 with Retry-After; closing one frees a slot', async (t) => {
  const { owner, member, room } = await roomWithMember()
  const other = await createRoom(app, member)
  const first = await openStream(t, base, room.id, { token: member.accessToken })
  const second = await openStream(t, base, other.id, { token: member.accessToken })
  t.same([first.status, second.status], [200, 200])
  await until(() => app.realtime.hub.countForUser(member.id) === 2, 'two streams')

  const third = await openStream(t, base, room.id, { token: member.accessToken })
  t.equal(third.status, 429)
  t.ok(Number(third.headers['retry-after']) > 0, 'Retry-After in seconds')
  t.match(await third.json(), { statusCode: 429, code: 'CHAT_RATE_LIMITED', error: 'Too Many Requests' })
  const ownerStream = await openStream(t, base, room.id, { token: owner.accessToken })
  t.equal(ownerStream.status, 200, 'another user has slots of their own')

  first.close()
  await until(() => app.realtime.hub.countForUser(member.id) === 1, 'the closed stream to be released')
  const again = await openStream(t, base, room.id, { token: member.accessToken })
  t.equal(again.status, 200, 'a new stream is accepted')
  const event = await post(app, owner, room.id, 'still flowing')
  await again.waitForSeq(event.seq)
  await second.waitFor(() => second.comments.includes('ping'), 'the second stream to stay alive')
})

t.test('per-user cap under a burst: opened at once, still only two streams', async (t) => {
  const { member, room } = await roomWithMember()
  const burst = await Promise.all(range(1, 6).map(() => openStream(t, base, room.id, { token: member.accessToken })))
  t.same(burst.map((c) => c.status).sort(), [200, 200, 429, 429, 429, 429])
  await until(() => app.realtime.hub.countForUser(member.id) === 2, 'the two streams to attach')
  t.equal(app.realtime.hub.countForUser(member.id), 2)
})

t.test('CORS: the allowed origin on the stream and its preflight, not another', async (t) => {
  const { member, room } = await roomWithMember()
  const allowed = await openStream(t, base, room.id, {
    token: member.accessToken,
    headers: { origin: 'https://app.example' }
  })
  t.equal(allowed.status, 200)
  t.equal(allowed.headers['access-control-allow-origin'], 'https://app.example')
  const foreign = await openStream(t, base, room.id, {
    token: member.accessToken,
    headers: { origin: 'https://evil.example' }
  })
  t.equal(foreign.status, 200, 'CORS is enforced by the browser; the server only withholds the header')
  t.equal(foreign.headers['access-control-allow-origin'], undefined)

  const preflight = (origin: string) =>
    app.inject({
      method: 'OPTIONS',
      url: streamUrl(room.id),
      headers: {
        origin,
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization,last-event-id'
      }
    })
  const ok = await preflight('https://app.example')
  t.ok(ok.statusCode >= 200 && ok.statusCode < 300, `preflight ${ok.statusCode}`)
  t.equal(ok.headers['access-control-allow-origin'], 'https://app.example')
  t.match(String(ok.headers['access-control-allow-headers']).toLowerCase(), /authorization/)
  t.match(String(ok.headers['access-control-allow-headers']).toLowerCase(), /last-event-id/)
  const no = await preflight('https://evil.example')
  t.equal(no.headers['access-control-allow-origin'], undefined)
})

t.test('a non-member can neither post, read, list nor stream; nothing it sends is stored or pushed', async (t) => {
  const { owner, member, room } = await roomWithMember()
  const stranger = await signUp(app)
  const watcher = await openStream(t, base, room.id, { token: member.accessToken, query: { lastEventId: 0 } })
  await watcher.waitForSeq(1)
  const before = await getRoom(app, owner, room.id)

  const attempts = [
    as(app, stranger, { method: 'POST', url: '/rooms/message', payload: { roomId: room.id, text: 'spam' } }),
    as(app, stranger, {
      method: 'POST',
      url: '/rooms/message',
      payload: { roomId: room.id, text: 'spam', clientMsgId: 'x1' }
    }),
    as(app, stranger, { url: `/rooms/${room.id}/messages` }),
    as(app, stranger, { url: `/rooms/${room.id}/messages?after=0` }),
    as(app, stranger, { url: `/rooms/${room.id}/members` })
  ]
  for (const res of await Promise.all(attempts)) assertError(t, res, 403, 'CHAT_NOT_MEMBER')
  const stream = await openStream(t, base, room.id, { token: stranger.accessToken, query: { lastEventId: 0 } })
  t.equal(stream.status, 403)
  await stream.waitForEnd()
  t.notOk(stream.raw.includes('spam') || stream.raw.includes('event:'), 'no event leaked to it')
  const leave = await as(app, stranger, { method: 'POST', url: '/rooms/leave', payload: { roomId: room.id } })
  t.equal(leave.statusCode, 204, 'leaving a room one is not in is a no-op')

  const after = await getRoom(app, owner, room.id)
  t.equal(after.lastSeq, before.lastSeq, 'nothing stored')
  t.equal(after.memberCount, 2)
  const next = await post(app, owner, room.id, 'members only')
  await watcher.waitForSeq(next.seq)
  t.same(watcher.seqs, [1, next.seq], 'the member saw nothing from the stranger')
  t.equal(next.seq, before.lastSeq + 1)
})
