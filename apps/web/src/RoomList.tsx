// The navigation landmark "Rooms": the user's rooms with unread counts and a dot when another member is online,
// the way to create a room and the way to browse every room.
import { useState, type FormEvent } from 'react'
import type { ChatState, ChatStore } from './store.ts'
import { hrefOf, navigate, type Route } from './route.ts'

function Link({ route, className, children }: { route: Route; className?: string; children: React.ReactNode }) {
  return (
    <a
      href={hrefOf(route)}
      className={className}
      aria-current={className?.includes('current') ? 'page' : undefined}
      onClick={(e) => {
        if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return
        e.preventDefault()
        navigate(route)
      }}
    >
      {children}
    </a>
  )
}

function NewRoom({ store, onDone }: { store: ChatStore; onDone: () => void }) {
  const [error, setError] = useState<string | null>(null)
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault()
    const name = String(new FormData(event.currentTarget).get('name')).trim()
    if (!name) return
    try {
      const room = await store.client.createRoom({ name })
      await store.loadRooms()
      onDone()
      navigate({ view: 'room', roomId: room.id })
    } catch (err) {
      setError((err as Error).message)
    }
  }
  return (
    <form className="new-room" onSubmit={(e) => void submit(e)}>
      <label>
        Room name
        <input name="name" required maxLength={64} autoFocus />
      </label>
      {error && <p role="alert">{error}</p>}
      <button type="submit">Create</button>
      <button type="button" className="secondary" onClick={onDone}>
        Cancel
      </button>
    </form>
  )
}

export function RoomList({ store, state, current }: { store: ChatStore; state: ChatState; current?: string }) {
  const [creating, setCreating] = useState(false)
  return (
    <nav aria-label="Rooms" className="rooms">
      <div className="rooms-actions">
        <button type="button" aria-expanded={creating} onClick={() => setCreating((c) => !c)}>
          New room
        </button>
        <Link route={{ view: 'browse' }}>Browse rooms</Link>
      </div>
      {creating && <NewRoom store={store} onDone={() => setCreating(false)} />}
      <ul>
        {state.rooms.map((room) => {
          const online = (state.online[room.id]?.length ?? 0) > 0
          const unread = room.unreadCount ?? 0
          return (
            <li key={room.id}>
              <Link route={{ view: 'room', roomId: room.id }} className={room.id === current ? 'room current' : 'room'}>
                <span className={online ? 'dot online' : 'dot'} aria-hidden="true" />
                <span className="room-name">{room.name}</span>
                {unread > 0 && (
                  <span className="badge">
                    {' '}
                    {unread}
                    <span className="sr-only"> unread</span>
                  </span>
                )}
                {online && <span className="sr-only"> (someone online)</span>}
              </Link>
            </li>
          )
        })}
      </ul>
      {state.rooms.length === 0 && <p className="hint">No rooms yet.</p>}
    </nav>
  )
}
