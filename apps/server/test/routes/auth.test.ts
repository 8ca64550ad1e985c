// Login, refresh and logout: the session lifecycle every client depends on. Rotation and replay detection are
// what make a stolen refresh token short-lived, and logout must take effect at once, so both are checked by
// trying the old tokens afterwards rather than by looking at how they are stored.
import t from 'tap'
import { eq, tables } from '@chat/db'
import { as, assertError, build, login, signUp } from '../helper.ts'

const SESSION_KEYS = ['accessToken', 'expiresIn', 'refreshToken', 'tokenType', 'user']

t.test('POST /auth/login', async (t) => {
  const app = await build(t)
  const alice = await signUp(app)
  const attempt = (username: string, password: string) =>
    app.inject({ method: 'POST', url: '/auth/login', payload: { username, password } })

  t.test('200 with a Session whose access token works', async (t) => {
    const res = await attempt(alice.username, alice.password)
    t.equal(res.statusCode, 200)
    const session = res.json()
    t.same(Object.keys(session).sort(), SESSION_KEYS)
    t.equal(session.tokenType, 'Bearer')
    t.equal(session.expiresIn, 900)
    t.type(session.accessToken, 'string')
    t.type(session.refreshToken, 'string')
    t.same(session.user, (await as(app, alice, { method: 'GET', url: '/users/me' })).json())
    const me = await app.inject({
      method: 'GET',
      url: '/users/me',
      headers: { authorization: `Bearer ${session.accessToken}` }
    })
    t.equal(me.statusCode, 200)
    t.equal(me.json().id, alice.id)
  })

  t.test('each login is a new session with its own tokens', async (t) => {
    const a = (await attempt(alice.username, alice.password)).json()
    const b = (await attempt(alice.username, alice.password)).json()
    t.not(a.accessToken, b.accessToken)
    t.not(a.refreshToken, b.refreshToken)
  })

  t.test('the username is matched case-insensitively', async (t) => {
    t.equal((await attempt(alice.username.toUpperCase(), alice.password)).statusCode, 200)
  })

  t.test('401 CHAT_INVALID_CREDENTIALS, identical for an unknown user and a wrong password', async (t) => {
    const wrong = await attempt(alice.username, 'not the password')
    const unknown = await attempt('nobody_here_at_all', alice.password)
    assertError(t, wrong, 401, 'CHAT_INVALID_CREDENTIALS')
    assertError(t, unknown, 401, 'CHAT_INVALID_CREDENTIALS')
    t.equal(unknown.body, wrong.body, 'same body byte for byte')
  })

  t.test('a name no one can register (NUL, spaces, too long) is an unknown user, never a 5xx', async (t) => {
    for (const username of ['nul\u0000byte', 'two words', 'ab', 'x'.repeat(40), 'ünïcode']) {
      assertError(t, await attempt(username, alice.password), 401, 'CHAT_INVALID_CREDENTIALS')
    }
  })

  t.test('a missing field is 400', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: alice.username } })
    assertError(t, res, 400, 'FST_ERR_VALIDATION')
  })
})

