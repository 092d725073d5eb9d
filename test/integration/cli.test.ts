// The compiled udt-send / udt-recv / udt-perf tools as separate processes on loopback: transfers, resume, failures.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomFill } from 'node:crypto';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, createServer } from '../../src/ts/api/index.js';
import { encodeOffer, unsafeNameReason } from '../../src/ts/cli/transfer-protocol.js';
import { buildOnce, repoRoot } from '../support/build-once.js';

type Tool = 'udt-send' | 'udt-recv' | 'udt-perf';

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

interface Proc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  done: Promise<Result>;
}

const children = new Set<ChildProcess>();
let work = '';

function spawnTool(tool: Tool, args: string[], opts: { stdin?: Buffer; timeoutMs?: number; stdoutBuffers?: Buffer[] } = {}): Proc {
  const started = performance.now();
  const child = spawn(process.execPath, [join(repoRoot, 'dist', 'cli', `${tool}.js`), ...args], {
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    opts.stdoutBuffers?.push(d);
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  if (opts.stdin) child.stdin!.end(opts.stdin);
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 90_000);
  const done = new Promise<Result>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, stdout: out, stderr: err, ms: performance.now() - started });
    });
  });
  return { child, stdout: () => out, stderr: () => err, done };
}

function runTool(tool: Tool, args: string[], opts: { stdin?: Buffer; timeoutMs?: number } = {}): Promise<Result> {
  return spawnTool(tool, args, opts).done;
}

