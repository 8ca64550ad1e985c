// The sessions plugin: isLive checks asked in one turn are answered together, each correctly (live, revoked,
// another user's, unknown, a deleted user's); `revoked` is emitted once with exactly the sessions revoked, and
// not at all when nothing was; once the app is closed isLive rejects instead of hanging.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { build, signUp } from '../helper.ts'
import type { Revocation } from '../../src/plugins/sessions.ts'

const app = await build(t)

function recordRevocations(t: Parameters<typeof build>[0]) {
  const revocations: Revocation[] = []
  const onRevoked = (r: Revocation) => void revocations.push({ ...r, sessionIds: [...r.sessionIds].sort() })
  app.sessions.on('revoked', onRevoked)
  t.teardown(() => app.sessions.off('revoked', onRevoked))
  return revocations
}

t.test('checks asked in one turn are answered together, each correctly', async (t) => {
  const [alice, bob, carol] = [await signUp(app), await signUp(app), await signUp(app)]
  const live = await app.sessions.start(alice.id)
  const revoked = await app.sessions.start(alice.id)
  await app.sessions.revoke([revoked.sessionId], 'logout')
  const bobs = await app.sessions.start(bob.id)
  const carols = await app.sessions.start(carol.id)
  await app.inject({ method: 'DELETE', url: `/users/${carol.id}`, headers: carol.auth })

  const cases: Array<[string, string, string, boolean]> = [
    ['live', alice.id, live.sessionId, true],
    ['revoked', alice.id, revoked.sessionId, false],
    ["another user's", alice.id, bobs.sessionId, false],
    ['live, its owner', bob.id, bobs.sessionId, true],
    ['unknown', alice.id, randomUUID(), false],
    ["a deleted user's", carol.id, carols.sessionId, false],
    ['live, asked twice', alice.id, live.sessionId, true]
  ]
  let settled = 0
  let settledWhenFirstTurnEnded: number | undefined
  const answers = cases.map(([, userId, sessionId]) =>
    app.sessions.isLive(userId, sessionId).then((answer) => {
      // One batch settles all its checks at once: by the end of the turn that settled the first, all are.
      if (settled++ === 0) setImmediate(() => (settledWhenFirstTurnEnded = settled))
      return answer
    })
  )
  const results = await Promise.all(answers)
  cases.forEach(([what, , , expected], i) => t.equal(results[i], expected, what))
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(settledWhenFirstTurnEnded, cases.length, 'all answered together')
})

t.test("'revoked' is emitted once with the ids actually revoked, and not when none were", async (t) => {
  const alice = await signUp(app)
  await app.sessions.revokeUser(alice.id, 'logout') // the session of signing up: not part of what is counted
  const revocations = recordRevocations(t)
  const [a, b, c] = [
    await app.sessions.start(alice.id),
    await app.sessions.start(alice.id),
    await app.sessions.start(alice.id)
  ]
  await app.sessions.revoke([a.sessionId], 'logout')
  t.same(revocations, [{ sessionIds: [a.sessionId], reason: 'logout' }])

  await app.sessions.revoke([a.sessionId, b.sessionId, randomUUID()], 'refresh_reuse')
  t.same(revocations.at(-1), { sessionIds: [b.sessionId], reason: 'refresh_reuse' }, 'only the one still live')
  t.equal(revocations.length, 2, 'once per revocation')

  await app.sessions.revoke([a.sessionId, b.sessionId], 'logout')
  await app.sessions.revoke([], 'logout')
  t.equal(revocations.length, 2, 'nothing revoked, nothing emitted')

  await app.sessions.revokeUser(alice.id, 'password_changed', c.sessionId)
  t.equal(revocations.length, 2, 'sparing the only live session revokes nothing')
  await app.sessions.revokeUser(alice.id, 'user_deleted')
  t.same(revocations.at(-1), { sessionIds: [c.sessionId], reason: 'user_deleted' })
  await app.sessions.revokeUser(alice.id, 'user_deleted')
  t.equal(revocations.length, 3, 'a second revokeUser emits nothing')
})

t.test('after app.close() isLive rejects instead of hanging', async (t) => {
  const own = await build(t)
  const alice = await signUp(own)
  const { sessionId } = await own.sessions.start(alice.id)
  const during = own.sessions.isLive(alice.id, sessionId)
  await own.close()
  t.equal(await during, true, 'a check asked before close is answered')
  await t.rejects(own.sessions.isLive(alice.id, sessionId), /closed/)
})
