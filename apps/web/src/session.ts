// The one ChatClient of the page and where its tokens live. They are kept in memory and mirrored to
// sessionStorage: a reload of the tab stays signed in, while other tabs, other origins and a closed tab never see
// them (localStorage would outlive the tab; a cookie would travel by itself and open a CSRF surface the API
// has none of). The SDK refreshes them and reports each change here.
import { ChatClient, type Tokens } from '@chat/client'

const KEY = 'chat.tokens'

function stored(): Tokens | null {
  try {
    const raw = sessionStorage.getItem(KEY)
    return raw ? (JSON.parse(raw) as Tokens) : null
  } catch {
    return null
  }
}

function store(tokens: Tokens | null): void {
  try {
    if (tokens) sessionStorage.setItem(KEY, JSON.stringify(tokens))
    else sessionStorage.removeItem(KEY)
  } catch {
    // Storage refused (a private mode's quota): the session still lives in memory for this page.
  }
}

export function createClient(onSignedOut: () => void): ChatClient {
  return new ChatClient({
    baseUrl: location.origin,
    tokens: stored(),
    onTokens: (tokens) => {
      store(tokens)
      if (!tokens) onSignedOut()
    }
  })
}
