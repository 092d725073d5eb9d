// npm run demo: makes a large random file, sends it with udt-send to udt-recv on loopback, checks it, cleans up.

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomFill } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseQuantity } from './args.js';
import { formatBytes, formatDuration, formatRate } from './format.js';

const DEFAULT_SIZE = 512 * 1024 * 1024;
const BLOCK = 1 << 20;
const TIME_LIMIT_MS = 180_000;
const bin = (name: string) => fileURLToPath(new URL(`./${name}.js`, import.meta.url));
const say = (s: string) => process.stdout.write(`${s}\n`);
const children = new Set<ChildProcess>();

function fill(buf: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => randomFill(buf, (err, b) => (err ? reject(err) : resolve(b))));
}

async function* randomBlocks(size: number): AsyncGenerator<Buffer> {
  for (let left = size; left > 0; left -= BLOCK) yield await fill(Buffer.allocUnsafe(Math.min(BLOCK, left)));
}

/** Streams `size` random bytes into `path`; returns their SHA-256. */
async function makeFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const hashing = async function* (src: AsyncIterable<Buffer>) {
    for await (const b of src) {
      hash.update(b);
      yield b;
    }
  };
  await pipeline(Readable.from(randomBlocks(size)), hashing, createWriteStream(path));
  return hash.digest('hex');
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: BLOCK }), new Writable({ write: (c: Buffer, _e, cb) => (hash.update(c), cb()) }));
  return hash.digest('hex');
}

function run(args: string[], stdout: 'pipe' | 'inherit', stderr: 'pipe' | 'inherit'): { child: ChildProcess; exit: Promise<number>; out: () => string } {
  const child = spawn(process.execPath, args, { stdio: ['ignore', stdout, stderr] });
  children.add(child);
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  const exit = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
  return { child, exit, out: () => text };
}

/** Starts udt-recv on an ephemeral port and resolves with that port once it listens. */
function startReceiver(dir: string): { port: Promise<number>; exit: Promise<number>; out: () => string } {
  const r = run([bin('udt-recv'), '--port', '0', '--host', '127.0.0.1', '--dir', dir, '--once', '--json'], 'pipe', 'pipe');
  let err = '';
  const port = new Promise<number>((resolve, reject) => {
    r.child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on [^\s]*:(\d+)/.exec(err);
      if (m) resolve(Number(m[1]));
    });
    void r.exit.then((code) => reject(new Error(`udt-recv exited (${code}) before listening: ${err.trim()}`)));
  });
  return { port, exit: r.exit, out: r.out };
}

async function main(): Promise<number> {
  const size = parseQuantity('DEMO_SIZE', process.env.DEMO_SIZE) ?? DEFAULT_SIZE;
  const work = await mkdtemp(join(tmpdir(), 'udt-demo-'));
  const cleanup = () => rm(work, { recursive: true, force: true });
  const timer = setTimeout(() => {
    process.stderr.write(`demo: gave up after ${TIME_LIMIT_MS / 1000} s\n`);
    for (const c of children) c.kill('SIGTERM');
  }, TIME_LIMIT_MS);
  timer.unref();
  try {
    say(`udt demo: send ${formatBytes(size)} of random data over UDT on loopback, with the udt-send and udt-recv tools`);
    const src = join(work, 'demo.bin');
    const dest = join(work, 'received');
    await mkdir(dest);
    say(`1/4  writing ${src} ...`);
    let t = performance.now();
    const expected = await makeFile(src, size);
    say(`     done in ${formatDuration((performance.now() - t) / 1000)}, SHA-256 ${expected}`);

    say(`2/4  starting: udt-recv --port 0 --host 127.0.0.1 --dir ${dest} --once --json`);
    const receiver = startReceiver(dest);
    const port = await receiver.port;
    say(`     listening on 127.0.0.1:${port}`);

    say(`3/4  running:  udt-send ${src} 127.0.0.1:${port}`);
    t = performance.now();
    const sender = run([bin('udt-send'), src, `127.0.0.1:${port}`, '--progress', process.stderr.isTTY ? 'bar' : 'lines'], 'inherit', 'inherit');
    const [sendCode, recvCode] = await Promise.all([sender.exit, receiver.exit]);
    const wall = (performance.now() - t) / 1000;
    if (sendCode !== 0) throw new Error(`udt-send failed with exit code ${sendCode}`);
    if (recvCode !== 0) throw new Error(`udt-recv failed with exit code ${recvCode}: ${receiver.out().trim()}`);
    const summary = JSON.parse(receiver.out().trim().split('\n').pop() ?? '{}') as { sha256?: string; mbps?: number; seconds?: number; engine?: string };

    say('4/4  checking the received file ...');
    const got = await sha256Of(join(dest, 'demo.bin'));
    if (got !== expected || summary.sha256 !== expected) throw new Error(`SHA-256 mismatch: wrote ${expected}, received file has ${got}`);
    say(`     SHA-256 matches: ${got}`);
    say('');
    say(`OK: ${formatBytes(size)} in ${(summary.seconds ?? wall).toFixed(2)} s = ${formatRate(summary.mbps ?? 0)} over UDT, engine: ${summary.engine ?? 'unknown'}`);
    say(`    (whole run including process start-up: ${wall.toFixed(2)} s; try DEMO_SIZE=2G npm run demo, or udt-perf -s / udt-perf -c 127.0.0.1)`);
    return 0;
  } finally {
    clearTimeout(timer);
    for (const c of children) c.kill('SIGTERM');
    await cleanup();
  }
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const c of children) c.kill('SIGTERM');
    process.exitCode = 130;
  });
}

main().then(
  (code) => (process.exitCode ??= code),
  (err: unknown) => {
    process.stderr.write(`demo FAILED: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
