// Hostile and sloppy input: whatever a client sends, the answer is a 4xx in the contract's error shape (never a
// 5xx, never a guess at what was meant), and nothing of a refused request reaches the database.
import t, { type Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { tables } from '@chat/db'
import { MAX_SEQ } from '@chat/contracts'
import { listen, openStream } from '@chat/testkit'
import { parseLastEventId } from '../src/validation.ts'
import { as, build, signUp, uniqueName } from './helper.ts'
import { createRoom, post } from './rooms-helper.ts'

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

t.test('ids, numbers, tokens and text at their limits', async (t) => {
  const app = await build(t)
  const alice = await signUp(app)
  const room = await createRoom(app, alice)
  const json = (method: 'POST' | 'PATCH', url: string, payload: string) =>
    as(app, alice, { method, url, payload, headers: JSON_TYPE })

  t.test('any string that is not a live refresh token is 401; a non-string is 400', async (t) => {
    const refresh = (refreshToken: unknown) =>
      app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } })
    for (const token of ['', ' ', 'x'.repeat(300), 'y'.repeat(60 * 1024), alice.accessToken, '\u0000', 'a\ud800']) {
      refused(t, await refresh(token), 401, 'CHAT_INVALID_REFRESH_TOKEN')
    }
    for (const token of [null, 42, [alice.refreshToken], { token: alice.refreshToken }]) {
      refused(t, await refresh(token), 400, 'FST_ERR_VALIDATION')
    }
    refused(t, await refresh('z'.repeat(70 * 1024)), 413)
    t.equal((await refresh(alice.refreshToken)).statusCode, 200, 'the real token still works')
  })

  t.test('an id is exactly 8-4-4-4-12 hex digits, in every path and body', async (t) => {
    const bad = [
      `urn:uuid:${room.id}`,
      `{${room.id}}`,
      room.id.replaceAll('-', ''),
      `${room.id}%20`,
      'x'.repeat(300),
      'f'.repeat(5000),
      '..%2F..%2Fusers',
      '%00'
    ]
    for (const id of bad) {
      for (const url of [`/rooms/${id}`, `/rooms/${id}/messages`, `/rooms/${id}/members`, `/users/${id}`]) {
        refused(t, await as(app, alice, { url }), 400)
      }
      refused(t, await json('POST', '/rooms/join', JSON.stringify({ roomId: id })), 400, 'FST_ERR_VALIDATION')
      refused(t, await json('POST', '/rooms/message', JSON.stringify({ roomId: id, text: 'hi' })), 400)
    }
    t.equal((await as(app, alice, { url: `/rooms/${room.id.toUpperCase()}` })).statusCode, 200, 'upper case is hex')
  })

  t.test('seq numbers past a safe integer are 400, before and after together are 400', async (t) => {
    const history = (query: string) => as(app, alice, { url: `/rooms/${room.id}/messages?${query}` })
    for (const value of [
      '9223372036854775807',
      '9223372036854775808',
      '1e21',
      String(MAX_SEQ + 1),
      '1.5',
      '-1',
      'NaN'
    ]) {
      refused(t, await history(`before=${value}`), 400, 'FST_ERR_VALIDATION')
      refused(t, await history(`after=${value}`), 400, 'FST_ERR_VALIDATION')
    }
    t.equal((await history(`before=${MAX_SEQ}`)).statusCode, 200, 'the largest seq is read')
    t.same((await history(`after=${MAX_SEQ}`)).json(), { items: [], hasMore: false }, 'nothing after the end')
    refused(t, await history('before=5&after=1'), 400, 'CHAT_INVALID_QUERY')
  })

  t.test('lone surrogates are refused in free text; astral characters, tabs and newlines are kept', async (t) => {
    const lone = ['a\\ud800b', '\\udfff', 'x\\ud83d']
    for (const s of lone) {
      refused(t, await json('POST', '/rooms/message', `{"roomId":"${room.id}","text":"${s}"}`), 400)
      refused(t, await json('POST', '/rooms/create', `{"name":"${s}"}`), 400)
      refused(t, await json('POST', '/rooms/create', `{"name":"ok","topic":"${s}"}`), 400)
      refused(t, await json('PATCH', `/users/${alice.id}`, `{"displayName":"${s}"}`), 400)
      const register = `{"username":"${uniqueName()}","password":"long enough ${s}","displayName":"x"}`
      refused(t, await app.inject({ method: 'POST', url: '/users', payload: register, headers: JSON_TYPE }), 400)
      const named = `{"username":"${uniqueName()}","password":"long enough","displayName":"${s}"}`
      refused(t, await app.inject({ method: 'POST', url: '/users', payload: named, headers: JSON_TYPE }), 400)
    }
    const text = 'emoji 😀 \ud83d\udc4d, astral 𝄞, tab\tnew\nline\r\n, RTL \u202e, zero-width \u200b'
    const event = await post(app, alice, room.id, text)
    t.equal(event.text, text, 'stored and returned exactly as sent')
    const page = (await as(app, alice, { url: `/rooms/${room.id}/messages` })).json()
    t.equal(page.items.at(-1).text, text)
    const named = await json('POST', '/rooms/create', JSON.stringify({ name: 'room 😀', topic: '𝄞 music' }))
    t.match(named.json(), { name: 'room 😀', topic: '𝄞 music' })
  })

  t.test('a new password without currentPassword is 400 CHAT_CURRENT_PASSWORD_REQUIRED', async (t) => {
    const res = await json('PATCH', `/users/${alice.id}`, JSON.stringify({ password: 'brand new password' }))
    refused(t, res, 400, 'CHAT_CURRENT_PASSWORD_REQUIRED')
    // The schema says it, so it holds before any handler looks at whose profile this is.
    const bob = await signUp(app)
    const other = await json('PATCH', `/users/${bob.id}`, JSON.stringify({ password: 'brand new password' }))
    refused(t, other, 400, 'CHAT_CURRENT_PASSWORD_REQUIRED')
  })
})

