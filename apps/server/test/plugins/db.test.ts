// The database going away under a running node: readiness must say so, requests must fail fast as 503 in the
// error shape (a load balancer retries elsewhere; a client retries later), nothing internal may leak, and the
// process must neither crash nor need a restart once the database is back. PostgreSQL is taken away for real
// (connections refused, backends terminated); PGlite, which lives in the process, by closing it under the app.
import t, { type Test } from 'tap'
import postgres from 'postgres'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { PGlite } from '@electric-sql/pglite'
import { ADMIN_URL, build, freshDatabase, signUp, TEST_DB, type TestUser } from '../helper.ts'

const UNAVAILABLE = 'A backing service is unavailable; retry shortly'

function checkNoLeak(t: Test, res: LightMyRequestResponse): void {
  t.ok(res.statusCode >= 500, `a 5xx (${res.statusCode})`)
  const body = res.json()
  t.same(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'], 'the error shape')
  t.notMatch(res.body, /select|insert|update|params|pglite|postgres|chat_test|accepting|terminat|\bat \S+:\d+/i)
}

async function whileDown(t: Test, app: FastifyInstance, alice: TestUser): Promise<void> {
  const ready = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(ready.statusCode, 503, '/readyz is 503')
  t.equal(ready.json().checks.database, 'unavailable')
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'the process itself is alive')

  const requests = {
    me: await app.inject({ method: 'GET', url: '/users/me', headers: alice.auth }),
    login: await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: alice.username, password: alice.password }
    })
  }
  for (const [name, res] of Object.entries(requests)) {
    t.test(`${name}: no crash, no leak`, async (t) => checkNoLeak(t, res))
    t.test(`${name}: 503 CHAT_UNAVAILABLE`, async (t) => {
      t.equal(res.statusCode, 503)
      t.match(res.json(), {
        statusCode: 503,
        code: 'CHAT_UNAVAILABLE',
        error: 'Service Unavailable',
        message: UNAVAILABLE
      })
    })
  }
}

t.test(
  'PostgreSQL refusing connections and killing backends',
  { skip: TEST_DB !== 'postgres' && 'TEST_DB=postgres only' },
  async (t) => {
    const fresh = await freshDatabase()
    const name = new URL(fresh.url!).pathname.slice(1)
    const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
    const allow = (on: boolean) => admin.unsafe(`alter database "${name}" allow_connections ${on}`)
    // Registered first, so it runs last (teardowns run in reverse): after the app has closed.
    t.teardown(async () => {
      await allow(true)
      await admin.end()
      await fresh.drop()
    })
    const app = await build(t, { database: fresh.options })
    const alice = await signUp(app)

    await allow(false)
    const killed = await admin`
    select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name} and pid <> pg_backend_pid()`
    t.ok(killed.length > 0, `terminated ${killed.length} backend(s) of the app`)
    await whileDown(t, app, alice)

    await allow(true)
    const ready = await app.inject({ method: 'GET', url: '/readyz' })
    t.equal(ready.statusCode, 200, '/readyz is 200 again')
    t.equal((await app.inject({ method: 'GET', url: '/users/me', headers: alice.auth })).statusCode, 200)
    const again = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: alice.username, password: alice.password }
    })
    t.equal(again.statusCode, 200, 'and requests work again, without a restart')
  }
)

t.test('PGlite closed under the app', { skip: TEST_DB !== 'pglite' && 'TEST_DB=pglite only' }, async (t) => {
  const fresh = await freshDatabase()
  t.teardown(() => fresh.drop())
  const app = await build(t, { database: fresh.options })
  const alice = await signUp(app)
  await (fresh.options as { client: PGlite }).client.close()
  await whileDown(t, app, alice)
})
