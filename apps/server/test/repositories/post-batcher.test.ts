// The post batcher on a fresh database: posts pushed in one turn, to several rooms, all settle with contiguous
// seqs per room; a repeated clientMsgId answers with the first event and stores nothing; an unknown room and a
// non-member are refused with their codes, alone or inside a batch; a batch the database refuses as a whole is
// stored post by post; close() stores what was pushed before it, and a post after it is rejected. Changes of
// messages (edit, delete, react) share the batches of posts: the posts take their seqs first, then the changes in
// push order per room, each with its own outcome.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { eq, openDb, sql, tables, type Database } from '@chat/db'
import { freshDatabase } from '../helper.ts'
import { MISSING_ID, range } from '../rooms-helper.ts'
import { PostBatcher } from '../../src/repositories/post-batcher.ts'
import { eventsAfter } from '../../src/repositories/room-log.ts'
import { insertMember, insertRoom } from '../../src/repositories/rooms.ts'
import { insertUser } from '../../src/repositories/users.ts'

// One database for the file (each test makes its own rooms): a fresh PGlite per test costs more than the test.
const fresh = await freshDatabase()
const opened = await openDb(fresh.options)
const db: Database = opened.db
const batcher = new PostBatcher(db)
t.teardown(async () => {
  await batcher.close()
  await opened.close()
  await fresh.drop()
})
const user = (name: string) => insertUser(db, { username: name, displayName: name, passwordHash: 'x' })
const [owner, member, stranger] = [await user('owner'), await user('member'), await user('stranger')]
const room = () =>
  db.transaction(async (tx) => {
    const created = await insertRoom(tx, owner.id, 'room', null)
    await insertMember(tx, created.id, member.id)
    return created
  })

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'resolved',
    (error: { code?: string }) => error.code
  )

t.test('many posts of one turn to several rooms: every post settles, seqs contiguous per room', async (t) => {
  const rooms = [await room(), await room(), await room()]
  const pushed = range(1, 30).map((i) => {
    const roomId = rooms[i % 3]!.id
    const userId = i % 2 ? owner.id : member.id
    return { roomId, text: `post ${i}`, promise: batcher.post({ roomId, userId, text: `post ${i}` }) }
  })
  const settled = await Promise.all(pushed.map((p) => p.promise))
  t.ok(
    settled.every((s) => s.created),
    'every post is created'
  )
  settled.forEach((s, i) => {
    t.equal(s.event.roomId, pushed[i]!.roomId, `post ${i + 1} in its room`)
    t.equal(s.event.text, pushed[i]!.text)
  })
  for (const r of rooms) {
    const mine = settled.filter((s) => s.event.roomId === r.id).map((s) => s.event.seq)
    t.same(
      [...mine].sort((a, b) => a - b),
      range(1, 10),
      'seqs 1..10 in the room, no gap, no duplicate'
    )
    const stored = await eventsAfter(db, r.id, 0, 100)
    t.same(
      stored,
      settled
        .filter((s) => s.event.roomId === r.id)
        .map((s) => s.event)
        .sort((a, b) => a.seq - b.seq),
      'what each post returned is what is stored'
    )
  }
})

t.test('a repeated clientMsgId returns the first event with created: false and stores nothing new', async (t) => {
  const r = await room()
  const first = await batcher.post({ roomId: r.id, userId: member.id, text: 'once', clientMsgId: 'c-1' })
  t.equal(first.created, true)
  const again = await batcher.post({ roomId: r.id, userId: member.id, text: 'twice', clientMsgId: 'c-1' })
  t.equal(again.created, false)
  t.same(again.event, first.event, 'the first event, first text included')
  const sameTurn = await Promise.all(
    range(1, 3).map(() => batcher.post({ roomId: r.id, userId: member.id, text: 'thrice', clientMsgId: 'c-1' }))
  )
  t.same(
    sameTurn.map((s) => [s.created, s.event.id]),
    range(1, 3).map(() => [false, first.event.id]),
    'inside a batch too'
  )
  t.same(
    (await eventsAfter(db, r.id, 0, 100)).map((e) => e.text),
    ['once'],
    'one event stored'
  )
})

