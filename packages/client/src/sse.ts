// A Server-Sent Events parser as the HTML standard describes it, fed text as it arrives: lines end with CRLF,
// LF or CR (a CR at the end of a chunk may be the first half of a CRLF), `:` starts a comment, a field's value
// loses one leading space, data lines join with LF, a blank line dispatches. `retry:` is left to the caller's
// own backoff.

export interface SseFrame {
  /** The `event:` field; `message` when absent. */
  event: string
  data: string
  /** The `id:` field of this frame, if it had one. */
  id: string | undefined
}

export class SseParser {
  #buffer = ''
  #started = false
  #pendingCR = false
  #event = ''
  #data: string[] = []
  #id: string | undefined
  /** The last `id:` seen in the stream (it carries over frames, as EventSource's lastEventId does). */
  lastEventId = ''

  /** Takes the next piece of the stream; returns the frames it completed. */
  push(chunk: string): SseFrame[] {
    let text = chunk
    if (!this.#started && text.length > 0) {
      this.#started = true
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
    }
    if (this.#pendingCR && text.startsWith('\n')) text = text.slice(1)
    this.#pendingCR = false
    this.#buffer += text
    const frames: SseFrame[] = []
    let start = 0
    for (let i = 0; i < this.#buffer.length; i++) {
      const c = this.#buffer.charCodeAt(i)
      if (c !== 10 && c !== 13) continue
      const frame = this.#line(this.#buffer.slice(start, i))
      if (frame) frames.push(frame)
      if (c === 13) {
        if (i + 1 === this.#buffer.length) this.#pendingCR = true
        else if (this.#buffer.charCodeAt(i + 1) === 10) i++
      }
      start = i + 1
    }
    this.#buffer = this.#buffer.slice(start)
    return frames
  }

  #line(line: string): SseFrame | undefined {
    if (line === '') return this.#dispatch()
    if (line.startsWith(':')) return undefined
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') this.#event = value
    else if (field === 'data') this.#data.push(value)
    else if (field === 'id' && !value.includes('\0')) {
      this.#id = value
      this.lastEventId = value
    }
    return undefined
  }

  #dispatch(): SseFrame | undefined {
    const frame =
      this.#data.length > 0 ? { event: this.#event || 'message', data: this.#data.join('\n'), id: this.#id } : undefined
    this.#event = ''
    this.#data = []
    this.#id = undefined
    return frame
  }
}
