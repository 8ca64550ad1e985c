// Changing messages: edit, delete, react and reply, each a stored room event with the next seq. Who may do what
// (author, owner, member), the codes of each refusal, deletion erasing the text from every table (read straight
// from the database), exact counts under concurrent reactions, and history showing each message's current state.
// One app for the file; each subtest makes its own users and rooms.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import type { RoomEvent } from '@chat/contracts'
import { sql } from '@chat/db'
import { as, assertError, build, signUp, type TestUser } from '../helper.ts'
import { EVENT_KEYS, MISSING_ID, createRoom, fullHistory, joinRoom, post, range } from '../rooms-helper.ts'

const app = await build(t)

async function roomOf(count: number) {
  const users = await Promise.all(range(1, count).map(() => signUp(app)))
  const room = await createRoom(app, users[0]!)
  for (const user of users.slice(1)) await joinRoom(app, user, room.id)
  return { owner: users[0]!, users, room }
}

const change = (user: TestUser, path: 'edit' | 'delete' | 'react' | '', payload: object) =>
  as(app, user, { method: 'POST', url: `/rooms/message${path ? `/${path}` : ''}`, payload })

async function messageAt(app: FastifyInstance, user: TestUser, roomId: string, seq: number): Promise<RoomEvent> {
  const res = await as(app, user, { url: `/rooms/${roomId}/messages?after=${seq - 1}&limit=1` })
  t.equal(res.statusCode, 200)
  return res.json().items[0]
}

t.test('a posted message has the new fields, empty; editing by its author', async (t) => {
  const { owner, users, room } = await roomOf(2)
  const author = users[1]!
  const message = await post(app, author, room.id, 'helo wrold')
  t.same(Object.keys(message).sort(), EVENT_KEYS)
  t.match(message, { replyTo: null, target: null, key: null, editedAt: null, deletedAt: null, reactions: [] })

  const res = await change(author, 'edit', { roomId: room.id, seq: message.seq, text: 'hello world' })
  t.equal(res.statusCode, 201)
  const edited: RoomEvent = res.json()
  t.same(Object.keys(edited).sort(), EVENT_KEYS)
  t.match(edited, {
    type: 'message.edited',
    seq: message.seq + 1,
    target: message.seq,
    text: 'hello world',
    reactions: null,
    user: { id: author.id }
  })

  const current = await messageAt(app, owner, room.id, message.seq)
  t.equal(current.text, 'hello world', 'history shows the latest text')
  t.equal(current.editedAt, edited.createdAt, 'and when it was edited')
  t.equal(current.deletedAt, null)
  const log = await fullHistory(app, owner, room.id)
  t.same(
    log.map((e) => e.type),
    ['member.joined', 'message', 'message.edited'],
    'the edit is its own event in the log'
  )
  t.equal((await getHead(owner, room.id)).lastSeq, edited.seq)
})

async function getHead(user: TestUser, roomId: string) {
  return (await as(app, user, { url: `/rooms/${roomId}` })).json()
}

t.test('edit refusals: not the author, not a message, deleted, text rules, not a member', async (t) => {
  const { owner, users, room } = await roomOf(2)
  const stranger = await signUp(app)
  const message = await post(app, owner, room.id, 'mine')
  const edit = (user: TestUser, body: object) => change(user, 'edit', { roomId: room.id, seq: message.seq, ...body })

  assertError(t, await edit(users[1]!, { text: 'not yours' }), 403, 'CHAT_NOT_AUTHOR')
  assertError(t, await edit(owner, { seq: 1, text: 'a join' }), 404, 'CHAT_MESSAGE_NOT_FOUND')
  assertError(t, await edit(owner, { seq: 999, text: 'no such seq' }), 404, 'CHAT_MESSAGE_NOT_FOUND')
  for (const text of ['', 'x'.repeat(4001), 'bell \u0007', 'lone \uD800']) {
    assertError(t, await edit(owner, { text }), 400, 'FST_ERR_VALIDATION')
  }
  assertError(t, await edit(owner, { seq: 0, text: 'seq 0' }), 400, 'FST_ERR_VALIDATION')
  assertError(t, await edit(owner, { text: 'x', extra: true }), 400, 'FST_ERR_VALIDATION')
  assertError(t, await edit(stranger, { text: 'outsider' }), 403, 'CHAT_NOT_MEMBER')
  assertError(t, await change(owner, 'edit', { roomId: MISSING_ID, seq: 1, text: 'x' }), 404, 'CHAT_ROOM_NOT_FOUND')
  t.equal(await edit(owner, { text: 'x'.repeat(4000) }).then((r) => r.statusCode), 201, '4,000 characters pass')

  t.equal((await change(owner, 'delete', { roomId: room.id, seq: message.seq })).statusCode, 201)
  assertError(t, await edit(owner, { text: 'too late' }), 409, 'CHAT_MESSAGE_DELETED')
  const log = await fullHistory(app, owner, room.id)
  t.same(
    log.map((e) => e.type),
    ['member.joined', 'message', 'message.edited', 'message.deleted'],
    'the refusals stored nothing'
  )
})