/** Starts a server tool with --port 0 and resolves once it prints the port it listens on. */
async function startServer(tool: 'udt-recv' | 'udt-perf', args: string[]): Promise<Proc & { port: number }> {
  const p = spawnTool(tool, ['--port', '0', ...args], { timeoutMs: 120_000 });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const m = /listening on \S*:(\d+)/.exec(p.stderr());
    if (m) return { ...p, port: Number(m[1]) };
    if (p.child.exitCode !== null || Date.now() > deadline) throw new Error(`${tool} did not start: ${p.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function randomFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  async function* blocks() {
    for (let left = size; left > 0; left -= 1 << 20) {
      const b = await new Promise<Buffer>((res, rej) => randomFill(Buffer.allocUnsafe(Math.min(1 << 20, left)), (e, buf) => (e ? rej(e) : res(buf))));
      hash.update(b);
      yield b;
    }
  }
  await pipeline(Readable.from(blocks()), createWriteStream(path));
  return hash.digest('hex');
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), new Writable({ write: (c: Buffer, _e, cb) => (hash.update(c), cb()) }));
  return hash.digest('hex');
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function waitFor(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const sizeOf = async (p: string) => (await stat(p).catch(() => null))?.size ?? 0;

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function freshDir(name: string): Promise<string> {
  const d = join(work, name);
  await mkdir(d, { recursive: true });
  return d;
}

beforeAll(async () => {
  await buildOnce(['dist/cli/udt-send.js', 'dist/cli/udt-recv.js', 'dist/cli/udt-perf.js']);
  work = await mkdtemp(join(tmpdir(), 'udt-cli-test-'));
  await randomFile(join(work, 'small.bin'), 64 * 1024);
}, 180_000);

afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('udt-send / udt-recv', () => {
  it('moves 256 MB with equal SHA-256 on both ends and JSON summaries', async () => {
    const src = join(work, 'big.bin');
    const dir = await freshDir('big-out');
    const expected = await randomFile(src, 256 * 1024 * 1024);
    const recv = await startServer('udt-recv', ['--host', '127.0.0.1', '--dir', dir, '--once', '--json']);
    const sent = await runTool('udt-send', [src, `127.0.0.1:${recv.port}`, '--json', '--progress', 'lines'], { timeoutMs: 110_000 });
    if (sent.code !== 0) recv.child.kill('SIGKILL');
    const got = await recv.done;
    expect(sent.code, `sender:\n${sent.stderr}\nreceiver:\n${got.stderr}`).toBe(0);
    expect(got.code, got.stderr).toBe(0);
    const [s] = jsonLines(sent.stdout);
    const [r] = jsonLines(got.stdout);
    expect(s).toMatchObject({ ok: true, name: 'big.bin', size: 256 * 1024 * 1024, bytes: 256 * 1024 * 1024, resumedFrom: 0, sha256: expected });
    expect(r).toMatchObject({ ok: true, name: 'big.bin', bytes: 256 * 1024 * 1024, sha256: expected });
    expect(typeof s.engine).toBe('string');
    expect(s.mbps).toBeGreaterThan(0);
    expect(typeof s.retransmits).toBe('number');
    expect(await sha256File(join(dir, 'big.bin'))).toBe(expected);
    expect(await readdir(dir)).toEqual(['big.bin']);
    await rm(src);
  }, 150_000);

  it('resumes after the sender was killed mid-way: the rest is sent and the whole file checks out', async () => {
    const size = 64 * 1024 * 1024;
    const src = join(work, 'resume.bin');
    const dir = await freshDir('resume-out');
    const expected = await randomFile(src, size);
    const recv = await startServer('udt-recv', ['--host', '127.0.0.1', '--dir', dir, '--json']);
    const part = join(dir, 'resume.bin.part');
    const first = spawnTool('udt-send', [src, `127.0.0.1:${recv.port}`, '--bandwidth', '80M', '--quiet']);
    await waitFor(async () => (await sizeOf(part)) >= 4 << 20 || first.child.exitCode !== null, 30_000, 'a partial file');
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal, 'the first sender should still have been running').toBe('SIGKILL');
    const kept = await sizeOf(part);
    expect(kept).toBeGreaterThan(0);
    expect(existsSync(join(dir, 'resume.bin'))).toBe(false);

    const second = await runTool('udt-send', [src, `127.0.0.1:${recv.port}`, '--json', '--progress', 'lines'], { timeoutMs: 60_000 });
    expect(second.code, `${second.stderr}\nreceiver: ${recv.stderr()}`).toBe(0);
    const [s] = jsonLines(second.stdout);
    expect(s.resumedFrom).toBeGreaterThanOrEqual(kept);
    expect(s.resumedFrom).toBeLessThan(size);
    expect(s.bytes).toBe(size - (s.resumedFrom as number));
    expect(s.sha256).toBe(expected);
    expect(await sha256File(join(dir, 'resume.bin'))).toBe(expected);
    expect(existsSync(part)).toBe(false);

    recv.child.kill('SIGTERM');
    const r = await recv.done;
    expect(r.code).toBe(130);
    const lines = jsonLines(r.stdout);
    expect(lines.some((l) => l.ok === true && l.resumedFrom === s.resumedFrom)).toBe(true);
    await rm(src);
  }, 90_000);

  it('a stale .part that does not match the file is detected (exit 9), discarded, and the next run succeeds', async () => {
    const src = join(work, 'stale.bin');
    const dir = await freshDir('stale-out');
    const expected = await randomFile(src, 4 << 20);
    await writeFile(join(dir, 'stale.bin.part'), randomBytes(1 << 20));
    const recv = await startServer('udt-recv', ['--host', '127.0.0.1', '--dir', dir]);
    const bad = await runTool('udt-send', [src, `127.0.0.1:${recv.port}`, '--json']);
    expect(bad.code, bad.stderr).toBe(9);
    expect(bad.stderr).toMatch(/does not match/);
    expect(jsonLines(bad.stdout)[0]).toMatchObject({ ok: false, code: 'RESUME_MISMATCH', exitCode: 9 });
    expect(existsSync(join(dir, 'stale.bin'))).toBe(false);
    expect(existsSync(join(dir, 'stale.bin.part'))).toBe(false);
    const good = await runTool('udt-send', [src, `127.0.0.1:${recv.port}`, '--json']);
    expect(good.code, good.stderr).toBe(0);
    expect(await sha256File(join(dir, 'stale.bin'))).toBe(expected);
  }, 60_000);

  it('does not write through a symlink planted at NAME.part', async () => {
    const src = join(work, 'small.bin');
    const dir = await freshDir('symlink-out');
    const outside = join(work, 'outside.txt');
    await writeFile(outside, 'untouched');
    await symlink(outside, join(dir, 'small.bin.part'));
    const recv = await startServer('udt-recv', ['--host', '127.0.0.1', '--dir', dir, '--once']);
    const r = await runTool('udt-send', [src, `127.0.0.1:${recv.port}`]);
    expect(r.code).toBe(8);
    expect(r.stderr).toMatch(/not a regular file/);
    expect((await recv.done).code).toBe(8);
    expect(await readFile(outside, 'utf8')).toBe('untouched');
  }, 30_000);

  it('the receiver refuses data whose final SHA-256 differs and keeps nothing', async () => {
    const dir = await freshDir('mismatch-out');
    const recv = await startServer('udt-recv', ['--host', '127.0.0.1', '--dir', dir, '--once']);
    const socket = connect({ host: '127.0.0.1', port: recv.port });
    await once(socket, 'connect');
    const lines: string[] = [];
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      lines.push(...parts);
    });
    socket.write(encodeOffer({ name: 'fake.bin', size: 1000 }));
    await waitFor(async () => lines.length >= 1, 5000, 'the accept line');
    expect(JSON.parse(lines[0])).toMatchObject({ type: 'accept', offset: 0 });
    socket.write(randomBytes(1000));
    socket.write(Buffer.alloc(32, 0xab));
    await waitFor(async () => lines.length >= 2, 5000, 'the verdict');
    expect(JSON.parse(lines[1])).toMatchObject({ type: 'error', code: 'CHECKSUM_MISMATCH' });
    socket.destroy();
    const r = await recv.done;
    expect(r.code).toBe(9);
    expect(await readdir(dir)).toEqual([]);
  }, 30_000);

  it('refuses a name that leaves the directory (over IPv6), and the sender is told why', async () => {
    const src = join(work, 'small.bin');
    const dir = await freshDir('jail/inner');
    const recv = await startServer('udt-recv', ['--host', '::1', '--dir', dir, '--once']);
    const sent = await runTool('udt-send', ['--name', '../evil', src, `[::1]:${recv.port}`]);
    expect(sent.code).toBe(7);
    expect(sent.stderr).toMatch(/receiver: refused: .*path separator/);
    expect((await recv.done).code).toBe(7);
    expect(existsSync(join(dirname(dir), 'evil'))).toBe(false);
    expect(existsSync(join(dirname(dir), 'evil.part'))).toBe(false);
    expect(await readdir(dir)).toEqual([]);
  }, 30_000);

  it('names: plain names pass, anything that is not a single path component is refused', () => {
    for (const ok of ['a.txt', 'with space', 'ünïcode.bin', '..hidden', 'a..b']) expect(unsafeNameReason(ok)).toBeNull();
    for (const bad of ['', '.', '..', '../x', 'a/b', '/etc/passwd', 'a\\b', 'nul\0byte', 'tab\there', 'x'.repeat(256)]) {
      expect(unsafeNameReason(bad), JSON.stringify(bad)).not.toBeNull();
    }
  });

  it('a missing file (or a directory) fails at once with exit 3', async () => {
    const r = await runTool('udt-send', [join(work, 'does-not-exist.bin'), '127.0.0.1:9']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^udt-send: cannot read .*does-not-exist\.bin: no such file\n$/);
    expect(r.ms).toBeLessThan(3000);
    const dir = await runTool('udt-send', [work, '127.0.0.1:9']);
    expect(dir.code).toBe(3);
    expect(dir.stderr).toMatch(/not a regular file/);
  });

  it('a closed port fails with ERR_UDT_CONNECT_TIMEOUT (exit 4) within the time-out', async () => {
    const src = join(work, 'small.bin');
    const port = await freeUdpPort();
    const r = await runTool('udt-send', [src, `127.0.0.1:${port}`, '--timeout', '1500', '--json']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/no answer from 127\.0\.0\.1:\d+ .*\[ERR_UDT_CONNECT_TIMEOUT\]/);
    expect(jsonLines(r.stdout)[0]).toMatchObject({ ok: false, code: 'ERR_UDT_CONNECT_TIMEOUT', exitCode: 4 });
    expect(r.ms).toBeGreaterThan(1400);
    expect(r.ms).toBeLessThan(6000);
  }, 20_000);

  it('a rejected connection (the listener is a message-mode socket) fails with ERR_UDT_REJECTED (exit 5)', async () => {
    const server = createServer({ mode: 'message' });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const r = await runTool('udt-send', [join(work, 'small.bin'), `127.0.0.1:${server.address()!.port}`]);
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/^udt-send: connection to 127\.0\.0\.1:\d+ was rejected .*\[ERR_UDT_REJECTED\]\n$/);
    } finally {
      server.close();
    }
  }, 20_000);

  it('a receiver that dies mid-transfer: ERR_UDT_PEER_DEAD (exit 6) after the idle time-out', async () => {
    const src = join(work, 'dead.bin');
    await randomFile(src, 32 << 20);
    const dir = await freshDir('dead-out');
    const recv = await startServer('udt-recv', ['--host', '127.0.0.1', '--dir', dir]);
    const sender = spawnTool('udt-send', [src, `127.0.0.1:${recv.port}`, '--bandwidth', '40M', '--idle-timeout', '1500', '--quiet']);
    await waitFor(async () => (await sizeOf(join(dir, 'dead.bin.part'))) >= 1 << 20 || sender.child.exitCode !== null, 20_000, 'data to arrive');
    recv.child.kill('SIGKILL');
    const killedAt = performance.now();
    const r = await sender.done;
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toMatch(/stopped responding .*ERR_UDT_PEER_DEAD/);
    expect(performance.now() - killedAt).toBeLessThan(8000);
    await rm(src);
  }, 45_000);

  it('a full disk on the receiver: the sender gets a clear error (exit 8) and the .part is kept', async (ctx) => {
    const mnt = await freshDir('tiny-fs');
    const mounted = await new Promise<string | null>((resolve) => {
      const m = spawn('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt], { stdio: ['ignore', 'ignore', 'pipe'] });
      let why = '';
      m.stderr.on('data', (d: Buffer) => (why += d.toString()));
      m.on('error', (e) => resolve(e.message));
      m.on('close', (code) => resolve(code === 0 ? null : why.trim() || `mount exited ${code}`));
    });
    if (mounted !== null) {
      console.log(`skipping the full-disk test: cannot mount a 4 MB tmpfs (${mounted}); it needs root / CAP_SYS_ADMIN`);
      ctx.skip();
      return;
    }
    try {
      const src = join(work, 'ten.bin');
      await randomFile(src, 10 << 20);
      const recv = await startServer('udt-recv', ['--host', '127.0.0.1', '--dir', mnt, '--once']);
      const r = await runTool('udt-send', [src, `127.0.0.1:${recv.port}`]);
      expect(r.code, r.stderr).toBe(8);
      expect(r.stderr).toMatch(/receiver: disk full on the receiver \(ENOSPC\).*ten\.bin\.part is kept/);
      expect((await recv.done).code).toBe(8);
      expect(await readdir(mnt)).toEqual(['ten.bin.part']);
    } finally {
      for (const c of children) c.kill('SIGKILL');
      await new Promise((r) => spawn('umount', [mnt]).on('close', r));
    }
  }, 30_000);

  it('serves several transfers at once', async () => {
    const dir = await freshDir('multi-out');
    const recv = await startServer('udt-recv', ['--host', '127.0.0.1', '--dir', dir, '--json']);
    const files = await Promise.all([0, 1, 2].map(async (i) => ({ path: join(work, `m${i}.bin`), sha: await randomFile(join(work, `m${i}.bin`), 12 << 20) })));
    const results = await Promise.all(files.map((f) => runTool('udt-send', [f.path, `127.0.0.1:${recv.port}`, '--progress', 'lines'], { timeoutMs: 30_000 })));
    for (const r of results) expect(r.code, `${r.stderr}\nreceiver: ${recv.stderr()}`).toBe(0);
    for (const [i, f] of files.entries()) expect(await sha256File(join(dir, `m${i}.bin`))).toBe(f.sha);
    recv.child.kill('SIGTERM');
    const lines = jsonLines((await recv.done).stdout);
    expect(lines.filter((l) => l.ok === true)).toHaveLength(3);
  }, 60_000);

  it('--raw: stdin to stdout and file to file, byte for byte', async () => {
    const data = randomBytes(6 << 20);
    const bufs: Buffer[] = [];
    const r1 = spawnTool('udt-recv', ['--raw', '--port', '0', '--host', '127.0.0.1', '-o', '-'], { stdoutBuffers: bufs });
    await waitFor(async () => /listening on \S+:\d+/.test(r1.stderr()), 10_000, 'the raw receiver');
    const port1 = Number(/listening on \S+:(\d+)/.exec(r1.stderr())![1]);
    const s1 = await runTool('udt-send', ['--raw', '-', `127.0.0.1:${port1}`, '--json'], { stdin: data });
    expect(s1.code, s1.stderr).toBe(0);
    const g1 = await r1.done;
    expect(g1.code, g1.stderr).toBe(0);
    expect(Buffer.concat(bufs).equals(data)).toBe(true);
    expect(jsonLines(s1.stdout)[0]).toMatchObject({ ok: true, mode: 'raw', bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') });

    const src = join(work, 'raw.bin');
    const expected = await randomFile(src, 8 << 20);
    const dest = join(work, 'raw-received.bin');
    const r2 = await startServer('udt-recv', ['--raw', '--host', '127.0.0.1', '-o', dest, '--json']);
    const s2 = await runTool('udt-send', ['--raw', src, `127.0.0.1:${r2.port}`]);
    expect(s2.code, s2.stderr).toBe(0);
    const g2 = await r2.done;
    expect(g2.code, g2.stderr).toBe(0);
    expect(jsonLines(g2.stdout)[0]).toMatchObject({ ok: true, bytes: 8 << 20, sha256: expected });
    expect(await sha256File(dest)).toBe(expected);
  }, 60_000);

  it('bad command lines exit 2 with a hint; --help exits 0', async () => {
    const cases: [Tool, string[], RegExp][] = [
      ['udt-send', ['only-one-arg'], /expected FILE and HOST:PORT/],
      ['udt-send', ['f', '::1:9000'], /expected HOST:PORT or \[IPv6\]:PORT/],
      ['udt-send', ['f', 'h:99999'], /invalid port/],
      ['udt-send', ['--bogus', 'f', 'h:1'], /Unknown option '--bogus'/],
      ['udt-recv', ['--port', 'x'], /invalid port 'x'/],
      ['udt-perf', [], /exactly one of -s/],
      ['udt-perf', ['-c', '127.0.0.1', '-t', '1', '-n', '1M'], /-t or -n, not both/],
    ];
    const results = await Promise.all(cases.map(([tool, args]) => runTool(tool, args)));
    results.forEach((r, i) => {
      expect(r.code, `${cases[i][0]} ${cases[i][1].join(' ')}`).toBe(2);
      expect(r.stderr).toMatch(cases[i][2]);
      expect(r.stderr).toMatch(/Try '.+ --help'/);
    });
    const helps = await Promise.all((['udt-send', 'udt-recv', 'udt-perf'] as Tool[]).map((t) => runTool(t, ['--help'])));
    for (const h of helps) {
      expect(h.code).toBe(0);
      expect(h.stdout).toMatch(/^Usage: udt-/);
      expect(h.stdout).toMatch(/Exit codes:/);
    }
  }, 30_000);
});

describe('udt-perf', () => {
  it('client and server: 2 s test, then 2 reverse streams; JSON carries both ends', async () => {
    const server = await startServer('udt-perf', ['-s', '--host', '127.0.0.1']);
    const a = await runTool('udt-perf', ['-c', '127.0.0.1', '-p', String(server.port), '-t', '2', '--json']);
    expect(a.code, a.stderr).toBe(0);
    const ra = JSON.parse(a.stdout) as {
      start: { engine: string; serverEngine: string; streams: number; mss: number };
      intervals: { streams: { mbps: number; rttMs: number | null }[] }[];
      end: { sender: { bytes: number; seconds: number; mbps: number; retransmits: number }; receiver: { bytes: number; seconds: number; mbps: number } };
    };
    expect(typeof ra.start.engine).toBe('string');
    expect(typeof ra.start.serverEngine).toBe('string');
    expect(ra.start.mss).toBe(1500);
    expect(ra.intervals.length).toBeGreaterThanOrEqual(2);
    expect(ra.intervals[0].streams[0].rttMs).toBeGreaterThan(0);
    expect(ra.end.sender.bytes).toBeGreaterThan(1 << 20);
    expect(ra.end.receiver.bytes).toBe(ra.end.sender.bytes);
    expect(ra.end.sender.seconds).toBeGreaterThan(1.5);
    expect(ra.end.sender.seconds).toBeLessThan(15);
    expect(ra.end.receiver.mbps).toBeGreaterThan(0);
    expect(ra.end.sender.retransmits).toBeGreaterThanOrEqual(0);

    const b = await runTool('udt-perf', ['-c', '127.0.0.1', '-p', String(server.port), '-t', '1', '-P', '2', '-R', '-i', '0.5']);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toMatch(/server sends \(reverse\)/);
    expect(b.stdout).toMatch(/\[SUM\].*sender/);
    expect(b.stdout).toMatch(/\[SUM\].*receiver/);
    expect(b.stdout).toMatch(/2 stream\(s\) from local port \d+/);

    server.child.kill('SIGTERM');
    const s = await server.done;
    expect(s.code).toBe(130);
    expect(s.stdout).toMatch(/test from 127\.0\.0\.1:\d+ finished \(client sent\)/);
    expect(s.stdout).toMatch(/test from 127\.0\.0\.1:\d+ finished \(server sent\)/);
  }, 60_000);

  it('a closed port: exit 4', async () => {
    const port = await freeUdpPort();
    const r = await runTool('udt-perf', ['-c', '127.0.0.1', '-p', String(port), '-t', '1', '--timeout', '1000']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/ERR_UDT_CONNECT_TIMEOUT/);
  }, 20_000);
});

