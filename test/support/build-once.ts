// Builds dist/ for tests that run the compiled tools: once per change of src/ts, serialised across test files.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rmdir, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const stampFile = join(repoRoot, 'dist', '.test-build-stamp');
const lockDir = join(tmpdir(), `udt-build-${createHash('sha256').update(repoRoot).digest('hex').slice(0, 12)}.lock`);
const LOCK_STALE_MS = 180_000;

async function newestSource(dir: string): Promise<number> {
  let newest = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, await newestSource(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, (await stat(p)).mtimeMs);
  }
  return newest;
}

async function isFresh(required: string[]): Promise<boolean> {
  if (!existsSync(stampFile) || required.some((f) => !existsSync(join(repoRoot, f)))) return false;
  return (await stat(stampFile)).mtimeMs >= (await newestSource(join(repoRoot, 'src', 'ts')));
}

async function acquireLock(): Promise<void> {
  const deadline = Date.now() + LOCK_STALE_MS;
  for (;;) {
    try {
      await mkdir(lockDir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = Date.now() - (await stat(lockDir).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > LOCK_STALE_MS || Date.now() > deadline) await rmdir(lockDir).catch(() => {});
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function tsc(): Promise<{ code: number; output: string }> {
  const bin = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  return new Promise((done) => {
    execFile(process.execPath, [bin, '-p', 'tsconfig.build.json'], { cwd: repoRoot, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

/**
 * Makes sure dist/ holds a build of the current sources (building if needed) and that `required` files exist.
 * Type errors elsewhere in the tree (someone's work in progress) are printed but do not stop the tests, since tsc
 * still emits; a missing required file does.
 */
export async function buildOnce(required: string[]): Promise<void> {
  if (await isFresh(required)) return;
  await acquireLock();
  try {
    if (await isFresh(required)) return;
    const started = await newestSource(join(repoRoot, 'src', 'ts'));
    const { code, output } = await tsc();
    if (code !== 0) process.stderr.write(`build-once: tsc exited ${code}; using what it emitted:\n${output.split('\n').slice(0, 20).join('\n')}\n`);
    const missing = required.filter((f) => !existsSync(join(repoRoot, f)));
    if (missing.length) throw new Error(`build-once: the build did not produce ${missing.join(', ')}:\n${output}`);
    await writeFile(stampFile, '');
    await utimes(stampFile, started / 1000, started / 1000);
  } finally {
    await rmdir(lockDir).catch(() => {});
  }
}
