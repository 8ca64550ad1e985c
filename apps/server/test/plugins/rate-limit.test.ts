// The auth budget: registration, login and refresh share AUTH_RATE_LIMIT attempts per minute per client address,
// so password guessing is slow. The address is the socket's unless TRUST_PROXY is on, so a forged
// X-Forwarded-For cannot buy a fresh budget.
import t from 'tap'
import { as, assertError, build, signUp } from '../helper.ts'

t.test('with TRUST_PROXY unset', async (t) => {
  const app = await build(t, { config: { authRateLimit: 3 } })
  const attempt = (headers: Record<string, string> = {}) =>
    app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: 'nobody', password: 'wrong password' },
      headers
    })

  t.test('the 4th attempt within a minute is 429 CHAT_RATE_LIMITED with Retry-After', async (t) => {
    for (let i = 1; i <= 3; i++) assertError(t, await attempt(), 401, 'CHAT_INVALID_CREDENTIALS')
    const limited = await attempt()
    assertError(t, limited, 429, 'CHAT_RATE_LIMITED')
    const retryAfter = Number(limited.headers['retry-after'])
    t.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 60, `Retry-After: ${retryAfter}`)
  })

  t.test('registration and refresh share the exhausted budget', async (t) => {
    const register = await app.inject({
      method: 'POST',
      url: '/users',
      payload: { username: 'late_comer', password: 'correct horse battery' }
    })
    assertError(t, register, 429, 'CHAT_RATE_LIMITED')
    const refresh = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: 'whatever' } })
    assertError(t, refresh, 429, 'CHAT_RATE_LIMITED')
  })

  t.test('a forged X-Forwarded-For does not get a fresh budget', async (t) => {
    for (const ip of ['10.0.0.1', '203.0.113.7', '198.51.100.1, 10.0.0.2']) {
      assertError(t, await attempt({ 'x-forwarded-for': ip }), 429, 'CHAT_RATE_LIMITED')
    }
  })

  t.test('another client address has its own budget', async (t) => {
    const res = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: 'nobody', password: 'wrong password' },
      remoteAddress: '192.0.2.10'
    })
    assertError(t, res, 401, 'CHAT_INVALID_CREDENTIALS')
  })
})

t.test('routes outside the auth budget are not limited by it', async (t) => {
  const app = await build(t, { config: { authRateLimit: 2 } })
  const alice = await signUp(app)
  const attempt = () =>
    app.inject({ method: 'POST', url: '/auth/login', payload: { username: alice.username, password: 'wrong!!!' } })
  let last = await attempt()
  for (let i = 0; i < 3 && last.statusCode !== 429; i++) last = await attempt()
  assertError(t, last, 429, 'CHAT_RATE_LIMITED')
  for (let i = 0; i < 5; i++) t.equal((await as(app, alice, { method: 'GET', url: '/users/me' })).statusCode, 200)
})

t.test('with TRUST_PROXY on, each X-Forwarded-For address has its own budget', async (t) => {
  const app = await build(t, { config: { authRateLimit: 3, trustProxy: true } })
  const attempt = (ip: string) =>
    app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: 'nobody', password: 'wrong password' },
      headers: { 'x-forwarded-for': ip }
    })
  for (let i = 1; i <= 3; i++) assertError(t, await attempt('198.51.100.1'), 401, 'CHAT_INVALID_CREDENTIALS')
  assertError(t, await attempt('198.51.100.1'), 429, 'CHAT_RATE_LIMITED')
  assertError(t, await attempt('198.51.100.2'), 401, 'CHAT_INVALID_CREDENTIALS')
  assertError(t, await attempt('198.51.100.3'), 401, 'CHAT_INVALID_CREDENTIALS')
  assertError(t, await attempt('198.51.100.1'), 429, 'CHAT_RATE_LIMITED')
})
