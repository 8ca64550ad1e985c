// Delivery through real SSE clients: under concurrent posting every subscriber gets every stored event once,
// in seq order, matching history; resumption (Last-Event-ID header or ?lastEventId=) has no gap and no
// duplicate at the seam, even while posts keep arriving; the header wins over the query; 0 replays the whole
// room; a point beyond lastSeq replays nothing and goes live. One app for the file.
import t from 'tap'
import type { RoomEvent } from '@chat/contracts'
import { listen, openStream, type SseClient, until } from '@chat/testkit'
import { build, signUp, type TestUser } from '../helper.ts'
import { createRoom, fullHistory, getRoom, joinRoom, pool, post, range } from '../rooms-helper.ts'

const app = await build(t)
const base = await listen(app)

/** Once the hub holds `n` streams for these users, posts cannot slip past them. */
const attached = (users: TestUser[], n: number) =>
  until(() => users.reduce((sum, u) => sum + app.realtime.hub.countForUser(u.id), 0) >= n, `${n} streams`)

const byNumber = (a: string | null, b: string | null) => Number(a!.split(' ').at(-1)) - Number(b!.split(' ').at(-1))

async function roomOf(count: number) {
  const users = await Promise.all(range(1, count).map(() => signUp(app)))
  const room = await createRoom(app, users[0]!)
  for (const u of users.slice(1)) await joinRoom(app, u, room.id)
  return { users, room }
}

t.test('five users post 50 messages each at once: every subscriber gets 1..n once, in order', async (t) => {
  const { users, room } = await roomOf(5)
  const fromStart: SseClient[] = []
  for (const u of users.slice(0, 3)) {
    fromStart.push(await openStream(t, base, room.id, { token: u.accessToken, lastEventId: 0 }))
  }
  const live = await openStream(t, base, room.id, { token: users[4]!.accessToken })
  const viaQuery = await openStream(t, base, room.id, { queryToken: users[3]!.accessToken, query: { lastEventId: 0 } })
  await attached(users, 5)

  const results = await Promise.all(
    users.flatMap((u, i) => range(1, 50).map((n) => post(app, u, room.id, `user ${i} message ${n}`)))
  )
  const total = 4 + 250
  t.same(
    results.map((e) => e.seq).sort((a, b) => a - b),
    range(5, total),
    'the posts got seq 5..254, contiguous, no duplicate'
  )
  t.equal((await getRoom(app, users[0]!, room.id)).lastSeq, total)

  const log = await fullHistory(app, users[1]!, room.id)
  t.same(
    log.map((e) => e.seq),
    range(1, total),
    'history: every seq once, ascending'
  )
  for (const client of [...fromStart, viaQuery]) {
    await client.waitForSeq(total)
    t.same(client.seqs, range(1, total), 'joins and messages, each once, in order')
    t.same(client.stored, log, 'the same events history returns')
  }
  await live.waitForSeq(total)
  t.same(live.seqs, range(5, total), 'a live stream: everything after it opened')
  for (const i of range(0, 4)) {
    const mine = log.filter((e) => e.type === 'message' && e.user.id === users[i]!.id).map((e) => e.text)
    t.same(
      mine.sort(byNumber),
      range(1, 50).map((n) => `user ${i} message ${n}`),
      `user ${i}'s 50 messages`
    )
  }
})

t.test('a subscriber that reconnects with Last-Event-ID while posts go on misses nothing', async (t) => {
  const { users, room } = await roomOf(3)
  const [owner, alice, bob] = users as [TestUser, TestUser, TestUser]
  const first = await openStream(t, base, room.id, { token: alice.accessToken, lastEventId: 0 })
  for (const n of range(1, 20)) await post(app, n % 2 ? owner : bob, room.id, `before ${n}`)
  await first.waitForSeq(22)
  first.close()
  await until(() => app.realtime.hub.countForUser(alice.id) === 0, 'the stream to go')

  for (const n of range(1, 30)) await post(app, owner, room.id, `while away ${n}`)
  let posted = 0
  const writers = pool(60, 3, async (n) => {
    await post(app, n % 2 ? owner : bob, room.id, `during reconnect ${n}`)
    posted++
  })
  await until(() => posted >= 10, 'some posts in flight')
  const second = await openStream(t, base, room.id, { token: alice.accessToken, lastEventId: first.lastEventId! })
  t.equal(second.status, 200)
  await writers
  const last = (await getRoom(app, owner, room.id)).lastSeq
  t.equal(last, 2 + 20 + 30 + 60)
  await second.waitForSeq(last)

  const seen = [...first.stored, ...second.stored]
  t.same(
    seen.map((e) => e.seq),
    range(1, last),
    'every event exactly once, in order, across the two connections'
  )
  t.same(seen, await fullHistory(app, alice, room.id), 'identical to history')
})

t.test('?lastEventId= resumes too; the header wins over the query', async (t) => {
  const { users, room } = await roomOf(2)
  const [owner, alice] = users as [TestUser, TestUser]
  for (const n of range(1, 9)) await post(app, owner, room.id, `m${n}`)

  const byQuery = await openStream(t, base, room.id, { token: alice.accessToken, query: { lastEventId: 4 } })
  const both = await openStream(t, base, room.id, {
    token: alice.accessToken,
    lastEventId: 7,
    query: { lastEventId: 2 }
  })
  await byQuery.waitForSeq(10)
  await both.waitForSeq(10)
  t.same(byQuery.seqs, range(5, 10))
  t.same(both.seqs, [8, 9, 10], 'Last-Event-ID 7 wins over ?lastEventId=2')

  const next = await post(app, owner, room.id, 'live after replay')
  await byQuery.waitForSeq(next.seq)
  await both.waitForSeq(next.seq)
  t.same(byQuery.seqs, range(5, 11))
  t.same(both.seqs, [8, 9, 10, 11])
})

t.test('?lastEventId=0 replays the whole room; beyond lastSeq replays nothing and goes live', async (t) => {
  const { users, room } = await roomOf(2)
  const [owner, alice] = users as [TestUser, TestUser]
  const texts = range(1, 130).map((n) => `history ${n}`)
  await pool(texts.length, 1, (i) => post(app, owner, room.id, texts[i]!))
  const lastSeq = 131

  const all = await openStream(t, base, room.id, { token: alice.accessToken, query: { lastEventId: 0 } })
  const ahead = await openStream(t, base, room.id, { token: alice.accessToken, lastEventId: 5000 })
  const atHead = await openStream(t, base, room.id, { token: owner.accessToken, lastEventId: lastSeq })
  const noId = await openStream(t, base, room.id, { token: owner.accessToken })
  await all.waitForSeq(lastSeq)
  t.same(all.seqs, range(1, lastSeq), 'more than one page of replay, in order')
  t.same(
    all.stored.slice(1).map((e: RoomEvent) => e.text),
    texts
  )
  await attached([alice, owner], 4)

  const next = await post(app, alice, room.id, 'after all that')
  for (const client of [ahead, atHead, noId, all]) await client.waitForSeq(next.seq)
  t.same(ahead.seqs, [next.seq], 'a point beyond lastSeq: nothing replayed, then live')
  t.same(atHead.seqs, [next.seq])
  t.same(noId.seqs, [next.seq], 'no resumption point: live only')
  t.same(all.seqs, range(1, next.seq))
})
