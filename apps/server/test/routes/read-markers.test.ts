// Read markers and unread counts (POST /rooms/read, the `read` WebSocket command, Room.lastReadSeq and
// Room.unreadCount): counts right at every step for two users posting and reading; a deletion lowers them; the
// marker never moves back (a lower seq, or several devices racing); past lastSeq is 400; a non-member is refused
// and reads null counts; the caller's other devices hear `read`, other members do not.
import t from 'tap'
import { listen, openUserStream, WsClient, type SseClient } from '@chat/testkit'
import type { Room } from '@chat/contracts'
import { as, assertError, build, signUp, type TestUser } from '../helper.ts'
import { MISSING_ID, createRoom, getRoom, joinRoom, post, range } from '../rooms-helper.ts'

const app = await build(t)
const base = await listen(app)

const read = (user: TestUser, roomId: string, seq: number) =>
  as(app, user, { method: 'POST', url: '/rooms/read', payload: { roomId, seq } })

async function counts(user: TestUser, roomId: string): Promise<[number | null, number | null]> {
  const room = await getRoom(app, user, roomId)
  const mine: { items: Room[] } = (await as(app, user, { url: '/rooms?mine=true' })).json()
  const listed = mine.items.find((r) => r.id === roomId)
  t.same([listed?.lastReadSeq, listed?.unreadCount], [room.lastReadSeq, room.unreadCount], 'the list agrees')
  return [room.lastReadSeq, room.unreadCount]
}

t.test('two users post and read: the counts at every step', async (t) => {
  const [alice, bob] = await Promise.all([signUp(app), signUp(app)])
  const created = await createRoom(app, alice)
  t.same([created.lastReadSeq, created.unreadCount], [0, 0], 'a new room: nothing to read')
  await post(app, alice, created.id, 'before bob')
  const joined = await joinRoom(app, bob, created.id)
  t.same([joined.lastReadSeq, joined.unreadCount], [2, 0], 'a new member has read up to their member.joined')

  for (const i of range(1, 3)) await post(app, alice, created.id, `a${i}`)
  t.same(await counts(bob, created.id), [2, 3], "bob: alice's three posts are unread")
  t.same(await counts(alice, created.id), [5, 0], "alice: her own posts moved her marker; bob's join is no message")

  const bobsPost = await post(app, bob, created.id, 'b1')
  t.same(await counts(bob, created.id), [bobsPost.seq, 0], 'posting moved bob to his post: all read')
  t.same(await counts(alice, created.id), [5, 1], "alice: bob's post is unread")

  t.equal((await read(alice, created.id, bobsPost.seq)).statusCode, 204)
  t.same(await counts(alice, created.id), [bobsPost.seq, 0], 'alice read it')

  const more = [await post(app, bob, created.id, 'b2'), await post(app, bob, created.id, 'b3')]
  t.same(await counts(alice, created.id), [bobsPost.seq, 2], 'bob posts again: two unread')
  const deletion = await as(app, bob, {
    method: 'POST',
    url: '/rooms/message/delete',
    payload: { roomId: created.id, seq: more[0]!.seq }
  })
  t.equal(deletion.statusCode, 201)
  t.same(await counts(alice, created.id), [bobsPost.seq, 1], 'a deleted message is no longer unread')
  const edit = await as(app, bob, {
    method: 'POST',
    url: '/rooms/message/edit',
    payload: { roomId: created.id, seq: more[1]!.seq, text: 'b3 edited' }
  })
  t.equal(edit.statusCode, 201)
  t.same(await counts(alice, created.id), [bobsPost.seq, 1], 'edits and other changes are not messages')
  t.equal((await read(alice, created.id, edit.json().seq)).statusCode, 204)
  t.same(await counts(alice, created.id), [edit.json().seq, 0], 'read to the head')
})

t.test('the marker never moves back: a lower seq, or devices racing', async (t) => {
  const [owner, reader] = await Promise.all([signUp(app), signUp(app)])
  const room = await createRoom(app, owner)
  await joinRoom(app, reader, room.id)
  for (const i of range(1, 30)) await post(app, owner, room.id, `m${i}`)
  t.equal((await read(reader, room.id, 20)).statusCode, 204)
  t.equal((await read(reader, room.id, 5)).statusCode, 204, 'a lower seq is accepted…')
  t.same(await counts(reader, room.id), [20, 11], '…and changes nothing')
  const seqs = range(1, 31).sort(() => Math.random() - 0.5)
  const answers = await Promise.all(seqs.map((seq) => read(reader, room.id, seq)))
  t.same(new Set(answers.map((r) => r.statusCode)), new Set([204]), 'every racing call is a 204')
  t.same(await counts(reader, room.id), [31, 0], 'the highest seq wins, whatever the order they landed in')
  t.equal((await read(reader, room.id, 0)).statusCode, 204, 'zero changes nothing either')
  t.same(await counts(reader, room.id), [31, 0])
})

