// Engine selection: createEngine preferences, UDT_ENGINE forcing, a missing addon, and exiting with engines open.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadNativeBinding, packageRoot } from '../../src/ts/engine/native-binding.js';

const native = loadNativeBinding();
if (!native.binding) console.warn(`[engine] native engine tests skipped: ${native.reason}`);
const saved = { engine: process.env.UDT_ENGINE, root: process.env.UDT_NATIVE_ROOT };

afterEach(() => {
  for (const [k, v] of [['UDT_ENGINE', saved.engine], ['UDT_NATIVE_ROOT', saved.root]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  vi.resetModules();
});

async function freshLoad(): Promise<typeof import('../../src/ts/engine/load.js')> {
  vi.resetModules();
  return import('../../src/ts/engine/load.js');
}

describe('createEngine', () => {
  it('finds the package root from the engine sources', () => {
    expect(packageRoot()).toBe(join(import.meta.dirname, '..', '..'));
  });

  it('honours an explicit dgram preference and UDT_ENGINE', async () => {
    const { createEngine } = await freshLoad();
    expect(createEngine('dgram').kind).toBe('dgram');
    process.env.UDT_ENGINE = 'dgram';
    expect(createEngine('native').kind).toBe('dgram');
  });

  it.skipIf(!native.binding)('picks the native engine when the addon loads', async () => {
    const { createEngine, nativeUnavailableReason } = await freshLoad();
    expect(nativeUnavailableReason()).toBeNull();
    expect(createEngine().kind).toBe('native');
    process.env.UDT_ENGINE = 'native';
    expect(createEngine('dgram').kind).toBe('native');
  });

  it('falls back to node:dgram with a reason when the addon is missing', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'udt-noaddon-'));
    try {
      process.env.UDT_NATIVE_ROOT = empty;
      const { createEngine, nativeUnavailableReason } = await freshLoad();
      expect(createEngine('auto').kind).toBe('dgram');
      const reason = nativeUnavailableReason();
      expect(reason).toMatch(/did not load/);
      console.log(`[engine] reason reported without the addon: ${reason}`);
      expect(() => createEngine('native')).toThrow(expect.objectContaining({ code: 'ERR_UDT_ENGINE_NATIVE_UNAVAILABLE' }));
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!native.binding)('native engine at process exit', () => {
  const addon = join(packageRoot()!, 'build', 'Release', 'udt_native.node');
  const script = (ending: string) => `
    const n = require(${JSON.stringify(addon)});
    const mk = () => { const e = new n.UdpEngine({ family: 4, address: '127.0.0.1', maxDatagram: 1472,
      onReceive() {}, onWritable() {}, onError() {} }); e.i = e.info(); e.b = e.buffers(); return e; };
    const a = mk(), b = mk();
    const lens = new Int32Array(a.b.meta, a.i.metaTxLen, 64), peers = new Int32Array(a.b.meta, a.i.metaTxPeer, 64);
    const at = new Float64Array(a.b.meta, a.i.metaTxSendAt, 64);
    const p = a.peer('127.0.0.1', b.info().port);
    for (let k = 0; k < 64; k++) { lens[k] = 1000; peers[k] = p; at[k] = n.nowUs() + 60e6; }
    a.commit(64);
    ${ending}`;

  it.each([
    ['process.exit() with engines open and a queue pending', 'setTimeout(() => process.exit(0), 20);'],
    ['the loop running dry with engines unref()ed', 'a.setRef(false); b.setRef(false);'],
  ])('%s exits cleanly', (_name, ending) => {
    const r = spawnSync(process.execPath, ['-e', script(ending)], { timeout: 10_000, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
  });

  it('keeps the process alive while an engine is open and ref()ed', () => {
    const r = spawnSync(process.execPath, ['-e', script('')], { timeout: 800, encoding: 'utf8' });
    expect(r.signal).toBe('SIGTERM');
  });
});
