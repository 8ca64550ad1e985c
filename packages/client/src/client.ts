// ChatClient: every REST route of the API as a typed method, the session it holds (login, registration,
// refresh, logout) and the user stream it opens.
import type * as contract from './contract.ts'
import { SessionKeeper, type RequestSpec } from './session.ts'
import { ChatStream } from './stream.ts'
import type { CallOptions, ChatClientOptions, FetchLike, StreamOptions, Tokens } from './types.ts'

/** A page of a list route: pass `nextCursor` as `cursor` for the next one; null at the end. */
export interface Page<T> {
  items: T[]
  nextCursor: string | null
}

/** `POST /rooms/message` with `replyTo` required: an answer to the message of that seq. */
export type ReplyBody = contract.PostMessageBody & { replyTo: number }

const path = (...parts: string[]) => parts.map((part) => `/${encodeURIComponent(part)}`).join('')

export class ChatClient {
  readonly baseUrl: string
  /** @internal the session and the HTTP calls made with it; shared with the streams. */
  readonly session: SessionKeeper
  /** @internal */
  readonly options: ChatClientOptions

  constructor(options: ChatClientOptions) {
    this.options = options
    this.baseUrl = options.baseUrl.replace(/\/+$/, '')
    // Unbound, a browser's fetch throws "Illegal invocation".
    const fetchFn: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
    this.session = new SessionKeeper(
      this.baseUrl,
      fetchFn,
      options.tokens ?? null,
      options.onTokens,
      options.refreshMarginMs ?? 10_000
    )
  }

  /** The session's tokens, or null when signed out. */
  get tokens(): Tokens | null {
    return this.session.tokens
  }

  /** Replaces the tokens (calls `onTokens`); null signs out locally. */
  setTokens(tokens: Tokens | null): void {
    this.session.set(tokens)
  }

