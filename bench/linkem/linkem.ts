// Node-side driver for bench/linkem: availability check, link up/down through netns.sh, processes inside the namespaces.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const LINKEM_DIR = dirname(fileURLToPath(import.meta.url));
export const NETNS_SH = join(LINKEM_DIR, 'netns.sh');
export const LINKEM_BIN = join(LINKEM_DIR, 'bin', 'linkem');

export interface Availability {
  ok: boolean;
  reason?: string;
}

/** Whether namespaces + TUN + a compiler are usable here (root, /dev/net/tun, `ip netns`, cc). */
export function linkemAvailability(): Availability {
  if (process.platform !== 'linux') return { ok: false, reason: `linkem needs Linux (this is ${process.platform})` };
  const r = spawnSync('bash', [NETNS_SH, 'check'], { encoding: 'utf8' });
  if (r.error) return { ok: false, reason: `cannot run ${NETNS_SH}: ${r.error.message}` };
  const out = r.stdout.trim();
  if (out.startsWith('UNAVAILABLE:')) return { ok: false, reason: out.slice('UNAVAILABLE:'.length).trim() };
  if (r.status !== 0 || out !== 'OK') return { ok: false, reason: `netns.sh check failed: ${out} ${r.stderr.trim()}` };
  return { ok: true };
}

