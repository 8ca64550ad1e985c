// "Browse rooms": every room on the server, searched by name on the pages read so far, with Join for the ones
// the user is not in.
import { useEffect, useState } from 'react'
import type { Room } from '@chat/client'
import type { ChatState, ChatStore } from './store.ts'
import { navigate } from './route.ts'

export function Browse({ store, state }: { store: ChatStore; state: ChatState }) {
  const [rooms, setRooms] = useState<Room[]>([])
  const [next, setNext] = useState<string | null>(null)
  const [query, setQuery] = useState('')

  const load = async (cursor?: string) => {
    const page = await store.client.listRooms({ limit: 100, ...(cursor ? { cursor } : {}) })
    setRooms((before) => (cursor ? [...before, ...page.items] : page.items))
    setNext(page.nextCursor)
  }
  useEffect(() => {
    void load()
  }, [])

  const [error, setError] = useState<string | null>(null)
  const join = async (room: Room) => {
    try {
      await store.client.joinRoom(room.id)
      await store.loadRooms()
      navigate({ view: 'room', roomId: room.id })
    } catch (err) {
      setError((err as Error).message)
    }
  }

  const mine = new Set(state.rooms.map((r) => r.id))
  const q = query.trim().toLowerCase()
  const shown = rooms.filter((r) => !q || r.name.toLowerCase().includes(q))
  return (
    <section aria-labelledby="browse-title" className="browse">
      <h2 id="browse-title">Browse rooms</h2>
      <label>
        Search rooms
        <input type="search" value={query} onChange={(e) => setQuery(e.target.value)} />
      </label>
      {error && <p role="alert">{error}</p>}
      <ul>
        {shown.map((room) => (
          <li key={room.id}>
            <span className="room-name" id={`browse-${room.id}`}>
              {room.name}
            </span>
            <span className="hint">
              {' '}
              {room.memberCount} {room.memberCount === 1 ? 'member' : 'members'}
            </span>
            {mine.has(room.id) ? (
              <button type="button" className="secondary" onClick={() => navigate({ view: 'room', roomId: room.id })}>
                Open <span className="sr-only">{room.name}</span>
              </button>
            ) : (
              <button type="button" aria-describedby={`browse-${room.id}`} onClick={() => void join(room)}>
                Join
              </button>
            )}
          </li>
        ))}
      </ul>
      {shown.length === 0 && <p className="hint">No rooms match.</p>}
      {next && (
        <button type="button" className="secondary" onClick={() => void load(next)}>
          More rooms
        </button>
      )}
    </section>
  )
}