t.test('refusals: past lastSeq, a non-member, an unknown room, a malformed body', async (t) => {
  const [owner, stranger] = await Promise.all([signUp(app), signUp(app)])
  const room = await createRoom(app, owner)
  await post(app, owner, room.id, 'one')
  assertError(t, await read(owner, room.id, 2), 400, 'CHAT_SEQ_OUT_OF_RANGE')
  assertError(t, await read(stranger, room.id, 1), 403, 'CHAT_NOT_MEMBER')
  assertError(t, await read(owner, MISSING_ID, 1), 404, 'CHAT_ROOM_NOT_FOUND')
  for (const payload of [{ roomId: room.id }, { roomId: room.id, seq: -1 }, { roomId: room.id, seq: 'x' }]) {
    assertError(t, await as(app, owner, { method: 'POST', url: '/rooms/read', payload }), 400, 'FST_ERR_VALIDATION')
  }
  const seen = await getRoom(app, stranger, room.id)
  t.same([seen.lastReadSeq, seen.unreadCount], [null, null], 'a non-member reads null counts')
  const all: { items: Room[] } = (await as(app, stranger, { url: '/rooms?limit=100' })).json()
  const listed = all.items.find((r) => r.id === room.id)!
  t.same([listed.lastReadSeq, listed.unreadCount], [null, null], 'in the list of all rooms too')
  const members = (await as(app, owner, { url: `/rooms/${room.id}/members` })).json()
  t.match(members.items, [{ user: { id: owner.id }, lastReadSeq: 1, online: false }], 'members carry their markers')
})

t.test("read goes to the caller's other devices (stream and socket), never to other members", async (t) => {
  const [owner, member] = await Promise.all([signUp(app), signUp(app)])
  const room = await createRoom(app, owner)
  await joinRoom(app, member, room.id)
  for (const i of range(1, 3)) await post(app, owner, room.id, `m${i}`)
  const ready = (client: SseClient) => client.waitFor(() => client.events.some((e) => e.event === 'ready'), 'ready')
  const [memberStream, ownerStream] = await Promise.all([
    openUserStream(t, base, { token: member.accessToken }),
    openUserStream(t, base, { token: owner.accessToken })
  ])
  const socket = await WsClient.connect(base, { token: member.accessToken })
  t.teardown(() => socket.close())
  await Promise.all([ready(memberStream), ready(ownerStream)])
  await socket.waitFor(() => socket.messages.some((m) => m.type === 'ready'), 'ready')

  t.equal((await read(member, room.id, 3)).statusCode, 204)
  const event = await memberStream.waitForEvent('read')
  t.same(JSON.parse(event.data), { roomId: room.id, seq: 3 }, 'the user stream: event read')
  t.equal(event.id, undefined, 'unstored: no id')
  await socket.waitFor(() => socket.messages.some((m) => m.type === 'read'), 'read on the socket')
  t.same(
    socket.messages.find((m) => m.type === 'read'),
    { type: 'read', roomId: room.id, seq: 3 }
  )

  const reply = await socket.command({ type: 'read', roomId: room.id, seq: 4 })
  t.match(reply, { ok: true, result: null }, 'the socket command moves it too')
  await memberStream.waitFor(() => memberStream.events.filter((e) => e.event === 'read').length === 2, 'a second')
  t.same(JSON.parse(memberStream.events.filter((e) => e.event === 'read')[1]!.data), { roomId: room.id, seq: 4 })
  t.equal((await read(member, room.id, 2)).statusCode, 204, 'a step back is a 204…')
  // A marker the owner moves comes after: once the owner's stream has it, the member's would have had theirs.
  const reply2 = await post(app, member, room.id, 'from the member')
  t.equal((await read(owner, room.id, reply2.seq)).statusCode, 204)
  await ownerStream.waitForEvent('read')
  t.equal(memberStream.events.filter((e) => e.event === 'read').length, 2, '…and tells no one')
  t.same(
    ownerStream.events.filter((e) => e.event === 'read').map((e) => JSON.parse(e.data)),
    [{ roomId: room.id, seq: reply2.seq }],
    "the owner's stream had only the owner's own marker"
  )
  t.same(await counts(member, room.id), [reply2.seq, 0], "the member's post moved their marker")
})
