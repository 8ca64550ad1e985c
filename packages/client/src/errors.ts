// The one error the client throws for an answer of the API that is not a success: the contract's error body
// (code, statusCode, message) and, on a 429, how long to wait.
import type { ErrorBody } from '@chat/contracts'

export class ChatApiError extends Error {
  override readonly name = 'ChatApiError'
  /** The contract's stable code: `CHAT_*`, or `FST_*` for Fastify's own (`FST_ERR_VALIDATION`). */
  readonly code: string
  /** The HTTP status of the answer (or the status a WebSocket reply names). */
  readonly statusCode: number
  /** The HTTP reason phrase the body carries (`Forbidden`, `Not Found`…). */
  readonly error: string
  /** On a 429: seconds to wait before trying again, from `Retry-After` (or a WebSocket reply's `retryAfter`). */
  readonly retryAfter: number | undefined

  constructor(body: ErrorBody & { retryAfter?: number }) {
    super(body.message)
    this.code = body.code
    this.statusCode = body.statusCode
    this.error = body.error
    this.retryAfter = body.retryAfter
  }

  /** The error of a response that is not ok, read from its body (any body: a proxy's HTML page is CHAT_HTTP_<status>). */
  static async fromResponse(response: Response): Promise<ChatApiError> {
    const retry = response.headers.get('retry-after')
    const retryAfter = retry !== null && /^\d+$/.test(retry.trim()) ? Number(retry) : undefined
    let body: Partial<ErrorBody> = {}
    try {
      body = (await response.json()) as Partial<ErrorBody>
    } catch {
      // Not the contract's shape; the status alone speaks.
    }
    return new ChatApiError({
      statusCode: typeof body.statusCode === 'number' ? body.statusCode : response.status,
      code: typeof body.code === 'string' ? body.code : `CHAT_HTTP_${response.status}`,
      error: typeof body.error === 'string' ? body.error : response.statusText,
      message: typeof body.message === 'string' ? body.message : `HTTP ${response.status}`,
      retryAfter
    })
  }
}