t.test('deletion: by the author, by the owner, not by another member; twice is 200', async (t) => {
  const { owner, users, room } = await roomOf(3)
  const [author, other] = [users[1]!, users[2]!]
  const first = await post(app, author, room.id, 'first')
  const second = await post(app, author, room.id, 'second')

  assertError(t, await change(other, 'delete', { roomId: room.id, seq: first.seq }), 403, 'CHAT_FORBIDDEN')
  const byAuthor = await change(author, 'delete', { roomId: room.id, seq: first.seq })
  t.equal(byAuthor.statusCode, 201)
  t.match(byAuthor.json(), { type: 'message.deleted', target: first.seq, text: null, user: { id: author.id } })
  const again = await change(author, 'delete', { roomId: room.id, seq: first.seq })
  t.equal(again.statusCode, 200, 'deleting again answers 200')
  t.same(again.json(), byAuthor.json(), 'with the first deletion event')
  const byOwner = await change(owner, 'delete', { roomId: room.id, seq: second.seq })
  t.equal(byOwner.statusCode, 201, "the room's owner may delete anyone's message")
  t.match(byOwner.json(), { type: 'message.deleted', target: second.seq, user: { id: owner.id } })
  assertError(t, await change(owner, 'delete', { roomId: room.id, seq: 1 }), 404, 'CHAT_MESSAGE_NOT_FOUND')

  const gone = await messageAt(app, other, room.id, first.seq)
  t.match(gone, { type: 'message', text: null, reactions: [], user: { id: author.id } })
  t.ok(gone.deletedAt, 'history shows when it was deleted')
  t.equal(gone.deletedAt, byAuthor.json().createdAt)
})

t.test('a deleted text is gone from every table, its edits included', async (t) => {
  const { owner, users, room } = await roomOf(2)
  const author = users[1]!
  const secret = `secret-${Date.now()}-original`
  const message = await post(app, author, room.id, secret)
  for (const n of [1, 2]) {
    const res = await change(author, 'edit', { roomId: room.id, seq: message.seq, text: `${secret}-edit-${n}` })
    t.equal(res.statusCode, 201)
  }
  t.equal((await change(owner, 'react', { roomId: room.id, seq: message.seq, key: '👀' })).statusCode, 201)
  const rowsWithSecret = async () => {
    const tables = await app.db.execute<{ name: string }>(
      sql`select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`
    )
    let found = 0
    for (const { name } of rowsOf<{ name: string }>(tables)) {
      const hits = await app.db.execute<{ n: number }>(
        sql`select count(*)::int as n from ${sql.identifier(name)} as r where r::text like ${`%${secret}%`}`
      )
      found += Number(rowsOf<{ n: number }>(hits)[0]!.n)
    }
    return found
  }
  t.equal(await rowsWithSecret(), 3, 'before: the message and two edits hold the text')
  t.equal((await change(author, 'delete', { roomId: room.id, seq: message.seq })).statusCode, 201)
  t.equal(await rowsWithSecret(), 0, 'after: no row of any table holds it')

  const log = await fullHistory(app, owner, room.id)
  const ofMessage = log.filter((e) => e.seq === message.seq || e.target === message.seq)
  t.same(
    ofMessage.map((e) => [e.type, e.text]),
    [
      ['message', null],
      ['message.edited', null],
      ['message.edited', null],
      ['reaction.added', null],
      ['message.deleted', null]
    ]
  )
  t.same(ofMessage[0]!.reactions, [], 'a deleted message keeps no reactions')
  assertError(
    t,
    await change(owner, 'react', { roomId: room.id, seq: message.seq, key: '👍' }),
    409,
    'CHAT_MESSAGE_DELETED'
  )
})

/** Rows of app.db.execute on either driver (postgres.js gives an array, PGlite an object with rows). */
function rowsOf<T>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : (result as { rows: T[] }).rows
}

