// UdtSocket: a UDT connection as a stream.Duplex (bytes in stream mode, one Buffer per message in message mode).

import { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { ConnectionEvent } from '../core/connection.js';
import {
  AbortError,
  BindError,
  InvalidArgumentError,
  InvalidOperationError,
  SocketClosedError,
  UdtError,
} from '../core/errors.js';
import { nowUs } from '../endpoint/clock.js';
import type { ConnEntry, ConnectionSink } from '../endpoint/conn-entry.js';
import type { Endpoint } from '../endpoint/endpoint.js';
import { checkPort, endpointFor, resolveHost, validateSocketOptions, type ConnectOptions, type MessageOptions, type SocketOptions } from './options.js';
import { StatsTracker, type UdtStats } from './stats.js';

const READ_CHUNK = 128 * 1024;
const MESSAGE = Symbol('udt.message');

interface OutgoingMessage {
  [MESSAGE]: true;
  data: Uint8Array;
  ttl: number;
  inOrder: boolean;
}

interface PendingWrite {
  chunk: Uint8Array;
  offset: number;
  ttl: number;
  inOrder: boolean;
  cb: (err?: Error | null) => void;
}

export interface AddressInfo {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

export class UdtSocket extends Duplex implements ConnectionSink {
  readonly mode: 'stream' | 'message';
  bytesRead = 0;
  bytesWritten = 0;
  private readonly options: SocketOptions;
  private endpoint: Endpoint | null = null;
  private entry: ConnEntry | null = null;
  private pendingWrite: PendingWrite | null = null;
  private finalCb: ((err?: Error | null) => void) | null = null;
  private wantRead = false;
  private ended = false;
  private pushedEof = false;
  private connectStarted = false;
  private readonly openedAt = performance.now();
  /** Created by the first getStats(). */
  private stats: StatsTracker | null = null;
  private abortCleanup: (() => void) | null = null;
  private messageRelay = false;

  /** `sharedOptions` (internal): `options` is the caller's own copy and never changes, so it is kept as it is. */
  constructor(options: SocketOptions = {}, sharedOptions = false) {
    const mode = options.mode ?? 'stream';
    const message = mode === 'message';
    super({
      objectMode: message,
      allowHalfOpen: false,
      readableHighWaterMark: message ? 64 : (options.readableHighWaterMark ?? 1 << 20),
      writableHighWaterMark: message ? 64 : (options.writableHighWaterMark ?? 64 << 10),
    });
    validateSocketOptions(options);
    this.mode = mode;
    this.options = sharedOptions ? options : { ...options };
    this.on('newListener', UdtSocket.onNewListener);
  }

  // Listeners shared by every socket (an EventEmitter calls them with the socket as `this`): a socket holds no closures.
  private static onNewListener(this: UdtSocket, event: string | symbol): void {
    if (event !== 'message' || this.messageRelay) return;
    this.messageRelay = true;
    this.on('data', UdtSocket.emitMessage);
  }

  private static emitMessage(this: UdtSocket, m: Buffer): void {
    this.emit('message', m);
  }

  /** Starts connecting (client or rendezvous). Emits 'connect' when established. */
  connect(options: ConnectOptions, connectListener?: () => void): this {
    if (this.connectStarted || this.entry) throw new InvalidOperationError('socket is already connecting or connected');
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('connect() needs an options object');
    checkPort('port', options.port, false);
    if (options.localPort !== undefined) checkPort('localPort', options.localPort, true);
    if (options.rendezvous && !options.localPort) throw new InvalidArgumentError('rendezvous needs a fixed localPort');
    const merged: ConnectOptions = { ...this.options, ...options };
    if (options.timeout !== undefined) merged.connectTimeout = options.timeout;
    if (merged.mode !== undefined && merged.mode !== this.mode) throw new InvalidArgumentError('mode must be set when the socket is created');
    const { config } = validateSocketOptions(merged, !!options.rendezvous);
    this.connectStarted = true;
    if (connectListener) this.once('connect', connectListener);
    const signal = options.signal;
    if (signal) {
      if (signal.aborted) {
        process.nextTick(() => this.destroy(new AbortError(undefined, { cause: signal.reason })));
        return this;
      }
      const onAbort = () => this.destroy(new AbortError(undefined, { cause: signal.reason }));
      signal.addEventListener('abort', onAbort, { once: true });
      this.abortCleanup = () => signal.removeEventListener('abort', onAbort);
    }
    this.startConnect(merged, config()).catch((err: unknown) => this.destroy(err as Error));
    return this;
  }

  private async startConnect(o: ConnectOptions, config: ReturnType<ReturnType<typeof validateSocketOptions>['config']>): Promise<void> {
    const { address, family } = await resolveHost(o.host ?? 'localhost', o.family);
    if (this.destroyed) return;
    let ep: Endpoint;
    try {
      ep = await endpointFor(o, family, { address: o.localAddress ?? (family === 6 ? '::' : '0.0.0.0'), port: o.localPort }, config.mss);
    } catch (err) {
      throw err instanceof UdtError ? err : new BindError(`cannot bind UDP socket: ${(err as Error).message}`, { cause: err });
    }
    if (this.destroyed) {
      ep.retain();
      ep.release();
      return;
    }
    const entry = o.rendezvous ? ep.rendezvous(config, address, o.port, this) : ep.connect(config, address, o.port, this);
    this.attach(ep, entry);
  }

  /** Binds this socket to a connection an endpoint created (server side) or started (client side). */
  attach(endpoint: Endpoint, entry: ConnEntry): void {
    this.endpoint = endpoint;
    this.entry = entry;
    entry.sink = this;
  }

  // ---- events from the connection ----

  onConnectionEvent(ev: ConnectionEvent): void {
    switch (ev.type) {
      case 'connected':
        this.emit('connect');
        this.emit('ready');
        this.tryWrite();
        this.pull();
        break;
      case 'readable':
        this.pull();
        break;
      case 'writable':
        this.tryWrite();
        break;
      case 'message-dropped':
        this.emit('messageDropped', { msgNo: ev.msgNo });
        break;
      case 'closed':
        this.onClosed(ev.error);
        break;
    }
  }

  onEndpointError(err: Error): void {
    this.destroy(err);
  }

  private onClosed(error: UdtError | null): void {
    if (error) {
      this.destroy(error);
      return;
    }
    this.ended = true;
    const pw = this.pendingWrite;
    if (pw) {
      this.pendingWrite = null;
      pw.cb(new SocketClosedError('connection closed before the write completed'));
    }
    this.pull();
    const cb = this.finalCb;
    this.finalCb = null;
    cb?.();
  }

  // ---- Duplex plumbing ----

  override _read(): void {
    this.wantRead = true;
    this.pull();
  }

  private pull(): void {
    const e = this.entry;
    if (!e) return;
    const conn = e.conn;
    let any = false;
    while (this.wantRead) {
      const data = this.mode === 'stream' ? conn.read(READ_CHUNK) : (conn.readMessage()?.data ?? null);
      if (!data) break;
      any = true;
      this.bytesRead += data.length;
      if (!this.push(data)) this.wantRead = false;
    }
    if (any && conn.state !== 'closed') this.endpoint!.kick(e);
    if (this.ended && !this.readableEnded && !this.pushedEof && !(this.mode === 'stream' ? conn.readableBytes > 0 : conn.receiver?.buffer.hasReadyMessage)) {
      this.pushedEof = true;
      this.push(null);
      // With nothing left to consume, let 'end' (and so 'close') happen even if nobody reads.
      if (this.readableLength === 0) this.read(0);
    }
  }

  override _write(chunk: unknown, encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    let data: Uint8Array;
    let ttl = -1;
    let inOrder = true;
    if (typeof chunk === 'object' && chunk !== null && (chunk as OutgoingMessage)[MESSAGE]) {
      ({ data, ttl, inOrder } = chunk as OutgoingMessage);
    } else if (chunk instanceof Uint8Array) {
      data = chunk;
    } else if (typeof chunk === 'string') {
      data = Buffer.from(chunk, encoding);
    } else {
      cb(new InvalidArgumentError('write() takes a Buffer, Uint8Array or string'));
      return;
    }
    if (this.mode === 'message' && data.length === 0) {
      cb(new InvalidArgumentError('a message must have at least one byte'));
      return;
    }
    if (data.length === 0) {
      cb();
      return;
    }
    this.pendingWrite = { chunk: data, offset: 0, ttl, inOrder, cb };
    this.tryWrite();
  }

  private tryWrite(): void {
    const pw = this.pendingWrite;
    const e = this.entry;
    if (!pw || !e) return;
    const conn = e.conn;
    if (conn.state === 'connecting') return;
    if (conn.state !== 'connected') {
      this.pendingWrite = null;
      pw.cb(new SocketClosedError('socket is closing'));
      return;
    }
    try {
      if (this.mode === 'stream') {
        const n = conn.write(pw.offset === 0 ? pw.chunk : pw.chunk.subarray(pw.offset), nowUs());
        pw.offset += n;
        this.bytesWritten += n;
        if (n > 0) this.endpoint!.kick(e);
        if (pw.offset < pw.chunk.length) return;
      } else {
        if (!conn.sendMessage(pw.chunk, nowUs(), pw.ttl, pw.inOrder)) return;
        this.bytesWritten += pw.chunk.length;
        this.endpoint!.kick(e);
      }
    } catch (err) {
      this.pendingWrite = null;
      pw.cb(err as Error);
      return;
    }
    this.pendingWrite = null;
    pw.cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    const e = this.entry;
    if (!e || e.conn.state === 'closed') {
      cb();
      return;
    }
    if (e.conn.state === 'connecting') {
      this.once('connect', () => this._final(cb));
      return;
    }
    this.finalCb = cb;
    e.conn.close(nowUs());
    this.endpoint!.kick(e);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.abortCleanup?.();
    this.abortCleanup = null;
    const e = this.entry;
    if (e && e.conn.state !== 'closed') {
      e.conn.destroy();
      this.endpoint!.kick(e);
    }
    const pw = this.pendingWrite;
    this.pendingWrite = null;
    pw?.cb(err ?? new SocketClosedError());
    const fin = this.finalCb;
    this.finalCb = null;
    fin?.(err ?? new SocketClosedError());
    cb(err);
  }

  // ---- public extras ----

  /** Message mode: queues one message with its own TTL and ordering; returns false under backpressure. */
  sendMessage(data: Uint8Array | string, options: MessageOptions = {}): boolean {
    if (this.mode !== 'message') throw new InvalidOperationError('sendMessage() needs a socket created with mode: "message"');
    const ttl = options.ttl ?? -1;
    if (typeof ttl !== 'number' || !Number.isFinite(ttl) || (ttl < 0 && ttl !== -1)) throw new InvalidArgumentError(`ttl must be -1 or a number of ms >= 0, got ${String(ttl)}`);
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError('sendMessage() takes a Buffer, Uint8Array or string');
    const msg: OutgoingMessage = { [MESSAGE]: true, data: bytes, ttl, inOrder: options.inOrder ?? true };
    return this.write(msg);
  }

  /** Counters and instant values; `clear` (default true) starts a new interval, like libudt's perfmon. */
  getStats(options: { clear?: boolean } = {}): UdtStats {
    const engine = this.endpoint?.engine.stats() ?? { engine: 'dgram', sendPath: 'none', pacing: 'burst', sndBufGranted: 0, rcvBufGranted: 0, datagramsSent: 0, datagramsReceived: 0, bytesSent: 0, bytesReceived: 0, sendErrors: 0, sendWouldBlock: 0, sendCalls: 0, recvCalls: 0 };
    this.stats ??= new StatsTracker(this.openedAt);
    return this.stats.snapshot(this.entry?.conn ?? null, engine, performance.now(), options.clear ?? true);
  }

  /** Local address of the UDP socket. */
  address(): AddressInfo | Record<string, never> {
    const b = this.endpoint?.bound;
    return b ? { address: b.address, port: b.port, family: b.family } : {};
  }

  get remoteAddress(): string | undefined {
    return this.entry && this.endpoint ? this.endpoint.peerAddress(this.entry).address : undefined;
  }

  get remotePort(): number | undefined {
    return this.entry && this.endpoint ? this.endpoint.peerAddress(this.entry).port : undefined;
  }

  get remoteFamily(): string | undefined {
    return this.entry && this.endpoint ? this.endpoint.peerAddress(this.entry).family : undefined;
  }

  get localAddress(): string | undefined {
    return this.endpoint?.bound.address;
  }

  get localPort(): number | undefined {
    return this.endpoint?.bound.port;
  }

  /** Our UDT socket id and the peer's. */
  get socketId(): number | undefined {
    return this.entry?.conn.localSocketId;
  }

  get remoteSocketId(): number | undefined {
    return this.entry?.conn.peerSocketId || undefined;
  }

  get connecting(): boolean {
    return (this.connectStarted && !this.entry) || this.entry?.conn.state === 'connecting';
  }

  get pending(): boolean {
    return !this.entry || this.entry.conn.state === 'connecting';
  }

  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.destroyed || !this.entry) return 'closed';
    if (this.readable && this.writable) return 'open';
    if (this.readable) return 'readOnly';
    if (this.writable) return 'writeOnly';
    return 'closed';
  }

  /** Lets the process exit while this socket's endpoint is open (affects every socket on the same port). */
  unref(): this {
    this.endpoint?.engine.unref();
    return this;
  }

  ref(): this {
    this.endpoint?.engine.ref();
    return this;
  }
}

/** Creates a socket and connects it (like net.connect). */
export function connect(options: ConnectOptions, connectListener?: () => void): UdtSocket {
  const socket = new UdtSocket(options);
  return socket.connect(options, connectListener);
}