t.test('POST /auth/refresh', async (t) => {
  const app = await build(t)
  const refresh = (refreshToken: string) =>
    app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } })
  const me = (accessToken: string) =>
    app.inject({ method: 'GET', url: '/users/me', headers: { authorization: `Bearer ${accessToken}` } })

  t.test('rotates: new tokens work, the old refresh token does not', async (t) => {
    const alice = await signUp(app)
    const res = await refresh(alice.refreshToken)
    t.equal(res.statusCode, 200)
    const session = res.json()
    t.same(Object.keys(session).sort(), SESSION_KEYS)
    t.equal(session.tokenType, 'Bearer')
    t.equal(session.expiresIn, 900)
    t.match(session.user, { id: alice.id, username: alice.username })
    t.not(session.refreshToken, alice.refreshToken)
    t.equal((await me(session.accessToken)).statusCode, 200, 'the new access token works')

    const again = await refresh(session.refreshToken)
    t.equal(again.statusCode, 200, 'the new refresh token rotates in turn')
    t.equal((await me(again.json().accessToken)).statusCode, 200)
  })

  t.test('reusing a rotated refresh token is 401 and ends the whole session', async (t) => {
    const alice = await signUp(app)
    const second = (await refresh(alice.refreshToken)).json()
    const third = (await refresh(second.refreshToken)).json()
    t.equal((await me(third.accessToken)).statusCode, 200)

    assertError(t, await refresh(alice.refreshToken), 401, 'CHAT_INVALID_REFRESH_TOKEN')
    // The thief and the owner both hold tokens of this session now; neither may go on.
    assertError(t, await refresh(third.refreshToken), 401, 'CHAT_INVALID_REFRESH_TOKEN')
    assertError(t, await me(third.accessToken), 401, 'CHAT_UNAUTHORIZED')
    assertError(t, await me(second.accessToken), 401, 'CHAT_UNAUTHORIZED')
    assertError(t, await me(alice.accessToken), 401, 'CHAT_UNAUTHORIZED')
    t.ok(await login(app, alice.username, alice.password), 'a fresh login still works')
  })

  t.test('reuse ends only that session, not the user’s other sessions', async (t) => {
    const alice = await signUp(app)
    const other = await login(app, alice.username, alice.password)
    await refresh(alice.refreshToken)
    assertError(t, await refresh(alice.refreshToken), 401, 'CHAT_INVALID_REFRESH_TOKEN')
    t.equal((await me(other.accessToken)).statusCode, 200)
    t.equal((await refresh(other.refreshToken)).statusCode, 200)
  })

  t.test('an unknown or malformed refresh token is 401 CHAT_INVALID_REFRESH_TOKEN', async (t) => {
    const alice = await signUp(app)
    for (const token of ['nope', alice.accessToken.slice(0, 200), alice.refreshToken + 'x', 'A'.repeat(43)]) {
      assertError(t, await refresh(token), 401, 'CHAT_INVALID_REFRESH_TOKEN')
    }
    t.equal((await refresh(alice.refreshToken)).statusCode, 200, 'guessing does not harm the real session')
  })

  t.test('a refresh token past its expiry is 401 and does not end the session', async (t) => {
    const alice = await signUp(app)
    const sid = JSON.parse(Buffer.from(alice.accessToken.split('.')[1]!, 'base64url').toString()).sid
    await app.db
      .update(tables.refreshTokens)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(tables.refreshTokens.sessionId, sid))
    assertError(t, await refresh(alice.refreshToken), 401, 'CHAT_INVALID_REFRESH_TOKEN')
    t.equal((await me(alice.accessToken)).statusCode, 200)
  })

  t.test('a missing refresh token is 400', async (t) => {
    assertError(t, await app.inject({ method: 'POST', url: '/auth/refresh', payload: {} }), 400, 'FST_ERR_VALIDATION')
  })
})

t.test('POST /auth/logout', async (t) => {
  const app = await build(t)
  const refresh = (refreshToken: string) =>
    app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } })

  t.test('204 with {} and the tokens stop working at once', async (t) => {
    const alice = await signUp(app)
    const other = await login(app, alice.username, alice.password)
    const res = await as(app, alice, { method: 'POST', url: '/auth/logout', payload: {} })
    t.equal(res.statusCode, 204)
    t.equal(res.body, '')
    assertError(t, await as(app, alice, { method: 'GET', url: '/users/me' }), 401, 'CHAT_UNAUTHORIZED')
    assertError(t, await refresh(alice.refreshToken), 401, 'CHAT_INVALID_REFRESH_TOKEN')
    assertError(t, await as(app, alice, { method: 'POST', url: '/auth/logout', payload: {} }), 401, 'CHAT_UNAUTHORIZED')
    t.equal((await as(app, other, { method: 'GET', url: '/users/me' })).statusCode, 200, 'other sessions go on')
  })

  t.test('204 with no body at all', async (t) => {
    const alice = await signUp(app)
    const res = await as(app, alice, { method: 'POST', url: '/auth/logout' })
    t.equal(res.statusCode, 204)
    assertError(t, await as(app, alice, { method: 'GET', url: '/users/me' }), 401, 'CHAT_UNAUTHORIZED')
    assertError(t, await refresh(alice.refreshToken), 401, 'CHAT_INVALID_REFRESH_TOKEN')
  })

  t.test('without a token it is 401; with a non-empty body 400 and the session stays', async (t) => {
    assertError(t, await app.inject({ method: 'POST', url: '/auth/logout', payload: {} }), 401, 'CHAT_UNAUTHORIZED')
    const alice = await signUp(app)
    const res = await as(app, alice, { method: 'POST', url: '/auth/logout', payload: { everywhere: true } })
    assertError(t, res, 400, 'FST_ERR_VALIDATION')
    t.equal((await as(app, alice, { method: 'GET', url: '/users/me' })).statusCode, 200)
  })
})
