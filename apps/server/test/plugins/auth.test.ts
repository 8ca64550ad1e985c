// The access-token check and the refresh-token store, attacked directly. Tokens are forged here by hand
// (HMAC-SHA256 over header.payload) so each test changes exactly one thing about an otherwise valid token; a
// forged control token that is accepted proves the rejections are for that one thing.
import t, { type Test } from 'tap'
import { createHmac } from 'node:crypto'
import { as, assertError, build, login, signUp, TEST_SECRET, type TestUser } from '../helper.ts'
import { tables } from '@chat/db'
import { VerifiedTokens } from '../../src/plugins/auth.ts'

type Claims = Record<string, unknown>

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const HS256 = { alg: 'HS256', typ: 'JWT' }

function forge(payload: Claims, { header = HS256 as object, secret = TEST_SECRET, hash = 'sha256' } = {}): string {
  const input = `${b64(header)}.${b64(payload)}`
  return `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`
}

function claimsOf(token: string): Claims {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'))
}

const without = (claims: Claims, name: string) => Object.fromEntries(Object.entries(claims).filter(([k]) => k !== name))

t.test('forged and broken access tokens are 401 CHAT_UNAUTHORIZED', async (t) => {
  const app = await build(t)
  const alice = await signUp(app)
  const bob = await signUp(app)
  const claims = claimsOf(alice.accessToken)
  const now = Math.floor(Date.now() / 1000)
  const me = (authorization: string) => app.inject({ method: 'GET', url: '/users/me', headers: { authorization } })
  const refused = async (t: Test, token: string) =>
    assertError(t, await me(`Bearer ${token}`), 401, 'CHAT_UNAUTHORIZED')

  t.test('control: a hand-made token with valid claims is accepted', async (t) => {
    t.same(Object.keys(claims).sort(), ['aud', 'exp', 'iat', 'iss', 'sid', 'sub'])
    t.equal(Number(claims.exp) - Number(claims.iat), 900, 'the default lifetime, in seconds')
    const res = await me(`Bearer ${forge({ ...claims, iat: now, exp: now + 60 })}`)
    t.equal(res.statusCode, 200)
    t.equal(res.json().id, alice.id)
  })

  t.test('alg none, unsigned', async (t) => {
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`
    await refused(t, none)
    await refused(t, none.slice(0, -1))
  })

  t.test('another algorithm with the right secret (the algorithm is pinned)', async (t) => {
    await refused(t, forge(claims, { header: { alg: 'HS512', typ: 'JWT' }, hash: 'sha512' }))
  })

  t.test('HS256 signed with another secret', async (t) => {
    await refused(t, forge(claims, { secret: 'another-secret-0123456789-abcdefghijklmnop' }))
  })

  t.test("a tampered payload (bob's sub) with alice's original signature", async (t) => {
    const [header, , signature] = alice.accessToken.split('.')
    await refused(t, `${header}.${b64({ ...claims, sub: bob.id })}.${signature}`)
  })

  t.test('a validly signed token whose sub and sid belong to different users', async (t) => {
    await refused(t, forge({ ...claims, sub: bob.id }))
  })

  t.test('expired', async (t) => {
    await refused(t, forge({ ...claims, iat: now - 3600, exp: now - 60 }))
  })

  t.test(
    'a token accepted before is refused once it expires (verified tokens are remembered only until then)',
    async (t) => {
      const exp = Math.floor(Date.now() / 1000) + 1
      const token = forge({ ...claims, iat: exp - 1, exp })
      t.equal((await me(`Bearer ${token}`)).statusCode, 200)
      t.equal((await me(`Bearer ${token}`)).statusCode, 200, 'again, from what this node remembers')
      await new Promise((resolve) => setTimeout(resolve, exp * 1000 - Date.now() + 20))
      await refused(t, token)
    }
  )

  t.test('wrong iss, wrong aud', async (t) => {
    await refused(t, forge({ ...claims, iss: 'someone-else' }))
    await refused(t, forge({ ...claims, iss: 'chat-api.evil' }))
    await refused(t, forge({ ...claims, aud: 'another-api' }))
    await refused(t, forge({ ...claims, aud: ['another-api'] }))
  })

  t.test('a required claim missing: sid, iat, exp, sub, iss, aud', async (t) => {
    for (const name of ['sid', 'iat', 'exp', 'sub', 'iss', 'aud']) await refused(t, forge(without(claims, name)))
  })

  t.test('a sub or sid that is not a UUID, or of the wrong type', async (t) => {
    await refused(t, forge({ ...claims, sub: 'admin' }))
    await refused(t, forge({ ...claims, sub: `${alice.id}' or '1'='1` }))
    await refused(t, forge({ ...claims, sid: 'session' }))
    await refused(t, forge({ ...claims, sub: 42 }))
    await refused(t, forge({ ...claims, exp: String(now + 60) }))
  })

  t.test('garbage in the Authorization header', async (t) => {
    const malformed = [
      '',
      'Bearer',
      'Bearer ',
      `Bearer  ${alice.accessToken}`,
      `Bearer ${alice.accessToken} extra`,
      alice.accessToken,
      `Basic ${Buffer.from(`${alice.username}:${alice.password}`).toString('base64')}`,
      `Token ${alice.accessToken}`,
      'Bearer a.b.c',
      'Bearer ....',
      `Bearer ${alice.accessToken.split('.').slice(0, 2).join('.')}`
    ]
    for (const header of malformed) assertError(t, await me(header), 401, 'CHAT_UNAUTHORIZED')
    assertError(t, await app.inject({ method: 'GET', url: '/users/me' }), 401, 'CHAT_UNAUTHORIZED')
  })
})

t.test('genuine tokens of sessions that have ended are 401 CHAT_UNAUTHORIZED', async (t) => {
  const app = await build(t)
  const refresh = (refreshToken: string) =>
    app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } })
  const refused = async (t: Test, user: Pick<TestUser, 'auth'>) =>
    assertError(t, await as(app, user, { method: 'GET', url: '/users/me' }), 401, 'CHAT_UNAUTHORIZED')

  t.test('a logged-out session', async (t) => {
    const alice = await signUp(app)
    t.equal((await as(app, alice, { method: 'POST', url: '/auth/logout', payload: {} })).statusCode, 204)
    await refused(t, alice)
  })

  t.test('a session revoked by refresh-token reuse', async (t) => {
    const alice = await signUp(app)
    const next = (await refresh(alice.refreshToken)).json()
    await refresh(alice.refreshToken)
    await refused(t, { auth: { authorization: `Bearer ${next.accessToken}` } })
  })

  t.test('a deleted user', async (t) => {
    const alice = await signUp(app)
    const other = await login(app, alice.username, alice.password)
    t.equal((await as(app, alice, { method: 'DELETE', url: `/users/${alice.id}` })).statusCode, 204)
    await refused(t, alice)
    await refused(t, other)
    // A token re-signed for the deleted user's live-looking session is no better.
    const claims = claimsOf(other.accessToken)
    await refused(t, { auth: { authorization: `Bearer ${forge({ ...claims, exp: Number(claims.exp) + 60 })}` } })
  })
})

t.test('VerifiedTokens: a token is remembered until its expiry, and the oldest goes past the bound', async (t) => {
  const tokens = new VerifiedTokens(2)
  const auth = (expiresAt: number) => ({ userId: 'u', sessionId: 's', expiresAt })
  tokens.set('a', auth(1000))
  tokens.set('b', auth(5000))
  t.same(tokens.get('a', 999), auth(1000))
  t.equal(tokens.get('a', 1000), undefined, 'expired: forgotten')
  t.equal(tokens.size, 1)
  tokens.set('c', auth(5000))
  tokens.set('d', auth(5000))
  t.equal(tokens.size, 2)
  t.equal(tokens.get('b', 0), undefined, 'the oldest went')
  t.ok(tokens.get('c', 0) && tokens.get('d', 0))
  t.equal(tokens.get('c.', 0), undefined, 'only the exact text')
})

t.test('ACCESS_TOKEN_TTL sets expiresIn and exp - iat', async (t) => {
  const app = await build(t, { config: { accessTokenTtl: 10 } })
  const alice = await signUp(app)
  const session = (
    await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: alice.username, password: alice.password }
    })
  ).json()
  t.equal(session.expiresIn, 10)
  const claims = claimsOf(session.accessToken)
  t.equal(Number(claims.exp) - Number(claims.iat), 10)
  const refreshed = (
    await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: session.refreshToken } })
  ).json()
  t.equal(refreshed.expiresIn, 10)
  const again = claimsOf(refreshed.accessToken)
  t.equal(Number(again.exp) - Number(again.iat), 10)
})

t.test('refresh tokens: 256 random bits each, and only their hashes are stored', async (t) => {
  const app = await build(t)
  const alice = await signUp(app)
  const bob = await signUp(app)
  const issued = [alice.refreshToken, bob.refreshToken]
  const accessTokens = [alice.accessToken, bob.accessToken]
  let current = alice.refreshToken
  for (let i = 0; i < 20; i++) {
    const res = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: current } })
    t.equal(res.statusCode, 200)
    current = res.json().refreshToken
    issued.push(current)
    accessTokens.push(res.json().accessToken)
  }
  t.equal(new Set(issued).size, issued.length, 'never repeated')
  for (const token of issued) {
    t.match(token, /^[A-Za-z0-9_-]+$/, 'base64url')
    t.ok(Buffer.from(token, 'base64url').length >= 32, 'at least 256 bits')
  }

  const stored = JSON.stringify([
    await app.db.select().from(tables.users),
    await app.db.select().from(tables.sessions),
    await app.db.select().from(tables.refreshTokens)
  ])
  const rows = await app.db.select().from(tables.refreshTokens)
  t.equal(rows.length, issued.length, 'one row per token ever issued')
  for (const token of [...issued, ...accessTokens]) t.notOk(stored.includes(token), 'no raw token in the database')
  for (const row of rows) t.notOk(issued.includes(row.tokenHash))
})
