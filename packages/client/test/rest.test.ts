// Every REST method of the client against the real server, and the typed error of each kind a call can meet:
// 400, 401, 403, 404, 409 and 429 (with its Retry-After).
import t, { type Test } from 'tap'
import { ChatApiError, type ChatClient } from '../src/index.ts'
import { PASSWORD, startServer, uniqueName } from './server.ts'

/** The ChatApiError a call rejects with, its status and code checked. */
async function rejects(t: Test, call: Promise<unknown>, statusCode: number, code: string): Promise<ChatApiError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e
  )
  t.ok(error instanceof ChatApiError, `a ChatApiError (${code})`)
  const apiError = error as ChatApiError
  t.match(apiError, { statusCode, code, name: 'ChatApiError' })
  t.type(apiError.message, 'string')
  return apiError
}

t.test('users and the session', async (t) => {
  const server = await startServer(t)
  const client = server.client()
  const username = uniqueName('rest')
  const user = await client.register({ username, password: PASSWORD, displayName: 'Rest' })
  t.match(user, { username, displayName: 'Rest' })
  await rejects(t, client.register({ username, password: PASSWORD }), 409, 'CHAT_USERNAME_TAKEN')
  await rejects(t, client.register({ username: 'x', password: PASSWORD }), 400, 'FST_ERR_VALIDATION')
  await rejects(t, client.me(), 401, 'CHAT_UNAUTHORIZED')
  await rejects(t, client.login({ username, password: 'wrong password' }), 401, 'CHAT_INVALID_CREDENTIALS')

  const seen: unknown[] = []
  const watched = server.client({ onTokens: (tokens) => seen.push(tokens) })
  const session = await watched.login({ username, password: PASSWORD })
  t.equal(session.user.id, user.id)
  t.equal(watched.tokens?.accessToken, session.accessToken)
  t.ok(watched.tokens!.expiresAt! > Date.now(), 'expiry known')
  t.same(await watched.me(), user)
  t.same(await watched.getUser(user.id), user)
  t.match(await watched.listUsers({ q: username }), { items: [user], nextCursor: null })
  await rejects(t, watched.getUser('00000000-0000-4000-8000-000000000000'), 404, 'CHAT_USER_NOT_FOUND')
  await rejects(t, watched.getUser('not-a-uuid'), 400, 'FST_ERR_VALIDATION')
  t.match(await watched.updateUser(user.id, { displayName: 'Renamed' }), { displayName: 'Renamed' })
  await rejects(
    t,
    watched.updateUser(user.id, { password: 'another password', currentPassword: 'not it at all' }),
    403,
    'CHAT_WRONG_PASSWORD'
  )
  const other = await server.signedIn()
  const page = await watched.listUsers({ limit: 1 })
  t.equal(page.items.length, 1)
  t.type(page.nextCursor, 'string')
  const next = await watched.listUsers({ limit: 1, cursor: page.nextCursor! })
  t.not(next.items[0]!.id, page.items[0]!.id, 'the next page')
  await rejects(t, watched.updateUser(other.userId, { displayName: 'No' }), 403, 'CHAT_FORBIDDEN')

  const refreshed = await watched.refresh()
  t.not(refreshed.refreshToken, session.refreshToken, 'rotated')
  t.same(await watched.me(), { ...user, displayName: 'Renamed' })
  await watched.logout()
  t.equal(watched.tokens, null)
  t.same(seen.length, 3, 'onTokens: login, refresh, logout')
  t.equal(seen[2], null)

  // A client resumed from kept tokens; the account deleted, the tokens are forgotten.
  const kept = server.client({ tokens: other.tokens })
  await kept.deleteUser(other.userId)
  t.equal(kept.tokens, null)
  await rejects(t, client.login({ username: other.username, password: PASSWORD }), 401, 'CHAT_INVALID_CREDENTIALS')
})

