// Logs end up in places with weaker access control than the database, so no secret may reach them: not a
// password, not a refresh token, not an access token, whether sent in a header, a body or ?access_token=.
// Everything is logged at trace level here so that the most talkative configuration is the one checked.
import t from 'tap'
import { as, build, login, signUp } from './helper.ts'

t.test('no password or token ever reaches a log line', async (t) => {
  const lines: string[] = []
  const app = await build(t, {
    config: { logLevel: 'trace' },
    logStream: { write: (line: string) => void lines.push(line) }
  })
  const secrets: string[] = []
  const keep = (...values: string[]) => secrets.push(...values)

  const alice = await signUp(app, 'logged_alice', 'alice secret password')
  keep(alice.password, alice.accessToken, alice.refreshToken)

  const wrong = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { username: alice.username, password: 'a wrong guess at it' }
  })
  t.equal(wrong.statusCode, 401)
  keep('a wrong guess at it')

  const refreshed = await app.inject({
    method: 'POST',
    url: '/auth/refresh',
    payload: { refreshToken: alice.refreshToken }
  })
  t.equal(refreshed.statusCode, 200)
  keep(refreshed.json().accessToken, refreshed.json().refreshToken)
  // A replayed refresh token fails and ends the session: the failure path must not log it either.
  t.equal(
    (await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken: alice.refreshToken } }))
      .statusCode,
    401
  )

  const second = await login(app, alice.username, alice.password)
  keep(second.accessToken, second.refreshToken)
  const changed = await as(app, second, {
    method: 'PATCH',
    url: `/users/${alice.id}`,
    payload: { password: 'the next password', currentPassword: alice.password }
  })
  t.equal(changed.statusCode, 200)
  keep('the next password')

  const queryToken = second.accessToken
  const viaQuery = await app.inject({ method: 'GET', url: `/users/me?access_token=${queryToken}` })
  t.equal(viaQuery.statusCode, 401, 'the query token is not accepted on an ordinary route')
  await app.inject({ method: 'GET', url: `/nowhere?x=1&access_token=${queryToken}&y=2` })
  await app.inject({ method: 'GET', url: `/users?access_token=opaque-query-secret-123`, headers: second.auth })
  keep('opaque-query-secret-123')

  const invalid = await app.inject({
    method: 'POST',
    url: '/users',
    payload: { username: 'x', password: 'refused short-name password' }
  })
  t.equal(invalid.statusCode, 400)
  keep('refused short-name password')

  t.equal((await as(app, second, { method: 'POST', url: '/auth/logout', payload: {} })).statusCode, 204)
  t.equal((await as(app, second, { method: 'GET', url: '/users/me' })).statusCode, 401)

  const text = lines.join('')
  t.ok(lines.length > 10, `the log was written (${lines.length} lines)`)
  t.match(text, /incoming request/, 'requests were logged')
  t.match(text, /\/users\/me\?access_token=\[redacted\]/, 'the query value is replaced, the URL kept')
  for (const secret of secrets) {
    t.notOk(text.includes(secret), `not in the log: ${secret.slice(0, 12)}…`)
    // A JWT's signature alone is enough to matter; a refresh token's second half too.
    t.notOk(text.includes(secret.slice(-24)), `nor its tail: …${secret.slice(-8)}`)
  }
})