  async #json<T>(spec: RequestSpec): Promise<T> {
    return (await (await this.session.request(spec)).json()) as T
  }

  async #empty(spec: RequestSpec): Promise<void> {
    const response = await this.session.request(spec)
    await response.body?.cancel()
  }

  // Session

  /** `POST /users`: a new account (not signed in; `login` next, or `registerAndLogin`). */
  register(body: contract.RegisterBody, options?: CallOptions): Promise<contract.User> {
    return this.#json({ method: 'POST', path: '/users', body, auth: false, signal: options?.signal })
  }

  /** `POST /auth/login`: signs in and keeps the session's tokens. */
  async login(body: contract.LoginBody, options?: CallOptions): Promise<contract.Session> {
    const session = await this.#json<contract.Session>({
      method: 'POST',
      path: '/auth/login',
      body,
      auth: false,
      signal: options?.signal
    })
    this.session.adopt(session)
    return session
  }

  /** Registers, then signs in as the new user. */
  async registerAndLogin(body: contract.RegisterBody, options?: CallOptions): Promise<contract.Session> {
    await this.register(body, options)
    return this.login({ username: body.username, password: body.password }, options)
  }

  /** `POST /auth/refresh` now (calls do it by themselves when needed); one in flight at a time. */
  refresh(options?: CallOptions): Promise<Tokens> {
    return this.session.refresh(options?.signal)
  }

  /** `POST /auth/logout`: ends the session on the server (its streams stop) and forgets the tokens. */
  async logout(options?: CallOptions): Promise<void> {
    try {
      if (this.session.tokens)
        await this.#empty({ method: 'POST', path: '/auth/logout', body: {}, signal: options?.signal })
    } finally {
      this.session.set(null)
    }
  }

  // Users

  /** `GET /users/me`. */
  me(options?: CallOptions): Promise<contract.User> {
    return this.#json({ method: 'GET', path: '/users/me', signal: options?.signal })
  }

  /** `GET /users/:userId`. */
  getUser(userId: string, options?: CallOptions): Promise<contract.User> {
    return this.#json({ method: 'GET', path: path('users', userId), signal: options?.signal })
  }

  /** `GET /users`: a page of users; `q` searches by username prefix. */
  listUsers(query: contract.UserListQuery = {}, options?: CallOptions): Promise<Page<contract.User>> {
    return this.#json({ method: 'GET', path: '/users', query, signal: options?.signal })
  }

  /** `PATCH /users/:userId` (self only): display name, or password with `currentPassword`. */
  updateUser(userId: string, body: contract.UpdateUserBody, options?: CallOptions): Promise<contract.User> {
    return this.#json({ method: 'PATCH', path: path('users', userId), body, signal: options?.signal })
  }

  /** `DELETE /users/:userId` (self only): the account and every session; the tokens are forgotten. */
  async deleteUser(userId: string, options?: CallOptions): Promise<void> {
    await this.#empty({ method: 'DELETE', path: path('users', userId), signal: options?.signal })
    if (userId === this.session.userId) this.session.set(null)
  }

  // Rooms

  /** `GET /rooms`: a page of rooms; `mine: true` only those the caller is a member of. */
  listRooms(query: contract.RoomListQuery = {}, options?: CallOptions): Promise<Page<contract.Room>> {
    return this.#json({ method: 'GET', path: '/rooms', query, signal: options?.signal })
  }

  /** `GET /rooms/:roomId`. */
  getRoom(roomId: string, options?: CallOptions): Promise<contract.Room> {
    return this.#json({ method: 'GET', path: path('rooms', roomId), signal: options?.signal })
  }

  /** `POST /rooms/create`: the caller owns it and is its first member. */
  createRoom(body: contract.CreateRoomBody, options?: CallOptions): Promise<contract.Room> {
    return this.#json({ method: 'POST', path: '/rooms/create', body, signal: options?.signal })
  }

  /** `POST /rooms/join` (idempotent). */
  joinRoom(roomId: string, options?: CallOptions): Promise<contract.Room> {
    return this.#json({ method: 'POST', path: '/rooms/join', body: { roomId }, signal: options?.signal })
  }

  /** `POST /rooms/leave` (idempotent; the owner cannot: 409 CHAT_OWNER_CANNOT_LEAVE). */
  leaveRoom(roomId: string, options?: CallOptions): Promise<void> {
    return this.#empty({ method: 'POST', path: '/rooms/leave', body: { roomId }, signal: options?.signal })
  }

  /** `POST /rooms/delete` (owner only). */
  deleteRoom(roomId: string, options?: CallOptions): Promise<void> {
    return this.#empty({ method: 'POST', path: '/rooms/delete', body: { roomId }, signal: options?.signal })
  }

  /** `GET /rooms/:roomId/members` (members only): a page of members. */
  listMembers(roomId: string, query: contract.PageQuery = {}, options?: CallOptions): Promise<Page<contract.Member>> {
    return this.#json({ method: 'GET', path: path('rooms', roomId, 'members'), query, signal: options?.signal })
  }

  /** `GET /rooms/:roomId/messages`: the latest page, or the one `before`/`after` a seq; items ascending. */
  history(roomId: string, query: contract.HistoryQuery = {}, options?: CallOptions): Promise<contract.HistoryPage> {
    return this.#json({ method: 'GET', path: path('rooms', roomId, 'messages'), query, signal: options?.signal })
  }

  /** `POST /rooms/read`: moves the caller's read marker forward to `seq`. */
  markRead(body: contract.ReadBody, options?: CallOptions): Promise<void> {
    return this.#empty({ method: 'POST', path: '/rooms/read', body, signal: options?.signal })
  }

  /** `POST /rooms/typing`: typing (default) or stopped. */
  typing(body: contract.TypingBody, options?: CallOptions): Promise<void> {
    return this.#empty({ method: 'POST', path: '/rooms/typing', body, signal: options?.signal })
  }

  // Messages

  /** `POST /rooms/message`: the stored event (the first one again for a repeated `clientMsgId`). */
  postMessage(body: contract.PostMessageBody, options?: CallOptions): Promise<contract.RoomEvent> {
    return this.#json({ method: 'POST', path: '/rooms/message', body, signal: options?.signal })
  }

  /** `POST /rooms/message` answering the message `replyTo`. */
  reply(body: ReplyBody, options?: CallOptions): Promise<contract.RoomEvent> {
    return this.postMessage(body, options)
  }

  /** `POST /rooms/message/edit` (author only): the `message.edited` event. */
  editMessage(body: contract.EditMessageBody, options?: CallOptions): Promise<contract.RoomEvent> {
    return this.#json({ method: 'POST', path: '/rooms/message/edit', body, signal: options?.signal })
  }

  /** `POST /rooms/message/delete` (author or owner): the `message.deleted` event (the first one, if repeated). */
  deleteMessage(body: contract.DeleteMessageBody, options?: CallOptions): Promise<contract.RoomEvent> {
    return this.#json({ method: 'POST', path: '/rooms/message/delete', body, signal: options?.signal })
  }

  /**
   * `POST /rooms/message/react`: the `reaction.added` (or, with `remove: true`, `reaction.removed`) event;
   * null when nothing changed (the reaction was already there, or was not).
   */
  async react(body: contract.ReactBody, options?: CallOptions): Promise<contract.RoomEvent | null> {
    const response = await this.session.request({
      method: 'POST',
      path: '/rooms/message/react',
      body,
      signal: options?.signal
    })
    if (response.status === 204) {
      await response.body?.cancel()
      return null
    }
    return (await response.json()) as contract.RoomEvent
  }

  // Realtime

  /**
   * Opens the user stream (every room the caller is in) and keeps it open: resumes by cursor after any break,
   * reconnects with backoff, refreshes the token when the server asks, stops on a final close reason, on
   * `close()` or on the signal. Events are typed; each stored event is delivered once, in its room's order.
   */
  connect(options: StreamOptions = {}): ChatStream {
    return new ChatStream(this, options)
  }
}
