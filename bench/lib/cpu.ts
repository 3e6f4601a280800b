// CPU accounting from /proc (Linux): how many cores a server used during a run, and how busy
// the whole machine was. Returns null where /proc is not available.
import { readFileSync } from 'node:fs';

const TICKS_PER_SEC = 100; // USER_HZ; 100 on every mainstream Linux build

interface Snapshot {
  atMs: number;
  procTicks: number | null;
  machineBusy: number | null;
  machineTotal: number | null;
}

export interface CpuUsage {
  /** Cores used by the server process (all its threads); 1.0 = one core fully busy. */
  serverCores: number | null;
  /** Whole machine, 0..1 (1 = every core busy: server + load generator + everything else). */
  machineBusy: number | null;
}

function procTicks(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" of the command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

function machine(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const n = line.trim().split(/\s+/).slice(1).map(Number);
    const total = n.reduce((a, b) => a + b, 0);
    const idle = (n[3] ?? 0) + (n[4] ?? 0); // idle + iowait
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

export function cpuSnapshot(pid: number | undefined): Snapshot {
  const m = machine();
  return { atMs: Date.now(), procTicks: procTicks(pid), machineBusy: m?.busy ?? null, machineTotal: m?.total ?? null };
}

export function cpuSince(start: Snapshot, pid: number | undefined): CpuUsage {
  const end = cpuSnapshot(pid);
  const seconds = (end.atMs - start.atMs) / 1000;
  const serverCores =
    start.procTicks !== null && end.procTicks !== null && seconds > 0
      ? (end.procTicks - start.procTicks) / TICKS_PER_SEC / seconds
      : null;
  const dTotal = end.machineTotal !== null && start.machineTotal !== null ? end.machineTotal - start.machineTotal : 0;
  const machineBusy =
    dTotal > 0 && end.machineBusy !== null && start.machineBusy !== null
      ? (end.machineBusy - start.machineBusy) / dTotal
      : null;
  return { serverCores, machineBusy };
}

/** OS threads of a process right now (e.g. to see whether ORT started an intra-op pool). */
export function threadCount(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const m = /^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] === undefined ? null : Number(m[1]);
  } catch {
    return null;
  }
}

/** CPU ticks (user + system) of one thread of a process; the main thread's tid is the pid. */
export function threadTicks(pid: number | undefined, tid: number | undefined = pid): number | null {
  if (pid === undefined || tid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

export const ticksToCores = (ticks: number, seconds: number): number => ticks / TICKS_PER_SEC / seconds;
