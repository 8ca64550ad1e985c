// The server's Prometheus figures come from this observer, so its counts must mean what they say:
// latency once per event per node, deliveries per stream, and every open matched by a close.
import t from 'tap'
import { Publisher, MemoryBus, type RealtimeMetrics, type StreamEndReason } from '../src/index.ts'
import { MemoryDb, openStream, startNode } from './fixtures/harness.ts'
import { until } from '@chat/testkit'

t.test('metrics count streams, deliveries and one latency per event per node', async (t) => {
  const bus = new MemoryBus()
  const db = new MemoryDb()
  let opened = 0
  let delivered = 0
  const closed: StreamEndReason[] = []
  const latencies: number[] = []
  const metrics: RealtimeMetrics = {
    streamOpened: () => opened++,
    streamClosed: (reason) => closed.push(reason),
    delivered: (count) => (delivered += count),
    deliveryLatency: (ms) => latencies.push(ms),
    slowConsumer: () => {},
    gapFilled: () => {}
  }
  const node = await startNode(t, { bus, db, metrics })
  const clients = [await openStream(node, 'r1'), await openStream(node, 'r1'), await openStream(node, 'r1')]
  const publisher = new Publisher(bus)
  for (let i = 0; i < 10; i++) await publisher.publishEvent(db.commit('r1', 'alice'))
  await Promise.all(clients.map((c) => c.waitForSeq(10)))
  t.equal(opened, 3)
  t.equal(delivered, 30)
  t.equal(latencies.length, 10, 'once per event, not per stream')
  t.ok(latencies.every((ms) => ms >= 0 && ms < 1000))
  const resumed = await openStream(node, 'r1', { lastEventId: 4 })
  await resumed.waitForSeq(10)
  t.equal(delivered, 36, 'replayed events count as delivered')
  for (const client of [...clients, resumed]) client.destroy()
  await until(() => closed.length === 4, 'four closes')
  t.same(closed, ['client_closed', 'client_closed', 'client_closed', 'client_closed'])
})
