// The room log takes exactly the contract's event types: the table's CHECK constraint lists them, each can be
// appended through chat_append_event, the write functions store listed types only, and an unknown type is
// refused by the database itself, on PGlite and on PostgreSQL alike.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { EVENT_TYPES } from '@chat/contracts'
import { tables } from '../src/index.ts'
import { KINDS, migrated, type Query } from './fixtures/databases.ts'

const CHECK_VIOLATION = '23514'

/** A user who owns and is a member of a new room. */
async function roomWithOwner(query: Query): Promise<{ roomId: string; userId: string }> {
  const name = `u${randomUUID().slice(0, 8)}`
  const [user] = await query('insert into users (username, display_name) values ($1, $1) returning id', [name])
  const userId = String(user!.id)
  const [room] = await query("insert into rooms (name, owner_id) values ('room', $1) returning id", [userId])
  const roomId = String(room!.id)
  await query("insert into memberships (room_id, user_id, role) values ($1, $2, 'owner')", [roomId, userId])
  return { roomId, userId }
}

const append = (query: Query, roomId: string, userId: string, type: string) =>
  query('select last_seq from chat_append_event($1, $2, $3, $4, null, null, 0)', [roomId, randomUUID(), type, userId])

t.test('the drizzle schema takes its enum from the list', async (t) => {
  t.same(tables.roomEvents.type.enumValues, [...EVENT_TYPES])
})

for (const kind of KINDS) {
  t.test(kind, async (t) => {
    const query = await migrated(t, kind)

    t.test('the CHECK constraint on room_events.type lists exactly the event types', async (t) => {
      const rows = await query(
        `select conname, pg_get_constraintdef(c.oid) as def from pg_constraint c
         join pg_class r on r.oid = c.conrelid
         where r.relname = 'room_events' and c.contype = 'c'`
      )
      const onType = rows.filter((r) => /\btype\b/.test(String(r.def)))
      t.equal(onType.length, 1, 'one check on type')
      const def = String(onType[0]?.def)
      const listed = [...def.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1]!.replaceAll("''", "'"))
      t.same(listed, [...EVENT_TYPES], def)
    })

    t.test('every listed type is appended, an unknown one is refused', async (t) => {
      const { roomId, userId } = await roomWithOwner(query)
      for (const [i, type] of EVENT_TYPES.entries()) {
        const [room] = await append(query, roomId, userId, type)
        t.equal(Number(room?.last_seq), i + 1, `${type} is stored as seq ${i + 1}`)
      }
      for (const type of ['no.such.type', 'MESSAGE', '']) {
        await t.rejects(append(query, roomId, userId, type), { code: CHECK_VIOLATION }, `${JSON.stringify(type)}`)
      }
      const stored = await query('select type from room_events where room_id = $1 order by seq', [roomId])
      t.same(
        stored.map((r) => r.type),
        [...EVENT_TYPES],
        'the refused appends left nothing behind'
      )
      const [room] = await query('select last_seq from rooms where id = $1', [roomId])
      t.equal(Number(room?.last_seq), EVENT_TYPES.length, 'nor moved the head of the log')
    })

    t.test(
      'the write functions (chat_post_message, chat_change_message, chat_write_events) store listed types',
      async (t) => {
        const { roomId, userId } = await roomWithOwner(query)
        const [one] = await query('select outcome, type from chat_post_message($1, $2, $3, $4, null, null)', [
          randomUUID(),
          roomId,
          userId,
          'hello'
        ])
        t.equal(one?.outcome, 'created')
        const [edited] = await query(
          "select outcome, type from chat_change_message($1, $2, $3, 'edit', 1, 'hi', null)",
          [randomUUID(), roomId, userId]
        )
        t.same(edited, { outcome: 'created', type: 'message.edited' })
        const write = (kind: string, more: object = {}) => ({ kind, id: randomUUID(), roomId, userId, seq: 1, ...more })
        const writes = [
          write('post', { text: 'a' }),
          write('react', { key: '👍' }),
          write('unreact', { key: '👍' }),
          write('delete')
        ]
        const many = await query('select outcome, type from chat_write_events($1::text::jsonb)', [
          JSON.stringify(writes)
        ])
        t.same(many, [
          { outcome: 'created', type: 'message' },
          { outcome: 'created', type: 'reaction.added' },
          { outcome: 'created', type: 'reaction.removed' },
          { outcome: 'created', type: 'message.deleted' }
        ])
        const stored = await query('select type from room_events where room_id = $1 order by seq', [roomId])
        for (const row of stored) t.ok(EVENT_TYPES.includes(row.type as never), `stored: ${String(row.type)}`)
      }
    )
  })
}
