// The shared lists are the one place each name lives, so they must hold no duplicate, keep the codes in the
// CHAT_ namespace and keep the cluster-wide reasons a part of the close reasons.
import t from 'tap'
import { CLOSE_REASONS, END_REASONS, ERROR_CODES, EVENT_TYPES } from '../src/index.ts'

const unique = (list: readonly string[]) => new Set(list).size === list.length

t.test('event types', async (t) => {
  for (const type of ['message', 'member.joined', 'member.left'])
    t.ok(EVENT_TYPES.includes(type as never), `${type}, which the contract names, is listed`)
  for (const type of EVENT_TYPES) t.match(type, /^[a-z]+(\.[a-z]+)?$/, `${type} is a lowercase dotted name`)
  t.ok(unique(EVENT_TYPES), 'no type twice')
})

t.test('close reasons', async (t) => {
  t.same(
    [...CLOSE_REASONS].sort(),
    [
      'catch_up_failed',
      'left_room',
      'logout',
      'room_deleted',
      'session_ended',
      'shutdown',
      'slow_consumer',
      'token_expired',
      'user_deleted'
    ],
    'the contract’s reasons and catch_up_failed'
  )
  t.ok(unique(CLOSE_REASONS), 'no reason twice')
  t.same(END_REASONS, ['logout', 'session_ended', 'user_deleted'], 'the reasons ended cluster-wide')
  for (const reason of END_REASONS) t.ok(CLOSE_REASONS.includes(reason), `${reason} is a close reason`)
})

t.test('error codes', async (t) => {
  const codes = Object.keys(ERROR_CODES)
  t.ok(codes.length > 0)
  t.ok(unique(codes), 'every code is unique')
  for (const [code, status] of Object.entries(ERROR_CODES)) {
    t.match(code, /^CHAT_[A-Z0-9_]+$/, `${code} is prefixed CHAT_`)
    t.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code} has an error status (${status})`)
  }
})
