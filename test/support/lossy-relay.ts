// UDP relay on real sockets that drops, duplicates, delays and reorders datagrams with a seeded PRNG (test impairment).
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { createRng, type Rng } from '../../src/ts/core/rng.js';

export type Range = number | readonly [number, number];

/** What happens to the datagrams travelling one way. Rates are probabilities in [0, 1]. */
export interface Impairment {
  loss: number;
  dupRate: number;
  /** Share of datagrams held back by an extra `reorderDelayMs` so that later ones overtake them. */
  reorderRate: number;
  reorderDelayMs: Range;
  /** Fixed one-way delay added to every datagram. */
  delayMs: number;
}

export type Direction = 'toTarget' | 'toClient';

export interface LossyRelayOptions extends Partial<Impairment> {
  target: { host: string; port: number };
  /** Address the relay listens on; default the loopback address of `family`. */
  listenHost?: string;
  listenPort?: number;
  family?: 4 | 6;
  seed?: number;
  /** Overrides of the shared impairment for one direction. */
  toTarget?: Partial<Impairment>;
  toClient?: Partial<Impairment>;
  /** Most datagrams held for delay or reordering at once (both directions); beyond it they are dropped. */
  maxQueued?: number;
  /** Most distinct client addresses (each gets its own upstream socket); later clients are ignored. */
  maxClients?: number;
  /** Kernel receive/send buffer requested for every relay socket. */
  socketBufferBytes?: number;
  /** Sees every datagram the relay receives, before any impairment (for packet traces and counting). */
  tap?: (direction: Direction, datagram: Buffer) => void;
  /** Datagrams for which this returns true pass unimpaired and draw no random numbers (e.g. a UDT SHUTDOWN). */
  spare?: (direction: Direction, datagram: Buffer) => boolean;
}

export interface DirectionStats {
  received: number;
  forwarded: number;
  dropped: number;
  duplicated: number;
  reordered: number;
  /** Copies dropped because `maxQueued` was reached. */
  overflowed: number;
  /** Datagrams passed unimpaired by `spare` (counted in received and forwarded too). */
  spared: number;
}

export interface RelayStats {
  toTarget: DirectionStats;
  toClient: DirectionStats;
  clients: number;
  rejectedClients: number;
  /** Datagrams scheduled but not yet sent. */
  queued: number;
}

const NO_IMPAIRMENT: Impairment = { loss: 0, dupRate: 0, reorderRate: 0, reorderDelayMs: [5, 20], delayMs: 0 };

const emptyStats = (): DirectionStats => ({ received: 0, forwarded: 0, dropped: 0, duplicated: 0, reordered: 0, overflowed: 0, spared: 0 });

function pickImpairment(source: Partial<Impairment>): Partial<Impairment> {
  const { loss, dupRate, reorderRate, reorderDelayMs, delayMs } = source;
  const picked: Partial<Impairment> = { loss, dupRate, reorderRate, reorderDelayMs, delayMs };
  for (const key of Object.keys(picked) as (keyof Impairment)[]) if (picked[key] === undefined) delete picked[key];
  return picked;
}

function validate(imp: Impairment): Impairment {
  for (const key of ['loss', 'dupRate', 'reorderRate'] as const) {
    if (!(imp[key] >= 0 && imp[key] <= 1)) throw new RangeError(`${key} must be within [0, 1], got ${imp[key]}`);
  }
  const [lo, hi] = rangeOf(imp.reorderDelayMs);
  if (!(lo >= 0 && hi >= lo) || !(imp.delayMs >= 0)) throw new RangeError('delays must be non-negative ranges');
  return imp;
}

function rangeOf(r: Range): readonly [number, number] {
  return typeof r === 'number' ? [r, r] : r;
}

/** The impairment decisions and counters of one direction. Every datagram draws the same four random numbers. */
class Lane {
  readonly stats = emptyStats();

  constructor(
    private imp: Impairment,
    private readonly rng: Rng,
  ) {}

  update(changes: Partial<Impairment>): void {
    this.imp = validate({ ...this.imp, ...pickImpairment(changes) });
  }

  /** Returns how many copies to send and after how many ms, or undefined to drop. */
  decide(): { copies: number; delayMs: number } | undefined {
    const [lossDraw, dupDraw, reorderDraw, spreadDraw] = [this.rng(), this.rng(), this.rng(), this.rng()];
    this.stats.received++;
    if (lossDraw < this.imp.loss) {
      this.stats.dropped++;
      return undefined;
    }
    const copies = dupDraw < this.imp.dupRate ? 2 : 1;
    this.stats.duplicated += copies - 1;
    let delayMs = this.imp.delayMs;
    if (reorderDraw < this.imp.reorderRate) {
      const [lo, hi] = rangeOf(this.imp.reorderDelayMs);
      delayMs += lo + spreadDraw * (hi - lo);
      this.stats.reordered++;
    }
    return { copies, delayMs };
  }
}

