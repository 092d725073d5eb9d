// Benchmark: libudt 4.11 → libudt 4.11 (udtpeer pair) on loopback; prints goodput and CPU per GB as a markdown row.
// Run: node --import tsx bench/throughput/libudt-pair.ts [--size-mb 1024] [--runs 3] [--mss 1500]
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { buildUdtPeer, expectCleanExit, killAllUdtPeers, libudtStatus, spawnUdtPeer, startUdtListener, type PeerEvent } from '../../test/support/libudt.js';

interface Rusage {
  userMs: number;
  sysMs: number;
  maxRssKb: number;
}

interface RunResult {
  mbitPerS: number;
  cpuSecPerGB: number;
  peakRssMB: number;
}

const { values } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '1024' },
    runs: { type: 'string', default: '3' },
    mss: { type: 'string', default: '1500' },
  },
});
const sizeBytes = Number(values['size-mb']) * 1024 * 1024;
const runs = Number(values.runs);
const mss = values.mss;

const cpuSeconds = (r: Rusage) => (r.userMs + r.sysMs) / 1000;

async function runOnce(): Promise<RunResult> {
  const common = ['--mss', mss, '--max-time', '600'];
  const { peer: receiver, port } = await startUdtListener(
    ['--host', '127.0.0.1', '--port', '0', '--discard', '--expect-bytes', String(sizeBytes), ...common],
    { timeoutMs: 610_000 },
  );
  const sender = await spawnUdtPeer(['connect', '--host', '127.0.0.1', '--port', String(port), '--send-bytes', String(sizeBytes), ...common], {
    timeoutMs: 610_000,
  });
  const [sent] = await expectCleanExit(sender, 610_000);
  const [received] = await expectCleanExit(receiver, 30_000);
  return summarise(sent, received);
}

function summarise(sent: PeerEvent, received: PeerEvent): RunResult {
  if (received.bytesRecv !== sizeBytes) throw new Error(`receiver got ${received.bytesRecv} of ${sizeBytes} bytes`);
  const [sendUsage, recvUsage] = [sent.rusage as Rusage, received.rusage as Rusage];
  const seconds = Number(sent.elapsedMs) / 1000;
  return {
    mbitPerS: (sizeBytes * 8) / seconds / 1e6,
    cpuSecPerGB: (cpuSeconds(sendUsage) + cpuSeconds(recvUsage)) / (sizeBytes / 1e9),
    peakRssMB: Math.max(sendUsage.maxRssKb, recvUsage.maxRssKb) / 1024,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

async function main(): Promise<void> {
  const status = libudtStatus();
  if (!status.available) {
    console.log(`libudt-pair: skipped: ${status.reason}`);
    return;
  }
  await buildUdtPeer();
  const results: RunResult[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await runOnce();
    console.error(`run ${i + 1}/${runs}: ${r.mbitPerS.toFixed(0)} Mbit/s, ${r.cpuSecPerGB.toFixed(2)} CPU s/GB, ${r.peakRssMB.toFixed(1)} MB peak RSS`);
    results.push(r);
  }
  const goodput = results.map((r) => r.mbitPerS);
  console.log(`<!-- node --import tsx bench/throughput/libudt-pair.ts --size-mb ${values['size-mb']} --runs ${runs} --mss ${mss}; ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'} -->`);
  console.log('| pair | path | MSS | size | runs | goodput (median, min–max) | CPU s/GB (both ends, median) | peak RSS per process |');
  console.log('|---|---|---|---|---|---|---|---|');
  console.log(
    `| libudt 4.11 → libudt 4.11 (udtpeer) | loopback | ${mss} | ${values['size-mb']} MiB | ${runs} | ` +
      `${median(goodput).toFixed(0)} Mbit/s (${Math.min(...goodput).toFixed(0)}–${Math.max(...goodput).toFixed(0)}) | ` +
      `${median(results.map((r) => r.cpuSecPerGB)).toFixed(2)} | ${median(results.map((r) => r.peakRssMB)).toFixed(1)} MB |`,
  );
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(killAllUdtPeers);