t.test('unknown room and non-member are refused with their codes, alone and in a batch', async (t) => {
  const r = await room()
  t.equal(await codeOf(batcher.post({ roomId: MISSING_ID, userId: member.id, text: 'x' })), 'CHAT_ROOM_NOT_FOUND')
  t.equal(await codeOf(batcher.post({ roomId: r.id, userId: stranger.id, text: 'x' })), 'CHAT_NOT_MEMBER')
  const batch = await Promise.all([
    codeOf(batcher.post({ roomId: r.id, userId: member.id, text: 'ok 1' })),
    codeOf(batcher.post({ roomId: MISSING_ID, userId: member.id, text: 'x' })),
    codeOf(batcher.post({ roomId: r.id, userId: stranger.id, text: 'x' })),
    codeOf(batcher.post({ roomId: r.id, userId: member.id, text: 'ok 2' }))
  ])
  t.same(batch, ['resolved', 'CHAT_ROOM_NOT_FOUND', 'CHAT_NOT_MEMBER', 'resolved'])
  const stored = await eventsAfter(db, r.id, 0, 100)
  t.same(
    stored.map((e) => [e.seq, e.text]),
    [
      [1, 'ok 1'],
      [2, 'ok 2']
    ],
    'refused posts used no seq'
  )
})

t.test('a batch the database refuses is stored post by post', async (t) => {
  const r = await room()
  // PostgreSQL's JSON refuses a lone surrogate; a text parameter takes it (as U+FFFD).
  const texts = ['fine 1', 'fine 2', 'a\ud800b', 'fine 3']
  const settled = await Promise.all(texts.map((text) => batcher.post({ roomId: r.id, userId: member.id, text })))
  t.ok(
    settled.every((s) => s.created),
    'every post of the batch is stored'
  )
  const stored = await eventsAfter(db, r.id, 0, 100)
  t.same(
    stored.map((e) => e.seq),
    [1, 2, 3, 4],
    'no seq lost to the refused batch'
  )
  t.same(stored.map((e) => e.text).sort(), ['a\ufffdb', 'fine 1', 'fine 2', 'fine 3'])
})

t.test('close() stores what was pushed before it; a post after it rejects', async (t) => {
  const r = await room()
  const own = new PostBatcher(db)
  const before = range(1, 3).map((i) => own.post({ roomId: r.id, userId: member.id, text: `before ${i}` }))
  await own.close()
  const settled = await Promise.all(before)
  t.same(settled.map((s) => s.event.seq).sort(), [1, 2, 3])
  await t.rejects(own.post({ roomId: r.id, userId: member.id, text: 'after' }), /closed/)
  t.same((await eventsAfter(db, r.id, 0, 100)).map((e) => e.text).sort(), ['before 1', 'before 2', 'before 3'])
})

t.test('changes share the batch with posts: posts first, then changes in push order per room', async (t) => {
  const r = await room()
  const { event: message } = await batcher.post({ roomId: r.id, userId: member.id, text: 'draft' })
  const seq = message.seq
  const at = { roomId: r.id, seq }
  const results = await Promise.allSettled([
    batcher.change({ ...at, userId: member.id, kind: 'edit', text: 'final' }),
    batcher.change({ ...at, userId: owner.id, kind: 'edit', text: 'not mine' }),
    batcher.change({ ...at, userId: owner.id, kind: 'react', key: '👍' }),
    batcher.change({ ...at, userId: owner.id, kind: 'react', key: '👍' }),
    batcher.change({ ...at, userId: member.id, kind: 'unreact', key: '👎' }),
    batcher.post({ roomId: r.id, userId: owner.id, text: 'reply', replyTo: seq }),
    batcher.change({ ...at, userId: stranger.id, kind: 'delete' }),
    batcher.change({ ...at, userId: owner.id, kind: 'delete' }),
    batcher.change({ ...at, userId: member.id, kind: 'delete' }),
    batcher.change({ ...at, userId: member.id, kind: 'react', key: '👍' }),
    batcher.change({ roomId: r.id, seq: 10_000, userId: member.id, kind: 'edit', text: 'no such seq' })
  ])
  const summary = results.map((r) =>
    r.status === 'rejected'
      ? (r.reason as { code: string }).code
      : `${r.value.created ? 'created' : 'kept'} ${r.value.event?.type ?? 'nothing'}`
  )
  t.same(summary, [
    'created message.edited',
    'CHAT_NOT_AUTHOR',
    'created reaction.added',
    'kept nothing',
    'kept nothing',
    'created message',
    'CHAT_NOT_MEMBER',
    'created message.deleted',
    'kept message.deleted',
    'CHAT_MESSAGE_DELETED',
    'CHAT_MESSAGE_NOT_FOUND'
  ])
  const stored = await eventsAfter(db, r.id, seq - 1, 100)
  t.same(
    stored.map((e) => [e.seq, e.type]),
    [
      [seq, 'message'],
      [seq + 1, 'message'],
      [seq + 2, 'message.edited'],
      [seq + 3, 'reaction.added'],
      [seq + 4, 'message.deleted']
    ],
    'the post first, then the changes in the order pushed, refusals and no-ops leaving no seq behind'
  )
  t.equal(stored[1]!.replyTo, seq)
  t.match(stored[0], { text: null, reactions: [], editedAt: String })
})

