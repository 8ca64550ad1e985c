// PerTurn gathers the items pushed during one turn of the event loop into one batch, splits batches at `max`,
// and on close() hands over what is pending at once, waits for running batches, and refuses anything new. Lookups
// answers the questions of a turn with one read.
import t from 'tap'
import { Lookups, PerTurn } from '../src/per-turn.ts'

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

t.test('items pushed in one turn arrive as one batch', async (t) => {
  const batches: number[][] = []
  const batcher = new PerTurn<number>(async (batch) => void batches.push(batch))
  for (let i = 1; i <= 5; i++) batcher.push(i)
  t.same(batches, [], 'nothing is handed over during the turn')
  await nextTurn()
  t.same(batches, [[1, 2, 3, 4, 5]])
  batcher.push(6)
  await nextTurn()
  t.same(batches, [[1, 2, 3, 4, 5], [6]], 'a later turn makes a batch of its own')
  await batcher.close()
})

t.test('max splits the batches of one turn', async (t) => {
  const batches: number[][] = []
  const batcher = new PerTurn<number>(async (batch) => void batches.push(batch), 2)
  for (let i = 1; i <= 5; i++) batcher.push(i)
  await nextTurn()
  t.same(batches, [[1, 2], [3, 4], [5]])
  await batcher.close()
})

t.test('close() hands over the pending batch at once and waits for the running ones', async (t) => {
  const started: number[][] = []
  const finished: number[][] = []
  const releases: Array<() => void> = []
  const batcher = new PerTurn<number>(async (batch) => {
    started.push(batch)
    await new Promise<void>((resolve) => releases.push(resolve))
    finished.push(batch)
  })
  batcher.push(1)
  await nextTurn()
  t.same(started, [[1]], 'the first batch is running')
  batcher.push(2)
  batcher.push(3)
  let closed = false
  const closing = batcher.close().then(() => {
    closed = true
  })
  t.same(started, [[1], [2, 3]], 'the pending batch is handed over by close() itself, not a turn later')
  await nextTurn()
  t.notOk(closed, 'close() waits while batches run')
  releases[0]!()
  await nextTurn()
  t.notOk(closed, 'close() still waits for the second batch')
  releases[1]!()
  await closing
  t.same(finished, [[1], [2, 3]], 'both batches finished before close() resolved')
})

t.test('a batch that throws does not keep close() from resolving', async (t) => {
  const batcher = new PerTurn<number>(async () => {
    throw new Error('refused')
  })
  batcher.push(1)
  await batcher.close()
  t.pass('closed')
})

t.test('push after close throws', async (t) => {
  const batches: number[][] = []
  const batcher = new PerTurn<number>(async (batch) => void batches.push(batch))
  await batcher.close()
  t.throws(() => batcher.push(1), /closed/)
  await nextTurn()
  t.same(batches, [], 'nothing was run')
})

t.test('Lookups: the questions of one turn in one read, each answered; a failed read rejects them all', async (t) => {
  const reads: number[][] = []
  let broken = false
  const squares = new Lookups<number, number>(async (questions) => {
    reads.push(questions)
    if (broken) throw new Error('read failed')
    return (n) => n * n
  })
  t.same(await Promise.all([squares.ask(2), squares.ask(3), squares.ask(2)]), [4, 9, 4])
  t.same(reads, [[2, 3, 2]], 'one read for the turn')
  broken = true
  const failed = await Promise.allSettled([squares.ask(4), squares.ask(5)])
  t.same(
    failed.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : r.value)),
    ['read failed', 'read failed']
  )
  broken = false
  const pending = squares.ask(6)
  await squares.close()
  t.equal(await pending, 36, 'close() answers what was asked before it')
  await t.rejects(squares.ask(7), /closed/)
})
