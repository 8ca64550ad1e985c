// The users service through a built app: login answers an unknown user exactly as a wrong password; only the
// user themself may change an account (403 for another, 404 for an unknown one); removing a user ends their
// sessions with one `revoked` {reason: user_deleted} and leaves their profile 404.
import t from 'tap'
import { build, signUp } from '../helper.ts'
import { MISSING_ID } from '../rooms-helper.ts'
import type { Revocation } from '../../src/plugins/sessions.ts'

const app = await build(t)

type Refusal = { statusCode?: number; code?: string; message?: string }
const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => ({}) as Refusal,
    ({ statusCode, code, message }: Refusal) => ({ statusCode, code, message })
  )

/** An authenticated caller of the service, with a session of its own. */
async function caller() {
  const user = await signUp(app)
  const { sessionId } = await app.sessions.start(user.id)
  return { user, auth: { userId: user.id, sessionId, expiresAt: Date.now() + 60_000 } }
}

t.test('login of an unknown user and with a wrong password give the same error', async (t) => {
  const { user } = await caller()
  const unknown = await refusal(app.users.login({ username: 'nobody_at_all', password: 'correct horse battery' }))
  const wrong = await refusal(app.users.login({ username: user.username, password: 'wrong horse battery' }))
  t.same(unknown, { statusCode: 401, code: 'CHAT_INVALID_CREDENTIALS', message: 'Invalid username or password' })
  t.same(wrong, unknown, 'the two refusals are indistinguishable')
  const over = (username: string, password: string) =>
    app.inject({ method: 'POST', url: '/auth/login', payload: { username, password } })
  const [a, b] = [await over('nobody_at_all', 'correct horse battery'), await over(user.username, 'wrong horse')]
  t.equal(a.statusCode, 401)
  t.same(a.json(), b.json(), 'and so are the responses')
  const session = await app.users.login({ username: user.username.toUpperCase(), password: user.password })
  t.equal(session.user.id, user.id, 'the right password logs in, whatever the case of the name')
})

t.test('update: 403 for another user, 404 for an unknown one', async (t) => {
  const [alice, bob] = [await caller(), await caller()]
  t.match(await refusal(app.users.update(alice.auth, bob.user.id, { displayName: 'Mallory' })), {
    statusCode: 403,
    code: 'CHAT_FORBIDDEN'
  })
  t.equal((await app.users.get(bob.user.id)).displayName, bob.user.username, 'nothing changed')
  t.match(await refusal(app.users.update(alice.auth, MISSING_ID, { displayName: 'x' })), {
    statusCode: 404,
    code: 'CHAT_USER_NOT_FOUND'
  })
  t.match(await refusal(app.users.remove(alice.auth, bob.user.id)), { statusCode: 403, code: 'CHAT_FORBIDDEN' })
  t.equal((await app.users.update(alice.auth, alice.user.id, { displayName: 'Alice' })).displayName, 'Alice')
})

t.test("remove ends the user's sessions (revoked: user_deleted) and their profile is then 404", async (t) => {
  const { user, auth } = await caller()
  const other = await caller()
  const sessions = [auth.sessionId, (await app.sessions.start(user.id)).sessionId]
  const revocations: Revocation[] = []
  const onRevoked = (r: Revocation) => void revocations.push(r)
  app.sessions.on('revoked', onRevoked)
  t.teardown(() => app.sessions.off('revoked', onRevoked))

  await app.users.remove(auth, user.id)
  t.equal(revocations.length, 1, 'one revocation')
  t.equal(revocations[0]?.reason, 'user_deleted')
  t.ok(
    sessions.every((id) => revocations[0]?.sessionIds.includes(id)),
    'it names every session of the user'
  )
  t.notOk(revocations[0]?.sessionIds.includes(other.auth.sessionId), "and no one else's")
  t.same(
    await Promise.all(sessions.map((id) => app.sessions.isLive(user.id, id))),
    [false, false],
    'the sessions are dead'
  )
  t.equal(await app.sessions.isLive(other.user.id, other.auth.sessionId), true, "another user's lives on")

  t.match(await refusal(app.users.get(user.id)), { statusCode: 404, code: 'CHAT_USER_NOT_FOUND' })
  const profile = await app.inject({ url: `/users/${user.id}`, headers: other.user.auth })
  t.equal(profile.statusCode, 404)
  t.equal(profile.json().code, 'CHAT_USER_NOT_FOUND')
  t.match(await refusal(app.users.login({ username: user.username, password: user.password })), {
    code: 'CHAT_INVALID_CREDENTIALS'
  })
})
