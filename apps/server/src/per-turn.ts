// Calls gathered during one turn of the event loop and handed over together once it is over (setImmediate runs
// after every request read in the same poll has been handled). Under load many requests arrive in one turn,
// and one database round trip can answer them all; a quiet server hands over batches of one.
export function perTurn<T>(run: (batch: T[]) => Promise<void>, max = Infinity): (item: T) => void {
  let pending: T[] | null = null
  return (item) => {
    if (!pending || pending.length >= max) {
      const batch: T[] = (pending = [])
      setImmediate(() => {
        if (pending === batch) pending = null
        void run(batch)
      })
    }
    pending.push(item)
  }
}
