// Liveness, readiness, and the 404 of an unknown route.
import t from 'tap'
import { build } from '../helper.ts'

t.test('healthz and readyz answer 200 while the database answers', async (t) => {
  const app = await build(t)
  const health = await app.inject({ method: 'GET', url: '/healthz' })
  t.equal(health.statusCode, 200)
  const ready = await app.inject({ method: 'GET', url: '/readyz' })
  t.equal(ready.statusCode, 200)
  t.equal(ready.json().checks.database, 'ok')
  t.equal(health.headers['cache-control'], 'no-store', 'probes are never cached')
  t.equal(ready.headers['cache-control'], 'no-store')
})

t.test('an unknown route is a 404 in the error shape', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/nowhere?access_token=abc' })
  t.equal(res.statusCode, 404)
  t.match(res.json(), { statusCode: 404, code: 'CHAT_NOT_FOUND', error: 'Not Found' })
  t.notMatch(res.body, /abc/)
})
