// Password hashing: what is stored (argon2id at OWASP strength, never the password), which passwords are
// accepted (exactly as sent, 8–256 characters, checked before any hashing), and the bound on concurrent
// hashing that keeps a login flood from queueing without limit.
import t from 'tap'
import Fastify from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { eq, tables } from '@chat/db'
import passwordsPlugin from '../../src/plugins/passwords.ts'
import { as, assertError, build, login, signUp, uniqueName } from '../helper.ts'

t.test('stored hashes', async (t) => {
  const app = await build(t)
  const alice = await signUp(app)
  const [row] = await app.db
    .select({ hash: tables.users.passwordHash })
    .from(tables.users)
    .where(eq(tables.users.id, alice.id))
  const hash = row!.hash!
  const params = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(hash)
  t.ok(params, `argon2id PHC string (${hash.slice(0, 32)}…)`)
  t.ok(Number(params![1]) >= 19_456, 'm ≥ 19456 KiB')
  t.ok(Number(params![2]) >= 2, 't ≥ 2')
  t.notOk(hash.includes(alice.password))

  const bob = await signUp(app, uniqueName(), alice.password)
  const [other] = await app.db
    .select({ hash: tables.users.passwordHash })
    .from(tables.users)
    .where(eq(tables.users.id, bob.id))
  t.not(other!.hash, hash, 'salted: the same password hashes differently')
})

t.test('which passwords are accepted, and how they are compared', async (t) => {
  const app = await build(t)
  const register = (username: string, password: string) =>
    app.inject({ method: 'POST', url: '/users', payload: { username, password } })
  const attempt = (username: string, password: string) =>
    app.inject({ method: 'POST', url: '/auth/login', payload: { username, password } })

  t.test('256 characters work, counted as characters, not bytes', async (t) => {
    for (const password of ['p'.repeat(256), '🔑'.repeat(256)]) {
      const user = await signUp(app, uniqueName(), password)
      t.ok(await login(app, user.username, password))
      // One character less (a code point: cutting a UTF-16 unit would leave a lone surrogate, a 400 of its own).
      const shorter = [...password].slice(0, -1).join('')
      assertError(t, await attempt(user.username, shorter), 401, 'CHAT_INVALID_CREDENTIALS')
    }
  })

  t.test('257 characters (or fewer than 8) are 400 before anything is hashed or stored', async (t) => {
    let hashed = 0
    const original = app.passwords.hash
    app.passwords.hash = async (password) => {
      hashed++
      return original(password)
    }
    t.teardown(() => {
      app.passwords.hash = original
    })
    const viewer = await signUp(app)
    hashed = 0
    for (const password of ['p'.repeat(257), '🔑'.repeat(257), 'seven77']) {
      const username = uniqueName()
      assertError(t, await register(username, password), 400, 'FST_ERR_VALIDATION')
      const found = await as(app, viewer, { method: 'GET', url: `/users?q=${username}` })
      t.same(found.json().items, [], 'nothing stored')
    }
    t.equal(hashed, 0, 'the hasher never ran')
    assertError(t, await attempt(viewer.username, 'p'.repeat(257)), 400, 'FST_ERR_VALIDATION')
  })

  t.test('compared exactly: no trimming, no case folding, no Unicode normalisation', async (t) => {
    const spaced = await signUp(app, uniqueName(), 'trailing space ')
    assertError(t, await attempt(spaced.username, 'trailing space'), 401, 'CHAT_INVALID_CREDENTIALS')
    assertError(t, await attempt(spaced.username, ' trailing space '), 401, 'CHAT_INVALID_CREDENTIALS')
    t.equal((await attempt(spaced.username, 'trailing space ')).statusCode, 200)

    const plain = await signUp(app, uniqueName(), 'no spaces at all')
    assertError(t, await attempt(plain.username, 'no spaces at all '), 401, 'CHAT_INVALID_CREDENTIALS')
    assertError(t, await attempt(plain.username, 'No spaces at all'), 401, 'CHAT_INVALID_CREDENTIALS')

    const composed = 'caf\u00e9 au lait'
    const accented = await signUp(app, uniqueName(), composed)
    assertError(t, await attempt(accented.username, composed.normalize('NFD')), 401, 'CHAT_INVALID_CREDENTIALS')
    t.equal((await attempt(accented.username, composed)).statusCode, 200)
  })
})

t.test('the hashing gate', async (t) => {
  t.test('on its own, it refuses work past concurrency + maxWaiting with 503 CHAT_SERVER_BUSY', async (t) => {
    const app = Fastify().withTypeProvider<TypeBoxTypeProvider>()
    await app.register(passwordsPlugin, { concurrency: 1, maxWaiting: 2 })
    app.post(
      '/hash-all',
      { schema: { body: Type.Object({ passwords: Type.Array(Type.String()) }) } },
      async (request) => ({ hashes: await Promise.all(request.body.passwords.map((p) => app.passwords.hash(p))) })
    )
    t.teardown(() => app.close())

    // All calls start in one tick: one runs, two wait, the rest are refused at once rather than queued.
    const burst = async () => Promise.allSettled(Array.from({ length: 10 }, (_, i) => app.passwords.hash(`pw-${i}`)))
    for (const round of [1, 2]) {
      const results = await burst()
      const done = results.filter((r) => r.status === 'fulfilled')
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      t.equal(done.length, 3, `round ${round}: the running hash and the two waiting ones complete`)
      t.equal(refused.length, 7, `round ${round}: the rest are refused (no slot leaked from round 1)`)
      for (const r of refused) t.match(r.reason, { statusCode: 503, code: 'CHAT_SERVER_BUSY' })
      for (const r of done) t.match((r as PromiseFulfilledResult<string>).value, /^\$argon2id\$/)
    }

    const filler = [app.passwords.hash('a'), app.passwords.hash('b'), app.passwords.hash('c')]
    await t.rejects(app.passwords.verify(null, 'x'), { code: 'CHAT_SERVER_BUSY' }, 'verify shares the gate')
    const [hash] = await Promise.all(filler)
    t.equal(await app.passwords.verify(hash, 'a'), true)
    t.equal(await app.passwords.verify(hash, 'b'), false)
    t.equal(await app.passwords.verify(null, 'a'), false, 'a missing hash never verifies')

    const within = await app.inject({ method: 'POST', url: '/hash-all', payload: { passwords: ['1', '2', '3'] } })
    t.equal(within.statusCode, 200)
    t.equal(within.json().hashes.length, 3)
    const over = await app.inject({ method: 'POST', url: '/hash-all', payload: { passwords: ['1', '2', '3', '4'] } })
    assertError(t, over, 503, 'CHAT_SERVER_BUSY')
  })

  t.test('in the app, 40 registrations at once all succeed', async (t) => {
    const app = await build(t)
    const names = Array.from({ length: 40 }, () => uniqueName('burst'))
    const results = await Promise.all(
      names.map((username) =>
        app.inject({ method: 'POST', url: '/users', payload: { username, password: 'concurrent password' } })
      )
    )
    t.same(
      results.map((r) => r.statusCode),
      names.map(() => 201)
    )
    t.equal(new Set(results.map((r) => r.json().id)).size, 40)
    const rows = await app.db.select({ id: tables.users.id }).from(tables.users)
    t.equal(rows.length, 40)
  })
})
