// DgramEngine: the always-available engine on node:dgram (one datagram per receive batch, bounded send queue).

import dgram from 'node:dgram';
import { nowUs } from '../endpoint/clock.js';
import type { BoundInfo, Engine, EngineHandlers, EngineOpenOptions, EngineStats, PeerAddress, RxBatch, TxBatch } from './engine.js';
import { CLOSE_DRAIN_MS, DEFAULT_SOCKET_BUFFER, EARLY_SLACK_US } from './defaults.js';
import { engineError } from './errors.js';
import { PeerBook } from './peer-book.js';

const BLOCKS = 8;
const BLOCK_CAP = 64;

/** Numeric addresses only: answering synchronously lets `send()` reach libuv in the same tick (no dns.lookup). */
function numericLookup(address: string, _opts: unknown, cb: (err: Error | null, address: string, family: number) => void): void {
  cb(null, address, address.includes(':') ? 6 : 4);
}

interface UdpHandle {
  recvStart(): number;
  recvStop(): number;
}

/** The socket's libuv handle, to stop reading while paused (node:dgram has no public pause). */
function udpHandle(sock: dgram.Socket): UdpHandle | null {
  const sym = Object.getOwnPropertySymbols(sock).find((s) => s.description === 'state symbol');
  const state = sym ? (sock as unknown as Record<symbol, { handle?: UdpHandle }>)[sym] : undefined;
  const h = state?.handle;
  return h && typeof h.recvStart === 'function' && typeof h.recvStop === 'function' ? h : null;
}

export class DgramEngine implements Engine {
  readonly kind = 'dgram' as const;
  readonly receivesInBatches = false;
  private sock: dgram.Socket | null = null;
  private handlers: EngineHandlers | null = null;
  private peers!: PeerBook;
  private bound: BoundInfo | null = null;
  private closing: Promise<void> | null = null;
  private refed = true;
  private paused = false;
  private droppedWhilePaused = 0;

  private blocks: TxBatch[] = [];
  /** Sends of block i that node has not called back yet (its memory may still be read until then). */
  private readonly pending = new Int32Array(BLOCKS);
  private readonly sentCallbacks: ((err: Error | null) => void)[] = [];
  private reserved: TxBatch | null = null;
  /** Block counters: [freeHead, sendHead) sent but awaiting callbacks, [sendHead, tail) queued, tail = next to reserve. */
  private freeHead = 0;
  private sendHead = 0;
  private tail = 0;
  /** Per block: datagrams not yet handed to node, a lower bound of their sendAt, and which ones went already. */
  private readonly unsent = new Int32Array(BLOCKS);
  private readonly minDue = new Float64Array(BLOCKS);
  private readonly sentFlags: Uint8Array[] = [];
  private wantWritable = false;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = 0;

  private readonly rx: RxBatch = {
    count: 1,
    buf: Buffer.alloc(0),
    offsets: new Int32Array(1),
    lengths: new Int32Array(1),
    peers: new Int32Array(1),
    owned: true,
    now: 0,
    times: new Float64Array(1),
  };

  private readonly st = {
    datagramsSent: 0,
    datagramsReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    sendErrors: 0,
    sendWouldBlock: 0,
    sendCalls: 0,
    recvCalls: 0,
    droppedOnClose: 0,
    lastSendError: null as string | null,
  };

