// Discrete-event network: a virtual clock, a time-ordered event queue, addressed nodes and per-direction links.

import { createRng, type Rng } from '../core/rng.js';
import { Link, type LinkConfig } from './link.js';
import { Trace } from './trace.js';

/** Anything bound to an address that datagrams can be delivered to. */
export interface SimNode {
  readonly address: string;
  /** A datagram from `from` arrives at `now`; `data` is a fresh copy the node may keep. */
  receive(now: number, from: string, data: Uint8Array): void;
}

/** A scheduled callback; set `cancelled` (via Network.cancel) to skip it. */
export interface SimTimer {
  readonly t: number;
  readonly seq: number;
  cancelled: boolean;
  readonly fn: (() => void) | null;
  readonly to: string | null;
  readonly from: string | null;
  readonly data: Uint8Array | null;
}

export interface NetworkOptions {
  seed?: number;
  /** Trace ring size (0 disables tracing). Default 4000. */
  traceSize?: number;
  /** Link used for address pairs without their own; absent means such datagrams are dropped. */
  defaultLink?: LinkConfig;
}

export interface RunOptions {
  /** Virtual deadline, µs (absolute). Default Infinity. */
  until?: number;
  /** Checked after every event; true stops the run. */
  stopWhen?: () => boolean;
  /** Safety valve on the number of events processed in this call. Default 50 million. */
  maxEvents?: number;
}

export type RunEnd = 'idle' | 'until' | 'stopped' | 'max-events';

export interface RunResult {
  end: RunEnd;
  now: number;
  events: number;
}

export class Network {
  now = 0;
  readonly trace: Trace;
  readonly rng: Rng;
  /** Datagrams sent to addresses without a node or without a link. */
  unroutable = 0;
  /** Optional hook on every sent datagram: return the bytes to send (possibly changed) or null to drop it. */
  tamper: ((now: number, from: string, to: string, data: Uint8Array) => Uint8Array | null) | null = null;
  private readonly nodes = new Map<string, SimNode>();
  private readonly links = new Map<string, Link>();
  private readonly heap: SimTimer[] = [];
  private seq = 0;
  private readonly defaultLink: LinkConfig | undefined;

  constructor(options: NetworkOptions = {}) {
    this.rng = createRng(options.seed ?? 1);
    this.trace = new Trace(options.traceSize ?? 4000);
    this.defaultLink = options.defaultLink;
  }

  addNode(node: SimNode): void {
    if (this.nodes.has(node.address)) throw new Error(`address ${node.address} is already bound`);
    this.nodes.set(node.address, node);
  }

  node(address: string): SimNode | undefined {
    return this.nodes.get(address);
  }

  /** Sets the link for datagrams from `from` to `to` (full addresses); returns it for its counters. */
  setLink(from: string, to: string, config: LinkConfig): Link {
    const link = new Link(config, createRng(Math.floor(this.rng() * 2 ** 32)));
    this.links.set(`${from}>${to}`, link);
    return link;
  }

  /** Both directions between a and b; `back` defaults to the same settings. Returns [a→b, b→a]. */
  setPath(a: string, b: string, config: LinkConfig, back: LinkConfig = config): [Link, Link] {
    return [this.setLink(a, b, config), this.setLink(b, a, back)];
  }

  link(from: string, to: string): Link | undefined {
    let l = this.links.get(`${from}>${to}`);
    if (!l && this.defaultLink) l = this.setLink(from, to, this.defaultLink);
    return l;
  }

  /** Sends `len` bytes of `buf` at `off` from one address to another through their link (the bytes are copied). */
  send(from: string, to: string, buf: Uint8Array, off = 0, len = buf.length - off): void {
    let data: Uint8Array | null = buf.slice(off, off + len);
    if (this.tamper) {
      data = this.tamper(this.now, from, to, data);
      if (!data) {
        this.trace.add(this.now, 'drop', from, to, buf.slice(off, off + len), 'tampered');
        return;
      }
    }
    const link = this.link(from, to);
    if (!link) {
      this.unroutable++;
      this.trace.add(this.now, 'drop', from, to, data, 'no route');
      return;
    }
    const drop = link.offer(this.now, data.length);
    if (drop) {
      this.trace.add(this.now, 'drop', from, to, data, drop);
      return;
    }
    this.trace.add(this.now, 'send', from, to, data);
    for (let i = 0; i < link.arrivalCount; i++) this.push(link.arrivals[i], null, to, from, data);
  }

  /** Delivers a datagram to `to` at time `at` without any link (fault injection); the bytes are kept as given. */
  inject(at: number, from: string, to: string, data: Uint8Array): void {
    this.push(at, null, to, from, data);
  }

  /** Runs `fn` at virtual time `at` (not before now). */
  schedule(at: number, fn: () => void): SimTimer {
    return this.push(Math.max(at, this.now), fn, null, null, null);
  }

  cancel(timer: SimTimer | null): void {
    if (timer) timer.cancelled = true;
  }

  /** Events still queued (cancelled ones included). */
  get pending(): number {
    return this.heap.length;
  }

  /** Processes events in time order until none is left, the deadline passes, or `stopWhen` says so. */
  run(options: RunOptions = {}): RunResult {
    const until = options.until ?? Infinity;
    const maxEvents = options.maxEvents ?? 50_000_000;
    let events = 0;
    for (;;) {
      const ev = this.heap[0];
      if (!ev) return { end: 'idle', now: this.now, events };
      if (ev.t > until) {
        this.now = until;
        return { end: 'until', now: this.now, events };
      }
      this.pop();
      if (ev.cancelled) continue;
      this.now = ev.t;
      if (ev.fn) ev.fn();
      else this.deliver(ev);
      events++;
      if (options.stopWhen?.()) return { end: 'stopped', now: this.now, events };
      if (events >= maxEvents) return { end: 'max-events', now: this.now, events };
    }
  }

  private deliver(ev: SimTimer): void {
    const node = this.nodes.get(ev.to!);
    if (!node) {
      this.unroutable++;
      this.trace.add(this.now, 'drop', ev.from!, ev.to!, ev.data, 'no node');
      return;
    }
    this.trace.add(this.now, 'deliver', ev.from!, ev.to!, ev.data);
    node.receive(this.now, ev.from!, ev.data!);
  }

  private push(t: number, fn: (() => void) | null, to: string | null, from: string | null, data: Uint8Array | null): SimTimer {
    const ev: SimTimer = { t, seq: this.seq++, cancelled: false, fn, to, from, data };
    const h = this.heap;
    let i = h.length;
    h.push(ev);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(ev, h[p])) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = ev;
    return ev;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(h[r], h[l]) ? r : l;
      if (!before(h[c], last)) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = last;
  }
}

/** Earlier time first; equal times in scheduling order (stable). */
function before(a: SimTimer, b: SimTimer): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}
