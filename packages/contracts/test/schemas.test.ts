// The schemas are compiled by the server's validator (Ajv) and read by the OpenAPI generator, so each must
// compile with Ajv and accept or refuse what the contract says, built from the shared lists.
import t from 'tap'
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import {
  CLOSE_REASONS,
  CloseData,
  CloseReason,
  END_REASONS,
  EVENT_TYPES,
  EndReason,
  EventType,
  RoomDeletedData,
  RoomEvent
} from '../src/index.ts'

function compiler() {
  const ajv = new Ajv({ strict: false })
  addFormats.default(ajv)
  return ajv
}

const ROOM_ID = '0b6f3c1e-4c8e-4d47-9d4f-2a8e6f1b7c3d'

t.test('event types', async (t) => {
  const valid = compiler().compile(EventType)
  for (const type of EVENT_TYPES) t.ok(valid(type), `${type} is accepted`)
  for (const type of ['no.such.type', 'Message', '', 1, null]) t.notOk(valid(type), `${String(type)} is refused`)
})

t.test('a stored room event', async (t) => {
  const valid = compiler().compile(RoomEvent)
  const event = {
    id: ROOM_ID,
    roomId: ROOM_ID,
    seq: 1,
    type: 'message',
    user: { id: ROOM_ID, username: 'alice', displayName: 'Alice', createdAt: '2026-01-01T00:00:00.000Z' },
    text: 'hi',
    clientMsgId: null,
    replyTo: null,
    target: null,
    key: null,
    editedAt: null,
    deletedAt: null,
    reactions: [{ key: '👍', count: 1, userIds: [ROOM_ID] }],
    createdAt: '2026-01-01T00:00:00.000Z'
  }
  t.ok(valid(event), 'a message')
  t.ok(valid({ ...event, type: 'reaction.added', target: 1, key: '👍', reactions: null }), 'a change of it')
  const { reactions: _dropped, ...withoutReactions } = event
  t.notOk(valid(withoutReactions), 'the current-state fields are always there')
  t.notOk(valid({ ...event, type: 'typing' }), 'an unknown type is refused')
  t.notOk(valid({ ...event, seq: 0 }), 'seq starts at 1')
})

t.test('close reasons', async (t) => {
  const valid = compiler().compile(CloseReason)
  for (const reason of CLOSE_REASONS) t.ok(valid(reason), `${reason} is accepted`)
  t.notOk(valid('client_closed'), 'the client going away is not a reason the server sends')
  const end = compiler().compile(EndReason)
  for (const reason of CLOSE_REASONS) t.equal(end(reason), END_REASONS.includes(reason as never), `${reason}`)
})

t.test('control frames', async (t) => {
  const deleted = compiler().compile(RoomDeletedData)
  t.ok(deleted({ roomId: ROOM_ID }), 'room.deleted carries the room id')
  t.notOk(deleted({ roomId: 'nope' }), 'a uuid')
  t.notOk(deleted({}), 'required')
  t.notOk(deleted({ roomId: ROOM_ID, extra: 1 }), 'nothing else')

  const close = compiler().compile(CloseData)
  for (const reason of CLOSE_REASONS) t.ok(close({ reason }), `close {reason: ${reason}}`)
  t.notOk(close({ reason: 'bored' }), 'an unknown reason is refused')
  t.notOk(close({}), 'the reason is required')
})
