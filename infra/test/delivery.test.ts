// Fan-out across nodes: subscribers spread over three nodes (through nginx and directly) must each get every
// event exactly once and in order, whichever node took the post, one node at a time or all at once; the room's
// seq stays contiguous because every node numbers in the same PostgreSQL transaction.
import t from 'tap'
import { assertExactlyOnce, createUser, lastSeq, post, roomWith, subscribe, testCluster } from './helpers.ts'

t.test('subscribers on every node get every event once, in order', async (t) => {
  const cluster = await testCluster(t, { port: 4100, basePort: 4101 })
  const [n1, n2, n3] = cluster.nodes.map((n) => n.url) as [string, string, string]
  const users = [await createUser(cluster.url, 'alice'), await createUser(n2, 'bob'), await createUser(n3, 'carol')]
  const roomId = await roomWith(cluster.url, users)
  const texts = new Map<number, string>()

  const viaNginx = await subscribe(t, 15, { base: cluster.url, roomId, users })
  const direct = [
    ...(await subscribe(t, 10, { base: n1, roomId, users })),
    ...(await subscribe(t, 10, { base: n2, roomId, users })),
    ...(await subscribe(t, 10, { base: n3, roomId, users }))
  ]
  const streams = [...viaNginx, ...direct]

  // One node after the other.
  const bases = [n1, n2, n3]
  for (let i = 0; i < 90; i++) {
    const text = `in turn #${i}`
    texts.set(await post(bases[i % 3]!, roomId, users[i % 3]!, text), text)
  }
  // All three at once (and a fourth writer through nginx).
  await Promise.all(
    [...bases, cluster.url].map(async (base, w) => {
      for (let i = 0; i < 30; i++) {
        const text = `concurrent ${w} #${i}`
        texts.set(await post(base, roomId, users[w % 3]!, text), text)
      }
    })
  )

  const last = await lastSeq(cluster.url, roomId, users[0]!.token)
  t.equal(last, 2 + 90 + 120, 'the room numbered every event (2 joins and 210 posts) with no gap')
  t.same(
    [...texts.keys()].sort((a, b) => a - b),
    Array.from({ length: 210 }, (_, i) => i + 3),
    'posts got seq 3..212, each once, whichever node took them'
  )

  await Promise.all(streams.map((s) => s.waitForSeq(last, 60_000)))
  assertExactlyOnce(t, streams, last, texts)
  t.ok(
    streams.every((s) => s.connections === 1 && s.open),
    'every stream stayed on its first connection'
  )
})
