// The hub's token expiries: one heap of deadlines behind one timer. Items come due in order, once each, never
// early; an item taken out before its time never comes due; the timer follows the earliest deadline.
import t from 'tap'
import { Deadlines } from '../src/deadlines.ts'
import { sleep } from './fixtures/harness.ts'

t.test('items come due earliest first, once each, and not before their time', async (t) => {
  const due: Array<{ item: string; at: number }> = []
  const deadlines = new Deadlines<string>((item) => due.push({ item, at: Date.now() }))
  const start = Date.now()
  const at = { c: start + 60, a: start + 20, b: start + 40, d: start + 50 }
  for (const [item, when] of Object.entries(at)) deadlines.add(item, when)
  t.equal(deadlines.size, 4)
  await sleep(120)
  t.same(
    due.map((d) => d.item),
    ['a', 'b', 'd', 'c']
  )
  for (const { item, at: firedAt } of due) t.ok(firedAt >= at[item as keyof typeof at], `${item} not early`)
  t.equal(deadlines.size, 0, 'nothing left')
})

t.test('an entry deleted before its time never comes due; the others still do', async (t) => {
  const due: number[] = []
  const deadlines = new Deadlines<number>((item) => due.push(item))
  const start = Date.now()
  const entries = Array.from({ length: 50 }, (_, i) => deadlines.add(i, start + 10 + ((i * 7) % 50)))
  for (const entry of entries.filter((_, i) => i % 3 === 0)) deadlines.delete(entry)
  deadlines.delete(entries[0]!)
  t.equal(deadlines.size, 50 - 17, 'deleting twice is deleting once')
  await sleep(100)
  const kept = entries.filter((_, i) => i % 3 !== 0).map((e) => e.item)
  t.same(
    [...due].sort((a, b) => a - b),
    kept,
    'exactly the kept items'
  )
  const times = due.map((i) => entries[i]!.at)
  t.same(
    times,
    [...times].sort((a, b) => a - b),
    'in deadline order'
  )
})

t.test('an earlier deadline added later re-arms the timer; a past one comes due on the next turn', async (t) => {
  const due: string[] = []
  const deadlines = new Deadlines<string>((item) => due.push(item))
  deadlines.add('late', Date.now() + 10_000)
  deadlines.add('soon', Date.now() + 20)
  deadlines.add('past', Date.now() - 5)
  t.same(due, [], 'never within add()')
  await sleep(60)
  t.same(due, ['past', 'soon'])
  deadlines.clear()
  t.equal(deadlines.size, 0, 'clear forgets the rest and stops the timer')
})

t.test('an item can add and delete from its own callback', async (t) => {
  const due: string[] = []
  const deadlines: Deadlines<string> = new Deadlines<string>((item) => {
    due.push(item)
    if (item === 'first') deadlines.add('again', Date.now() + 10)
    if (item === 'second') deadlines.delete(third)
  })
  const now = Date.now()
  deadlines.add('first', now + 5)
  deadlines.add('second', now + 5)
  const third = deadlines.add('third', now + 30)
  await sleep(80)
  t.same(due, ['first', 'second', 'again'])
})
