// WAN benchmark: TCP CUBIC/BBR (iperf3), libudt4 and udt-perf side by side through the same linkem-emulated link.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, release } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildLinkem, Link, linkemAvailability, type LinkemStats } from '../linkem/linkem.js';
import { CONTENDERS, type Contender, type Measurement, type RunContext } from './contenders.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const HELP = `usage: node --import tsx bench/wan/run.ts [options]   (needs root, /dev/net/tun and ip netns; else exits 0)

  --quick              ~10 s transfers, 1 run each (default: 30 s, 3 runs)
  --duration S         seconds per transfer
  --runs N             runs per cell; the median is reported
  --rate R             bottleneck rate both ways (default 100mbit)
  --rtt MS             round-trip propagation delay, split evenly (default 100)
  --loss LIST          random loss in %, one scenario each (default 0,0.1,1)
  --loss-both          apply the loss to both directions (default: the data direction A->B only)
  --queue-bdp X        drop-tail queue as a multiple of the BDP (default 1)
  --contenders LIST    from: ${Object.keys(CONTENDERS).join(', ')} (default: all; missing ones are skipped)
  --seed N             linkem seed (run i of every cell uses seed N+i)
  --name P             namespace prefix (default wan<pid>)
  --no-rt              do not run linkem's threads SCHED_FIFO
  --linkem-arg ARG     extra linkem flag (repeatable), e.g. --linkem-arg=--jitter --linkem-arg=1ms
  --out DIR            report directory (default bench/out)`;

function parseRate(text: string): number {
  const m = /^([\d.]+(?:e\d+)?)\s*([kmg]?)(?:bit|bps)?$/i.exec(text.trim());
  if (!m) throw new Error(`bad rate '${text}' (e.g. 100mbit)`);
  const scale = { '': 1, k: 1e3, m: 1e6, g: 1e9 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * scale;
}

function positive(name: string, text: string): number {
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number, got '${text}'`);
  return v;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** How long past durationS a client that ends by itself may take (connect, slow flush, the server's report). */
const CLIENT_SLACK_S = 15;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface RunRecord {
  lossPct: number;
  contender: string;
  run: number;
  seed: number;
  result?: Measurement;
  error?: string;
  linkem?: LinkemStats;
}

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    runs: { type: 'string' },
    rate: { type: 'string', default: '100mbit' },
    rtt: { type: 'string', default: '100' },
    loss: { type: 'string', default: '0,0.1,1' },
    'loss-both': { type: 'boolean', default: false },
    'queue-bdp': { type: 'string', default: '1' },
    contenders: { type: 'string', default: Object.keys(CONTENDERS).join(',') },
    seed: { type: 'string', default: '1' },
    name: { type: 'string', default: `wan${process.pid}` },
    'no-rt': { type: 'boolean', default: false },
    'linkem-arg': { type: 'string', multiple: true, default: [] },
    out: { type: 'string', default: join(ROOT, 'bench', 'out') },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (opts.help) {
  console.log(HELP);
  process.exit(0);
}

const durationS = positive('duration', opts.duration ?? (opts.quick ? '10' : '30'));
const runs = Math.round(positive('runs', opts.runs ?? (opts.quick ? '1' : '3')));
const rateBps = parseRate(opts.rate);
const rttMs = positive('rtt', opts.rtt);
const lossList = opts.loss.split(',').map((s) => Number(s.trim()));
if (lossList.some((x) => !Number.isFinite(x) || x < 0 || x > 100)) throw new Error(`bad --loss '${opts.loss}'`);
const queueBdp = positive('queue-bdp', opts['queue-bdp']);
const bdpBytes = (rateBps * rttMs) / 1000 / 8;
const queueBytes = Math.max(Math.round(bdpBytes * queueBdp), 16 * 1500);
const seed0 = Math.round(Number(opts.seed));

let currentLink: Link | undefined;
let aborting = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (aborting) return;
    aborting = true;
    console.error(`wan: ${sig}: tearing down`);
    void (currentLink?.down() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

function linkemArgs(lossPct: number, seed: number): string[] {
  const oneWay = `${rttMs / 2}ms`;
  const args = ['--rate', String(rateBps), '--delay', oneWay, '--queue-bytes', String(queueBytes), '--seed', String(seed)];
  if (lossPct > 0) args.push(opts['loss-both'] ? '--loss' : '--ab-loss', `${lossPct}%`);
  if (!opts['no-rt']) args.push('--rt-prio', '10');
  return [...args, ...opts['linkem-arg']];
}

async function runOnce(link: Link, contender: Contender, ctx: RunContext): Promise<Measurement> {
  const server = link.spawn('B', contender.server(ctx), { timeoutMs: (ctx.durationS + 60) * 1000 });
  if (contender.serverReady) {
    const ready = await server.waitLine(contender.serverReady, 10_000);
    if (!ready) throw new Error(`server not ready: ${server.stderr().slice(-300) || server.stdout().slice(-300)}`);
  } else {
    await sleep(500);
  }
  const runsFor = contender.clientRunsS?.(ctx);
  const client = link.spawn('A', contender.client(ctx));
  const limitS = runsFor ?? ctx.durationS + CLIENT_SLACK_S;
  const finished = await client.waitExit(limitS * 1000);
  if (!finished) await client.stop();
  if (!(await server.waitExit(3000))) await server.stop();
  try {
    return contender.parse(ctx, server, client);
  } catch (err) {
    if (finished || runsFor !== undefined) throw err;
    throw new Error(`client still running ${limitS} s after it started (stopped it); ${(err as Error).message}`);
  }
}

function fmt(x: number, digits = 1): string {
  return x.toFixed(digits);
}

function machineLine(): string {
  const cpu = cpus();
  const iperf = spawnSync('iperf3', ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0] ?? 'iperf3 missing';
  let libudt = 'libudt-dev missing';
  const dpkg = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'libudt-dev'], { encoding: 'utf8' });
  if (dpkg.status === 0) libudt = `libudt-dev ${dpkg.stdout}`;
  return `${hostname()}: ${cpu.length}× ${cpu[0]?.model ?? '?'}, Linux ${release()}, node ${process.version}, ${iperf}, ${libudt}`;
}

