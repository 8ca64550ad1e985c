// The user stream's cursor: its position in every room at once, small whatever the number of rooms. A base, a
// snapshot of positions stored once (server-side, immutable, by id), plus the rooms that moved since:
//
//   1.<base id, base 36>[.<room>~<seq, base 36>]*     room: its index in the base (base 36), or R + its id in hex
//
// e.g. `1.k3x.0~1f.c~2a`. A connection asks for a new base when its cursor grows past REBASE_AT characters, so a
// cursor stays under MAX_CURSOR however many rooms move. The server never trusts a cursor beyond the caller's
// own rooms: a base is read only with its owner's id, and only rooms the caller is a member of are replayed.

/** The contract's bound on a cursor's length. */
export const MAX_CURSOR = 512
/** Past this length a connection stores a new base. */
export const REBASE_AT = 320

export interface CursorBase {
  /** The base's id (digits of base 36). */
  readonly id: string
  readonly rooms: readonly string[]
  readonly seqs: readonly number[]
}

export type CursorEntry =
  { readonly index: number; readonly seq: number } | { readonly roomId: string; readonly seq: number }

export interface ParsedCursor {
  readonly baseId: string
  readonly entries: readonly CursorEntry[]
}

const ENTRY = /^(?:([0-9a-z]{1,6})|R([0-9A-F]{32}))~([0-9a-z]{1,11})$/
const BASE_ID = /^[0-9a-z]{1,13}$/

function hexOf(roomId: string): string {
  return roomId.replaceAll('-', '').toUpperCase()
}

function uuidOf(hex: string): string {
  const h = hex.toLowerCase()
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/** Reads a cursor; null when it is not one this server writes (a 400 for the caller). */
export function parseCursor(cursor: string): ParsedCursor | null {
  if (cursor.length > MAX_CURSOR) return null
  const [version, baseId, ...rest] = cursor.split('.')
  if (version !== '1' || baseId === undefined || !BASE_ID.test(baseId)) return null
  const entries: CursorEntry[] = []
  for (const part of rest) {
    const m = ENTRY.exec(part)
    if (!m) return null
    const seq = parseInt(m[3]!, 36)
    if (!Number.isSafeInteger(seq)) return null
    entries.push(m[1] !== undefined ? { index: parseInt(m[1], 36), seq } : { roomId: uuidOf(m[2]!), seq })
  }
  return { baseId, entries }
}

/** The positions a parsed cursor stands for, on its base; entries naming no room of the base are dropped. */
export function positionsOf(base: CursorBase, parsed: ParsedCursor): Map<string, number> {
  const positions = new Map<string, number>()
  base.rooms.forEach((roomId, i) => positions.set(roomId, base.seqs[i]!))
  for (const entry of parsed.entries) {
    const roomId = 'index' in entry ? base.rooms[entry.index] : entry.roomId
    if (roomId !== undefined) positions.set(roomId, entry.seq)
  }
  return positions
}

/** A room whose position differs from the base: its `.<room>~` and its `.<room>~<seq>` as the cursor writes it. */
interface Moved {
  readonly key: string
  seq: number
  text: string
}

/**
 * A connection's cursor: its base, and the rooms whose position differs from it. Ten thousand connections each
 * hold one, so it keeps no index of its own: a room's place in the base is looked up once, when the room first
 * moves after the base was taken, and the Map of moved rooms exists only once one has moved.
 */
export class CursorState {
  #base: CursorBase
  /** In the order the rooms first moved, which is the order they are written in; null while none has. */
  #moved: Map<string, Moved> | null = null
  #encoded: string | null = null
  #prefix = ''

  constructor(base: CursorBase, positions: ReadonlyMap<string, number>) {
    this.#base = base
    this.#setBase(base, positions)
  }

  /** Records that the connection's position in the room is now `seq` (`seq36`: the same in base 36). */
  move(roomId: string, seq: number, seq36 = seq.toString(36)): void {
    const movedRooms = (this.#moved ??= new Map())
    let moved = movedRooms.get(roomId)
    if (!moved) {
      const i = this.#base.rooms.indexOf(roomId)
      moved = { key: `.${i < 0 ? `R${hexOf(roomId)}` : i.toString(36)}~`, seq, text: '' }
      movedRooms.set(roomId, moved)
    }
    moved.seq = seq
    moved.text = moved.key + seq36
    this.#encoded = null
  }

  encode(): string {
    if (this.#encoded !== null) return this.#encoded
    let out = this.#prefix
    if (this.#moved) for (const moved of this.#moved.values()) out += moved.text
    this.#encoded = out
    return out
  }

  /** Every room's position, for a new base. */
  positions(): Map<string, number> {
    const all = new Map<string, number>()
    this.#base.rooms.forEach((roomId, i) => all.set(roomId, this.#base.seqs[i]!))
    if (this.#moved) for (const [roomId, moved] of this.#moved) all.set(roomId, moved.seq)
    return all
  }

  /** Moves onto a newer base; positions that moved after it was taken stay as entries. */
  rebase(base: CursorBase): void {
    this.#setBase(base, this.positions())
  }

  #setBase(base: CursorBase, positions: ReadonlyMap<string, number>): void {
    this.#base = base
    this.#prefix = `1.${base.id}`
    this.#moved = null
    // The base's positions, by room, for this comparison only.
    const inBase = new Map(base.rooms.map((roomId, i) => [roomId, base.seqs[i]!]))
    for (const [roomId, seq] of positions) if (inBase.get(roomId) !== seq) this.move(roomId, seq)
    this.#encoded = null
  }
}
