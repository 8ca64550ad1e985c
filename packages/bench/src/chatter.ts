// What the post mode's clients send: posts, edits of the sender's own posts and reactions, for closedLoop. Request
// i goes to room i mod rooms as token i mod tokens (every token is a member of every room, see createRooms), so
// the pure posts of the first phase leave each token recent posts of its own in the rooms it posts to, and every
// room recent posts to react to, for the mixed phase.
import type { Call } from './loop.ts'

/** Shares of each kind of request in the mixed phase. */
export interface PostMix {
  post: number
  edit: number
  react: number
}

export function postMix(edit: number, react: number): PostMix {
  if (!(edit >= 0 && react >= 0 && edit + react <= 1))
    throw new Error(`POST_EDIT_SHARE (${edit}) and POST_REACT_SHARE (${react}) must be ≥ 0 and add up to ≤ 1`)
  return { post: Number((1 - edit - react).toFixed(6)), edit, react }
}

/** How many of the latest seqs are remembered per room and per token in a room. */
const RECENT = 16
const KEYS = ['👍', ':tada:', '🎉', ':eyes:']

interface Reaction {
  roomId: string
  seq: number
  key: string
}

function remember(list: number[], seq: number) {
  list.push(seq)
  if (list.length > RECENT) list.shift()
}

const anyOf = <T>(list: T[]): T | undefined => list[Math.floor(Math.random() * list.length)]

export class Chatter {
  /** own[room][token]: the token's latest posts in the room */
  private readonly own: number[][][]
  /** the room's latest posts, by anyone */
  private readonly recent: number[][]
  /** per token: reactions it added and has not taken back yet */
  private readonly reactions: Reaction[][]
  /** per token: how many reactions it has sent; odd turns take one back */
  private readonly turns: number[]

  constructor(
    private readonly rooms: string[],
    private readonly tokens: string[],
    private readonly mix: PostMix
  ) {
    this.own = rooms.map(() => tokens.map(() => []))
    this.recent = rooms.map(() => [])
    this.reactions = tokens.map(() => [])
    this.turns = tokens.map(() => 0)
  }

  post(i: number): Call {
    const [r, t] = this.slot(i)
    return {
      kind: 'post',
      path: '/rooms/message',
      body: { roomId: this.rooms[r], text: `m ${i}` },
      token: this.tokens[t]!,
      ok: [201],
      onOk: (res) => {
        const seq = Number(res.json.seq)
        remember(this.own[r]![t]!, seq)
        remember(this.recent[r]!, seq)
      }
    }
  }

  /** A post, edit or reaction as the mix has it; a post where there is nothing to edit or react to yet. */
  mixed(i: number): Call {
    const u = Math.random()
    const call = u < this.mix.edit ? this.edit(i) : u < this.mix.edit + this.mix.react ? this.react(i) : undefined
    return call ?? this.post(i)
  }

  private slot(i: number): [room: number, token: number] {
    return [i % this.rooms.length, i % this.tokens.length]
  }

  /** Edits one of the token's own recent posts in the room. */
  private edit(i: number): Call | undefined {
    const [r, t] = this.slot(i)
    const seq = anyOf(this.own[r]![t]!)
    if (seq === undefined) return undefined
    const body = { roomId: this.rooms[r], seq, text: `e ${i}` }
    return { kind: 'edit', path: '/rooms/message/edit', body, token: this.tokens[t]!, ok: [201] }
  }

  /**
   * Turn by turn, adds a reaction to a recent post in the room and takes back the token's latest one (only
   * reactions the server confirmed are taken back), so most answers are 201 rather than 204 (no change).
   */
  private react(i: number): Call | undefined {
    const [r, t] = this.slot(i)
    const mine = this.reactions[t]!
    const turn = this.turns[t]!++
    const call = (body: Record<string, unknown>, onOk?: Call['onOk']): Call => ({
      kind: 'react',
      path: '/rooms/message/react',
      body,
      token: this.tokens[t]!,
      ok: [201, 204],
      onOk
    })
    const added = turn % 2 === 1 ? mine.pop() : undefined
    if (added) return call({ ...added, remove: true })
    const seq = anyOf(this.recent[r]!)
    if (seq === undefined) return undefined
    const reaction = { roomId: this.rooms[r]!, seq, key: KEYS[(turn >> 1) % KEYS.length]! }
    return call(reaction, (res) => {
      if (res.status === 201) mine.push(reaction)
    })
  }
}
