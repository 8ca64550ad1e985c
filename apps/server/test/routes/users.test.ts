// Registration and reading profiles: the parts of the user contract clients build on first (who exists, how
// names are normalised, how the directory pages). Changing and deleting an account live in users-account.test.ts.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { as, assertError, build, signUp, uniqueName } from '../helper.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const PASSWORD = 'correct horse battery'

t.test('POST /users', async (t) => {
  const app = await build(t)
  const register = (payload: object) => app.inject({ method: 'POST', url: '/users', payload })

  t.test('201 with exactly the public User fields; displayName defaults to the username', async (t) => {
    const username = uniqueName('reg')
    const res = await register({ username, password: PASSWORD })
    t.equal(res.statusCode, 201)
    const user = res.json()
    t.same(Object.keys(user).sort(), ['createdAt', 'displayName', 'id', 'username'], 'nothing private')
    t.match(user.id, UUID)
    t.equal(user.username, username)
    t.equal(user.displayName, username)
    t.equal(new Date(user.createdAt).toISOString(), user.createdAt, 'ISO 8601 UTC')
  })

  t.test('a given displayName is kept as sent', async (t) => {
    const res = await register({ username: uniqueName('reg'), password: PASSWORD, displayName: 'Zoë  Ünïcode 🎉' })
    t.equal(res.statusCode, 201)
    t.equal(res.json().displayName, 'Zoë  Ünïcode 🎉')
  })

  t.test('the username is lowercased, and the default displayName is the lowercased name', async (t) => {
    const name = uniqueName('MiXeD')
    const res = await register({ username: name, password: PASSWORD })
    t.equal(res.statusCode, 201)
    t.equal(res.json().username, name.toLowerCase())
    t.equal(res.json().displayName, name.toLowerCase())
  })

  t.test('409 CHAT_USERNAME_TAKEN for a taken name, whatever its case', async (t) => {
    const base = uniqueName('alice')
    const first = await register({ username: base.replace('alice', 'Alice'), password: PASSWORD })
    t.equal(first.statusCode, 201)
    assertError(t, await register({ username: base, password: 'another password' }), 409, 'CHAT_USERNAME_TAKEN')
    assertError(t, await register({ username: base.toUpperCase(), password: PASSWORD }), 409, 'CHAT_USERNAME_TAKEN')
    const other = await signUp(app)
    const list = await as(app, other, { method: 'GET', url: `/users?q=${base}` })
    t.equal(list.json().items.length, 1, 'still exactly one user with that name')
  })
})

t.test('registrations racing for one name: exactly one wins, the rest are 409', async (t) => {
  const app = await build(t)
  const username = uniqueName('race')
  const results = await Promise.all(
    ['', 'X', 'Y', 'Z', 'W'].map((suffix, i) =>
      app.inject({
        method: 'POST',
        url: '/users',
        payload: { username: i % 2 ? username.toUpperCase() : username, password: PASSWORD + suffix }
      })
    )
  )
  const statuses = results.map((r) => r.statusCode).sort()
  t.same(statuses, [201, 409, 409, 409, 409])
  for (const res of results.filter((r) => r.statusCode === 409)) assertError(t, res, 409, 'CHAT_USERNAME_TAKEN')
})

t.test('GET /users/me and GET /users/:userId', async (t) => {
  const app = await build(t)
  const alice = await signUp(app)
  const bob = await signUp(app)

  t.test('/users/me is the caller', async (t) => {
    const res = await as(app, alice, { method: 'GET', url: '/users/me' })
    t.equal(res.statusCode, 200)
    t.same(Object.keys(res.json()).sort(), ['createdAt', 'displayName', 'id', 'username'])
    t.match(res.json(), { id: alice.id, username: alice.username, displayName: alice.username })
  })

  t.test('any signed-in user can read another profile', async (t) => {
    const res = await as(app, alice, { method: 'GET', url: `/users/${bob.id}` })
    t.equal(res.statusCode, 200)
    t.match(res.json(), { id: bob.id, username: bob.username })
    t.same(Object.keys(res.json()).sort(), ['createdAt', 'displayName', 'id', 'username'])
  })

  t.test('an unknown id is 404 CHAT_USER_NOT_FOUND', async (t) => {
    assertError(t, await as(app, alice, { method: 'GET', url: `/users/${randomUUID()}` }), 404, 'CHAT_USER_NOT_FOUND')
  })

  t.test('a malformed id is 400', async (t) => {
    for (const id of ['not-a-uuid', '123', `${randomUUID()}x`, "1' or '1'='1"]) {
      const res = await as(app, alice, { method: 'GET', url: `/users/${encodeURIComponent(id)}` })
      assertError(t, res, 400, 'FST_ERR_VALIDATION')
    }
  })

  t.test('without a token both are 401 CHAT_UNAUTHORIZED', async (t) => {
    assertError(t, await app.inject({ method: 'GET', url: '/users/me' }), 401, 'CHAT_UNAUTHORIZED')
    assertError(t, await app.inject({ method: 'GET', url: `/users/${bob.id}` }), 401, 'CHAT_UNAUTHORIZED')
  })
})

