// Peer handles for the node:dgram engine: numeric (address, port) ↔ small integer, freed handles reused.

import { isIP } from 'node:net';
import type { PeerAddress } from './engine.js';
import { engineError } from './errors.js';

const MAPPED_HEX = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

/** The text form the kernel (inet_ntop) reports for an IPv6 address, so user input and received addresses agree. */
function canonicalV6(address: string): string {
  const pct = address.indexOf('%');
  const host = pct < 0 ? address : address.slice(0, pct);
  const zone = pct < 0 ? '' : address.slice(pct);
  let c: string;
  try {
    c = new URL(`http://[${host}]/`).hostname.slice(1, -1);
  } catch {
    throw engineError('ERR_UDT_ENGINE_ADDRESS', `not an IP address: ${address}`);
  }
  const m = MAPPED_HEX.exec(c);
  if (m) {
    const hi = parseInt(m[1], 16);
    const lo = parseInt(m[2], 16);
    c = `::ffff:${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return c + zone;
}

export class PeerBook {
  private readonly byAddress = new Map<string, Map<number, number>>();
  private readonly addrs: (PeerAddress | undefined)[] = [];
  private readonly free: number[] = [];

  constructor(
    private readonly family: 'IPv4' | 'IPv6',
    private readonly ipv6Only: boolean,
  ) {}

  /** Normalizes a user-given numeric address for this socket (IPv4 becomes v4-mapped on a dual-stack IPv6 socket). */
  normalize(address: string, port: number): string {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw engineError('ERR_UDT_ENGINE_ADDRESS', `port out of range: ${port}`);
    }
    const kind = isIP(address);
    if (this.family === 'IPv4') {
      if (kind !== 4) throw engineError('ERR_UDT_ENGINE_ADDRESS', `not an IPv4 address: ${address}`);
      return address;
    }
    if (kind === 4) {
      if (this.ipv6Only) throw engineError('ERR_UDT_ENGINE_ADDRESS', `IPv4 address on an IPv6-only socket: ${address}`);
      return `::ffff:${address}`;
    }
    if (kind !== 6) throw engineError('ERR_UDT_ENGINE_ADDRESS', `not an IP address: ${address}`);
    return canonicalV6(address);
  }

  /** Handle for an address already in kernel form (as `rinfo` reports it). */
  intern(address: string, port: number): number {
    let ports = this.byAddress.get(address);
    if (ports === undefined) {
      ports = new Map();
      this.byAddress.set(address, ports);
    }
    let h = ports.get(port);
    if (h === undefined) {
      h = this.free.length > 0 ? this.free.pop()! : this.addrs.length;
      this.addrs[h] = { address, port, family: this.family };
      ports.set(port, h);
    }
    return h;
  }

  get(handle: number): PeerAddress | undefined {
    return this.addrs[handle];
  }

  release(handle: number): void {
    const a = this.addrs[handle];
    if (!a) return;
    const ports = this.byAddress.get(a.address)!;
    ports.delete(a.port);
    if (ports.size === 0) this.byAddress.delete(a.address);
    this.addrs[handle] = undefined;
    this.free.push(handle);
  }

  get size(): number {
    return this.addrs.length - this.free.length;
  }
}
