// The page: the login form while signed out, else the chat (room list, the open room or the room browser),
// with the stream's state in a status region and a way out.
import { useEffect, useMemo, useState, useSyncExternalStore } from 'react'
import type { ChatClient, User } from '@chat/client'
import { createClient } from './session.ts'
import { ChatStore } from './store.ts'
import { Login } from './Login.tsx'
import { RoomList } from './RoomList.tsx'
import { RoomView } from './RoomView.tsx'
import { Browse } from './Browse.tsx'
import { navigate, useRoute } from './route.ts'

export function App() {
  const [me, setMe] = useState<User | null>(null)
  const [checking, setChecking] = useState(true)
  const client = useMemo(() => createClient(() => setMe(null)), [])

  useEffect(() => {
    if (!client.tokens) return setChecking(false)
    client
      .me()
      .then(setMe, () => client.setTokens(null))
      .finally(() => setChecking(false))
  }, [client])

  if (checking) return <p className="loading">Loading…</p>
  if (!me) return <Login client={client} onSignedIn={setMe} />
  return <Chat key={me.id} client={client} me={me} />
}

function connectionText(state: string): string {
  if (state === 'connecting') return 'Connecting…'
  if (state === 'reconnecting') return 'Connection lost, reconnecting…'
  if (state === 'closed') return 'Disconnected.'
  return ''
}

function Chat({ client, me }: { client: ChatClient; me: User }) {
  const [store] = useState(() => new ChatStore(client, me))
  const state = useSyncExternalStore(store.subscribe, store.snapshot)
  const route = useRoute()

  useEffect(() => {
    store.start()
    return () => store.stop()
  }, [store])

  const logout = async () => {
    store.stop()
    await store.client.logout().catch(() => undefined)
    history.replaceState(null, '', '/')
  }

  const current = route.view === 'room' ? state.rooms.find((r) => r.id === route.roomId) : undefined
  return (
    <div className="shell">
      <header className="top">
        <h1>Chat</h1>
        <p role="status" className="connection">
          {connectionText(state.connection)}
        </p>
        <span className="me">{state.me.displayName}</span>
        <button type="button" onClick={() => void logout()}>
          Log out
        </button>
      </header>
      <RoomList store={store} state={state} current={route.view === 'room' ? route.roomId : undefined} />
      <main className="main">
        {route.view === 'browse' && <Browse store={store} state={state} />}
        {route.view === 'room' && current && <RoomView key={current.id} store={store} state={state} room={current} />}
        {route.view === 'room' && !current && <p className="empty">This room is not in your list.</p>}
        {route.view === 'home' && (
          <div className="empty">
            <p>Pick a room, create one, or browse every room.</p>
            <button type="button" onClick={() => navigate({ view: 'browse' })}>
              Browse rooms
            </button>
          </div>
        )}
      </main>
    </div>
  )
}
