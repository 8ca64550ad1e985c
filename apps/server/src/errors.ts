// Every error the API throws on purpose, with its stable code. Handlers throw these; the one error handler
// in app.ts turns them into the contract's error shape.
import createError from '@fastify/error'
import type { FastifyError } from 'fastify'
import { STATUS_CODES } from 'node:http'
import { ERROR_CODES, type ErrorBody, type ErrorCode } from '@chat/contracts'

// The status comes with the code from the contract's list, so a code is never sent with two statuses.
const chatError = <C extends ErrorCode>(code: C, message: string) => createError(code, message, ERROR_CODES[code])

export const Unauthorized = chatError('CHAT_UNAUTHORIZED', 'Missing, invalid or expired access token')
export const Forbidden = chatError('CHAT_FORBIDDEN', '%s')
export const RouteNotFound = chatError('CHAT_NOT_FOUND', 'Route %s %s not found')
export const UserNotFound = chatError('CHAT_USER_NOT_FOUND', 'User not found')
export const RoomNotFound = chatError('CHAT_ROOM_NOT_FOUND', 'Room not found')
export const UsernameTaken = chatError('CHAT_USERNAME_TAKEN', 'That username is taken')
export const InvalidCredentials = chatError('CHAT_INVALID_CREDENTIALS', 'Invalid username or password')
export const InvalidRefreshToken = chatError('CHAT_INVALID_REFRESH_TOKEN', 'Invalid or expired refresh token')
export const WrongPassword = chatError('CHAT_WRONG_PASSWORD', 'The current password is wrong')
export const CurrentPasswordRequired = chatError(
  'CHAT_CURRENT_PASSWORD_REQUIRED',
  'Changing the password needs currentPassword'
)
export const InvalidCursor = chatError('CHAT_INVALID_CURSOR', 'The cursor is not one this API gave out')
export const RateLimited = chatError('CHAT_RATE_LIMITED', 'Too many requests; retry in %s')
export const ServerBusy = chatError('CHAT_SERVER_BUSY', 'The server is busy; retry shortly')
export const Unavailable = chatError('CHAT_UNAVAILABLE', 'A backing service is unavailable; retry shortly')
export const NotMember = chatError('CHAT_NOT_MEMBER', 'Only members of the room may do this')
export const NotRoomOwner = chatError('CHAT_NOT_ROOM_OWNER', 'Only the owner of the room may do this')
export const OwnerCannotLeave = chatError(
  'CHAT_OWNER_CANNOT_LEAVE',
  'The owner cannot leave the room; delete it instead'
)
export const MessageNotFound = chatError('CHAT_MESSAGE_NOT_FOUND', 'No message with that seq in this room')
export const NotAuthor = chatError('CHAT_NOT_AUTHOR', 'Only the author of the message may edit it')
export const MessageDeleted = chatError('CHAT_MESSAGE_DELETED', 'The message is deleted')
export const SeqOutOfRange = chatError('CHAT_SEQ_OUT_OF_RANGE', "The seq is past the room's lastSeq")
// The contract's code for every 429; the message says which limit.
export const TooManyStreams = chatError('CHAT_RATE_LIMITED', 'Too many open streams for this user (limit %s)')
export const InvalidLastEventId = chatError('CHAT_INVALID_LAST_EVENT_ID', 'Last-Event-ID must be an integer ≥ 0')
export const InvalidQuery = chatError('CHAT_INVALID_QUERY', '%s')
// What the one error handler sends for an error that came without a code of its own.
export const BadRequest = chatError('CHAT_BAD_REQUEST', '%s')
export const Internal = chatError('CHAT_INTERNAL', 'Internal Server Error')
// What the router and Node's HTTP parser refuse, answered in the same shape as everything else.
export const BadUrl = chatError('CHAT_BAD_URL', 'The URL is not valid (bad percent-encoding)')
export const UriTooLong = chatError('CHAT_URI_TOO_LONG', 'The URL is longer than %s characters')
export const HeadersTooLarge = chatError(
  'CHAT_HEADERS_TOO_LARGE',
  'The request line and headers are larger than the server accepts'
)
export const RequestTimeout = chatError('CHAT_REQUEST_TIMEOUT', 'The request took too long to arrive')
export const MalformedRequest = chatError('CHAT_MALFORMED_REQUEST', 'The request is not valid HTTP')
export const BadCommand = chatError('CHAT_BAD_COMMAND', '%s')
export const UpgradeRequired = chatError(
  'CHAT_UPGRADE_REQUIRED',
  'This route speaks WebSocket: send an Upgrade request'
)

// An error message never carries more than this many characters of what the client sent.
export const MAX_ECHO = 120

/** `text`, cut to `max` characters with an ellipsis: what an error message may quote of a request. */
export function bounded(text: string, max = MAX_ECHO): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`
}

/** The contract's error body: `error` is the reason phrase of the status. */
export function errorBody(statusCode: number, code: string, message: string): ErrorBody {
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message }
}

/** An error and the errors it wraps (drizzle puts the driver's error in `cause`), outermost first. */
export function errorChain(error: unknown): Array<{ code?: unknown; message?: unknown }> {
  const chain: Array<{ code?: unknown; message?: unknown; cause?: unknown }> = []
  for (let e = error; typeof e === 'object' && e !== null && chain.length < 4; e = (e as { cause?: unknown }).cause) {
    chain.push(e)
  }
  return chain
}

/** The database answered the statement with an error (a SQLSTATE), so the statement's transaction rolled back. */
export function refusedByDatabase(error: unknown): boolean {
  return errorChain(error).some(
    (e) =>
      typeof e.code === 'string' &&
      /^[0-9A-Z]{5}$/.test(e.code) &&
      typeof (e as { severity?: unknown }).severity === 'string'
  )
}

/** A unique index refused the row (SQLSTATE 23505). */
export function isUniqueViolation(error: unknown): boolean {
  return errorChain(error).some((e) => e.code === '23505')
}

// Connection-level failures of PostgreSQL: the request could succeed later, so they are 503, not 500.
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  '57P01',
  '57P02',
  '57P03',
  '3D000',
  '53300',
  '55000'
])

function isUnavailable(error: unknown): boolean {
  return errorChain(error).some(
    (e) =>
      (typeof e.code === 'string' && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith('08'))) ||
      e.message === 'PGlite is closed'
  )
}

/**
 * The contract's error body for anything thrown while answering (a route, a WebSocket command): a 4xx as it
 * is, its message bounded; a lost database as 503; any other 5xx hidden behind CHAT_INTERNAL, after
 * `logInternal` has seen it.
 */
export function errorBodyOf(error: FastifyError, logInternal: (error: unknown) => void): ErrorBody {
  let status = error.statusCode ?? 500
  let err: FastifyError = error
  if (status >= 500 && isUnavailable(error)) {
    err = new Unavailable()
    status = 503
  }
  if (status >= 500) {
    logInternal(error)
    // Only a 503 says why; any other 5xx hides its details.
    const sent = status === 503 ? err : new Internal()
    return errorBody(status, sent.code, sent.message)
  }
  // A 4xx message may quote the request (a content type, a JSON parser's excerpt): never unbounded.
  const code = err.code ?? (err.validation ? 'FST_ERR_VALIDATION' : new BadRequest(err.message).code)
  return errorBody(status, code, bounded(err.message, 300))
}
