// The user stream over a WebSocket (`GET /ws`): the same events as messages of JSON. A browser cannot set
// headers on an upgrade, so the token goes as ?access_token= (as the contract allows on /ws) and the cursor as
// ?cursor=. A browser does not tell why an upgrade was refused; the `ws` package names the status in its error.
// The server's pings are protocol frames a browser never shows, so the client sends the contract's `ping` command
// every 15 s and its reply proves the connection alive.
import type { CloseReason, WsServerMessage } from '@chat/contracts'
import { idleTimer, refusal, type Attempt, type AttemptEnd } from './transport.ts'

const PING_MS = 15_000
const OPEN = 1

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
    let pings = 0
    const pinger = setInterval(() => {
      if (socket.readyState === OPEN) socket.send(JSON.stringify({ id: `ping-${++pings}`, type: 'ping' }))
    }, PING_MS)
    const abort = () => socket.close(1000, 'closed by client')
    attempt.signal.addEventListener('abort', abort, { once: true })

    socket.addEventListener('open', () => {
      opened = true
      idle.touch()
    })
    socket.addEventListener('message', (event: MessageEvent) => {
      idle.touch()
      if (typeof event.data !== 'string') return
      let message: WsServerMessage
      try {
        message = JSON.parse(event.data) as WsServerMessage
      } catch {
        return
      }
      if (message.type === 'reply') return
      attempt.deliver(message)
      if (message.type === 'close') reason = message.reason
    })
    socket.addEventListener('error', (event: Event & { message?: string }) => {
      failure = new Error(event.message || 'WebSocket error')
    })
    socket.addEventListener('close', (event: CloseEvent) => {
      idle.stop()
      clearInterval(pinger)
      attempt.signal.removeEventListener('abort', abort)
      if (reason !== undefined) return resolve({ reason })
      if (!opened) {
        const status = /\b([45]\d\d)\b/.exec(String((failure as Error | undefined)?.message ?? ''))
        if (status) return resolve(refusal(Number(status[1]), failure))
        return resolve({ error: failure ?? new Error(`WebSocket refused (${event.code})`), unexplained: true })
      }
      resolve({ error: failure ?? new Error(`WebSocket closed (${event.code})`) })
    })
  })
}
