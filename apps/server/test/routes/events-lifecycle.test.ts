// How streams end on purpose, each with its `close` reason and only the streams it concerns: room deletion
// (room.deleted, then close), leaving, logout (that session only), a password change (the other sessions),
// account deletion (its owned rooms deleted, member.left as "Deleted user" elsewhere), an expired token (the
// client resumes with a fresh one and misses nothing) and the app shutting down. One app for the file, but
// the shutdown test closes an app of its own.
import t, { type Test } from 'tap'
import { listen, openStream, openUserStream, type SseClient, until } from '@chat/testkit'
import { as, build, login, signUp, type TestUser } from '../helper.ts'
import { createRoom, fullHistory, joinRoom, post, range } from '../rooms-helper.ts'

const app = await build(t)
const base = await listen(app)

const streamsOf = (...users: TestUser[]) => users.reduce((n, u) => n + app.realtime.hub.countForUser(u.id), 0)

/** Asserts the stream's last two things were `close` {reason} and the end of the response. */
/** A user signed in twice, a stream of their room open in each session (`mine`: the first session's). */
async function signedInTwice(t: Test) {
  const user = await signUp(app)
  const other = await login(app, user.username, user.password)
  const room = await createRoom(app, user)
  const mine = await openStream(t, base, room.id, { token: user.accessToken })
  const theirs = await openStream(t, base, room.id, { token: other.accessToken })
  await until(() => streamsOf(user) === 2, 'two streams')
  return { user, other, room, mine, theirs }
}

async function endsWith(t: Test, client: SseClient, reason: string): Promise<void> {
  t.equal(await client.closeReason(), reason, `close {reason: ${reason}}`)
  await client.waitForEnd()
  t.equal(client.events.at(-1)!.event, 'close', 'close is the last event')
  t.equal(client.endedBy, 'end', 'then the server ends the response')
}

t.test('deleting a room sends room.deleted, then close, and ends every stream of it', async (t) => {
  const [owner, m1, m2] = await Promise.all([signUp(app), signUp(app), signUp(app)])
  const room = await createRoom(app, owner)
  await joinRoom(app, m1, room.id)
  await joinRoom(app, m2, room.id)
  const clients = await Promise.all(
    [owner, m1, m2].map((u) => openStream(t, base, room.id, { token: u.accessToken, lastEventId: 0 }))
  )
  await until(() => streamsOf(owner, m1, m2) === 3, 'three streams')
  const last = await post(app, m1, room.id, 'last words')
  await as(app, owner, { method: 'POST', url: '/rooms/delete', payload: { roomId: room.id } })
  for (const client of clients) {
    await endsWith(t, client, 'room_deleted')
    t.same(
      client.withoutNotices.slice(-3).map((e) => e.event),
      ['message', 'room.deleted', 'close']
    )
    t.same(client.seqs, [1, 2, last.seq], 'everything before the deletion arrived first')
  }
  t.equal(streamsOf(owner, m1, m2), 0)
})

t.test("leaving ends the leaver's stream of that room with left_room; the others go on", async (t) => {
  const [owner, leaver, stayer] = await Promise.all([signUp(app), signUp(app), signUp(app)])
  const room = await createRoom(app, owner)
  const elsewhere = await createRoom(app, leaver)
  await joinRoom(app, leaver, room.id)
  await joinRoom(app, stayer, room.id)
  const leaverStream = await openStream(t, base, room.id, { token: leaver.accessToken })
  const leaverOther = await openStream(t, base, elsewhere.id, { token: leaver.accessToken })
  const stayerStream = await openStream(t, base, room.id, { token: stayer.accessToken })
  await until(() => streamsOf(leaver, stayer) === 3, 'three streams')

  await as(app, leaver, { method: 'POST', url: '/rooms/leave', payload: { roomId: room.id } })
  await endsWith(t, leaverStream, 'left_room')
  t.match(leaverStream.stored, [{ type: 'member.left', user: { id: leaver.id } }], 'it sees its own member.left')

  const after = await post(app, owner, room.id, 'after the leave')
  await stayerStream.waitForSeq(after.seq)
  t.same(
    stayerStream.stored.map((e) => e.type),
    ['member.left', 'message']
  )
  t.notOk(stayerStream.ended)
  const other = await post(app, leaver, elsewhere.id, 'my own room still streams')
  await leaverOther.waitForSeq(other.seq)
  t.notOk(leaverOther.ended, "the leaver's stream of another room stays")
})

