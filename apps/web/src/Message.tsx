// One item of the "Messages" list: who, when (in the browser's locale), the text as text, its reply, reactions,
// and the actions the rules allow: Reply and React for members, Edit for the author, Delete for the author or
// the room's owner.
import { useState, type FormEvent } from 'react'
import type { RoomEvent } from '@chat/client'
import type { ChatStore } from './store.ts'

const REACTIONS = ['👍', '❤️', '😂', '🎉', '👀']
const time = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'short' })

export interface MessageProps {
  store: ChatStore
  event: RoomEvent
  replied: RoomEvent | undefined
  isOwner: boolean
  onReply: (event: RoomEvent) => void
}

export function Message({ store, event, replied, isOwner, onReply }: MessageProps) {
  const [editing, setEditing] = useState(false)
  const [picking, setPicking] = useState(false)
  const me = store.snapshot().me.id
  const roomId = event.roomId
  const when = <time dateTime={event.createdAt}>{time.format(new Date(event.createdAt))}</time>

  if (event.type !== 'message') {
    return (
      <li className="system">
        {event.user.displayName} {event.type === 'member.joined' ? 'joined' : 'left'} · {when}
      </li>
    )
  }
  const mine = event.user.id === me
  const deleted = event.deletedAt !== null || event.text === null

  const edit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault()
    const text = String(new FormData(e.currentTarget).get('text'))
    try {
      if (text && text !== event.text) await store.client.editMessage({ roomId, seq: event.seq, text })
      setEditing(false)
    } catch {
      // Refused (deleted meanwhile, a text past the limit): the form stays open with what was typed.
    }
  }
  const react = async (key: string, remove: boolean) => {
    setPicking(false)
    await store.client.react({ roomId, seq: event.seq, key, remove }).catch(() => undefined)
  }

  return (
    <li className={mine ? 'message mine' : 'message'} data-seq={event.seq}>
      <div className="meta">
        <span className="author">{event.user.displayName}</span> {when}
        {event.editedAt && !deleted && <span className="hint"> (edited)</span>}
      </div>
      {event.replyTo !== null && (
        <blockquote className="quote">
          {replied ? `${replied.user.displayName}: ${replied.text ?? 'deleted message'}` : 'an earlier message'}
        </blockquote>
      )}
      {deleted ? (
        <p className="text deleted">This message was deleted.</p>
      ) : editing ? (
        <form onSubmit={(e) => void edit(e)} className="edit">
          <label>
            Edit message
            <textarea name="text" defaultValue={event.text ?? ''} required maxLength={4000} autoFocus />
          </label>
          <button type="submit">Save</button>
          <button type="button" className="secondary" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </form>
      ) : (
        <p className="text">{event.text}</p>
      )}
      {(event.reactions ?? []).length > 0 && (
        <ul className="reactions" aria-label="Reactions">
          {(event.reactions ?? []).map((r) => {
            const pressed = r.userIds.includes(me)
            return (
              <li key={r.key}>
                <button type="button" aria-pressed={pressed} onClick={() => void react(r.key, pressed)}>
                  {r.key} {r.count}
                </button>
              </li>
            )
          })}
        </ul>
      )}
      {!deleted && (
        <div className="actions" aria-label={`Actions on the message of ${event.user.displayName}`} role="group">
          <button type="button" onClick={() => onReply(event)}>
            Reply
          </button>
          <button type="button" aria-expanded={picking} onClick={() => setPicking((p) => !p)}>
            React
          </button>
          {mine && (
            <button type="button" onClick={() => setEditing(true)}>
              Edit
            </button>
          )}
          {(mine || isOwner) && (
            <button
              type="button"
              onClick={() => void store.client.deleteMessage({ roomId, seq: event.seq }).catch(() => undefined)}
            >
              Delete
            </button>
          )}
        </div>
      )}
      {picking && (
        <div className="picker" role="group" aria-label="Pick a reaction">
          {REACTIONS.map((key) => (
            <button key={key} type="button" onClick={() => void react(key, false)}>
              {key}
            </button>
          ))}
        </div>
      )}
    </li>
  )
}