interface Client {
  address: string;
  port: number;
  upstream: dgram.Socket;
}

/**
 * Forwards client→target and target→client, one upstream socket per client address, impairing both directions.
 * Repeatable: the same seed and the same datagram sequence give the same decisions.
 */
export class LossyRelay {
  private readonly family: 4 | 6;
  private readonly listenHost: string;
  private readonly lanes: Record<Direction, Lane>;
  private readonly clients = new Map<string, Client>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private server: dgram.Socket | undefined;
  private rejectedClients = 0;
  private stopped = false;
  /** Socket errors seen (the relay keeps running; tests may inspect them). */
  readonly errors: Error[] = [];

  constructor(private readonly opts: LossyRelayOptions) {
    this.family = opts.family ?? (isIPv6(opts.target.host) ? 6 : 4);
    this.listenHost = opts.listenHost ?? (this.family === 6 ? '::1' : '127.0.0.1');
    const shared = { ...NO_IMPAIRMENT, ...pickImpairment(opts) };
    const seed = opts.seed ?? 1;
    this.lanes = {
      toTarget: new Lane(validate({ ...shared, ...pickImpairment(opts.toTarget ?? {}) }), createRng(seed)),
      toClient: new Lane(validate({ ...shared, ...pickImpairment(opts.toClient ?? {}) }), createRng(seed ^ 0x5bd1e995)),
    };
  }

  /** Binds the listening socket and returns its port. */
  async start(): Promise<number> {
    if (this.server) throw new Error('LossyRelay already started');
    const server = this.createSocket();
    this.server = server;
    server.on('message', (msg, from) => this.fromClient(msg, from));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.bind(this.opts.listenPort ?? 0, this.listenHost, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server.address().port;
  }

  /** Stops forwarding at once: pending delayed datagrams are discarded and every socket is closed. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const sockets = [...[...this.clients.values()].map((c) => c.upstream), ...(this.server ? [this.server] : [])];
    this.clients.clear();
    await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  /** Changes the impairment of one direction while running (e.g. loss 1 for a black hole). */
  update(direction: Direction, changes: Partial<Impairment>): void {
    this.lanes[direction].update(changes);
  }

  stats(): RelayStats {
    return {
      toTarget: { ...this.lanes.toTarget.stats },
      toClient: { ...this.lanes.toClient.stats },
      clients: this.clients.size,
      rejectedClients: this.rejectedClients,
      queued: this.timers.size,
    };
  }

  private createSocket(): dgram.Socket {
    const bytes = this.opts.socketBufferBytes ?? 4 << 20;
    const socket = dgram.createSocket({ type: this.family === 6 ? 'udp6' : 'udp4', recvBufferSize: bytes, sendBufferSize: bytes });
    socket.on('error', (err) => this.errors.push(err));
    return socket;
  }

  private fromClient(msg: Buffer, from: dgram.RemoteInfo): void {
    const client = this.clientFor(from);
    if (!client) return;
    const { host, port } = this.opts.target;
    this.forward('toTarget', msg, () => client.upstream.send(msg, port, host));
  }

  private clientFor(from: dgram.RemoteInfo): Client | undefined {
    const key = `${from.address}|${from.port}`;
    const known = this.clients.get(key);
    if (known) return known;
    if (this.clients.size >= (this.opts.maxClients ?? 256)) {
      this.rejectedClients++;
      return undefined;
    }
    const client: Client = { address: from.address, port: from.port, upstream: this.createSocket() };
    client.upstream.bind(0, this.listenHost);
    client.upstream.on('message', (msg, src) => this.fromTarget(client, msg, src));
    this.clients.set(key, client);
    return client;
  }

  private fromTarget(client: Client, msg: Buffer, src: dgram.RemoteInfo): void {
    if (src.port !== this.opts.target.port) return;
    this.forward('toClient', msg, () => this.server?.send(msg, client.port, client.address));
  }

  private forward(direction: Direction, msg: Buffer, send: () => void): void {
    if (this.stopped) return;
    this.opts.tap?.(direction, msg);
    const lane = this.lanes[direction];
    if (this.opts.spare?.(direction, msg)) {
      lane.stats.received++;
      lane.stats.spared++;
      this.sendCounted(lane, send);
      return;
    }
    const plan = lane.decide();
    if (!plan) return;
    for (let i = 0; i < plan.copies; i++) {
      if (plan.delayMs <= 0) {
        this.sendCounted(lane, send);
      } else if (this.timers.size >= (this.opts.maxQueued ?? 10_000)) {
        lane.stats.overflowed++;
      } else {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          this.sendCounted(lane, send);
        }, plan.delayMs);
        this.timers.add(timer);
      }
    }
  }

  private sendCounted(lane: Lane, send: () => void): void {
    if (this.stopped) return;
    lane.stats.forwarded++;
    send();
  }
}
