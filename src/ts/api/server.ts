// UdtServer: accepts UDT connections on a UDP port, shaped like net.Server.

import { EventEmitter } from 'node:events';
import { InvalidArgumentError, InvalidOperationError, UdtError, BindError } from '../core/errors.js';
import type { Endpoint } from '../endpoint/endpoint.js';
import { checkPort, endpointFor, resolveHost, validateSocketOptions, type SocketOptions } from './options.js';
import { UdtSocket, type AddressInfo } from './socket.js';

export interface ServerOptions extends SocketOptions {
  /** Refuse (with a UDT reject) new connections beyond this many open ones. Default unlimited. */
  maxConnections?: number;
}

export interface ListenOptions {
  port?: number;
  /** Default '0.0.0.0'; use '::' or '::1' for IPv6. */
  host?: string;
}

export class UdtServer extends EventEmitter {
  private endpoint: Endpoint | null = null;
  private readonly sockets = new Set<UdtSocket>();
  private readonly options: ServerOptions;
  private listenStarted = false;
  private closing = false;
  /** The 'close' listener of every accepted socket (called with the socket as `this`). */
  private readonly socketClosed: (this: UdtSocket) => void;
  maxConnections: number;

  constructor(options: ServerOptions = {}, connectionListener?: (socket: UdtSocket) => void) {
    super();
    validateSocketOptions(options);
    if (options.maxConnections !== undefined && !(Number.isInteger(options.maxConnections) && options.maxConnections >= 0)) {
      throw new InvalidArgumentError(`maxConnections must be a non-negative integer, got ${String(options.maxConnections)}`);
    }
    this.options = { ...options };
    this.maxConnections = options.maxConnections ?? Infinity;
    if (connectionListener) this.on('connection', connectionListener);
    const sockets = this.sockets;
    const server = this;
    this.socketClosed = function (this: UdtSocket) {
      if (sockets.delete(this)) server.maybeEmitClose();
    };
  }

  /** listen(port[, host][, callback]) or listen({ port, host }[, callback]). */
  listen(portOrOptions?: number | ListenOptions, hostOrCallback?: string | (() => void), callback?: () => void): this {
    const opts: ListenOptions = typeof portOrOptions === 'object' && portOrOptions !== null ? portOrOptions : { port: portOrOptions };
    const host = typeof hostOrCallback === 'string' ? hostOrCallback : opts.host;
    const cb = typeof hostOrCallback === 'function' ? hostOrCallback : callback;
    const port = checkPort('port', opts.port ?? 0, true);
    if (this.listenStarted) throw new InvalidOperationError('server is already listening');
    this.listenStarted = true;
    if (cb) this.once('listening', cb);
    this.startListening(port, host ?? '0.0.0.0').catch((err: unknown) => {
      this.listenStarted = false;
      this.emit('error', err instanceof UdtError ? err : new BindError(`cannot listen: ${(err as Error).message}`, { cause: err }));
    });
    return this;
  }

  private async startListening(port: number, host: string): Promise<void> {
    const { address, family } = await resolveHost(host);
    // One resolved configuration serves every accepted connection (each gets its own controller from the factory).
    const shared = validateSocketOptions(this.options).config();
    const ep = await endpointFor(this.options, family, { address, port }, shared.mss);
    if (this.closing) {
      ep.retain();
      ep.release();
      return;
    }
    ep.listen({
      sockType: (this.options.mode ?? 'stream') === 'stream' ? 1 : 2,
      makeConfig: () => shared,
      canAccept: () => this.sockets.size < this.maxConnections,
      accept: (entry) => {
        const socket = new UdtSocket(this.options, true);
        socket.attach(ep, entry);
        this.sockets.add(socket);
        socket.on('close', this.socketClosed);
        process.nextTick(() => this.emit('connection', socket));
        return socket;
      },
    });
    this.endpoint = ep;
    this.emit('listening');
  }

  /** The bound address, or null before 'listening'. */
  address(): AddressInfo | null {
    const b = this.endpoint?.bound;
    return b ? { address: b.address, port: b.port, family: b.family } : null;
  }

  /** The UDP endpoint's figures: engine counters and datagrams dropped as malformed, unknown or misaddressed. */
  getStats(): ReturnType<Endpoint['stats']> | null {
    return this.endpoint?.stats() ?? null;
  }

  get listening(): boolean {
    return !!this.endpoint && this.endpoint.listening;
  }

  /** Open connections accepted by this server. */
  get connections(): number {
    return this.sockets.size;
  }

  getConnections(cb: (err: Error | null, count: number) => void): void {
    process.nextTick(cb, null, this.sockets.size);
  }

  /** Stops accepting; 'close' follows once every accepted connection has closed (as with net.Server). */
  close(cb?: (err?: Error) => void): this {
    if (cb) this.once('close', () => cb());
    if (this.closing) return this;
    this.closing = true;
    this.endpoint?.unlisten();
    this.maybeEmitClose();
    return this;
  }

  private maybeEmitClose(): void {
    if (this.closing && this.sockets.size === 0) {
      this.closing = false;
      this.endpoint = null;
      process.nextTick(() => this.emit('close'));
    }
  }

  ref(): this {
    this.endpoint?.engine.ref();
    return this;
  }

  unref(): this {
    this.endpoint?.engine.unref();
    return this;
  }

  /** Immediately destroys every accepted connection (and stops listening). */
  closeAllConnections(): void {
    for (const s of this.sockets) s.destroy();
  }
}

export function createServer(options?: ServerOptions | ((socket: UdtSocket) => void), connectionListener?: (socket: UdtSocket) => void): UdtServer {
  if (typeof options === 'function') return new UdtServer({}, options);
  return new UdtServer(options ?? {}, connectionListener);
}