t.test('Last-Event-ID: 1–20 digits; past a safe integer it replays nothing', async (t) => {
  t.equal(parseLastEventId(undefined), null)
  t.equal(parseLastEventId('0'), 0)
  t.equal(parseLastEventId('000042'), 42)
  t.equal(parseLastEventId('1234567890123456'), 1234567890123456, '16 digits')
  t.equal(parseLastEventId('9'.repeat(16)), MAX_SEQ, 'past a safe integer: beyond every lastSeq')
  t.equal(parseLastEventId('9'.repeat(20)), MAX_SEQ, '20 digits')
  for (const bad of ['', ' 1', '1 ', '9'.repeat(21), '-1', '1.5', '1e3', '0x10', '+1', '١']) {
    t.throws(() => parseLastEventId(bad), { code: 'CHAT_INVALID_LAST_EVENT_ID' }, JSON.stringify(bad))
  }

  const app = await build(t)
  const base = await listen(app)
  const alice = await signUp(app)
  const room = await createRoom(app, alice)
  await post(app, alice, room.id, 'before the stream')
  const header = await openStream(t, base, room.id, { token: alice.accessToken, lastEventId: '9'.repeat(20) })
  const query = await openStream(t, base, room.id, {
    token: alice.accessToken,
    query: { lastEventId: '1234567890123456' }
  })
  t.equal(header.status, 200)
  t.equal(query.status, 200)
  for (const start = Date.now(); app.realtime.hub.streamCount < 2; await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() - start > 20_000) throw new Error('the streams never attached')
  }
  // A stream counts as attached before its replay reads the room's head, and an event stored before that read is
  // one the client claimed to be past; so post until both streams are live, then check what they got.
  const posted: number[] = []
  while (!(header.seqs.length > 0 && query.seqs.length > 0) && posted.length < 20) {
    posted.push((await post(app, alice, room.id, `live ${posted.length}`)).seq)
    await Promise.race([
      Promise.all([header.waitForSeq(posted.at(-1)!), query.waitForSeq(posted.at(-1)!)]),
      new Promise((r) => setTimeout(r, 500))
    ]).catch(() => {})
  }
  const last = posted.at(-1)!
  await header.waitForSeq(last)
  await query.waitForSeq(last)
  for (const [name, stream] of [
    ['header', header],
    ['query', query]
  ] as const) {
    const seqs = stream.seqs
    t.notOk(seqs.includes(1), `${name}: nothing replayed`)
    t.same(seqs, posted.slice(posted.indexOf(seqs[0]!)), `${name}: then live, every post from its first on`)
  }

  const bearer = { authorization: `Bearer ${alice.accessToken}` }
  const url = `/rooms/${room.id}/events`
  for (const bad of ['9'.repeat(21), 'abc', '']) {
    refused(
      t,
      await app.inject({ url, headers: { ...bearer, 'last-event-id': bad } }),
      400,
      'CHAT_INVALID_LAST_EVENT_ID'
    )
    const res = await app.inject({ url: `${url}?lastEventId=${encodeURIComponent(bad)}`, headers: bearer })
    refused(t, res, 400, 'CHAT_INVALID_LAST_EVENT_ID')
  }
})
