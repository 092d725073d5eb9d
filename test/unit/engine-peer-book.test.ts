// PeerBook (dgram engine peer handles): normalization to kernel text form, interning, reuse of freed handles.

import { describe, expect, it } from 'vitest';
import { PeerBook } from '../../src/ts/engine/peer-book.js';

describe('PeerBook', () => {
  it('normalizes IPv6 text the way the kernel prints it', () => {
    const p = new PeerBook('IPv6', false);
    expect(p.normalize('0:0:0:0:0:0:0:1', 1)).toBe('::1');
    expect(p.normalize('FE80:0:0:0:0:0:0:1%lo', 1)).toBe('fe80::1%lo');
    expect(p.normalize('127.0.0.1', 1)).toBe('::ffff:127.0.0.1');
    expect(p.normalize('::ffff:7f00:1', 1)).toBe('::ffff:127.0.0.1');
    expect(p.normalize('2001:db8:0:0:1:0:0:1', 1)).toBe('2001:db8::1:0:0:1');
  });

  it('refuses what the socket cannot reach', () => {
    expect(() => new PeerBook('IPv4', false).normalize('::1', 1)).toThrow(expect.objectContaining({ code: 'ERR_UDT_ENGINE_ADDRESS' }));
    expect(() => new PeerBook('IPv6', true).normalize('10.0.0.1', 1)).toThrow(expect.objectContaining({ code: 'ERR_UDT_ENGINE_ADDRESS' }));
    expect(() => new PeerBook('IPv4', false).normalize('1.2.3.4', 70000)).toThrow(expect.objectContaining({ code: 'ERR_UDT_ENGINE_ADDRESS' }));
    expect(() => new PeerBook('IPv4', false).normalize('1.2.3.4', 0)).toThrow(expect.objectContaining({ code: 'ERR_UDT_ENGINE_ADDRESS' }));
    expect(() => new PeerBook('IPv4', false).normalize('localhost', 1)).toThrow(expect.objectContaining({ code: 'ERR_UDT_ENGINE_ADDRESS' }));
  });

  it('interns, releases and reuses handles', () => {
    const p = new PeerBook('IPv4', false);
    const a = p.intern('10.0.0.1', 5);
    const b = p.intern('10.0.0.1', 6);
    expect(p.intern('10.0.0.1', 5)).toBe(a);
    expect(b).not.toBe(a);
    expect(p.get(b)).toEqual({ address: '10.0.0.1', port: 6, family: 'IPv4' });
    p.release(a);
    expect(p.get(a)).toBeUndefined();
    expect(p.size).toBe(1);
    expect(p.intern('10.0.0.2', 7)).toBe(a);
    expect(p.intern('10.0.0.1', 6)).toBe(b);
  });
});
