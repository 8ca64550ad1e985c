// Losing a node must cost its clients a reconnect, never an event: killed outright (SIGKILL) its streams just
// break, stopped gracefully (SIGTERM) they are told `close {reason: shutdown}`; either way the clients come back
// through nginx on another node with Last-Event-ID while posts go on elsewhere, and the database fills the gap.
import t from 'tap'
import type { SseClient } from '@chat/testkit'
import {
  Poster,
  assertExactlyOnce,
  createUser,
  lastSeq,
  metric,
  post,
  roomWith,
  subscribe,
  testCluster,
  until
} from './helpers.ts'

const cluster = await testCluster(t, { port: 4120, basePort: 4121 })
const [node1, node2, node3] = cluster.nodes as [
  (typeof cluster.nodes)[number],
  (typeof cluster.nodes)[number],
  (typeof cluster.nodes)[number]
]
const users = [await createUser(cluster.url, 'dora'), await createUser(cluster.url, 'eve')]
const roomId = await roomWith(cluster.url, users)
const texts = new Map<number, string>()

// 30 clients through nginx: round robin puts about ten on each node.
const streams: SseClient[] = await subscribe(t, 30, { base: cluster.url, roomId, users })
for (let i = 0; i < 10; i++) {
  const text = `warm-up #${i}`
  texts.set(await post(cluster.url, roomId, users[i % 2]!, text), text)
}

async function openStreamsOn(url: string): Promise<number> {
  return metric(url, 'chat_streams_open')
}

t.test('a node killed with SIGKILL: its clients resume through nginx and miss nothing', async (t) => {
  const warm = await lastSeq(cluster.url, roomId, users[0]!.token)
  await Promise.all(streams.map((s) => s.waitForSeq(warm, 30_000)))
  const victims = await openStreamsOn(node1.url)
  t.ok(victims > 0, `node 1 holds ${victims} of the streams`)

  const poster = new Poster({ bases: [node2.url, node3.url], roomId, users, label: 'during the kill' })
  await until(() => poster.count >= 20, '20 posts before the kill')
  const exit = await node1.kill('SIGKILL')
  t.equal(exit.signal, 'SIGKILL', 'node 1 is gone')
  const atKill = poster.count
  await until(() => poster.count >= atKill + 60, '60 posts after the kill', 60_000)
  await poster.stop()
  for (const [seq, text] of poster.texts) texts.set(seq, text)

  t.same(poster.failures, [], 'every post on the other nodes succeeded')
  const last = await lastSeq(cluster.url, roomId, users[0]!.token)
  await Promise.all(streams.map((s) => s.waitForSeq(last, 60_000)))
  assertExactlyOnce(t, streams, last, texts)
  const resumed = streams.filter((s) => s.connections > 1).length
  t.equal(resumed, victims, 'exactly the streams node 1 held reconnected')
  t.ok(
    streams.every((s) => s.open && !s.ended),
    'and every stream is open again'
  )

  await node1.restart()
  t.ok(node1.running, 'node 1 restarted on its port')
})

t.test('a node stopped with SIGTERM: its streams get close {shutdown} and resume elsewhere', async (t) => {
  const victims = await openStreamsOn(node2.url)
  t.ok(victims > 0, `node 2 holds ${victims} of the streams`)
  const before = new Map(streams.map((s) => [s, s.closeReasons.length]))

  const poster = new Poster({ bases: [node1.url, node3.url], roomId, users, label: 'during the shutdown' })
  await until(() => poster.count >= 20, '20 posts before the shutdown')
  const exit = await node2.kill('SIGTERM')
  t.equal(exit.code, 0, 'node 2 exited cleanly')
  const atStop = poster.count
  await until(() => poster.count >= atStop + 60, '60 posts after the shutdown', 60_000)
  await poster.stop()
  for (const [seq, text] of poster.texts) texts.set(seq, text)

  t.same(poster.failures, [], 'every post on the other nodes succeeded')
  const told = streams.filter((s) => s.closeReasons.slice(before.get(s)).includes('shutdown'))
  t.equal(told.length, victims, 'every stream node 2 held was sent close {reason: shutdown}')
  const last = await lastSeq(cluster.url, roomId, users[0]!.token)
  await Promise.all(streams.map((s) => s.waitForSeq(last, 60_000)))
  assertExactlyOnce(t, streams, last, texts)
  t.ok(
    told.every((s) => s.open),
    'and each of them is open again, on another node'
  )
  t.equal(
    (await openStreamsOn(node1.url)) + (await openStreamsOn(node3.url)),
    streams.length,
    'nodes 1 and 3 now hold every stream'
  )
  await node2.restart()
})
