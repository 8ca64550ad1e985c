// An open room: its name and actions (leave, or delete for the owner), the "Messages" list (older pages read
// when scrolled to the top, the read marker moved when the newest is in view), who is typing, and the composer.
import { useEffect, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react'
import type { Room, RoomEvent } from '@chat/client'
import type { ChatState, ChatStore } from './store.ts'
import { Message } from './Message.tsx'
import { navigate } from './route.ts'

// The server keeps `typing` for 6 s; saying it again every 3 s while keys are pressed keeps it on.
const TYPING_EVERY_MS = 3000

function typingLine(names: string[]): string {
  if (names.length === 0) return ''
  if (names.length === 1) return `${names[0]} is typing…`
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`
  return 'Several people are typing…'
}

export function RoomView({ store, state, room }: { store: ChatStore; state: ChatState; room: Room }) {
  const log = state.logs[room.id]
  const list = useRef<HTMLOListElement>(null)
  const atBottom = useRef(true)
  const lastTyping = useRef(0)
  const heightBefore = useRef<number | null>(null)
  const [replyTo, setReplyTo] = useState<RoomEvent | null>(null)
  const [error, setError] = useState<string | null>(null)
  const isOwner = room.ownerId === state.me.id

  useEffect(() => {
    void store.openRoom(room.id)
  }, [store, room.id])

  // Kept at the bottom while the user is there; kept in place when an older page comes in above.
  useLayoutEffect(() => {
    const el = list.current
    if (!el) return
    if (heightBefore.current !== null) {
      el.scrollTop += el.scrollHeight - heightBefore.current
      heightBefore.current = null
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight
    }
    if (atBottom.current && document.visibilityState === 'visible') store.markSeen(room.id)
  }, [log, store, room.id])

  const onScroll = () => {
    const el = list.current!
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40
    if (atBottom.current) store.markSeen(room.id)
    if (el.scrollTop < 80 && log?.hasMore && heightBefore.current === null) {
      heightBefore.current = el.scrollHeight
      store.loadOlder(room.id).catch(() => (heightBefore.current = null))
    }
  }

  const send = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault()
    const form = e.currentTarget
    const text = String(new FormData(form).get('text'))
    if (!text.trim()) return
    setError(null)
    try {
      const clientMsgId = crypto.randomUUID()
      const posted = await store.client.postMessage({
        roomId: room.id,
        text,
        clientMsgId,
        ...(replyTo ? { replyTo: replyTo.seq } : {})
      })
      form.reset()
      setReplyTo(null)
      lastTyping.current = 0
      atBottom.current = true
      store.posted(posted)
    } catch (err) {
      setError((err as Error).message)
    }
  }

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault()
      e.currentTarget.form?.requestSubmit()
    }
  }
  const onInput = () => {
    const now = Date.now()
    if (now - lastTyping.current < TYPING_EVERY_MS) return
    lastTyping.current = now
    void store.client.typing({ roomId: room.id }).catch(() => undefined)
  }

  const leave = () =>
    store.client.leaveRoom(room.id).then(
      () => navigate({ view: 'home' }),
      (err: Error) => setError(err.message)
    )
  const remove = () => {
    if (!confirm(`Delete the room “${room.name}” and all its messages?`)) return
    void store.client.deleteRoom(room.id).then(
      () => navigate({ view: 'home' }),
      (err: Error) => setError(err.message)
    )
  }

  const bySeq = new Map(log?.items.map((e) => [e.seq, e]))
  const typists = Object.values(state.typing[room.id] ?? {}).map((t) => t.name)
  return (
    <section className="room-view" aria-labelledby="room-title">
      <header className="room-head">
        <h2 id="room-title">{room.name}</h2>
        {room.topic && <p className="hint">{room.topic}</p>}
        <span className="hint">
          {room.memberCount} {room.memberCount === 1 ? 'member' : 'members'}
        </span>
        {isOwner ? (
          <button type="button" className="danger" onClick={remove}>
            Delete room
          </button>
        ) : (
          <button type="button" className="secondary" onClick={() => void leave()}>
            Leave room
          </button>
        )}
      </header>
      <ol className="messages" aria-label="Messages" ref={list} onScroll={onScroll} tabIndex={0}>
        {!log && <li className="hint">Loading…</li>}
        {log?.hasMore && <li className="hint">Scroll up for older messages</li>}
        {log?.items.map((event) => (
          <Message
            key={event.seq}
            store={store}
            event={event}
            replied={event.replyTo !== null ? bySeq.get(event.replyTo) : undefined}
            isOwner={isOwner}
            onReply={setReplyTo}
          />
        ))}
      </ol>
      <p className="typing" aria-live="polite">
        {typingLine(typists)}
      </p>
      <form className="composer" onSubmit={(e) => void send(e)}>
        {replyTo && (
          <p className="replying">
            Replying to {replyTo.user.displayName}{' '}
            <button type="button" className="secondary" onClick={() => setReplyTo(null)}>
              Cancel reply
            </button>
          </p>
        )}
        {error && <p role="alert">{error}</p>}
        <label className="sr-only" htmlFor="composer-text">
          Message
        </label>
        <textarea
          id="composer-text"
          name="text"
          rows={2}
          maxLength={4000}
          required
          onKeyDown={onKeyDown}
          onInput={onInput}
          placeholder={`Message ${room.name}`}
        />
        <button type="submit">Send</button>
      </form>
    </section>
  )
}
