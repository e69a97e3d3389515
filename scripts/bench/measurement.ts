/** Wall time, CPU seconds of the server, this process and the host, and peak RSS, between phase marks. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const RSS_SAMPLE_MS = 100;
const QUIET_SAMPLE_MS = 2000;
const QUIET_CORES = 0.25;
const CPU_SCAN_ATTEMPTS = 5;
const CLOCK_TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const MB = 1e6;

export interface PhaseMeasure {
  phase: string;
  wallS: number;
  serverCpuS: number;
  clientCpuS: number;
}


/**
 * CPU seconds of the server: the postmaster and its live children (backends, parallel and background
 * workers), plus the postmaster's cutime/cstime, which holds the time of children that exited and were
 * reaped (a backend that ends during a run would otherwise take its CPU with it). NaN for a server
 * that is not on this host.
 */
export function serverCpuSeconds(postmaster: number | undefined): number {
  if (postmaster === undefined) return NaN;
  // A child reaped during the scan moves its time into cutime: seen twice or not at all. Scan again then.
  for (let attempt = 0; ; attempt++) {
    const before = procStat(postmaster);
    let ticks = 0;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === postmaster) continue;
      const child = procStat(Number(entry));
      if (child?.ppid === postmaster) ticks += child.utime + child.stime;
    }
    const after = procStat(postmaster);
    if (!before || !after) throw new Error(`the server (postmaster pid ${postmaster}) is gone`);
    if (after.cutime + after.cstime === before.cutime + before.cstime || attempt === CPU_SCAN_ATTEMPTS) {
      return (ticks + after.utime + after.stime + after.cutime + after.cstime) / CLOCK_TICKS_PER_SECOND;
    }
  }
}

/** CPU seconds of one process, all its threads (piscina's workers included). */
export function processCpuSeconds(pid: number): number {
  const stat = procStat(pid);
  if (!stat) throw new Error(`process ${pid} is gone`);
  return (stat.utime + stat.stime) / CLOCK_TICKS_PER_SECOND;
}

/** A process's peak resident set (VmHWM), in bytes: exact, unlike sampling. */
export function peakRssBytes(pid: number | 'self'): number {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : NaN;
}

/** The 1-minute load average, recorded at the start and end of each run. */
export function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

function procStat(pid: number): { ppid: number; utime: number; stime: number; cutime: number; cstime: number } | undefined {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // exited since the listing
  }
  // Fields after the command, which is in parentheses and may hold spaces: state ppid ... utime(14) stime cutime cstime.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [ppid, utime, stime, cutime, cstime] = [1, 11, 12, 13, 14].map((i) => Number(fields[i]));
  return { ppid, utime, stime, cutime, cstime };
}

/** Busy CPU seconds of the whole host (all but idle and iowait), from /proc/stat: what else ran shows as host − server − client. */
export function hostBusyCpuSeconds(): number {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = ticks;
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS_PER_SECOND;
}

/** Other load on the host costs a run its cores: wait until less than QUIET_CORES of them are busy (our server idles between runs). */
export async function waitForQuietHost(maxWaitS: number, log: (line: string) => void): Promise<void> {
  const deadline = performance.now() + maxWaitS * 1000;
  let said = false;
  for (;;) {
    const before = hostBusyCpuSeconds();
    await new Promise((resolve) => setTimeout(resolve, QUIET_SAMPLE_MS));
    const busyCores = (hostBusyCpuSeconds() - before) / (QUIET_SAMPLE_MS / 1000);
    if (busyCores < QUIET_CORES) return;
    if (performance.now() > deadline) {
      log(`  the host stayed busy (${busyCores.toFixed(1)} cores used by others) for ${maxWaitS} s: measuring anyway`);
      return;
    }
    if (!said) log(`  waiting for the host to go quiet (${busyCores.toFixed(1)} cores busy with other work)`);
    said = true;
  }
}

/** The client side of a run: this process (B, H), or the child process a ploader run is in. */
export interface ClientProbe {
  cpuSeconds(): number;
  peakRssBytes(): number;
}

export const THIS_PROCESS: ClientProbe = {
  cpuSeconds() {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  },
  peakRssBytes: () => NaN, // sampled by the meter: VmHWM of this long-lived process would hold earlier runs' peaks
};

export function childProcessProbe(pid: number): ClientProbe {
  return { cpuSeconds: () => processCpuSeconds(pid), peakRssBytes: () => peakRssBytes(pid) };
}

export interface Metered {
  wallS: number;
  serverCpuS: number;
  clientCpuS: number;
  otherCpuS: number;
  peakRssMb: number;
  metered: PhaseMeasure[];
}

/** Wall, server CPU and client CPU between marks, and the client's peak RSS, for one run. */
export class RunMeter {
  private readonly marks: Array<{ phase: string; at: number; server: number; client: number; host: number }> = [];
  private peakRss = process.memoryUsage.rss();
  // unref: a run that throws never calls finish(), and must not keep the process alive.
  private readonly timer = setInterval(() => this.sampleRss(), RSS_SAMPLE_MS).unref();

  constructor(private readonly postmaster: number | undefined, private readonly client: ClientProbe, firstPhase: string) {
    this.mark(firstPhase);
  }

  get currentPhase(): string {
    return this.marks[this.marks.length - 1].phase;
  }

  mark(phase: string): void {
    this.sampleRss();
    this.marks.push({ phase, at: performance.now(), server: serverCpuSeconds(this.postmaster), client: this.client.cpuSeconds(), host: hostBusyCpuSeconds() });
  }

  finish(): Metered {
    this.mark('end');
    clearInterval(this.timer);
    const metered = this.marks.slice(0, -1).map((m, i) => {
      const next = this.marks[i + 1];
      return { phase: m.phase, wallS: (next.at - m.at) / 1000, serverCpuS: next.server - m.server, clientCpuS: next.client - m.client };
    });
    const first = this.marks[0];
    const last = this.marks[this.marks.length - 1];
    const childPeak = this.client.peakRssBytes();
    return {
      wallS: (last.at - first.at) / 1000,
      serverCpuS: last.server - first.server,
      clientCpuS: last.client - first.client,
      otherCpuS: Math.max(0, last.host - first.host - (last.server - first.server) - (last.client - first.client)),
      peakRssMb: (Number.isNaN(childPeak) ? this.peakRss : childPeak) / MB,
      metered,
    };
  }

  private sampleRss(): void {
    this.peakRss = Math.max(this.peakRss, process.memoryUsage.rss());
  }
}
