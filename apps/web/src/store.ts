// The page's chat state, kept outside React and read with useSyncExternalStore: the signed-in user, their rooms
// with unread counts, who is online and typing in each, the logs of the rooms opened, and the stream's state.
// Every change comes from the SDK: REST answers, and the one user stream (`/events`) that it resumes by cursor
// after any break, so a reconnect misses and repeats nothing.
import type { ChatClient, ChatEvent, ChatStream, ConnectionState, Room, RoomEvent, User } from '@chat/client'
import { apply, fromPage, withOlder, type RoomLog } from './room-log.ts'

export interface Typist {
  name: string
  until: number
}

export interface ChatState {
  me: User
  rooms: Room[]
  connection: ConnectionState
  /** Per room, the other members online now. */
  online: Record<string, string[]>
  typing: Record<string, Record<string, Typist>>
  logs: Record<string, RoomLog>
}

const PAGE = 50
// A `typing: true` lasts 6 s on the server, which says when it lapses; this only guards against a lost notice.
const TYPING_GRACE_MS = 8000

const byName = (a: Room, b: Room) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id)

export class ChatStore {
  private state: ChatState
  private readonly listeners = new Set<() => void>()
  private stream: ChatStream | undefined
  /** Events of rooms whose first page is being read, applied once it is in. */
  private readonly pending = new Map<string, RoomEvent[]>()
  private sweep: ReturnType<typeof setInterval> | undefined
  /** Rooms the page has opened: a first page that failed (the network was away) is read again once live. */
  private readonly opened = new Set<string>()

