// Every error the API throws on purpose, with its stable code. Handlers throw these; the one error handler
// in app.ts turns them into the contract's error shape.
import createError from '@fastify/error'
import { STATUS_CODES } from 'node:http'
import type { ErrorBody } from '@chat/contracts'

export const Unauthorized = createError('CHAT_UNAUTHORIZED', 'Missing, invalid or expired access token', 401)
export const Forbidden = createError('CHAT_FORBIDDEN', '%s', 403)
export const RouteNotFound = createError('CHAT_NOT_FOUND', 'Route %s %s not found', 404)
export const UserNotFound = createError('CHAT_USER_NOT_FOUND', 'User not found', 404)
export const RoomNotFound = createError('CHAT_ROOM_NOT_FOUND', 'Room not found', 404)
export const UsernameTaken = createError('CHAT_USERNAME_TAKEN', 'That username is taken', 409)
export const InvalidCredentials = createError('CHAT_INVALID_CREDENTIALS', 'Invalid username or password', 401)
export const InvalidRefreshToken = createError('CHAT_INVALID_REFRESH_TOKEN', 'Invalid or expired refresh token', 401)
export const WrongPassword = createError('CHAT_WRONG_PASSWORD', 'The current password is wrong', 403)
export const CurrentPasswordRequired = createError(
  'CHAT_CURRENT_PASSWORD_REQUIRED',
  'Changing the password needs currentPassword',
  400
)
export const InvalidCursor = createError('CHAT_INVALID_CURSOR', 'The cursor is not one this API gave out', 400)
export const RateLimited = createError('CHAT_RATE_LIMITED', 'Too many requests; retry in %s', 429)
export const ServerBusy = createError('CHAT_SERVER_BUSY', 'The server is busy; retry shortly', 503)
export const Unavailable = createError('CHAT_UNAVAILABLE', 'A backing service is unavailable; retry shortly', 503)
export const NotMember = createError('CHAT_NOT_MEMBER', 'Only members of the room may do this', 403)
export const NotRoomOwner = createError('CHAT_NOT_ROOM_OWNER', 'Only the owner of the room may do this', 403)
export const OwnerCannotLeave = createError(
  'CHAT_OWNER_CANNOT_LEAVE',
  'The owner cannot leave the room; delete it instead',
  409
)
// The contract's code for every 429; the message says which limit.
export const TooManyStreams = createError('CHAT_RATE_LIMITED', 'Too many open streams for this user (limit %s)', 429)
export const InvalidLastEventId = createError('CHAT_INVALID_LAST_EVENT_ID', 'Last-Event-ID must be an integer ≥ 0', 400)
export const InvalidQuery = createError('CHAT_INVALID_QUERY', '%s', 400)
// What the router and Node's HTTP parser refuse, answered in the same shape as everything else.
export const BadUrl = createError('CHAT_BAD_URL', 'The URL is not valid (bad percent-encoding)', 400)
export const UriTooLong = createError('CHAT_URI_TOO_LONG', 'The URL is longer than %s characters', 414)
export const HeadersTooLarge = createError(
  'CHAT_HEADERS_TOO_LARGE',
  'The request line and headers are larger than the server accepts',
  431
)
export const RequestTimeout = createError('CHAT_REQUEST_TIMEOUT', 'The request took too long to arrive', 408)
export const MalformedRequest = createError('CHAT_MALFORMED_REQUEST', 'The request is not valid HTTP', 400)

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