/** Builds bin/linkem when it is missing or older than linkem.c; returns its path. */
export function buildLinkem(): string {
  const r = spawnSync('bash', [NETNS_SH, 'build'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building linkem failed:\n${r.stderr}`);
  return LINKEM_BIN;
}

/** Counters of one direction as linkem prints them. */
export interface DirStats {
  in: number;
  in_bytes: number;
  out: number;
  out_bytes: number;
  dropped_queue: number;
  dropped_loss: number;
  dropped_mtu: number;
  dropped_pool: number;
  oversize: number;
  duplicated: number;
  reordered: number;
  write_errors: number;
  queue_hw_bytes: number;
  queue_hw_pkts: number;
  held: number;
  held_hw: number;
  late_avg_us: number;
  late_p50_us: number;
  late_p99_us: number;
  late_max_us: number;
  cpu_s: number;
}

export interface LinkemStats {
  event: 'stats' | 'snapshot' | 'final';
  t: number;
  ab: DirStats;
  ba: DirStats;
  cpu: { user_s: number; sys_s: number; pct: number; max_rss_kb: number };
}

export interface LinkOptions {
  /** Namespace prefix: namespaces are `${name}A` and `${name}B`. */
  name: string;
  /** Flags for linkem itself, e.g. ['--rate', '100mbit', '--delay', '50ms']. */
  linkemArgs: string[];
  /** Default TCP congestion control inside both namespaces. */
  cc?: string;
  /** Socket buffer ceiling to make room for (TCP autotuning maxima, net.core.{r,w}mem_max when lower). */
  bufBytes?: number;
}

export const ADDR_A = '10.77.0.1';
export const ADDR_B = '10.77.0.2';

function parseStatsLine(text: string): LinkemStats | undefined {
  for (const line of text.split('\n').reverse()) {
    if (!line.startsWith('{')) continue;
    try {
      const v = JSON.parse(line) as LinkemStats;
      if (v.ab && v.ba) return v;
    } catch {
      // not a stats line
    }
  }
  return undefined;
}

function runNetns(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // linkem exits when this process does, and the next `up` removes what it leaves (see netns.sh gc).
    const env = { ...process.env, LINKEM_WATCH_PID: String(process.pid) };
    const child = spawn('bash', [NETNS_SH, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Two namespaces joined by a running linkem. Always call down() (it is idempotent). */
export class Link {
  readonly nsA: string;
  readonly nsB: string;
  readonly addrA = ADDR_A;
  readonly addrB = ADDR_B;
  private isUp = true;
  private readonly procs = new Set<NsProcess>();

  private constructor(readonly name: string) {
    this.nsA = `${name}A`;
    this.nsB = `${name}B`;
  }

  static async up(opts: LinkOptions): Promise<Link> {
    const args = ['up', '--name', opts.name];
    if (opts.cc) args.push('--cc', opts.cc);
    if (opts.bufBytes) args.push('--buf', String(Math.ceil(opts.bufBytes)));
    const r = await runNetns([...args, '--', ...opts.linkemArgs]);
    if (r.stdout.startsWith('UNAVAILABLE:')) throw new Error(r.stdout.trim());
    if (r.code !== 0) throw new Error(`netns.sh up failed (exit ${r.code}): ${r.stderr.trim()}`);
    return new Link(opts.name);
  }

  /** Current counters (SIGUSR1 to the linkem this link started). */
  async snapshot(): Promise<LinkemStats> {
    const r = await runNetns(['status', '--name', this.name]);
    const stats = parseStatsLine(r.stdout);
    if (!stats) throw new Error(`no linkem snapshot: ${r.stdout.trim()} ${r.stderr.trim()}`);
    return stats;
  }

  /** Runs argv inside namespace A or B. */
  spawn(side: 'A' | 'B', argv: string[], opts: NsProcessOptions = {}): NsProcess {
    const p = new NsProcess(side === 'A' ? this.nsA : this.nsB, argv, opts);
    this.procs.add(p);
    void p.exited.then(() => this.procs.delete(p));
    return p;
  }

  /** Stops what this link started, removes the namespaces and returns linkem's final counters. */
  async down(): Promise<LinkemStats | undefined> {
    if (!this.isUp) return undefined;
    this.isUp = false;
    await Promise.all([...this.procs].map((p) => p.stop()));
    const r = await runNetns(['down', '--name', this.name]);
    return parseStatsLine(r.stdout);
  }
}

export interface NsProcessOptions {
  /** Kill the process (SIGTERM, then SIGKILL) after this many ms. */
  timeoutMs?: number;
}

export interface Line {
  /** performance.now() when the line arrived. */
  at: number;
  text: string;
  stream: 'stdout' | 'stderr';
}

/** A process started inside a namespace with `ip netns exec` (which execs, so the PID is the program's own). */
export class NsProcess {
  readonly lines: Line[] = [];
  readonly startedAt = performance.now();
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private readonly lineWaiters = new Set<() => void>();
  private done = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly ns: string,
    readonly argv: string[],
    opts: NsProcessOptions = {},
  ) {
    this.child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: this.child[stream]! }).on('line', (text) => {
        this.lines.push({ at: performance.now(), text, stream });
        for (const w of this.lineWaiters) w();
      });
    }
    this.exited = new Promise((resolve) => {
      this.child.on('error', (err) => {
        this.lines.push({ at: performance.now(), text: `spawn error: ${err.message}`, stream: 'stderr' });
      });
      this.child.on('close', (code, signal) => {
        this.done = true;
        if (this.timer) clearTimeout(this.timer);
        for (const w of this.lineWaiters) w();
        resolve({ code, signal });
      });
    });
    if (opts.timeoutMs) this.timer = setTimeout(() => void this.stop(), opts.timeoutMs);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.done;
  }

  stdout(): string {
    return this.lines.filter((l) => l.stream === 'stdout').map((l) => l.text).join('\n');
  }

  stderr(): string {
    return this.lines.filter((l) => l.stream === 'stderr').map((l) => l.text).join('\n');
  }

  /** Resolves with the first line matching pred (stdout or stderr), or undefined on exit or time-out. */
  waitLine(pred: (text: string) => boolean, timeoutMs: number): Promise<Line | undefined> {
    return new Promise((resolve) => {
      const check = (): boolean => {
        const hit = this.lines.find((l) => pred(l.text));
        if (hit || this.done) {
          this.lineWaiters.delete(check);
          clearTimeout(timer);
          resolve(hit);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        this.lineWaiters.delete(check);
        resolve(undefined);
      }, timeoutMs);
      if (!check()) this.lineWaiters.add(check);
    });
  }

  /** Waits for exit up to timeoutMs; returns whether it exited. */
  async waitExit(timeoutMs: number): Promise<boolean> {
    if (this.done) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const ok = await Promise.race([this.exited.then(() => true as const), timedOut]);
    clearTimeout(timer);
    return ok;
  }

  /** SIGTERM, then SIGKILL after graceMs; touches only this PID. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.done) return;
    this.child.kill('SIGTERM');
    if (await this.waitExit(graceMs)) return;
    this.child.kill('SIGKILL');
    await this.waitExit(graceMs);
  }
}
