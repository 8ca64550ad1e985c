// The user stream over a WebSocket (`GET /ws`): the same events as messages of JSON. A browser cannot set
// headers on an upgrade, so the token goes as ?access_token= (as the contract allows on /ws) and the cursor as
// ?cursor=. A browser does not tell why an upgrade was refused; the `ws` package names the status in its error.
import type { CloseReason, WsServerMessage } from '@chat/contracts'
import { idleTimer, refusal, type Attempt, type AttemptEnd } from './transport.ts'

export function connectWs(attempt: Attempt): Promise<AttemptEnd> {
  const WebSocketClass = attempt.WebSocket ?? (globalThis as { WebSocket?: Attempt['WebSocket'] }).WebSocket
  if (attempt.signal.aborted) return Promise.resolve({ error: attempt.signal.reason })
  if (!WebSocketClass) {
    return Promise.resolve({ error: new Error('no WebSocket class: pass one as the WebSocket option'), fatal: true })
  }
  const url = new URL(attempt.session.url('/ws'), globalThis.location?.href)
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  if (attempt.token !== null) url.searchParams.set('access_token', attempt.token)
  if (attempt.cursor !== undefined) url.searchParams.set('cursor', attempt.cursor)

  return new Promise<AttemptEnd>((resolve) => {
    const socket = new WebSocketClass(url.toString())
    let opened = false
    let reason: CloseReason | undefined
    let failure: unknown
    const idle = idleTimer(attempt.idleTimeoutMs, () => socket.close(4000, 'idle'))
    const abort = () => socket.close(1000, 'closed by client')
    attempt.signal.addEventListener('abort', abort, { once: true })

    socket.addEventListener('open', () => {
      opened = true
      idle.touch()
    })
    socket.addEventListener('message', (event: MessageEvent) => {
      idle.touch()
      if (typeof event.data !== 'string') return
      const message = JSON.parse(event.data) as WsServerMessage
      if (message.type === 'reply') return
      attempt.deliver(message)
      if (message.type === 'close') reason = message.reason
    })
    socket.addEventListener('error', (event: Event & { message?: string }) => {
      failure = new Error(event.message || 'WebSocket error')
    })
    socket.addEventListener('close', (event: CloseEvent) => {
      idle.stop()
      attempt.signal.removeEventListener('abort', abort)
      if (reason !== undefined) return resolve({ reason })
      if (!opened) {
        const status = /\b([45]\d\d)\b/.exec(String((failure as Error | undefined)?.message ?? ''))
        if (status) return resolve(refusal(Number(status[1]), failure))
      }
      resolve({ error: failure ?? new Error(`WebSocket closed (${event.code})`) })
    })
  })
}
