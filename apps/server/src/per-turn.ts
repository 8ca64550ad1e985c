// Calls gathered during one turn of the event loop and handed over together once it is over (setImmediate runs
// after every request read in the same poll has been handled). Under load many requests arrive in one turn,
// and one database round trip can answer them all; a quiet server hands over batches of one. The owner closes
// it before the database goes away: what is gathered is handed over at once, and close() waits for every batch
// still running, so no batch ever runs against a closed database.
export class PerTurn<T> {
  readonly #run: (batch: T[]) => Promise<void>
  readonly #max: number
  #pending: T[] | null = null
  #immediate: NodeJS.Immediate | null = null
  #running = new Set<Promise<void>>()
  #closed = false

  constructor(run: (batch: T[]) => Promise<void>, max = Infinity) {
    this.#run = run
    this.#max = max
  }

  /** Adds an item to this turn's batch; throws once closed. */
  push(item: T): void {
    if (this.#closed) throw new Error('closed: no more batches are taken')
    if (!this.#pending || this.#pending.length >= this.#max) {
      this.#handOver()
      this.#pending = []
      this.#immediate = setImmediate(() => this.#handOver())
    }
    this.#pending.push(item)
  }

  /** Hands over what is gathered, refuses anything new, and waits for every batch to settle. */
  async close(): Promise<void> {
    this.#closed = true
    this.#handOver()
    await Promise.allSettled(this.#running)
  }

  #handOver(): void {
    if (this.#immediate) clearImmediate(this.#immediate)
    this.#immediate = null
    const batch = this.#pending
    this.#pending = null
    if (!batch || batch.length === 0) return
    // run settles every item of its batch itself, failures included; nothing is left to report here.
    const done = this.#run(batch)
      .catch(() => {})
      .finally(() => this.#running.delete(done))
    this.#running.add(done)
  }
}

/** A question waiting in a batch, with what settles its promise. */
interface Asked<Q, A> {
  question: Q
  resolve(answer: A): void
  reject(error: unknown): void
}

/**
 * Questions asked during one turn, answered by one read for all of them. `answer` reads once for the batch and
 * returns what answers each question; if it throws, every question of the batch rejects with its error.
 */
export class Lookups<Q, A> {
  readonly #batches: PerTurn<Asked<Q, A>>

  constructor(answer: (questions: Q[]) => Promise<(question: Q) => A>, max = Infinity) {
    this.#batches = new PerTurn(async (batch) => {
      try {
        const answerOf = await answer(batch.map((asked) => asked.question))
        for (const asked of batch) asked.resolve(answerOf(asked.question))
      } catch (error) {
        for (const asked of batch) asked.reject(error)
      }
    }, max)
  }

  ask(question: Q): Promise<A> {
    return new Promise((resolve, reject) => this.#batches.push({ question, resolve, reject }))
  }

  /** Answers what is asked so far and takes no more: before the database closes. */
  close(): Promise<void> {
    return this.#batches.close()
  }
}
