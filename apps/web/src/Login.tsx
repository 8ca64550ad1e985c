// Signing in or creating an account (then signing in), with the server's refusal shown as an alert.
import { useState, type FormEvent } from 'react'
import { ChatApiError, type ChatClient, type User } from '@chat/client'

function messageOf(error: unknown): string {
  if (error instanceof ChatApiError) {
    if (error.code === 'CHAT_INVALID_CREDENTIALS') return 'Wrong username or password.'
    if (error.code === 'CHAT_USERNAME_TAKEN') return 'That username is taken.'
    return error.message
  }
  return 'The server could not be reached.'
}

export function Login({ client, onSignedIn }: { client: ChatClient; onSignedIn: (user: User) => void }) {
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault()
    const submitter = (event.nativeEvent as SubmitEvent).submitter as HTMLButtonElement | null
    const form = new FormData(event.currentTarget)
    const body = { username: String(form.get('username')), password: String(form.get('password')) }
    setBusy(true)
    setError(null)
    try {
      const session = submitter?.value === 'register' ? await client.registerAndLogin(body) : await client.login(body)
      onSignedIn(session.user)
    } catch (err) {
      setError(messageOf(err))
      setBusy(false)
    }
  }

  return (
    <main className="login">
      <h1>Chat</h1>
      <form onSubmit={(e) => void submit(e)} aria-describedby={error ? 'login-error' : undefined}>
        <label>
          Username
          <input name="username" autoComplete="username" required minLength={3} maxLength={32} autoFocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required minLength={8} />
        </label>
        {error && (
          <p id="login-error" role="alert" className="error">
            {error}
          </p>
        )}
        <div className="actions">
          <button type="submit" value="login" disabled={busy}>
            Log in
          </button>
          <button type="submit" value="register" disabled={busy} className="secondary">
            Create account
          </button>
        </div>
      </form>
    </main>
  )
}
