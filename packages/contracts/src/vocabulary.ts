// The closed lists of names the house shares: room event types, the reasons a stream is closed, and the error
// codes the API throws. Each lives here once; the schemas are built from them, and the server, the realtime
// package and the database's CHECK constraint are tested against them, so a name added here is added everywhere.

/** Types of stored room events, in the order they were introduced; a new type is one more entry. */
export const EVENT_TYPES = [
  'message',
  'member.joined',
  'member.left',
  'message.edited',
  'message.deleted',
  'reaction.added',
  'reaction.removed'
] as const

/** The events that change a message already in the log: each names it by its seq (`target`). */
export const MESSAGE_CHANGE_TYPES = ['message.edited', 'message.deleted', 'reaction.added', 'reaction.removed'] as const

/** Reasons ended on every node at once, through the bus's control channel. */
export const END_REASONS = ['logout', 'session_ended', 'user_deleted'] as const

/**
 * Reasons a `close` frame carries just before the server ends a stream on purpose. `catch_up_failed` is this
 * server's addition to the contract's list: the room could not read what it missed from the database in time.
 */
export const CLOSE_REASONS = [
  'token_expired',
  ...END_REASONS,
  'left_room',
  'room_deleted',
  'slow_consumer',
  'shutdown',
  'catch_up_failed'
] as const

/** Commands a WebSocket client sends; each is answered by one reply. */
export const WS_COMMAND_TYPES = ['message', 'typing', 'read', 'ping'] as const

/** Why a user stream could not resume its cursor and started afresh (`event: reset`). */
export const RESET_REASONS = ['cursor_expired'] as const

/** Every code the API throws on purpose, with the HTTP status it is sent with. */
export const ERROR_CODES = {
  CHAT_UNAUTHORIZED: 401,
  CHAT_FORBIDDEN: 403,
  CHAT_NOT_FOUND: 404,
  CHAT_USER_NOT_FOUND: 404,
  CHAT_ROOM_NOT_FOUND: 404,
  CHAT_USERNAME_TAKEN: 409,
  CHAT_INVALID_CREDENTIALS: 401,
  CHAT_INVALID_REFRESH_TOKEN: 401,
  CHAT_WRONG_PASSWORD: 403,
  CHAT_CURRENT_PASSWORD_REQUIRED: 400,
  CHAT_INVALID_CURSOR: 400,
  CHAT_BAD_COMMAND: 400,
  CHAT_UPGRADE_REQUIRED: 426,
  CHAT_RATE_LIMITED: 429,
  CHAT_SERVER_BUSY: 503,
  CHAT_UNAVAILABLE: 503,
  CHAT_NOT_MEMBER: 403,
  CHAT_NOT_ROOM_OWNER: 403,
  CHAT_OWNER_CANNOT_LEAVE: 409,
  CHAT_MESSAGE_NOT_FOUND: 404,
  CHAT_NOT_AUTHOR: 403,
  CHAT_MESSAGE_DELETED: 409,
  CHAT_SEQ_OUT_OF_RANGE: 400,
  CHAT_INVALID_LAST_EVENT_ID: 400,
  CHAT_INVALID_QUERY: 400,
  CHAT_BAD_URL: 400,
  CHAT_MALFORMED_REQUEST: 400,
  CHAT_REQUEST_TIMEOUT: 408,
  CHAT_URI_TOO_LONG: 414,
  CHAT_HEADERS_TOO_LARGE: 431,
  // Sent by the one error handler, never thrown: a 4xx that came without a code, and every unexpected 5xx.
  CHAT_BAD_REQUEST: 400,
  CHAT_INTERNAL: 500
} as const satisfies Record<`CHAT_${string}`, number>
export type ErrorCode = keyof typeof ERROR_CODES
