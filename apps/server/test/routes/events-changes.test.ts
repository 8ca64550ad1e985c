// Message changes on the room stream, over a real listener and a real SSE client: a live stream gets each change
// as its own event, in seq order with everything else; a stream resumed from before a change gets the message
// in its current state (replays read it like history), then the change event itself.
import t from 'tap'
import type { RoomEvent } from '@chat/contracts'
import { listen, openStream, until } from '@chat/testkit'
import { as, build, signUp, type TestUser } from '../helper.ts'
import { createRoom, fullHistory, joinRoom, post, range } from '../rooms-helper.ts'

const app = await build(t)
const base = await listen(app)

const change = async (user: TestUser, path: string, payload: object): Promise<RoomEvent> => {
  const res = await as(app, user, { method: 'POST', url: `/rooms/message/${path}`, payload })
  t.equal(res.statusCode, 201, `${path}: ${res.body.slice(0, 200)}`)
  return res.json()
}

t.test('live: every change is an event of the stream, in order with posts and joins', async (t) => {
  const [owner, member, late] = await Promise.all([signUp(app), signUp(app), signUp(app)])
  const room = await createRoom(app, owner)
  await joinRoom(app, member, room.id)
  const live = await openStream(t, base, room.id, { token: owner.accessToken })
  await until(() => app.realtime.hub.countForUser(owner.id) === 1, 'the stream to register')

  const message = await post(app, member, room.id, 'typo hree')
  await change(member, 'edit', { roomId: room.id, seq: message.seq, text: 'typo here' })
  await change(owner, 'react', { roomId: room.id, seq: message.seq, key: '👍' })
  await joinRoom(app, late, room.id)
  await change(owner, 'react', { roomId: room.id, seq: message.seq, key: '👍', remove: true })
  const reply = await post(app, owner, room.id, 'fixed?')
  await change(owner, 'delete', { roomId: room.id, seq: message.seq })
  const last = reply.seq + 1
  await live.waitForSeq(last)

  t.same(live.seqs, range(message.seq, last), 'each seq once, in order')
  t.same(
    live.stored.map((e) => e.type),
    ['message', 'message.edited', 'reaction.added', 'member.joined', 'reaction.removed', 'message', 'message.deleted']
  )
  t.same(
    live.events.filter((e) => e.id !== undefined).map((e) => e.event),
    live.stored.map((e) => e.type),
    'the SSE event name is the type'
  )
  const [posted, edited] = live.stored
  t.match(posted, { text: 'typo hree', editedAt: null, deletedAt: null, reactions: [] }, 'pushed live as posted')
  t.match(edited, { type: 'message.edited', target: message.seq, text: 'typo here' })
  t.match(live.stored.at(-1), { type: 'message.deleted', target: message.seq, text: null })
  t.same(
    live.stored.map((e) => e.id),
    (await fullHistory(app, owner, room.id)).filter((e) => e.seq >= message.seq).map((e) => e.id),
    'the same events as history'
  )
})

t.test('resumed from before an edit: the message in its current state, then the edit', async (t) => {
  const [owner, member] = await Promise.all([signUp(app), signUp(app)])
  const room = await createRoom(app, owner)
  await joinRoom(app, member, room.id)
  const message = await post(app, member, room.id, 'first draft')
  const before = message.seq - 1
  const edit = await change(member, 'edit', { roomId: room.id, seq: message.seq, text: 'final text' })
  const reaction = await change(owner, 'react', { roomId: room.id, seq: message.seq, key: ':ok:' })

  const resumed = await openStream(t, base, room.id, { token: owner.accessToken, lastEventId: before })
  await resumed.waitForSeq(reaction.seq)
  const [replayed, replayedEdit, replayedReaction] = resumed.stored
  t.equal(replayed!.seq, message.seq)
  t.equal(replayed!.text, 'final text', 'the replayed message shows its latest text')
  t.equal(replayed!.editedAt, edit.createdAt)
  t.same(replayed!.reactions, [{ key: ':ok:', count: 1, userIds: [owner.id] }], 'and its reactions')
  t.same(replayedEdit, edit, 'then the edit event, as it was answered')
  t.same(replayedReaction, reaction)

  await change(member, 'delete', { roomId: room.id, seq: message.seq })
  await resumed.waitForSeq(reaction.seq + 1)
  t.match(resumed.stored.at(-1), { type: 'message.deleted', target: message.seq }, 'then live')

  const later = await openStream(t, base, room.id, { token: owner.accessToken, lastEventId: before })
  await later.waitForSeq(reaction.seq + 1)
  t.match(later.stored[0], { seq: message.seq, text: null, reactions: [] }, 'resumed after the deletion: no text')
  t.ok(later.stored[0]!.deletedAt)
  t.same(
    later.stored.map((e) => e.text),
    [null, null, null, null],
    'the edit event lost its text with the message'
  )
})