t.test('rooms, members, messages, read markers and typing', async (t) => {
  const server = await startServer(t)
  const owner = await server.signedIn()
  const member = await server.signedIn()
  const room = await owner.createRoom({ name: 'General', topic: 'talk' })
  t.match(room, { name: 'General', topic: 'talk', ownerId: owner.userId, lastSeq: 0, memberCount: 1 })
  await rejects(t, owner.createRoom({ name: '' }), 400, 'FST_ERR_VALIDATION')
  t.match(await member.getRoom(room.id), { id: room.id, lastReadSeq: null })
  await rejects(t, member.getRoom('00000000-0000-4000-8000-000000000000'), 404, 'CHAT_ROOM_NOT_FOUND')
  await rejects(t, member.history(room.id), 403, 'CHAT_NOT_MEMBER')
  t.match(await member.joinRoom(room.id), { id: room.id, memberCount: 2 })
  t.same(
    (await member.listRooms({ mine: true })).items.map((r) => r.id),
    [room.id]
  )
  t.ok((await member.listRooms()).items.some((r) => r.id === room.id))
  const members = await owner.listMembers(room.id)
  t.same(members.items.map((m) => m.role).sort(), ['member', 'owner'])

  const first = await member.postMessage({ roomId: room.id, text: 'hello', clientMsgId: 'c1' })
  t.match(first, { type: 'message', text: 'hello', seq: 2, user: { id: member.userId } })
  t.same(await member.postMessage({ roomId: room.id, text: 'again', clientMsgId: 'c1' }), first, 'idempotent')
  const answer = await owner.reply({ roomId: room.id, text: 'hi', replyTo: first.seq })
  t.match(answer, { replyTo: first.seq })
  await rejects(t, owner.reply({ roomId: room.id, text: 'x', replyTo: 999 }), 404, 'CHAT_MESSAGE_NOT_FOUND')
  t.match(await member.editMessage({ roomId: room.id, seq: first.seq, text: 'hello!' }), {
    type: 'message.edited',
    target: first.seq,
    text: 'hello!'
  })
  await rejects(t, owner.editMessage({ roomId: room.id, seq: first.seq, text: 'no' }), 403, 'CHAT_NOT_AUTHOR')
  t.match(await owner.react({ roomId: room.id, seq: first.seq, key: '👍' }), { type: 'reaction.added', key: '👍' })
  t.equal(await owner.react({ roomId: room.id, seq: first.seq, key: '👍' }), null, 'nothing changed: null')
  t.match(await owner.react({ roomId: room.id, seq: first.seq, key: '👍', remove: true }), {
    type: 'reaction.removed'
  })
  t.match(await owner.deleteMessage({ roomId: room.id, seq: answer.seq }), { type: 'message.deleted' })
  await rejects(t, owner.editMessage({ roomId: room.id, seq: answer.seq, text: 'x' }), 409, 'CHAT_MESSAGE_DELETED')

  const latest = await member.history(room.id, { limit: 2 })
  t.equal(latest.items.length, 2)
  t.equal(latest.hasMore, true)
  const older = await member.history(room.id, { before: latest.items[0]!.seq })
  t.same(
    older.items.map((e) => e.seq),
    [1, 2, 3, 4, 5].filter((seq) => seq < latest.items[0]!.seq)
  )
  const newer = await member.history(room.id, { after: 0, limit: 100 })
  t.same(
    newer.items.map((e) => e.seq),
    Array.from({ length: newer.items.length }, (_, i) => i + 1)
  )

  await member.markRead({ roomId: room.id, seq: 3 })
  t.match(await member.getRoom(room.id), { lastReadSeq: 3 })
  await rejects(t, member.markRead({ roomId: room.id, seq: 10_000 }), 400, 'CHAT_SEQ_OUT_OF_RANGE')
  await member.typing({ roomId: room.id })
  await member.typing({ roomId: room.id, typing: false })

  await rejects(t, owner.leaveRoom(room.id), 409, 'CHAT_OWNER_CANNOT_LEAVE')
  await rejects(t, member.deleteRoom(room.id), 403, 'CHAT_NOT_ROOM_OWNER')
  await member.leaveRoom(room.id)
  await member.leaveRoom(room.id)
  t.same((await member.listRooms({ mine: true })).items, [])
  await owner.deleteRoom(room.id)
  await rejects(t, owner.getRoom(room.id), 404, 'CHAT_ROOM_NOT_FOUND')
})

t.test('429 carries retryAfter; every call takes an AbortSignal', async (t) => {
  const server = await startServer(t, { messageRateLimit: 3 })
  const client: ChatClient = await server.signedIn()
  const room = await client.createRoom({ name: 'fast' })
  let error: ChatApiError | undefined
  for (let i = 0; i < 10 && !error; i++) {
    await client.postMessage({ roomId: room.id, text: `m${i}` }).catch((e: unknown) => {
      error = e as ChatApiError
    })
  }
  t.ok(error instanceof ChatApiError)
  t.match(error, { statusCode: 429, code: 'CHAT_RATE_LIMITED' })
  t.ok(error!.retryAfter! >= 1, `retryAfter ${error!.retryAfter}`)

  const controller = new AbortController()
  controller.abort()
  await t.rejects(client.me({ signal: controller.signal }), { name: 'AbortError' })
  const later = new AbortController()
  const call = client.history(room.id, {}, { signal: later.signal })
  later.abort()
  await t.rejects(call, { name: 'AbortError' })
})