t.test('GET /users', async (t) => {
  const app = await build(t)
  const viewer = await signUp(app, 'viewer')
  // Names sharing a prefix, plus decoys that contain it elsewhere or differ only where LIKE has wildcards.
  const prefix = 'pfx_'
  const members = ['pfx_a', 'pfx_b', 'pfx_c.d', 'pfx_e-f', 'pfx_g']
  const decoys = ['apfx_a', 'pfxa_b', 'pfx-a', 'zzz']
  for (const username of [...members, ...decoys]) {
    const res = await app.inject({ method: 'POST', url: '/users', payload: { username, password: PASSWORD } })
    t.equal(res.statusCode, 201)
  }
  const list = (query: string) => as(app, viewer, { method: 'GET', url: `/users${query}` })

  t.test('?q= is a username prefix (LIKE wildcards in it match literally), case-insensitive', async (t) => {
    const res = await list(`?q=${prefix}`)
    t.equal(res.statusCode, 200)
    t.same(
      res.json().items.map((u: { username: string }) => u.username),
      members,
      'only the prefixed names, by username'
    )
    t.equal(res.json().nextCursor, null)
    const upper = await list(`?q=${prefix.toUpperCase()}`)
    t.same(upper.json(), res.json())
    t.same((await list('?q=nobody')).json(), { items: [], nextCursor: null })
  })

  t.test('limit and cursor walk every page exactly once, nextCursor null at the end', async (t) => {
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const res = await list(`?q=${prefix}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
      t.equal(res.statusCode, 200)
      const page = res.json()
      t.ok(page.items.length <= 2)
      seen.push(...page.items.map((u: { username: string }) => u.username))
      cursor = page.nextCursor
      pages++
    } while (cursor !== null && pages < 10)
    t.equal(pages, 3)
    t.same(seen, members)
  })

  t.test('without q, paging walks the whole directory; the default limit is 50', async (t) => {
    const all = await list('')
    t.equal(all.statusCode, 200)
    const everyone = all.json().items.map((u: { username: string }) => u.username)
    t.equal(everyone.length, members.length + decoys.length + 1)
    t.equal(all.json().nextCursor, null)
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const res = await list(`?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
      seen.push(...res.json().items.map((u: { username: string }) => u.username))
      cursor = res.json().nextCursor
    } while (cursor !== null && seen.length <= everyone.length)
    t.same(seen, everyone)
  })

  t.test('items are public User objects', async (t) => {
    for (const item of (await list('')).json().items) {
      t.same(Object.keys(item).sort(), ['createdAt', 'displayName', 'id', 'username'])
    }
  })

  t.test('a cursor this API did not give out is 400', async (t) => {
    for (const cursor of [
      'garbage!',
      Buffer.from('42').toString('base64url'),
      Buffer.from('{').toString('base64url')
    ]) {
      assertError(t, await list(`?cursor=${encodeURIComponent(cursor)}`), 400, 'CHAT_INVALID_CURSOR')
    }
  })

  t.test('limit outside 1–100 or not a number is 400', async (t) => {
    for (const limit of ['0', '101', '-1', 'ten', '1.5']) {
      assertError(t, await list(`?limit=${limit}`), 400, 'FST_ERR_VALIDATION')
    }
    t.equal((await list('?limit=100')).statusCode, 200)
    t.equal((await list('?limit=1')).statusCode, 200)
  })

  t.test('an unknown query parameter or a q that cannot be a username is 400', async (t) => {
    assertError(t, await list('?sort=password_hash'), 400, 'FST_ERR_VALIDATION')
    assertError(t, await list('?q=%25'), 400, 'FST_ERR_VALIDATION')
    assertError(t, await list(`?q=${'a'.repeat(33)}`), 400, 'FST_ERR_VALIDATION')
  })

  t.test('needs a token', async (t) => {
    assertError(t, await app.inject({ method: 'GET', url: '/users' }), 401, 'CHAT_UNAUTHORIZED')
  })
})
