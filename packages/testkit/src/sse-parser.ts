// The Server-Sent Events wire format, parsed the way the spec says: lines (LF or CRLF), comments, fields, and a
// blank line that dispatches the block. Each dispatched event keeps its raw block so tests can assert the exact
// framing. The client feeds it decoded text as it arrives, in chunks cut anywhere.

/** One dispatched block. */
export interface ParsedEvent {
  /** The block's own `id:` field (stored events only). */
  id: string | undefined
  event: string
  data: string
  /** The block as it came over the wire, lines joined with \n, without the blank line that ended it. */
  raw: string
  dataLines: number
}

export interface ParserSink {
  comment(text: string): void
  /** Every `id:` field, also of a block that dispatches nothing, as EventSource keeps it. */
  id(id: string): void
  event(event: ParsedEvent): void
}

export class SseParser {
  readonly #sink: ParserSink
  #pending = ''
  #block: string[] = []
  #fields: { id?: string; event?: string; data: string[] } = { data: [] }

  constructor(sink: ParserSink) {
    this.#sink = sink
  }

  /** Forgets a partial line or block: a new connection starts clean. */
  reset(): void {
    this.#pending = ''
    this.#block = []
    this.#fields = { data: [] }
  }

  feed(chunk: string): void {
    const text = this.#pending + chunk
    let start = 0
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      this.#line(text.slice(start, text[nl - 1] === '\r' ? nl - 1 : nl))
      start = nl + 1
    }
    this.#pending = text.slice(start)
  }

  #line(line: string): void {
    if (line === '') return this.#dispatch()
    if (line.startsWith(':')) return this.#sink.comment(line.slice(1).trimStart())
    this.#block.push(line)
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') this.#fields.data.push(value)
    else if (field === 'event') this.#fields.event = value
    else if (field === 'id') this.#fields.id = value
  }

  #dispatch(): void {
    const { id, event, data } = this.#fields
    const raw = this.#block.join('\n')
    this.#block = []
    this.#fields = { data: [] }
    if (id !== undefined) this.#sink.id(id)
    // A block without data (the `retry:` hint) dispatches nothing, as in EventSource.
    if (data.length === 0) return
    this.#sink.event({ id, event: event ?? 'message', data: data.join('\n'), raw, dataLines: data.length })
  }
}
