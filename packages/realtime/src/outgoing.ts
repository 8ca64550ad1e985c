// What a connection queues for its next write: whole messages (Buffers, a room's frame shared by every stream
// of it), or a message composed of the connection's own ASCII head (its `id: <cursor>` line, its WebSocket
// envelope), a body shared by many connections and an ASCII tail. A flush packs them into one Buffer in one
// copy, framed once for its transport (one HTTP chunk, or one WebSocket frame each), so a delivery costs no
// allocation of its own beyond that Buffer's share.

export interface Composed {
  /** ASCII only: its length is its byte length. */
  readonly head: string
  readonly body: Buffer
  /** ASCII only. */
  readonly tail: string
}

export type Outgoing = Buffer | Composed

export function lengthOf(message: Outgoing): number {
  return Buffer.isBuffer(message) ? message.length : message.head.length + message.body.length + message.tail.length
}

/**
 * Writes an ASCII string's bytes at `at`; returns the offset after them. The heads are a few dozen characters:
 * a loop here costs a fraction of `Buffer#write`, which crosses into C++ for every string.
 */
export function writeAscii(target: Buffer, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) target[at + i] = text.charCodeAt(i)
  return at + text.length
}

/** Writes the message into `target` at `offset`; returns the offset after it. */
export function writeInto(target: Buffer, offset: number, message: Outgoing): number {
  if (Buffer.isBuffer(message)) {
    target.set(message, offset)
    return offset + message.length
  }
  const at = writeAscii(target, offset, message.head)
  target.set(message.body, at)
  return writeAscii(target, at + message.body.length, message.tail)
}

/** Writes the messages back to back into `target` at `offset`; returns the offset after them. */
export function writeAllInto(target: Buffer, offset: number, messages: readonly Outgoing[]): number {
  let at = offset
  for (const message of messages) at = writeInto(target, at, message)
  return at
}

/** The lone message when it is a whole Buffer (a shared frame, to be written as it is); else null. */
export function loneBuffer(messages: readonly Outgoing[]): Buffer | null {
  const [first] = messages
  return messages.length === 1 && Buffer.isBuffer(first) ? first : null
}

/** The messages as one Buffer of `bytes` bytes (a lone Buffer is itself). */
export function pack(messages: readonly Outgoing[], bytes: number): Buffer {
  const lone = loneBuffer(messages)
  if (lone) return lone
  const out = Buffer.allocUnsafe(bytes)
  writeAllInto(out, 0, messages)
  return out
}
