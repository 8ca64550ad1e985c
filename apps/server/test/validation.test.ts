// Hostile and sloppy input: whatever a client sends, the answer is a 4xx in the contract's error shape (never a
// 5xx, never a guess at what was meant), and nothing of a refused request reaches the database.
import t, { type Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { tables } from '@chat/db'
import { as, build, signUp, uniqueName } from './helper.ts'

const JSON_TYPE = { 'content-type': 'application/json' }
const PASSWORD = 'correct horse battery'

function refused(t: Test, res: LightMyRequestResponse, status: number, code?: string): void {
  t.equal(res.statusCode, status, `${status} (${res.body.slice(0, 160)})`)
  const body = res.json()
  t.same(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'], 'exactly the error shape')
  t.equal(body.statusCode, status)
  t.type(body.code, 'string')
  if (code) t.equal(body.code, code)
}

t.test('registration refuses bad bodies and stores nothing', async (t) => {
  const app = await build(t)
  const post = (payload: string, headers: Record<string, string> = JSON_TYPE) =>
    app.inject({ method: 'POST', url: '/users', payload, headers })
  const userCount = async () => (await app.db.select({ id: tables.users.id }).from(tables.users)).length

  t.test('malformed JSON', async (t) => {
    for (const payload of ['{"username":', '{username: "abc"}', "{'a':1}", '', '[', '{"a":1}}']) {
      const res = await post(payload)
      refused(t, res, 400)
    }
  })

  t.test('a body that is not an object', async (t) => {
    for (const payload of ['null', '[]', '"alice"', '42', 'true']) refused(t, await post(payload), 400)
  })

  t.test('wrong types are not coerced', async (t) => {
    const name = uniqueName()
    refused(t, await post(JSON.stringify({ username: name, password: 12345678 })), 400, 'FST_ERR_VALIDATION')
    refused(t, await post(JSON.stringify({ username: 123, password: PASSWORD })), 400, 'FST_ERR_VALIDATION')
    refused(t, await post(JSON.stringify({ username: [name], password: PASSWORD })), 400, 'FST_ERR_VALIDATION')
    refused(
      t,
      await post(JSON.stringify({ username: name, password: PASSWORD, displayName: null })),
      400,
      'FST_ERR_VALIDATION'
    )
    refused(t, await post(JSON.stringify({ username: name, password: true })), 400, 'FST_ERR_VALIDATION')
  })

  t.test('unknown or server-owned fields are refused, not stored', async (t) => {
    for (const extra of [
      { isAdmin: true },
      { id: '00000000-0000-4000-8000-000000000000' },
      { createdAt: '2000-01-01T00:00:00Z' },
      { passwordHash: 'x' }
    ]) {
      const res = await post(JSON.stringify({ username: uniqueName(), password: PASSWORD, ...extra }))
      refused(t, res, 400, 'FST_ERR_VALIDATION')
    }
    t.equal(await userCount(), 0, 'no user was created')
  })

  t.test('prototype pollution payloads', async (t) => {
    const name = uniqueName()
    for (const payload of [
      `{"username":"${name}","password":"${PASSWORD}","__proto__":{"isAdmin":true}}`,
      `{"username":"${name}","password":"${PASSWORD}","constructor":{"prototype":{"isAdmin":true}}}`
    ]) {
      const res = await post(payload)
      t.ok(res.statusCode >= 400 && res.statusCode < 500, `4xx (${res.statusCode})`)
      refused(t, res, res.statusCode)
    }
    t.equal(({} as Record<string, unknown>).isAdmin, undefined, 'Object.prototype untouched')
    t.equal(await userCount(), 0)
  })

  t.test('a body over 64 KiB is 413', async (t) => {
    const payload = JSON.stringify({ username: uniqueName(), password: PASSWORD, displayName: 'x'.repeat(70 * 1024) })
    refused(t, await post(payload), 413)
    const login = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: JSON.stringify({ username: 'someone', password: 'p'.repeat(65 * 1024) }),
      headers: JSON_TYPE
    })
    refused(t, login, 413)
  })

  t.test('a body without a content type is 415', async (t) => {
    const res = await post(JSON.stringify({ username: uniqueName(), password: PASSWORD }), {})
    refused(t, res, 415)
    t.equal(await userCount(), 0)
  })

  t.test('a text/plain body is 415', async (t) => {
    const res = await post(JSON.stringify({ username: uniqueName(), password: PASSWORD }), {
      'content-type': 'text/plain'
    })
    refused(t, res, 415)
  })

  t.test('a text/plain or form body never registers anyone', async (t) => {
    const payload = JSON.stringify({ username: uniqueName(), password: PASSWORD })
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const res = await post(payload, { 'content-type': type })
      t.ok(res.statusCode === 400 || res.statusCode === 415, `${type}: ${res.statusCode}`)
      refused(t, res, res.statusCode)
    }
    t.equal(await userCount(), 0)
  })

  t.test('usernames: 3–32 characters of a-z 0-9 _ . -', async (t) => {
    for (const username of [
      'ab',
      'a'.repeat(33),
      'has space',
      'ünïcode',
      'semi;colon',
      'a/b',
      'tab\tname',
      "o'brien",
      ''
    ]) {
      const res = await post(JSON.stringify({ username, password: PASSWORD }))
      refused(t, res, 400, 'FST_ERR_VALIDATION')
    }
    t.equal(await userCount(), 0)
    const longest = await post(JSON.stringify({ username: 'a'.repeat(32), password: PASSWORD }))
    t.equal(longest.statusCode, 201)
  })

  t.test('display names: 1–64 characters, no control characters (NUL included)', async (t) => {
    for (const displayName of ['', 'x'.repeat(65), 'nul\u0000byte', 'new\nline', 'bell\u0007', 'del\u007f']) {
      const res = await post(JSON.stringify({ username: uniqueName(), password: PASSWORD, displayName }))
      refused(t, res, 400, 'FST_ERR_VALIDATION')
    }
    const ok = await post(JSON.stringify({ username: uniqueName(), password: PASSWORD, displayName: 'x'.repeat(64) }))
    t.equal(ok.statusCode, 201)
  })
})

