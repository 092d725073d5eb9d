// Benchmark: loopback goodput and CPU per side for libudt→libudt, ours→libudt, libudt→ours and ours→ours in one run.
// Run: node --import tsx bench/throughput/interop-matrix.ts [--size-mb 256] [--runs 3] [--engine auto|native|dgram]
// Prints a markdown table (median of the runs) and writes it to bench/out/interop-matrix-<time>.md.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { spawnNodePeer } from '../../test/support/interop.js';
import { buildUdtPeer, expectCleanExit, killAllUdtPeers, libudtStatus, spawnUdtPeer, type PeerEvent, type UdtPeer } from '../../test/support/libudt.js';

const { values } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '256' },
    runs: { type: 'string', default: '3' },
    engine: { type: 'string', default: 'auto' },
  },
});
const sizeBytes = Number(values['size-mb']) * 1024 * 1024;
const runs = Number(values.runs);
const engine = values.engine ?? 'auto';
const LOCAL = '127.0.0.1';
const TIME_LIMIT_S = 300;
const outDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'out');

type Impl = 'libudt' | 'ours';

interface RunResult {
  mbitPerS: number;
  senderCpuSecPerGB: number;
  receiverCpuSecPerGB: number;
  retransPct: number;
  oursEngine?: string;
}

const limits = ['--max-time', String(TIME_LIMIT_S)];
const peerOpts = { timeoutMs: (TIME_LIMIT_S + 10) * 1000 };

/** Starts one side: a udtpeer (libudt) or a nodepeer (ours), receiving into nothing or sending a pattern. */
async function start(impl: Impl, role: 'receiver' | 'sender', port = 0): Promise<UdtPeer> {
  const args =
    role === 'receiver'
      ? ['listen', '--host', LOCAL, '--port', '0', '--discard', '--expect-bytes', String(sizeBytes), ...limits]
      : ['connect', '--host', LOCAL, '--port', String(port), '--send-bytes', String(sizeBytes), ...limits];
  return impl === 'libudt' ? spawnUdtPeer(args, peerOpts) : spawnNodePeer([...args, '--engine', engine], peerOpts);
}

/** CPU seconds of a side: udtpeer reports its process rusage, nodepeer the process CPU since the connection began. */
function cpuSeconds(e: PeerEvent): number {
  const u = (e.rusage ?? e.cpu) as { userMs: number; sysMs: number };
  return (u.userMs + u.sysMs) / 1000;
}

function retransPct(sender: Impl, e: PeerEvent): number {
  const p = (sender === 'libudt' ? e.perf : e.stats) as { pktSentTotal: number; pktRetransTotal: number } | null;
  return p && p.pktSentTotal > 0 ? (100 * p.pktRetransTotal) / p.pktSentTotal : NaN;
}

async function runOnce(from: Impl, to: Impl): Promise<RunResult> {
  const receiver = await start(to, 'receiver');
  const port = Number((await receiver.waitFor('listening', 20_000)).port);
  const sender = await start(from, 'sender', port);
  const [sent] = await expectCleanExit(sender, (TIME_LIMIT_S + 5) * 1000);
  const [received] = await expectCleanExit(receiver, 30_000);
  if (received.bytesRecv !== sizeBytes) throw new Error(`${from}→${to}: receiver got ${received.bytesRecv} of ${sizeBytes} bytes`);
  const gb = sizeBytes / 1e9;
  const oursEvent = from === 'ours' ? sent : to === 'ours' ? received : undefined;
  return {
    // The sender's time runs from connecting until everything is acknowledged.
    mbitPerS: (sizeBytes * 8) / (Number(sent.elapsedMs) / 1000) / 1e6,
    senderCpuSecPerGB: cpuSeconds(sent) / gb,
    receiverCpuSecPerGB: cpuSeconds(received) / gb,
    retransPct: retransPct(from, sent),
    oursEngine: oursEvent ? String((oursEvent.stats as { engine?: string } | undefined)?.engine) : undefined,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

const fmt = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');

async function main(): Promise<void> {
  const status = libudtStatus();
  if (!status.available) {
    console.log(`interop-matrix: skipped: ${status.reason}`);
    return;
  }
  await buildUdtPeer();
  const pairs: Array<[Impl, Impl]> = [
    ['libudt', 'libudt'],
    ['ours', 'libudt'],
    ['libudt', 'ours'],
    ['ours', 'ours'],
  ];
  const results = new Map<string, RunResult[]>(pairs.map(([a, b]) => [`${a}→${b}`, []]));
  // Interleave the pairs run by run so machine load drifts hit them alike.
  for (let i = 0; i < runs; i++) {
    for (const [from, to] of pairs) {
      const r = await runOnce(from, to);
      results.get(`${from}→${to}`)!.push(r);
      console.error(
        `run ${i + 1}/${runs} ${from}→${to}: ${r.mbitPerS.toFixed(0)} Mbit/s, CPU s/GB sender ${fmt(r.senderCpuSecPerGB)} ` +
          `receiver ${fmt(r.receiverCpuSecPerGB)}, retransmitted ${fmt(r.retransPct, 1)}%`,
      );
    }
  }
  const engineOf = (rs: RunResult[]) => rs.find((r) => r.oursEngine)?.oursEngine;
  const name = (impl: Impl, rs: RunResult[]) => (impl === 'libudt' ? 'libudt 4.11' : `ours (${engineOf(rs) ?? engine})`);
  const lines = [
    `<!-- node --import tsx bench/throughput/interop-matrix.ts --size-mb ${values['size-mb']} --runs ${runs} --engine ${engine}; ` +
      `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; node ${process.version}; ${new Date().toISOString()} -->`,
    `Loopback, MSS 1500, ${values['size-mb']} MiB per run, median of ${runs} (min–max); CPU = user + system seconds per GB ` +
      '(libudt side: whole udtpeer process; our side: node process from connect to close).',
    '',
    '| sender → receiver | goodput Mbit/s | sender CPU s/GB | receiver CPU s/GB | retransmitted |',
    '|---|---|---|---|---|',
  ];
  for (const [from, to] of pairs) {
    const rs = results.get(`${from}→${to}`)!;
    const g = rs.map((r) => r.mbitPerS);
    lines.push(
      `| ${name(from, rs)} → ${name(to, rs)} | ${median(g).toFixed(0)} (${Math.min(...g).toFixed(0)}–${Math.max(...g).toFixed(0)}) | ` +
        `${fmt(median(rs.map((r) => r.senderCpuSecPerGB)))} | ${fmt(median(rs.map((r) => r.receiverCpuSecPerGB)))} | ` +
        `${fmt(median(rs.map((r) => r.retransPct)), 1)}% |`,
    );
  }
  const table = lines.join('\n');
  console.log(table);
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, `interop-matrix-${new Date().toISOString().replace(/[:.]/g, '-')}.md`);
  await writeFile(file, `${table}\n`);
  console.error(`written to ${file}`);
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(killAllUdtPeers);