t.test('50 users react with one key at once: count 50, 50 events with contiguous seqs', async (t) => {
  const { owner, users, room } = await roomOf(50)
  const message = await post(app, owner, room.id, 'react to me')
  const results = await Promise.all(
    users.map((user) => change(user, 'react', { roomId: room.id, seq: message.seq, key: '🎉' }))
  )
  t.same(
    results.map((r) => r.statusCode),
    users.map(() => 201)
  )
  const events: RoomEvent[] = results.map((r) => r.json())
  t.same(
    events.map((e) => e.seq).sort((a, b) => a - b),
    range(message.seq + 1, message.seq + 50),
    'contiguous seqs'
  )
  for (const event of events) t.match(event, { type: 'reaction.added', key: '🎉', target: message.seq, text: null })

  const current = await messageAt(app, owner, room.id, message.seq)
  t.equal(current.reactions!.length, 1)
  const [reaction] = current.reactions!
  t.equal(reaction!.key, '🎉')
  t.equal(reaction!.count, 50)
  const inOrder = [...events].sort((a, b) => a.seq - b.seq).map((e) => e.user.id)
  t.same(reaction!.userIds, inOrder, 'userIds: who reacted, in the order they did')

  const again = await change(users[3]!, 'react', { roomId: room.id, seq: message.seq, key: '🎉' })
  t.equal(again.statusCode, 204, 'adding a reaction one has already: 204')
  t.equal(again.body, '')
  const absent = await change(users[3]!, 'react', { roomId: room.id, seq: message.seq, key: '👍', remove: true })
  t.equal(absent.statusCode, 204, 'removing one one does not have: 204')
  t.equal((await getHead(owner, room.id)).lastSeq, message.seq + 50, 'neither stored an event')

  const removed = await change(users[3]!, 'react', { roomId: room.id, seq: message.seq, key: '🎉', remove: true })
  t.equal(removed.statusCode, 201)
  t.match(removed.json(), { type: 'reaction.removed', key: '🎉', target: message.seq, user: { id: users[3]!.id } })
  const after = await messageAt(app, owner, room.id, message.seq)
  t.equal(after.reactions![0]!.count, 49)
  t.notOk(after.reactions![0]!.userIds.includes(users[3]!.id))
})

t.test('reactions: several keys in first-use order, userIds capped at 50, key rules, members only', async (t) => {
  const { owner, users, room } = await roomOf(52)
  const stranger = await signUp(app)
  const message = await post(app, owner, room.id, 'many')
  const react = (user: TestUser, key: string) => change(user, 'react', { roomId: room.id, seq: message.seq, key })
  for (const user of users) t.equal((await react(user, ':+1:')).statusCode, 201)
  const family = '👨‍👩‍👧'
  t.equal((await react(users[0]!, family)).statusCode, 201, 'an emoji joined by U+200D is one key')
  const current = await messageAt(app, owner, room.id, message.seq)
  t.same(
    current.reactions!.map((r) => [r.key, r.count, r.userIds.length]),
    [
      [':+1:', 52, 50],
      [family, 1, 1]
    ]
  )
  t.same(
    current.reactions![0]!.userIds,
    users.slice(0, 50).map((u) => u.id),
    'the first 50'
  )

  for (const key of ['', 'a b', 'tab\t', 'x'.repeat(33), 'nul\u0000', 'c1\u0085', 'lone\uDC00']) {
    assertError(t, await react(owner, key), 400, 'FST_ERR_VALIDATION')
  }
  assertError(t, await react(stranger, '👍'), 403, 'CHAT_NOT_MEMBER')
  assertError(t, await change(owner, 'react', { roomId: room.id, seq: 1, key: '👍' }), 404, 'CHAT_MESSAGE_NOT_FOUND')
})

t.test('replies: replyTo is stored and returned; a missing seq or another room is 404', async (t) => {
  const { owner, users, room } = await roomOf(2)
  const other = await createRoom(app, owner)
  const question = await post(app, owner, room.id, 'question?')
  for (let i = 0; i < 5; i++) await post(app, owner, other.id, `elsewhere ${i}`)

  const res = await change(users[1]!, '', { roomId: room.id, text: 'answer', replyTo: question.seq })
  t.equal(res.statusCode, 201)
  const answer: RoomEvent = res.json()
  t.equal(answer.replyTo, question.seq)
  t.equal((await messageAt(app, owner, room.id, answer.seq)).replyTo, question.seq, 'history returns it')

  const reply = (replyTo: number) => change(users[1]!, '', { roomId: room.id, text: 'x', replyTo })
  assertError(t, await reply(999), 404, 'CHAT_MESSAGE_NOT_FOUND')
  assertError(t, await reply(5), 404, 'CHAT_MESSAGE_NOT_FOUND') // seq 5 is a message of the other room only
  assertError(t, await reply(1), 404, 'CHAT_MESSAGE_NOT_FOUND') // member.joined
  assertError(t, await reply(0), 400, 'FST_ERR_VALIDATION')
  t.equal((await getHead(owner, room.id)).lastSeq, answer.seq, 'refused replies stored nothing')
})

t.test('edits, deletes and reactions count against the message rate limit with posts', async (t) => {
  const limited = await build(t, { config: { messageRateLimit: 4 } })
  const user = await signUp(limited)
  const room = await createRoom(limited, user)
  const send = (path: string, payload: object) =>
    as(limited, user, { method: 'POST', url: `/rooms/message${path}`, payload: { roomId: room.id, ...payload } })
  t.equal((await send('', { text: 'one' })).statusCode, 201)
  t.equal((await send('/edit', { seq: 1, text: 'two' })).statusCode, 201)
  t.equal((await send('/react', { seq: 1, key: '👍' })).statusCode, 201)
  t.equal((await send('/delete', { seq: 1 })).statusCode, 201)
  const refused = await send('', { text: 'five' })
  assertError(t, refused, 429, 'CHAT_RATE_LIMITED')
  t.ok(refused.headers['retry-after'])
  assertError(t, await send('/react', { seq: 1, key: '👎' }), 429, 'CHAT_RATE_LIMITED')
})
