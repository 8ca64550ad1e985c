// Token refresh under concurrency, counted on the server: calls made with a lapsed access token share one
// POST /auth/refresh however many there are, a token the server refuses costs one refresh and one retry per
// call, and a refresh token the server refuses ends the client's session.
import t from 'tap'
import { ChatApiError } from '../src/index.ts'
import { startServer } from './server.ts'

/** The same JWT with its signature altered: unexpired to the client, refused by the server. */
function forged(token: string): string {
  const [header, payload, signature] = token.split('.') as [string, string, string]
  const middle = Math.floor(signature.length / 2)
  const swapped = signature[middle] === 'A' ? 'B' : 'A'
  return `${header}.${payload}.${signature.slice(0, middle)}${swapped}${signature.slice(middle + 1)}`
}

t.test('20 concurrent calls with a lapsed access token: one refresh', async (t) => {
  const server = await startServer(t, { accessTokenTtl: 2 })
  const client = await server.signedIn()
  const before = client.tokens!
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, before.expiresAt! - Date.now()) + 100))
  const users = await Promise.all(Array.from({ length: 20 }, () => client.me()))
  t.ok(
    users.every((user) => user.id === client.userId),
    'every call succeeded'
  )
  t.equal(server.count('POST /auth/refresh'), 1, 'exactly one POST /auth/refresh')
  t.not(client.tokens!.accessToken, before.accessToken, 'a new access token')
})

t.test('20 concurrent calls refused with 401: one refresh, each retried once', async (t) => {
  const server = await startServer(t)
  const signedIn = await server.signedIn()
  const seen: unknown[] = []
  const client = server.client({
    tokens: { ...signedIn.tokens!, accessToken: forged(signedIn.tokens!.accessToken), expiresAt: undefined },
    onTokens: (tokens) => seen.push(tokens)
  })
  const meBefore = server.count('GET /users/me')
  const users = await Promise.all(Array.from({ length: 20 }, () => client.me()))
  t.equal(users.length, 20)
  t.equal(server.count('POST /auth/refresh'), 1, 'exactly one POST /auth/refresh')
  t.equal(server.count('GET /users/me') - meBefore, 40, 'each call: one refused, one retried')
  t.equal(seen.length, 1, 'onTokens told once')
})

t.test('a waiter that aborts leaves the shared refresh to the others', async (t) => {
  const server = await startServer(t)
  const signedIn = await server.signedIn()
  const client = server.client({ tokens: { ...signedIn.tokens!, expiresAt: Date.now() - 1 } })
  const controller = new AbortController()
  const aborted = client.me({ signal: controller.signal })
  const others = Promise.all([client.me(), client.me()])
  controller.abort()
  await t.rejects(aborted, { name: 'AbortError' })
  t.equal((await others).length, 2)
  t.equal(server.count('POST /auth/refresh'), 1)
})

t.test('a refused refresh token ends the session', async (t) => {
  const server = await startServer(t)
  const signedIn = await server.signedIn()
  const stale = signedIn.tokens!
  await signedIn.refresh()
  const seen: unknown[] = []
  // The rotated-away refresh token: reusing it revokes the whole session.
  const client = server.client({ tokens: { ...stale, expiresAt: Date.now() - 1 }, onTokens: (x) => seen.push(x) })
  const error = await client.me().catch((e: unknown) => e)
  t.ok(error instanceof ChatApiError)
  t.match(error, { statusCode: 401, code: 'CHAT_INVALID_REFRESH_TOKEN' })
  t.equal(client.tokens, null)
  t.same(seen, [null])
  await t.rejects(signedIn.me(), { code: 'CHAT_INVALID_REFRESH_TOKEN' }, 'the session is revoked for its holder too')
})