t.test("logout ends that session's streams only", async (t) => {
  const { user, other: second, room, mine: a, theirs: b } = await signedInTwice(t)

  const res = await as(app, user, { method: 'POST', url: '/auth/logout', payload: {} })
  t.equal(res.statusCode, 204)
  await endsWith(t, a, 'logout')
  const next = await post(app, { auth: second.auth }, room.id, 'still here')
  await b.waitForSeq(next.seq)
  t.notOk(b.ended, "the other session's stream stays")
  const reopen = await openStream(t, base, room.id, { token: user.accessToken })
  t.equal(reopen.status, 401, 'the logged-out token opens nothing')
})

t.test("a password change ends the other sessions' streams (session_ended)", async (t) => {
  const { user, room, mine, theirs } = await signedInTwice(t)

  const res = await as(app, user, {
    method: 'PATCH',
    url: `/users/${user.id}`,
    payload: { password: 'a brand new password', currentPassword: user.password }
  })
  t.equal(res.statusCode, 200)
  await endsWith(t, theirs, 'session_ended')
  const next = await post(app, user, room.id, 'the current session goes on')
  await mine.waitForSeq(next.seq)
  t.notOk(mine.ended)
})

t.test('replaying a refresh token ends that session and its streams (session_ended)', async (t) => {
  const user = await signUp(app)
  const room = await createRoom(app, user)
  const stream = await openStream(t, base, room.id, { token: user.accessToken })
  await until(() => streamsOf(user) === 1, 'the stream')
  const refresh = (refreshToken: string) =>
    app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } })
  t.equal((await refresh(user.refreshToken)).statusCode, 200)
  t.equal((await refresh(user.refreshToken)).statusCode, 401, 'the rotated token is replayed')
  await endsWith(t, stream, 'session_ended')
})

t.test("a member.left of one's own already in the log is history, not the end of the stream", async (t) => {
  const [owner, user] = await Promise.all([signUp(app), signUp(app)])
  const room = await createRoom(app, owner)
  await joinRoom(app, user, room.id)
  await as(app, user, { method: 'POST', url: '/rooms/leave', payload: { roomId: room.id } })
  await joinRoom(app, user, room.id)
  const stream = await openStream(t, base, room.id, { token: user.accessToken, lastEventId: 0 })
  const next = await post(app, owner, room.id, 'welcome back')
  await stream.waitForSeq(next.seq)
  t.same(
    stream.stored.map((e) => e.type),
    ['member.joined', 'member.left', 'member.joined', 'message']
  )
  t.notOk(stream.ended)
})

t.test(
  'deleting a user ends their streams, deletes their rooms, and leaves the others as "Deleted user"',
  async (t) => {
    const [doomed, friend, host] = await Promise.all([signUp(app), signUp(app), signUp(app)])
    const owned = await createRoom(app, doomed)
    const hosted = await createRoom(app, host)
    await joinRoom(app, friend, owned.id)
    await joinRoom(app, doomed, hosted.id)
    const said = await post(app, doomed, hosted.id, 'goodbye')
    const doomedStreams = await Promise.all(
      [owned, hosted].map((r) => openStream(t, base, r.id, { token: doomed.accessToken }))
    )
    const friendStream = await openStream(t, base, owned.id, { token: friend.accessToken })
    const hostStream = await openStream(t, base, hosted.id, { token: host.accessToken })
    await until(() => streamsOf(doomed, friend, host) === 4, 'four streams')

    const res = await as(app, doomed, { method: 'DELETE', url: `/users/${doomed.id}` })
    t.equal(res.statusCode, 204)
    for (const client of doomedStreams) await endsWith(t, client, 'user_deleted')
    await endsWith(t, friendStream, 'room_deleted')
    t.same(
      friendStream.withoutNotices.map((e) => e.event),
      ['room.deleted', 'close']
    )

    await hostStream.waitForEvent('member.left')
    const [left] = hostStream.stored
    t.match(left, { type: 'member.left', seq: said.seq + 1, user: { id: doomed.id, displayName: 'Deleted user' } })
    const next = await post(app, host, hosted.id, 'life goes on')
    await hostStream.waitForSeq(next.seq)
    t.notOk(hostStream.ended)
    const kept = (await fullHistory(app, host, hosted.id)).find((e) => e.id === said.id)
    t.match(kept, { text: 'goodbye', user: { id: doomed.id, displayName: 'Deleted user' } }, 'their messages stay')
  }
)