  constructor(
    readonly client: ChatClient,
    me: User
  ) {
    this.state = { me, rooms: [], connection: 'connecting', online: {}, typing: {}, logs: {} }
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  readonly snapshot = (): ChatState => this.state

  private set(patch: Partial<ChatState>): void {
    this.state = { ...this.state, ...patch }
    for (const listener of this.listeners) listener()
  }

  private setRoom(room: Room): void {
    const others = this.state.rooms.filter((r) => r.id !== room.id)
    this.set({ rooms: [...others, room].sort(byName) })
  }

  private patchRoom(roomId: string, patch: (room: Room) => Partial<Room>): void {
    this.set({ rooms: this.state.rooms.map((r) => (r.id === roomId ? { ...r, ...patch(r) } : r)) })
  }

  private forget(roomId: string): void {
    this.opened.delete(roomId)
    const { [roomId]: _log, ...logs } = this.state.logs
    this.set({ rooms: this.state.rooms.filter((r) => r.id !== roomId), logs })
  }

  start(): void {
    this.stream = this.client.connect({
      onEvent: (event) => this.onEvent(event),
      onState: (change) => this.set({ connection: change.state })
    })
    this.sweep = setInterval(() => this.dropLapsedTypists(), 2000)
    void this.loadRooms()
  }

  stop(): void {
    this.stream?.close()
    clearInterval(this.sweep)
  }

  async loadRooms(): Promise<void> {
    const rooms: Room[] = []
    let cursor: string | undefined
    do {
      const page = await this.client.listRooms({ mine: true, limit: 100, ...(cursor ? { cursor } : {}) })
      rooms.push(...page.items)
      cursor = page.nextCursor ?? undefined
    } while (cursor)
    this.set({ rooms: rooms.sort(byName) })
    await Promise.all(rooms.map((room) => this.loadPresence(room.id)))
  }

  private async loadPresence(roomId: string): Promise<void> {
    const page = await this.client.listMembers(roomId, { limit: 100 }).catch(() => null)
    if (!page) return
    const online = page.items.filter((m) => m.online && m.user.id !== this.state.me.id).map((m) => m.user.id)
    this.set({ online: { ...this.state.online, [roomId]: online } })
  }

  private async refreshRoom(roomId: string): Promise<void> {
    const room = await this.client.getRoom(roomId).catch(() => null)
    if (room && room.lastReadSeq !== null) this.setRoom(room)
  }

  /** The server could not resume the stream: every list and log read so far is read again. */
  private reload(): void {
    this.set({ logs: {} })
    void this.loadRooms().catch(() => undefined)
    for (const roomId of this.opened) void this.openRoom(roomId).catch(() => undefined)
  }

  /** Reads the room's latest page, unless it is already in. */
  async openRoom(roomId: string): Promise<void> {
    this.opened.add(roomId)
    if (this.state.logs[roomId] || this.pending.has(roomId)) return
    this.pending.set(roomId, [])
    try {
      const page = await this.client.history(roomId, { limit: PAGE })
      let log = fromPage(page.items, page.hasMore)
      for (const event of this.pending.get(roomId) ?? []) log = apply(log, event)
      this.set({ logs: { ...this.state.logs, [roomId]: log } })
    } finally {
      this.pending.delete(roomId)
    }
  }

  async loadOlder(roomId: string): Promise<void> {
    const log = this.state.logs[roomId]
    const first = log?.items[0]?.seq
    if (!log?.hasMore || first === undefined) return
    const page = await this.client.history(roomId, { limit: PAGE, before: first })
    const now = this.state.logs[roomId]
    if (now) this.set({ logs: { ...this.state.logs, [roomId]: withOlder(now, page.items, page.hasMore) } })
  }

  /** The user has seen the room up to its newest event: move the read marker there. */
  markSeen(roomId: string): void {
    const log = this.state.logs[roomId]
    const room = this.state.rooms.find((r) => r.id === roomId)
    if (!log || !room || log.upTo <= (room.lastReadSeq ?? 0)) return
    const seq = log.upTo
    this.patchRoom(roomId, () => ({ lastReadSeq: seq, unreadCount: 0 }))
    void this.client.markRead({ roomId, seq }).catch(() => undefined)
  }

  /** Shows the caller's own post at once when nothing is missing before it; the stream brings it otherwise. */
  posted(event: RoomEvent): void {
    const log = this.state.logs[event.roomId]
    if (log && event.seq === log.upTo + 1) this.applyToLog(event)
  }

  private applyToLog(event: RoomEvent): void {
    const buffered = this.pending.get(event.roomId)
    if (buffered) return void buffered.push(event)
    const log = this.state.logs[event.roomId]
    if (log) this.set({ logs: { ...this.state.logs, [event.roomId]: apply(log, event) } })
  }

  private onEvent(message: ChatEvent): void {
    switch (message.type) {
      case 'event':
        return this.onRoomEvent(message.event)
      case 'ready':
        for (const roomId of this.opened) void this.openRoom(roomId).catch(() => undefined)
        return void this.loadRooms().catch(() => undefined)
      case 'reset':
        return this.reload()
      case 'room.deleted':
      case 'room.left':
        return this.forget(message.roomId)
      case 'typing':
        return this.onTyping(message.roomId, message.user, message.typing)
      case 'presence': {
        if (message.userId === this.state.me.id) return
        const now = (this.state.online[message.roomId] ?? []).filter((id) => id !== message.userId)
        if (message.online) now.push(message.userId)
        return this.set({ online: { ...this.state.online, [message.roomId]: now } })
      }
      case 'read':
        return void this.refreshRoom(message.roomId)
    }
  }

  private onRoomEvent(event: RoomEvent): void {
    const { roomId } = event
    const mine = event.user.id === this.state.me.id
    this.applyToLog(event)
    const known = this.state.rooms.some((r) => r.id === roomId)
    if (event.type === 'member.left' && mine) return this.forget(roomId)
    if (!known || event.type === 'member.joined' || event.type === 'member.left' || event.type === 'message.deleted') {
      void this.refreshRoom(roomId)
      if (!known || event.type === 'member.joined') void this.loadPresence(roomId)
    }
    if (event.type === 'message') {
      this.onTyping(roomId, event.user, false)
      this.patchRoom(roomId, (r) => ({
        lastSeq: Math.max(r.lastSeq, event.seq),
        ...(mine ? { lastReadSeq: event.seq, unreadCount: 0 } : { unreadCount: (r.unreadCount ?? 0) + 1 })
      }))
    } else {
      this.patchRoom(roomId, (r) => ({ lastSeq: Math.max(r.lastSeq, event.seq) }))
    }
  }

  private onTyping(roomId: string, user: User, typing: boolean): void {
    const { [user.id]: _was, ...others } = this.state.typing[roomId] ?? {}
    if (!typing && !_was) return
    const now = typing
      ? { ...others, [user.id]: { name: user.displayName, until: Date.now() + TYPING_GRACE_MS } }
      : others
    this.set({ typing: { ...this.state.typing, [roomId]: now } })
  }

  private dropLapsedTypists(): void {
    const now = Date.now()
    let changed = false
    const typing: ChatState['typing'] = {}
    for (const [roomId, typists] of Object.entries(this.state.typing)) {
      typing[roomId] = Object.fromEntries(Object.entries(typists).filter(([, t]) => t.until > now || !(changed = true)))
    }
    if (changed) this.set({ typing })
  }
}
