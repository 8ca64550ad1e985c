// MAX_STREAMS_PER_USER is counted across the cluster, and a node that dies without closing its streams does not
// keep its slots: they go with the node's liveness key, so a user at the cap who reconnects elsewhere after a
// crash is let in within the key's lifetime, not after the whole lease.
import t from 'tap'
import { openStream } from '@chat/testkit'
import { createUser, roomWith, testCluster } from './helpers.ts'

const CAP = 2
// A node's liveness key lives 6 s; a stream's lease 45 s. Freed well within 15 s means the key did it.
const WITHIN_MS = 15_000
const cluster = await testCluster(t, {
  port: 4140,
  basePort: 4141,
  nodes: 2,
  env: { MAX_STREAMS_PER_USER: String(CAP) }
})
const [node1, node2] = cluster.nodes as [(typeof cluster.nodes)[number], (typeof cluster.nodes)[number]]
const user = await createUser(cluster.url, 'capped')
const roomId = await roomWith(cluster.url, [user])

t.test('the cap holds across nodes, and a killed node frees its slots within its liveness key', async (t) => {
  for (let i = 0; i < CAP; i++) {
    const stream = await openStream(t, node1.url, roomId, { token: user.token })
    t.equal(stream.status, 200, `stream ${i + 1} of ${CAP} opens on node 1`)
  }
  const over = await openStream(t, node2.url, roomId, { token: user.token })
  t.equal(over.status, 429, 'one more on node 2 is refused: node 2 counts node 1’s streams')
  t.equal((await over.json()).code, 'CHAT_RATE_LIMITED', 'with the contract’s code')

  const exit = await node1.kill('SIGKILL')
  t.equal(exit.signal, 'SIGKILL', 'node 1 is killed without closing anything')
  const killedAt = Date.now()
  let opened = 0
  while (opened < CAP && Date.now() - killedAt < WITHIN_MS) {
    const stream = await openStream(t, node2.url, roomId, { token: user.token })
    if (stream.status === 200) opened++
    else await new Promise((r) => setTimeout(r, 250))
  }
  const waited = Date.now() - killedAt
  t.equal(opened, CAP, `the user reopens ${CAP} streams on node 2`)
  t.ok(waited < WITHIN_MS, `long before a lease would lapse (${waited} ms after the kill)`)
  t.comment(`slots of the killed node freed ${waited} ms after SIGKILL`)
  await node1.restart()
})