async function main(): Promise<void> {
  const avail = linkemAvailability();
  if (!avail.ok) {
    console.log(`wan: skipped: ${avail.reason}`);
    return;
  }
  buildLinkem();
  const selected: Array<[string, Contender]> = [];
  for (const key of opts.contenders.split(',').map((s) => s.trim()).filter(Boolean)) {
    const c = CONTENDERS[key];
    if (!c) throw new Error(`unknown contender '${key}' (known: ${Object.keys(CONTENDERS).join(', ')})`);
    const missing = await c.prepare();
    if (missing) console.log(`wan: skipping ${c.name}: ${missing}`);
    else selected.push([key, c]);
  }
  if (!selected.length) {
    console.log('wan: no contender can run; nothing to do');
    return;
  }
  const loadAtStart = loadavg().map((x) => x.toFixed(2)).join(' ');
  const started = new Date();
  const records: RunRecord[] = [];
  const bufBytes = Math.max(4 * (bdpBytes + queueBytes), 4 << 20);
  const cells = lossList.length * runs * selected.length;
  console.log(
    `wan: ${cells} transfers of ${durationS} s: ${fmt(rateBps / 1e6, 0)} Mbit/s, RTT ${rttMs} ms, queue ${queueBytes} B, loss ${lossList.join('/')}%`,
  );
  let n = 0;
  for (const lossPct of lossList) {
    for (let run = 0; run < runs; run++) {
      for (const [key, contender] of selected) {
        if (aborting) return;
        const seed = seed0 + run;
        const rec: RunRecord = { lossPct, contender: key, run, seed };
        const ctx: RunContext = { host: '10.77.0.2', port: 5201, durationS, rateBps };
        try {
          currentLink = await Link.up({ name: opts.name, linkemArgs: linkemArgs(lossPct, seed), bufBytes });
          rec.result = await runOnce(currentLink, contender, ctx);
        } catch (err) {
          rec.error = (err as Error).message;
        } finally {
          rec.linkem = await currentLink?.down();
          currentLink = undefined;
        }
        records.push(rec);
        n++;
        const what = rec.result ? `${fmt(rec.result.goodputBps / 1e6)} Mbit/s` : `FAILED: ${rec.error}`;
        const ab = rec.linkem?.ab;
        const drops = ab ? ` (a->b drops: queue ${ab.dropped_queue}, loss ${ab.dropped_loss})` : '';
        console.log(`wan: [${n}/${cells}] loss ${lossPct}% ${contender.name} run ${run + 1}: ${what}${drops}`);
      }
    }
  }
  const md = report(records, selected, started, loadAtStart);
  console.log(`\n${md}`);
  mkdirSync(opts.out, { recursive: true });
  const stamp = started.toISOString().replace(/[:]/g, '-').replace(/\..*/, '');
  const mdPath = join(opts.out, `wan-${stamp}.md`);
  writeFileSync(mdPath, md);
  writeFileSync(join(opts.out, `wan-${stamp}.json`), JSON.stringify({ opts, records }, null, 2));
  console.log(`wan: wrote ${relative(process.cwd(), mdPath)} (and .json)`);
}