// The batch statement itself, called the way the batcher calls it, so a batch answered post by post (after the
// database refused the whole) cannot pass for it.
const writeEvents = (writes: object[]) =>
  db
    .select({ idx: sql<number>`idx`, outcome: sql<string>`outcome`, id: sql<string>`id`, seq: sql<number>`seq` })
    .from(sql`chat_write_events(${JSON.stringify(writes)}::jsonb)`)
    .then((rows) =>
      [...rows].sort((a, b) => a.idx - b.idx).map((r) => ({ ...r, seq: r.seq === null ? null : Number(r.seq) }))
    )
const postWrite = (roomId: string, userId: string, text: string, more: object = {}) => ({
  kind: 'post',
  id: randomUUID(),
  roomId,
  userId,
  text,
  clientMsgId: null,
  replyTo: null,
  ...more
})

t.test(
  'one batch statement: refusals, replies, a clientMsgId repeated after a refused first, read markers',
  async (t) => {
    const r = await room()
    const { event: first } = await batcher.post({ roomId: r.id, userId: member.id, text: 'first' })
    const writes = [
      postWrite(r.id, owner.id, 'reply', { replyTo: first.seq }),
      postWrite(r.id, member.id, 'bad reply', { replyTo: 999, clientMsgId: 'k' }),
      postWrite(r.id, member.id, 'kept', { clientMsgId: 'k' }),
      postWrite(r.id, member.id, 'again', { clientMsgId: 'k' }),
      postWrite(MISSING_ID, member.id, 'nowhere'),
      postWrite(r.id, stranger.id, 'outsider'),
      postWrite(r.id, owner.id, 'last')
    ]
    const rows = await writeEvents(writes)
    t.same(
      rows.map((row) => [row.idx, row.outcome, row.seq]),
      [
        [0, 'created', first.seq + 1],
        [1, 'message_not_found', null],
        [2, 'created', first.seq + 2],
        [3, 'existing', first.seq + 2],
        [4, 'room_not_found', null],
        [5, 'not_member', null],
        [6, 'created', first.seq + 3]
      ]
    )
    t.equal(rows[3]!.id, rows[2]!.id, 'the repeat answers with the event of the post it repeats')
    const stored = await eventsAfter(db, r.id, first.seq, 100)
    t.same(
      stored.map((e) => [e.seq, e.text, e.replyTo, e.user.id]),
      [
        [first.seq + 1, 'reply', first.seq, owner.id],
        [first.seq + 2, 'kept', null, member.id],
        [first.seq + 3, 'last', null, owner.id]
      ],
      'what was created is stored, nothing else'
    )
    const markers = await db
      .select({ userId: tables.memberships.userId, lastReadSeq: tables.memberships.lastReadSeq })
      .from(tables.memberships)
      .where(eq(tables.memberships.roomId, r.id))
    t.same(
      Object.fromEntries(markers.map((m) => [m.userId, Number(m.lastReadSeq)])),
      { [owner.id]: first.seq + 3, [member.id]: first.seq + 2 },
      "each poster's read marker at their own last post"
    )
    const [room_] = await db
      .select({ lastSeq: tables.rooms.lastSeq })
      .from(tables.rooms)
      .where(eq(tables.rooms.id, r.id))
    t.equal(Number(room_!.lastSeq), first.seq + 3, 'last_seq at the highest')
  }
)
