// The hub's one timer structure for the connections' token expiries: a binary min-heap of deadlines and a single
// timer armed for the earliest. A timer per connection would cost each its own Timeout, closure and (since every
// delay differs) its own list in Node's timer wheel; here a connection holds one small entry, taken out of the
// heap in O(log n) when it ends first.

// setTimeout fires at once for delays past 2^31-1 ms; longer waits are re-armed.
const MAX_TIMER_MS = 2 ** 31 - 1

/** A deadline in the heap; `index` is its place there, -1 once it is out. */
export interface Deadline<T> {
  readonly at: number
  readonly item: T
  index: number
}

export class Deadlines<T> {
  readonly #heap: Deadline<T>[] = []
  readonly #onDue: (item: T) => void
  readonly #now: () => number
  #timer: NodeJS.Timeout | null = null
  /** When the armed timer fires (ms epoch); Infinity when none is armed. */
  #armedFor = Infinity

  /** `onDue` is called once for each item whose deadline has come, earliest first. */
  constructor(onDue: (item: T) => void, now: () => number = Date.now) {
    this.#onDue = onDue
    this.#now = now
  }

  get size(): number {
    return this.#heap.length
  }

  /** Adds `item`, due at `at` (ms epoch); the returned entry takes it out again (delete). */
  add(item: T, at: number): Deadline<T> {
    const entry: Deadline<T> = { at, item, index: this.#heap.length }
    this.#heap.push(entry)
    this.#up(entry.index)
    if (this.#heap[0] === entry) this.#arm()
    return entry
  }

  /** Takes the entry out; nothing if it is already out (due, or deleted). */
  delete(entry: Deadline<T>): void {
    const i = entry.index
    if (i < 0 || this.#heap[i] !== entry) return
    entry.index = -1
    const last = this.#heap.pop()!
    if (i < this.#heap.length) {
      this.#heap[i] = last
      last.index = i
      this.#down(i)
      this.#up(last.index)
    }
    // A timer armed for a deadline that went stays: when it fires, it finds nothing due and re-arms.
    if (this.#heap.length === 0) this.#disarm()
  }

  /** Stops the timer and forgets every deadline. */
  clear(): void {
    for (const entry of this.#heap) entry.index = -1
    this.#heap.length = 0
    this.#disarm()
  }

  #fire = (): void => {
    this.#timer = null
    this.#armedFor = Infinity
    const now = this.#now()
    for (let first = this.#heap[0]; first && first.at <= now; first = this.#heap[0]) {
      this.delete(first)
      this.#onDue(first.item)
    }
    this.#arm()
  }

  /** Arms the timer for the earliest deadline, unless one already fires by then. */
  #arm(): void {
    const first = this.#heap[0]
    if (!first || first.at >= this.#armedFor) return
    this.#disarm()
    const delay = Math.min(Math.max(0, first.at - this.#now()), MAX_TIMER_MS)
    this.#armedFor = this.#now() + delay
    this.#timer = setTimeout(this.#fire, delay)
    this.#timer.unref()
  }

  #disarm(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    this.#armedFor = Infinity
  }

  #up(i: number): void {
    const heap = this.#heap
    const entry = heap[i]!
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (heap[parent]!.at <= entry.at) break
      heap[i] = heap[parent]!
      heap[i]!.index = i
      i = parent
    }
    heap[i] = entry
    entry.index = i
  }

  #down(i: number): void {
    const heap = this.#heap
    const entry = heap[i]!
    for (;;) {
      const left = 2 * i + 1
      if (left >= heap.length) break
      const right = left + 1
      const child = right < heap.length && heap[right]!.at < heap[left]!.at ? right : left
      if (heap[child]!.at >= entry.at) break
      heap[i] = heap[child]!
      heap[i]!.index = i
      i = child
    }
    heap[i] = entry
    entry.index = i
  }
}
