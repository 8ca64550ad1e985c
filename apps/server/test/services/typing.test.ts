// Typing on one node, on the in-process bus and this node's own store: the defaults are the contract's (6 s, 2 s,
// a sweep each second), and with them a typing that is never stopped lapses into `typing: false` for the others.
import t from 'tap'
import { listen, openUserStream } from '@chat/testkit'
import type { TypingData } from '@chat/contracts'
import { TYPING_DEFAULTS } from '../../src/services/typing.ts'
import { PRESENCE_DEFAULTS } from '../../src/plugins/presence.ts'
import { as, build, signUp } from '../helper.ts'
import { createRoom, joinRoom } from '../rooms-helper.ts'

const app = await build(t)
const base = await listen(app)

t.test('the defaults are wired in', async (t) => {
  t.same(app.typing.options, { ttlMs: 6_000, repeatMs: 2_000, sweepMs: 1_000, maxPerRoom: 5 })
  t.same(TYPING_DEFAULTS, app.typing.options)
  t.same(app.presence.options, { ...PRESENCE_DEFAULTS, maxMembers: 500 })
  t.same(
    { graceMs: PRESENCE_DEFAULTS.graceMs, maxMembers: PRESENCE_DEFAULTS.maxMembers },
    { graceMs: 5_000, maxMembers: 500 }
  )
})

t.test('with the defaults, a typing never stopped lapses after 6 s into typing: false', async (t) => {
  const [typer, watcher] = await Promise.all([signUp(app), signUp(app)])
  const room = await createRoom(app, typer)
  await joinRoom(app, watcher, room.id)
  const stream = await openUserStream(t, base, { token: watcher.accessToken })
  await stream.waitFor(() => stream.events.some((e) => e.event === 'ready'), 'ready')
  const heard = () =>
    stream.events.filter((e) => e.event === 'typing').map((e) => (JSON.parse(e.data) as TypingData).typing)
  const started = Date.now()
  const res = await as(app, typer, { method: 'POST', url: '/rooms/typing', payload: { roomId: room.id } })
  t.equal(res.statusCode, 204)
  await stream.waitFor(() => heard().length === 2, 'the lapse', 20_000)
  t.same(heard(), [true, false])
  t.ok(Date.now() - started >= 6_000 - 100, 'it lasted its 6 s first')
})
