// "Is this user a member of this room, and what is their profile": asked by every typing signal, a thousand a
// second in a busy room. The questions of one event-loop turn go to the database as one prepared statement.
import type { User } from '@chat/contracts'
import type { Database } from '@chat/db'
import { Lookups } from '../per-turn.ts'
import { prepareMemberProfiles } from './rooms.ts'
import { toUser } from './users.ts'

/** `room`: the room exists; `user`: the member's profile, null when they are not a member. */
export interface MemberProfile {
  room: boolean
  user: User | null
}

interface Question {
  roomId: string
  userId: string
}

export class MemberProfiles {
  readonly #lookups: Lookups<Question, MemberProfile>

  constructor(db: Database) {
    const statement = prepareMemberProfiles(db)
    this.#lookups = new Lookups(async (questions) => {
      const rows = await statement.execute({
        rooms: [...new Set(questions.map((q) => q.roomId))],
        users: [...new Set(questions.map((q) => q.userId))]
      })
      const rooms = new Set(rows.map((row) => row.roomId))
      const members = new Map(rows.flatMap((row) => (row.user ? [[`${row.roomId}/${row.user.id}`, row.user]] : [])))
      return (q) => {
        const member = members.get(`${q.roomId}/${q.userId}`)
        return { room: rooms.has(q.roomId), user: member ? toUser(member) : null }
      }
    }, 500)
  }

  get(roomId: string, userId: string): Promise<MemberProfile> {
    return this.#lookups.ask({ roomId, userId })
  }

  /** Answers what is asked so far and takes no more: before the database closes. */
  close(): Promise<void> {
    return this.#lookups.close()
  }
}
