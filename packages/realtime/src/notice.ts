// Unstored events that say what people are doing rather than what the room's log holds: `typing`, `presence` and
// `read`. A notice is encoded at most once per node for each transport (SSE frame, WebSocket message), on first
// use, and the same bytes are queued on every local connection it reaches, in order with the rest of its queue.
export type NoticeType = 'typing' | 'presence' | 'read'

export class Notice {
  readonly type: NoticeType
  readonly data: Readonly<Record<string, unknown>>
  /** The user the notice is about, whose own connections do not get it (typing, presence); null: no one's. */
  readonly from: string | null
  #sse: Buffer | null = null
  #ws: Buffer | null = null

  constructor(type: NoticeType, data: Readonly<Record<string, unknown>>, from: string | null) {
    this.type = type
    this.data = data
    this.from = from
  }

  /** `event: <type>` / `data: <json>`: no `id:`, as for every unstored event. */
  get sse(): Buffer {
    this.#sse ??= Buffer.from(`event: ${this.type}\ndata: ${JSON.stringify(this.data)}\n\n`)
    return this.#sse
  }

  /** `{"type": <type>, ...data}`, one WebSocket message. */
  get ws(): Buffer {
    this.#ws ??= Buffer.from(JSON.stringify({ type: this.type, ...this.data }))
    return this.#ws
  }
}
