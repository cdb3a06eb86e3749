// Linux /proc readings for `npm run bench`: resident memory and CPU time of the processes it runs,
// and of the whole machine (to tell what other jobs on the box took). Elsewhere they read as absent.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const MiB = 2 ** 20;

/** Clock ticks per second of /proc's CPU times (USER_HZ; 100 nearly everywhere). */
export const CLOCK_TICKS: number = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? (Number(match[1]) * 1024) / MiB : undefined;
  } catch {
    return undefined;
  }
}

/** Resident set size now, MiB. */
export const rssMiB = (pid: number): number | undefined => sumOver(pid, (p) => statusField(p, 'VmRSS'));
/** The process's peak resident set size since it started (the kernel's high-water mark), MiB. */
export const peakRssMiB = (pid: number): number | undefined => sumOver(pid, (p) => statusField(p, 'VmHWM'));

/**
 * Processes measured as one: from now on `pid` stands for itself and the processes `others()` names
 * when asked (a PostgreSQL server's backends come and go), for CPU, writes and memory.
 */
const groups = new Map<number, () => number[]>();
export function measureTogether(pid: number, others: () => number[]): void {
  groups.set(pid, others);
}

/** Every process descending from `root` (PostgreSQL's backends), from /proc. */
export function descendantsOf(root: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // Gone since the listing.
    }
  }
  const out: number[] = [];
  const queue = [...(parents.get(root) ?? [])];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(parents.get(pid) ?? []));
  }
  return out;
}

function sumOver(pid: number, one: (pid: number) => number | undefined): number | undefined {
  const others = groups.get(pid);
  const own = one(pid);
  if (!others || own === undefined) return own;
  return others().reduce((sum, p) => sum + (one(p) ?? 0), own);
}

/** CPU time (user + system) the process (or its group: measureTogether) has used, seconds; with the children it has reaped. */
export function cpuSeconds(pid: number): number | undefined {
  return sumOver(pid, processCpuSeconds);
}

function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime, and cutime, cstime: a server's exited workers (PostgreSQL's backends) count.
    return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** CPU seconds the whole machine spent busy (all cores), and idle waiting for disk I/O, from /proc/stat. */
export function machineSeconds(): { busy: number; iowait: number } | undefined {
  try {
    const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal …: busy is everything but idle and iowait.
    const [user, nice, system, , iowait, irq, softirq, steal] = cpu;
    return { busy: (user + nice + system + irq + softirq + (steal ?? 0)) / CLOCK_TICKS, iowait: iowait / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}

/** Bytes the process (or its group) caused to be written to storage so far, and its write system calls (/proc/<pid>/io). */
export function ioWritten(pid: number): { bytes: number; calls: number } | undefined {
  const bytes = sumOver(pid, (p) => processIo(p)?.bytes);
  const calls = sumOver(pid, (p) => processIo(p)?.calls);
  return bytes === undefined || calls === undefined ? undefined : { bytes, calls };
}

function processIo(pid: number): { bytes: number; calls: number } | undefined {
  try {
    const io = fs.readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? NaN);
    return { bytes: field('write_bytes'), calls: field('syscw') };
  } catch {
    return undefined;
  }
}

export function loadAverage(): string {
  try {
    return fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'n/a';
  }
}

export function cpuModel(): string {
  try {
    return /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Samples the resident memory of named processes; `peaks` holds the highest seen since the last reset. */
export class RssSampler {
  private peaks = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pids: () => Record<string, number | undefined>, intervalMs = 250) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  sample(): void {
    for (const [name, pid] of Object.entries(this.pids())) {
      if (pid === undefined) continue;
      const rss = rssMiB(pid);
      if (rss !== undefined && rss > (this.peaks.get(name) ?? 0)) this.peaks.set(name, rss);
    }
  }

  /** Peaks since the last call, then starts over. */
  takePeaks(): Record<string, number> {
    this.sample();
    const peaks = Object.fromEntries(this.peaks);
    this.peaks = new Map();
    return peaks;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** CPU used by each named process and by the whole machine between start() and the returned function's call, in cores. */
export function cpuMeter(pids: Record<string, number | undefined>): () => Record<string, number> {
  const t0 = process.hrtime.bigint();
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, pid === undefined ? undefined : cpuSeconds(pid)]));
  const machine0 = machineSeconds();
  return () => {
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const cores: Record<string, number> = {};
    let ours = 0;
    for (const [name, pid] of Object.entries(pids)) {
      const start = before[name];
      const end = pid === undefined ? undefined : cpuSeconds(pid);
      if (start === undefined || end === undefined) continue;
      cores[name] = (end - start) / wall;
      ours += cores[name];
    }
    const machine1 = machineSeconds();
    if (machine0 !== undefined && machine1 !== undefined) {
      cores.machine = (machine1.busy - machine0.busy) / wall;
      cores.others = Math.max(0, cores.machine - ours);
      // Cores idle while some task waited for the disk (no CPU was free work for it).
      cores.iowait = (machine1.iowait - machine0.iowait) / wall;
    }
    return cores;
  };
}