t.test('other routes refuse bad input the same way', async (t) => {
  const app = await build(t)
  const alice = await signUp(app)

  t.test('PATCH: unknown fields, wrong types, control characters, too long', async (t) => {
    for (const payload of [
      { username: 'renamed' },
      { isAdmin: true },
      { createdAt: '2000-01-01T00:00:00Z' },
      { displayName: 42 },
      { displayName: 'nul\u0000' },
      { displayName: 'x'.repeat(65) },
      { password: 'short', currentPassword: alice.password },
      { password: 'p'.repeat(257), currentPassword: alice.password }
    ]) {
      refused(
        t,
        await as(app, alice, { method: 'PATCH', url: `/users/${alice.id}`, payload }),
        400,
        'FST_ERR_VALIDATION'
      )
    }
    const me = (await as(app, alice, { method: 'GET', url: '/users/me' })).json()
    t.match(me, { username: alice.username, displayName: alice.username }, 'nothing changed')
  })

  t.test('login and refresh: wrong types and unknown fields', async (t) => {
    for (const payload of [
      { username: alice.username, password: 12345678 },
      { username: alice.username, password: alice.password, admin: true }
    ]) {
      refused(t, await app.inject({ method: 'POST', url: '/auth/login', payload }), 400, 'FST_ERR_VALIDATION')
    }
    for (const payload of [{ refreshToken: 42 }, { refreshToken: alice.refreshToken, userId: alice.id }]) {
      refused(t, await app.inject({ method: 'POST', url: '/auth/refresh', payload }), 400, 'FST_ERR_VALIDATION')
    }
  })

  t.test('an unknown route is 404 in the error shape', async (t) => {
    refused(t, await as(app, alice, { method: 'GET', url: '/users/me/secrets' }), 404)
    refused(t, await app.inject({ method: 'PUT', url: '/users' }), 404)
  })
})
