// Small pieces the cost benches share: their numeric flags and the CPU of a process from /proc
// (this machine is Linux; the benches measure CPU, not wall time, so the load matters less).
import { readFileSync, readdirSync } from 'node:fs';

/** `--name=N` from the command line, or the fallback. */
export function flag(name: string, fallback: number): number {
  const raw = process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  return raw ? Number(raw) : fallback;
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The world's FerretDB process (its command line names the world's directory). */
export function ferretPidOf(dir: string): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.includes('ferretdb') && cmd.includes(dir)) return Number(entry);
    } catch {}
  }
  throw new Error('FerretDB process not found');
}