  async open(o: EngineOpenOptions, h: EngineHandlers): Promise<BoundInfo> {
    if (this.sock) throw engineError('ERR_UDT_ENGINE_STATE', 'engine already open');
    this.handlers = h;
    const family = o.type === 'udp6' ? 'IPv6' : 'IPv4';
    this.peers = new PeerBook(family, !!o.ipv6Only);
    this.setupBlocks(o.maxDatagram);
    const sock = dgram.createSocket({ type: o.type, ipv6Only: !!o.ipv6Only, reuseAddr: false, lookup: numericLookup as never });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error & { code?: string }) => {
        sock.close();
        reject(engineError('ERR_UDT_ENGINE_BIND', `bind ${err.code ?? ''}: ${err.message}`, err));
      };
      sock.once('error', onError);
      sock.bind({ port: o.port ?? 0, address: o.address, exclusive: true }, () => {
        sock.off('error', onError);
        resolve();
      });
    });
    this.sock = sock;
    sock.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    sock.on('error', (err) => this.handlers?.onError(engineError('ERR_UDT_ENGINE_SOCKET', err.message, err)));
    const a = sock.address();
    this.bound = {
      address: a.address,
      port: a.port,
      family,
      sndBufGranted: this.sizeBuffer(true, o.sndBuf ?? DEFAULT_SOCKET_BUFFER),
      rcvBufGranted: this.sizeBuffer(false, o.rcvBuf ?? DEFAULT_SOCKET_BUFFER),
    };
    if (!this.refed) sock.unref();
    return { ...this.bound };
  }

  private setupBlocks(maxDatagram: number): void {
    const stride = Math.ceil(maxDatagram / 64) * 64;
    const slab = new ArrayBuffer(BLOCKS * BLOCK_CAP * stride);
    for (let b = 0; b < BLOCKS; b++) {
      this.blocks.push({
        buf: Buffer.from(slab, b * BLOCK_CAP * stride, BLOCK_CAP * stride),
        stride,
        capacity: BLOCK_CAP,
        count: 0,
        lengths: new Int32Array(BLOCK_CAP),
        peers: new Int32Array(BLOCK_CAP),
        sendAt: new Float64Array(BLOCK_CAP),
      });
      this.sentCallbacks.push((err) => this.onSent(b, err));
      this.sentFlags.push(new Uint8Array(BLOCK_CAP));
    }
  }

  private sizeBuffer(send: boolean, bytes: number): number {
    const s = this.sock!;
    try {
      if (send) s.setSendBufferSize(bytes);
      else s.setRecvBufferSize(bytes);
    } catch {
      // the kernel refused (e.g. above wmem_max without privileges); report what we have
    }
    try {
      return send ? s.getSendBufferSize() : s.getRecvBufferSize();
    } catch {
      return 0;
    }
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.paused) {
      this.droppedWhilePaused++;
      return;
    }
    const rx = this.rx;
    rx.buf = msg;
    rx.lengths[0] = msg.length;
    rx.peers[0] = this.peers.intern(rinfo.address, rinfo.port);
    rx.now = rx.times![0] = nowUs();
    this.st.datagramsReceived++;
    this.st.bytesReceived += msg.length;
    this.st.recvCalls++;
    this.handlers!.onReceive(rx);
  }

  peer(address: string, port: number): number {
    if (!this.peers) throw engineError('ERR_UDT_ENGINE_STATE', 'engine not open');
    return this.peers.intern(this.peers.normalize(address, port), port);
  }

  peerAddress(handle: number): PeerAddress {
    const a = this.peers?.get(handle);
    if (!a) throw engineError('ERR_UDT_ENGINE_PEER', `unknown peer handle ${handle}`);
    return a;
  }

  releasePeer(handle: number): void {
    this.peers?.release(handle);
  }

  txReserve(): TxBatch | null {
    if (this.reserved) return this.reserved;
    if (!this.sock || this.closing) return null;
    if (this.tail - this.freeHead >= BLOCKS) {
      this.wantWritable = true;
      return null;
    }
    const b = this.blocks[this.tail % BLOCKS];
    b.count = 0;
    this.reserved = b;
    return b;
  }

  txCommit(batch: TxBatch): void {
    if (!this.sock || this.closing) return;
    if (batch !== this.reserved) throw engineError('ERR_UDT_ENGINE_TX', 'txCommit without a reserved batch');
    this.reserved = null;
    if (batch.count <= 0) return;
    if (batch.count > BLOCK_CAP) throw engineError('ERR_UDT_ENGINE_TX', 'batch count out of range');
    const blk = this.tail % BLOCKS;
    let min = Infinity;
    for (let i = 0; i < batch.count; i++) min = Math.min(min, batch.sendAt[i]);
    this.sentFlags[blk].fill(0, 0, batch.count);
    this.unsent[blk] = batch.count;
    this.minDue[blk] = min;
    this.tail++;
    this.pump(false);
  }

  txAvailable(): number {
    if (!this.sock || this.closing) return 0;
    return (BLOCKS - (this.tail - this.freeHead)) * BLOCK_CAP - (this.reserved ? this.reserved.count : 0);
  }

  /**
   * Sends every queued datagram that is due (all of them when `flush`), in commit order; one scheduled later never
   * holds back one that is due. Sets a timer for the earliest datagram left.
   */
  private pump(flush: boolean): void {
    const wasQueued = this.sock!.getSendQueueCount() > 0;
    const now = nowUs();
    const limit = flush ? Infinity : now + EARLY_SLACK_US;
    let next = Infinity;
    for (let q = this.sendHead; q !== this.tail; q++) {
      const blk = q % BLOCKS;
      if (this.unsent[blk] === 0) continue;
      if (this.minDue[blk] > limit) {
        next = Math.min(next, this.minDue[blk]);
        continue;
      }
      const b = this.blocks[blk];
      const flags = this.sentFlags[blk];
      let left = Infinity;
      for (let i = 0; i < b.count; i++) {
        if (flags[i]) continue;
        const at = b.sendAt[i];
        if (at > limit) {
          left = Math.min(left, at);
          continue;
        }
        flags[i] = 1;
        this.unsent[blk]--;
        this.sendOne(b, blk, i);
      }
      this.minDue[blk] = left;
      next = Math.min(next, left);
    }
    while (this.sendHead !== this.tail && this.unsent[this.sendHead % BLOCKS] === 0) this.sendHead++;
    if (next !== Infinity) this.schedule(next, now);
    this.noteWouldBlock(wasQueued);
    this.releaseBlocks();
  }

  private sendOne(b: TxBatch, blk: number, i: number): void {
    const len = b.lengths[i];
    const p = this.peers.get(b.peers[i]);
    if (!p || len < 0 || len > b.stride) {
      this.st.sendErrors++;
      return;
    }
    this.st.sendCalls++;
    try {
      this.sock!.send(b.buf, i * b.stride, len, p.port, p.address, this.sentCallbacks[blk]);
    } catch (e) {
      this.st.sendErrors++;
      this.st.lastSendError = (e as Error & { code?: string }).code ?? (e as Error).message;
      return;
    }
    this.pending[blk]++;
    this.st.datagramsSent++;
    this.st.bytesSent += len;
  }

  private noteWouldBlock(wasQueued: boolean): void {
    if (!wasQueued && this.sock!.getSendQueueCount() > 0) this.st.sendWouldBlock++;
  }

  private schedule(at: number, now: number): void {
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.sock && !this.closing) this.pump(false);
      this.signalWritable();
    }, Math.max(1, Math.ceil((at - now) / 1000)));
    if (!this.refed) this.timer.unref();
  }

  private onSent(blk: number, err: Error | null): void {
    this.pending[blk]--;
    if (err) {
      this.st.sendErrors++;
      this.st.datagramsSent--;
      this.st.lastSendError = (err as Error & { code?: string }).code ?? err.message;
    }
    this.releaseBlocks();
    this.signalWritable();
  }

  private releaseBlocks(): void {
    while (this.freeHead !== this.sendHead && this.pending[this.freeHead % BLOCKS] === 0) this.freeHead++;
  }

  private signalWritable(): void {
    if (this.wantWritable && this.sock && !this.closing && this.tail - this.freeHead < BLOCKS) {
      this.wantWritable = false;
      this.handlers!.onWritable();
    }
  }

  stats(): EngineStats & { droppedOnClose: number; receiveDroppedWhilePaused: number; lastSendError: string | null; peers: number } {
    return {
      engine: 'dgram',
      sendPath: 'dgram',
      pacing: 'burst',
      datagramsSent: this.st.datagramsSent,
      datagramsReceived: this.st.datagramsReceived,
      bytesSent: this.st.bytesSent,
      bytesReceived: this.st.bytesReceived,
      sendErrors: this.st.sendErrors,
      sendWouldBlock: this.st.sendWouldBlock,
      sendCalls: this.st.sendCalls,
      recvCalls: this.st.recvCalls,
      sndBufGranted: this.bound?.sndBufGranted ?? 0,
      rcvBufGranted: this.bound?.rcvBufGranted ?? 0,
      droppedOnClose: this.st.droppedOnClose,
      receiveDroppedWhilePaused: this.droppedWhilePaused,
      lastSendError: this.st.lastSendError,
      peers: this.peers?.size ?? 0,
    };
  }

  pauseReceive(): void {
    if (this.paused || !this.sock) return;
    this.paused = true;
    udpHandle(this.sock)?.recvStop();
  }

  resumeReceive(): void {
    if (!this.paused || !this.sock) return;
    this.paused = false;
    udpHandle(this.sock)?.recvStart();
  }

  ref(): void {
    this.refed = true;
    this.sock?.ref();
    this.timer?.ref();
  }

  unref(): void {
    this.refed = false;
    this.sock?.unref();
    this.timer?.unref();
  }

  /** Sends what is already queued (ignoring sendAt), waits up to CLOSE_DRAIN_MS for node to finish, then closes. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    const sock = this.sock;
    if (!sock) return (this.closing = Promise.resolve());
    this.closing = (async () => {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.reserved = null;
      this.pump(true);
      const deadline = Date.now() + CLOSE_DRAIN_MS;
      while (this.freeHead !== this.sendHead && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1));
      }
      for (let b = this.freeHead; b !== this.sendHead; b++) this.st.droppedOnClose += this.pending[b % BLOCKS];
      await new Promise<void>((r) => sock.close(() => r()));
      this.sock = null;
    })();
    return this.closing;
  }
}
