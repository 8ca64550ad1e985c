// A room's messages as the page shows them: the history pages read so far plus every stored event after them,
// folded into each message's current state. `upTo` is the newest seq folded in, so an event already reflected
// in a page (history shows current state) is never applied twice.
import type { Reaction, RoomEvent } from '@chat/client'

export interface RoomLog {
  /** Messages and membership lines, ascending by seq. */
  items: RoomEvent[]
  upTo: number
  /** Older pages remain to be read. */
  hasMore: boolean
}

export const SHOWN = new Set(['message', 'member.joined', 'member.left'])

export function fromPage(items: RoomEvent[], hasMore: boolean): RoomLog {
  return { items: items.filter((e) => SHOWN.has(e.type)), upTo: items.at(-1)?.seq ?? 0, hasMore }
}

/** An older page put in front (history read on scroll up). */
export function withOlder(log: RoomLog, items: RoomEvent[], hasMore: boolean): RoomLog {
  const first = log.items[0]?.seq ?? Infinity
  const older = items.filter((e) => SHOWN.has(e.type) && e.seq < first)
  return { ...log, items: [...older, ...log.items], hasMore }
}

function react(reactions: Reaction[], event: RoomEvent): Reaction[] {
  const key = event.key!
  const userId = event.user.id
  const found = reactions.find((r) => r.key === key)
  if (event.type === 'reaction.added') {
    if (!found) return [...reactions, { key, count: 1, userIds: [userId] }]
    return reactions.map((r) => (r === found ? { ...r, count: r.count + 1, userIds: [...r.userIds, userId] } : r))
  }
  if (!found) return reactions
  if (found.count <= 1) return reactions.filter((r) => r !== found)
  return reactions.map((r) =>
    r === found ? { ...r, count: r.count - 1, userIds: r.userIds.filter((id) => id !== userId) } : r
  )
}

function change(message: RoomEvent, event: RoomEvent): RoomEvent {
  switch (event.type) {
    case 'message.edited':
      return { ...message, text: event.text, editedAt: event.createdAt }
    case 'message.deleted':
      return { ...message, text: null, deletedAt: event.createdAt }
    case 'reaction.added':
    case 'reaction.removed':
      return { ...message, reactions: react(message.reactions ?? [], event) }
    default:
      return message
  }
}

/** Folds one stored event in; an event at or before `upTo` is already there. */
export function apply(log: RoomLog, event: RoomEvent): RoomLog {
  if (event.seq <= log.upTo) return log
  const upTo = event.seq
  if (SHOWN.has(event.type)) return { ...log, upTo, items: [...log.items, event] }
  if (event.target == null) return { ...log, upTo }
  return {
    ...log,
    upTo,
    items: log.items.map((m) => (m.seq === event.target && m.type === 'message' ? change(m, event) : m))
  }
}
