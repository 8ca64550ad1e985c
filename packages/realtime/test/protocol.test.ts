// The bus envelopes are checked against the contract's lists: every event type the contract names reaches a
// room's streams, every cluster-wide reason ends streams, and a name outside the lists is refused.
import t from 'tap'
import { END_REASONS, EVENT_TYPES } from '@chat/contracts'
import { parseControlMessage, parseRoomMessage } from '../src/protocol.ts'

const event = (type: string) =>
  JSON.stringify({ k: 'event', t: 1, e: { roomId: 'r1', seq: 1, type, user: { id: 'u1' } } })

t.test('room messages carry the listed event types only', async (t) => {
  for (const type of EVENT_TYPES) t.equal(parseRoomMessage(event(type), 'r1').k, 'event', `${type} is delivered`)
  t.throws(() => parseRoomMessage(event('no.such.type'), 'r1'), 'an unlisted type is refused')
})

t.test('control messages carry the listed end reasons only', async (t) => {
  for (const reason of END_REASONS)
    t.equal(parseControlMessage(JSON.stringify({ k: 'end', reason, userId: 'u1' })).reason, reason, reason)
  t.throws(
    () => parseControlMessage(JSON.stringify({ k: 'end', reason: 'shutdown', userId: 'u1' })),
    'not cluster-wide'
  )
})