t.test('an expired token ends the stream; the client resumes with a fresh one and misses nothing', async (t) => {
  const [user, writer] = await Promise.all([signUp(app), signUp(app)])
  const room = await createRoom(app, writer)
  await joinRoom(app, user, room.id)
  const { sid } = app.jwt.decode<{ sid: string }>(user.accessToken)!
  // Two to three seconds of life, for the same live session (a number here would be seconds).
  const shortLived = app.jwt.sign({ sub: user.id, sid }, { expiresIn: '3s' })

  let stop = false
  let count = 0
  t.teardown(() => {
    stop = true
  })
  const posting = (async () => {
    while (!stop) {
      await post(app, writer, room.id, `tick ${++count}`)
      await new Promise((r) => setTimeout(r, 25))
    }
  })()
  const first = await openStream(t, base, room.id, { token: shortLived, lastEventId: 0 })
  t.equal(first.status, 200)
  await endsWith(t, first, 'token_expired')
  const resumeFrom = first.lastEventId!
  const seenBefore = count
  await until(() => count >= seenBefore + 3, 'posts while the client is away')

  const fresh = await login(app, user.username, user.password)
  const second = await openStream(t, base, room.id, { token: fresh.accessToken, lastEventId: resumeFrom })
  t.equal(second.status, 200)
  const target = count + 5
  await until(() => count >= target, 'posts after the resume')
  stop = true
  await posting
  const lastSeq = count + 1
  await second.waitForSeq(lastSeq)
  t.same([...first.seqs, ...second.seqs], range(1, lastSeq), 'every event once, in order, across the expiry')
})

t.test('closing the app tells every open stream `shutdown`', async (t) => {
  const own = await build(t)
  const ownBase = await listen(own)
  const [a, b] = await Promise.all([signUp(own), signUp(own)])
  const room = await createRoom(own, a)
  await joinRoom(own, b, room.id)
  const clients = [
    await openStream(t, ownBase, room.id, { token: a.accessToken }),
    await openStream(t, ownBase, room.id, { token: b.accessToken, lastEventId: 0 })
  ]
  await until(() => own.realtime.hub.streamCount === 2, 'two streams')
  await clients[1]!.waitForSeq(1)
  await own.close()
  for (const client of clients) await endsWith(t, client, 'shutdown')
  t.same(clients[1]!.seqs, [1])
})

t.test('a client that goes away frees its stream and the room’s subscription, on both kinds of stream', async (t) => {
  const user = await signUp(app)
  const room = await createRoom(app, user)
  const roomStream = await openStream(t, base, room.id, { token: user.accessToken })
  const userStream = await openUserStream(t, base, { token: user.accessToken })
  await until(() => streamsOf(user) === 2, 'both streams')
  const rooms = app.realtime.hub.broadcasterCount
  roomStream.close()
  userStream.close()
  await until(() => streamsOf(user) === 0, 'both streams to end')
  await until(() => app.realtime.hub.broadcasterCount === rooms - 1, 'the room’s broadcaster to go')
  t.pass('the detached sockets saw their clients go')
})

t.test('an open stream’s request is complete for Fastify once its socket is detached', async (t) => {
  const user = await signUp(app)
  const room = await createRoom(app, user)
  const count = async () => {
    const { values } = await app.metrics.httpDuration.get()
    const ours = values.find(
      (v) => v.metricName?.endsWith('_count') && v.labels.route === '/rooms/:roomId/events' && v.labels.status === '200'
    )
    return ours?.value ?? 0
  }
  const before = await count()
  const stream = await openStream(t, base, room.id, { token: user.accessToken })
  await until(async () => (await count()) === before + 1, 'the onResponse hook for the open stream')
  // The hook runs at the detach, just before the hub takes the stream.
  await until(() => streamsOf(user) === 1, 'the stream to be held')
  t.equal(await count(), before + 1, 'the request was counted once, while the stream stays open')
  t.ok(stream.open && !stream.ended, 'and the stream is open')
  stream.close()
})
