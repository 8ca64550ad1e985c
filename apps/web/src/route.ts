// The client's own paths, under /chat (the node answers them with index.html): /chat/<roomId> for a room,
// /chat/browse for every room; anything else is the room list alone.
import { useEffect, useState } from 'react'

export type Route = { view: 'home' } | { view: 'browse' } | { view: 'room'; roomId: string }

function parse(pathname: string): Route {
  const [, chat, part] = pathname.split('/')
  if (chat !== 'chat' || !part) return { view: 'home' }
  if (part === 'browse') return { view: 'browse' }
  return { view: 'room', roomId: decodeURIComponent(part) }
}

export function hrefOf(route: Route): string {
  if (route.view === 'browse') return '/chat/browse'
  if (route.view === 'room') return `/chat/${encodeURIComponent(route.roomId)}`
  return '/'
}

export function navigate(route: Route): void {
  history.pushState(null, '', hrefOf(route))
  dispatchEvent(new PopStateEvent('popstate'))
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(location.pathname))
  useEffect(() => {
    const onPop = () => setRoute(parse(location.pathname))
    addEventListener('popstate', onPop)
    return () => removeEventListener('popstate', onPop)
  }, [])
  return route
}
