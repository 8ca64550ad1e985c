// The OpenAPI document is how clients discover the contract, so it must list every user, auth and health route
// with the statuses API.md documents for it, error bodies included; the UI must be served next to it.
import t from 'tap'
import { CLOSE_REASONS } from '@chat/contracts'
import { build } from '../helper.ts'

// path → method → statuses the contract names (success, the documented errors, and the shared ones).
const DOCUMENTED: Record<string, Record<string, number[]>> = {
  '/users': { post: [201, 400, 409, 413, 415, 429], get: [200, 400, 401] },
  '/users/me': { get: [200, 401] },
  '/users/{userId}': { get: [200, 400, 401, 404], patch: [200, 400, 401, 403, 404], delete: [204, 400, 401, 403, 404] },
  '/auth/login': { post: [200, 400, 401, 429] },
  '/auth/refresh': { post: [200, 400, 401, 429] },
  '/auth/logout': { post: [204, 401] },
  '/healthz': { get: [200] },
  '/readyz': { get: [200, 503] }
}

t.test('docs', async (t) => {
  const app = await build(t)

  t.test('GET /docs/json', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/docs/json' })
    t.equal(res.statusCode, 200)
    const doc = res.json()
    t.match(doc.openapi, /^3\./)
    t.ok(doc.components?.securitySchemes?.bearer, 'bearer auth is declared')

    for (const [path, methods] of Object.entries(DOCUMENTED)) {
      for (const [method, statuses] of Object.entries(methods)) {
        const operation = doc.paths?.[path]?.[method]
        t.ok(operation, `${method.toUpperCase()} ${path} is listed`)
        if (!operation) continue
        const listed = Object.keys(operation.responses ?? {}).map(Number)
        for (const status of statuses)
          t.ok(listed.includes(status), `${method.toUpperCase()} ${path} documents ${status}`)
        // /readyz answers 503 with its checks: a probe's report, not a request error.
        for (const status of listed.filter((s) => s >= 400 && path !== '/readyz')) {
          const schema = operation.responses[status].content?.['application/json']?.schema
          t.same(
            Object.keys(schema?.properties ?? {}).sort(),
            ['code', 'error', 'message', 'statusCode'],
            `${method.toUpperCase()} ${path} ${status} has the error shape`
          )
        }
      }
    }

    const publicOps = [
      ['/users', 'post'],
      ['/auth/login', 'post'],
      ['/auth/refresh', 'post'],
      ['/healthz', 'get']
    ]
    for (const [path, method] of publicOps) t.same(doc.paths[path!][method!].security, [], `${path} needs no token`)
    t.notOk(doc.paths['/users/me'].get.security?.length === 0, '/users/me needs a token')
    t.ok(doc.paths['/users'].post.requestBody, 'registration documents its body')
    t.notMatch(JSON.stringify(doc), /passwordHash|password_hash/, 'no private field in any schema')
  })

  t.test('the room stream is documented as text/event-stream', async (t) => {
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json()
    const operation = doc.paths?.['/rooms/{roomId}/events']?.get
    t.ok(operation, 'GET /rooms/{roomId}/events is listed')
    const ok = operation?.responses?.['200']
    t.same(Object.keys(ok?.content ?? {}), ['text/event-stream'], 'its 200 is an event stream, not JSON')
    t.equal(ok?.content?.['text/event-stream']?.schema?.type, 'string')
    const description = String(ok?.description)
    for (const frame of ['id: <seq>', 'room.deleted', 'close', ': ping'])
      t.ok(description.includes(frame), `the description names ${frame}`)
    for (const reason of CLOSE_REASONS) t.ok(description.includes(reason), `and the close reason ${reason}`)
    for (const status of [400, 401, 403, 404, 429])
      t.ok(operation?.responses?.[status]?.content?.['application/json'], `${status} is a JSON error`)
  })

  t.test('GET /docs serves the UI', async (t) => {
    let res = await app.inject({ method: 'GET', url: '/docs' })
    if (res.statusCode >= 300 && res.statusCode < 400) {
      const location = new URL(String(res.headers.location), 'http://localhost/docs')
      res = await app.inject({ method: 'GET', url: location.pathname })
    }
    t.equal(res.statusCode, 200)
    t.match(String(res.headers['content-type']), /text\/html/)
    t.match(res.body, /swagger/i)
  })
})
