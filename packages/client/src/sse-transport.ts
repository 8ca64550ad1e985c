// The user stream over fetch: `GET /events` with the token in the Authorization header (never in the URL), the
// cursor in Last-Event-ID, the body read as SSE frames and turned into the stream's typed events.
import type { CloseReason } from '@chat/contracts'
import { ChatApiError } from './errors.ts'
import { SseParser, type SseFrame } from './sse.ts'
import { idleTimer, refusal, type Attempt, type AttemptEnd } from './transport.ts'
import type { ChatEvent } from './types.ts'

const UNSTORED = new Set(['ready', 'reset', 'room.deleted', 'room.left', 'typing', 'presence', 'read', 'close'])

/** The typed event a frame carries, or undefined for one this client does not know (a newer server's). */
export function frameEvent(frame: SseFrame): ChatEvent | undefined {
  const data = JSON.parse(frame.data) as Record<string, unknown>
  if (frame.event === 'ready') return { type: 'ready', cursor: frame.id ?? '', rooms: data.rooms } as ChatEvent
  if (UNSTORED.has(frame.event)) return { ...data, type: frame.event } as ChatEvent
  if (frame.id === undefined) return undefined
  return { type: 'event', cursor: frame.id, event: data } as ChatEvent
}

export async function connectSse(attempt: Attempt): Promise<AttemptEnd> {
  if (attempt.signal.aborted) return { error: attempt.signal.reason }
  const controller = new AbortController()
  const abort = () => controller.abort(attempt.signal.reason)
  attempt.signal.addEventListener('abort', abort, { once: true })
  const idle = idleTimer(attempt.idleTimeoutMs, () => controller.abort(new Error('stream idle')))
  try {
    const headers: Record<string, string> = { accept: 'text/event-stream' }
    if (attempt.token !== null) headers.authorization = `Bearer ${attempt.token}`
    if (attempt.cursor !== undefined) headers['last-event-id'] = attempt.cursor
    const response = await attempt.session.fetch(attempt.session.url('/events'), {
      headers,
      signal: controller.signal,
      cache: 'no-store'
    })
    if (!response.ok) {
      const error = await ChatApiError.fromResponse(response)
      return refusal(response.status, error, error.retryAfter)
    }
    if (!response.body) return { error: new Error('the stream has no body') }
    const reader = response.body.getReader()
    const decoder = new TextDecoder()
    const parser = new SseParser()
    let reason: CloseReason | undefined
    try {
      for (;;) {
        idle.touch()
        const { done, value } = await reader.read()
        if (done) break
        for (const frame of parser.push(decoder.decode(value, { stream: true }))) {
          const event = frameEvent(frame)
          if (!event) continue
          attempt.deliver(event)
          if (event.type === 'close') reason = event.reason
        }
        if (reason !== undefined) break
      }
    } finally {
      reader.cancel().catch(() => {})
    }
    return reason !== undefined ? { reason } : { error: new Error('the stream ended') }
  } catch (error) {
    return { error }
  } finally {
    idle.stop()
    attempt.signal.removeEventListener('abort', abort)
  }
}