function report(records: RunRecord[], selected: Array<[string, Contender]>, started: Date, load: string): string {
  const argv = process.argv.slice(2).join(' ');
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const lines = [
    `## WAN benchmark (udt ${pkg.version}, ${started.toISOString()})`,
    '',
    `Command: \`node --import tsx bench/wan/run.ts${argv ? ` ${argv}` : ''}\`  `,
    `Machine: ${machineLine()}; load average at start ${load}  `,
    `Link (bench/linkem): ${fmt(rateBps / 1e6, 0)} Mbit/s bottleneck each way, RTT ${rttMs} ms (${rttMs / 2} ms each way), ` +
      `drop-tail queue ${queueBytes} B (${queueBdp}× BDP), random loss on ${opts['loss-both'] ? 'both directions' : 'the data direction only'}` +
      `${opts['no-rt'] ? '' : ', linkem threads SCHED_FIFO'}${opts['linkem-arg'].length ? `, extra: ${opts['linkem-arg'].join(' ')}` : ''}  `,
    `Each cell: median of ${runs} transfer(s) of ${durationS} s (receiver-side goodput, slow start included), a fresh link per transfer.`,
    '',
    '| loss | contender | goodput Mbit/s | % of link | runs (Mbit/s) | linkem a→b dropped queue / loss | linkem late p99 µs | linkem CPU % |',
    '| ---: | --- | ---: | ---: | --- | ---: | ---: | ---: |',
  ];
  for (const lossPct of lossList) {
    for (const [key, contender] of selected) {
      const rs = records.filter((r) => r.lossPct === lossPct && r.contender === key);
      const ok = rs.filter((r) => r.result).map((r) => r.result!.goodputBps);
      const failed = rs.length - ok.length;
      const med = ok.length ? median(ok) : NaN;
      const runsText = rs.map((r) => (r.result ? fmt(r.result.goodputBps / 1e6) : 'fail')).join(', ');
      const drops = rs
        .filter((r) => r.linkem)
        .map((r) => `${r.linkem!.ab.dropped_queue} / ${r.linkem!.ab.dropped_loss}`)
        .join(', ');
      const late = rs.filter((r) => r.linkem).map((r) => Math.max(r.linkem!.ab.late_p99_us, r.linkem!.ba.late_p99_us));
      const cpu = rs.filter((r) => r.linkem).map((r) => r.linkem!.cpu.pct);
      lines.push(
        `| ${lossPct}% | ${contender.name} | ${ok.length ? fmt(med / 1e6) : '—'} | ${ok.length ? fmt((100 * med) / rateBps) : '—'} | ` +
          `${runsText}${failed ? ` (${failed} failed)` : ''} | ${drops || '—'} | ${late.length ? Math.max(...late) : '—'} | ` +
          `${cpu.length ? fmt(median(cpu)) : '—'} |`,
      );
    }
  }
  const errors = records.filter((r) => r.error);
  if (errors.length) {
    lines.push('', 'Failures:');
    for (const r of errors) lines.push(`- loss ${r.lossPct}% ${r.contender} run ${r.run + 1}: ${r.error}`);
  }
  return `${lines.join('\n')}\n`;
}

main().catch(async (err: unknown) => {
  console.error(`wan: ${(err as Error).stack ?? String(err)}`);
  await currentLink?.down();
  process.exit(1);
});
