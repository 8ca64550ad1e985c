// What the kernel says about a process: CPU time (user + system), resident memory and write calls, read from /proc.
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'

const TICKS_PER_SECOND = 100 // USER_HZ on Linux

export interface ProcessSample {
  /** user and system CPU seconds since the process started */
  user: number
  system: number
  /** resident set size now and at its peak, bytes */
  rss: number
  peakRss: number
  /** write-type system calls since the process started (`write`, `writev`: sockets and files alike) */
  writes: number
}

export function sample(pid: number): ProcessSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
  return {
    user: Number(fields[11]) / TICKS_PER_SECOND,
    system: Number(fields[12]) / TICKS_PER_SECOND,
    rss: kib('VmRSS'),
    peakRss: kib('VmHWM'),
    writes: Number(/^syscw: (\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? NaN)
  }
}

/** CPU seconds spent between two samples. */
export function cpuBetween(before: ProcessSample, after: ProcessSample) {
  const user = after.user - before.user
  const system = after.system - before.system
  return { user, system, total: user + system }
}

/**
 * Every process under test starts with `--expose-gc` and a SIGWINCH handler (nodes.ts; SIGWINCH because the
 * server's own shutdown listens to SIGUSR2, and a process without the handler ignores it), so memory can be read
 * with the garbage of the moment gone, not only while V8 still holds it. The handler asks for V8's last-resort
 * collection, the one it runs under memory pressure: it compacts the old space and shrinks the young one, as an
 * idle process's memory reducer does in time (Node 22 and later; Node 20 ignores the options), then for a plain
 * full collection, which is all Node 20 does.
 */
export const GC_ON_SIGNAL = [
  '--expose-gc',
  '--import',
  'data:text/javascript,process.on("SIGWINCH",()=>{globalThis.gc({type:"major",execution:"sync",flavor:"last-resort"});globalThis.gc()})'
]

/** Asks the process for a full collection, then gives it time to finish and return pages to the kernel. */
export async function collectGarbage(pid: number): Promise<void> {
  process.kill(pid, 'SIGWINCH')
  await sleep(1500)
}
