// NativeEngine: the Engine interface over the udt_native addon (shared-memory batches, paced send thread).

import type { BoundInfo, Engine, EngineHandlers, EngineOpenOptions, EngineStats, PeerAddress, RxBatch, TxBatch } from './engine.js';
import { DEFAULT_SOCKET_BUFFER, groFromEnv, gsoLoopbackFromEnv, pacerTuningFromEnv, sendPathFromEnv, type SendPathName } from './defaults.js';
import { engineError } from './errors.js';
import type { NativeBinding, NativeInfo, NativeStats, NativeUdpEngine } from './native-binding.js';

/** Knobs for tests and benchmarks; the defaults suit the Endpoint. */
export interface NativeEngineTuning {
  /** Cap the send path (default: the best the kernel offers; env `UDT_SEND_PATH`). */
  sendPath?: SendPathName;
  /**
   * UDP GRO on receive (default on; env `UDT_GRO=0` turns it off). Coalesced datagrams share one arrival time; the
   * arrival-speed estimator spreads the gap after such a group over its packets.
   */
  gro?: boolean;
  /**
   * GSO towards loopback peers too (default on; env `UDT_GSO_LOOPBACK=0` turns it off). On loopback a GSO run is
   * never split on a wire, so its segments arrive together; see PathState in src/cc/batch_io.h.
   */
  gsoLoopback?: boolean;
  /** The pacing thread sleeps until this close to a deadline, then spins (µs). */
  spinUs?: number;
  /** Once a datagram is due, datagrams due within this many µs later go in the same batch (0 = each on time). */
  burstUs?: number;
  /** Lateness the pacing thread may send as a burst before shifting its schedule (µs). */
  burstCapUs?: number;
  /** The most the schedule may shift (µs); lateness beyond it goes out as soon as possible. */
  maxShiftUs?: number;
  /** How long close() keeps sending what is queued (ms). */
  drainMs?: number;
  /** Due datagrams sent straight from the JS thread when the pacing thread is idle (0 = never). */
  inlineMax?: number;
  /** Send ring size in blocks of 64 datagrams (a power of two). */
  txBlocks?: number;
}

export type NativeEngineStats = EngineStats &
  Omit<NativeStats, 'sendPath'> & {
    gso: boolean;
    gro: boolean;
    /** Mean and worst lateness of paced datagrams against their sendAt (µs). */
    pacedLateAvgUs: number;
    txQueueCapacity: number;
  };

export class NativeEngine implements Engine {
  readonly kind = 'native' as const;
  readonly receivesInBatches = true;
  private native: NativeUdpEngine | null = null;
  /** The addon object, kept after close so stats() still answers. */
  private src: NativeUdpEngine | null = null;
  private info!: NativeInfo;
  private ctl!: Int32Array;
  private batches: TxBatch[] = [];
  private reserved: TxBatch | null = null;
  private committed = 0;
  private nblocks = 0;
  private blockCap = 0;
  private closing: Promise<void> | null = null;
  private refed = true;
  private readonly addrCache: (PeerAddress | undefined)[] = [];
  private rx!: RxBatch;

  constructor(
    private readonly binding: NativeBinding,
    private readonly tuning: NativeEngineTuning = {},
  ) {}

  async open(o: EngineOpenOptions, h: EngineHandlers): Promise<BoundInfo> {
    if (this.native) throw engineError('ERR_UDT_ENGINE_STATE', 'engine already open');
    const t = { ...pacerTuningFromEnv(), ...this.tuning };
    const n = new this.binding.UdpEngine({
      family: o.type === 'udp6' ? 6 : 4,
      address: o.address,
      port: o.port ?? 0,
      ipv6Only: !!o.ipv6Only,
      sndBuf: o.sndBuf ?? DEFAULT_SOCKET_BUFFER,
      rcvBuf: o.rcvBuf ?? DEFAULT_SOCKET_BUFFER,
      maxDatagram: o.maxDatagram,
      gro: t.gro ?? groFromEnv() ?? true,
      gsoLoopback: t.gsoLoopback ?? gsoLoopbackFromEnv() ?? true,
      sendPath: t.sendPath ?? sendPathFromEnv(),
      spinUs: t.spinUs,
      burstUs: t.burstUs,
      burstCapUs: t.burstCapUs,
      maxShiftUs: t.maxShiftUs,
      drainMs: t.drainMs,
      inlineMax: t.inlineMax,
      txBlocks: t.txBlocks,
      onReceive: (count, now) => {
        const rx = this.rx;
        rx.count = count;
        rx.now = now;
        h.onReceive(rx);
      },
      onWritable: () => h.onWritable(),
      onError: (err) => h.onError(err),
    });
    this.native = n;
    this.src = n;
    this.info = n.info();
    this.mapBuffers(n.buffers());
    if (!this.refed) n.setRef(false);
    const i = this.info;
    return { address: i.address, port: i.port, family: i.family, sndBufGranted: i.sndBufGranted, rcvBufGranted: i.rcvBufGranted };
  }

  private mapBuffers(b: { tx: ArrayBuffer; rx: ArrayBuffer; meta: ArrayBuffer }): void {
    const i = this.info;
    this.nblocks = i.blocks;
    this.blockCap = i.blockCap;
    this.ctl = new Int32Array(b.meta, 0, 4);
    for (let k = 0; k < i.blocks; k++) {
      const first = k * i.blockCap;
      this.batches.push({
        buf: Buffer.from(b.tx, first * i.stride, i.blockCap * i.stride),
        stride: i.stride,
        capacity: i.blockCap,
        count: 0,
        lengths: new Int32Array(b.meta, i.metaTxLen + first * 4, i.blockCap),
        peers: new Int32Array(b.meta, i.metaTxPeer + first * 4, i.blockCap),
        sendAt: new Float64Array(b.meta, i.metaTxSendAt + first * 8, i.blockCap),
      });
    }
    this.rx = {
      count: 0,
      buf: Buffer.from(b.rx),
      offsets: new Int32Array(b.meta, i.metaRxOff, i.rxEntries),
      lengths: new Int32Array(b.meta, i.metaRxLen, i.rxEntries),
      peers: new Int32Array(b.meta, i.metaRxPeer, i.rxEntries),
      owned: false,
      now: 0,
      times: new Float64Array(b.meta, i.metaRxTime, i.rxEntries),
    };
  }

  private open_(): NativeUdpEngine {
    if (!this.native) throw engineError('ERR_UDT_ENGINE_STATE', 'engine not open');
    return this.native;
  }

  peer(address: string, port: number): number {
    return this.open_().peer(address, port);
  }

  peerAddress(handle: number): PeerAddress {
    let a = this.addrCache[handle];
    if (!a) {
      const [address, port, family] = this.open_().peerAddress(handle);
      a = { address, port, family };
      this.addrCache[handle] = a;
    }
    return a;
  }

  releasePeer(handle: number): void {
    if (!this.native || this.closing) return;
    this.native.releasePeer(handle);
    this.addrCache[handle] = undefined;
  }

  private inflight(): number {
    return (this.committed - Atomics.load(this.ctl, 0)) >>> 0;
  }

  txReserve(): TxBatch | null {
    if (this.reserved) return this.reserved;
    if (!this.native || this.closing) return null;
    if (this.inflight() >= this.nblocks) {
      Atomics.store(this.ctl, 1, 1);
      if (this.inflight() >= this.nblocks) return null;
    }
    const b = this.batches[(this.committed >>> 0) & (this.nblocks - 1)];
    b.count = 0;
    this.reserved = b;
    return b;
  }

  txCommit(batch: TxBatch): void {
    if (!this.native || this.closing) return;
    if (batch !== this.reserved) throw engineError('ERR_UDT_ENGINE_TX', 'txCommit without a reserved batch');
    this.reserved = null;
    if (batch.count > 0) this.committed = this.native.commit(batch.count);
  }

  txAvailable(): number {
    if (!this.native || this.closing) return 0;
    return (this.nblocks - this.inflight()) * this.blockCap - (this.reserved ? this.reserved.count : 0);
  }

  stats(): NativeEngineStats {
    const i = this.info;
    const s: NativeStats = this.src ? this.src.stats() : { ...ZERO_STATS, sendPath: this.tuning.sendPath ?? 'gso' };
    return {
      ...s,
      engine: 'native',
      pacing: 'thread',
      sndBufGranted: i?.sndBufGranted ?? 0,
      rcvBufGranted: i?.rcvBufGranted ?? 0,
      gso: i?.gso ?? false,
      gro: i?.gro ?? false,
      pacedLateAvgUs: s.pacedCount > 0 ? s.pacedLateSumUs / s.pacedCount : 0,
      txQueueCapacity: this.nblocks * this.blockCap,
    };
  }

  pauseReceive(): void {
    this.native?.pauseReceive();
  }

  resumeReceive(): void {
    this.native?.resumeReceive();
  }

  ref(): void {
    this.refed = true;
    this.native?.setRef(true);
  }

  unref(): void {
    this.refed = false;
    this.native?.setRef(false);
  }

  /** Stops receiving, sends what is queued (ignoring sendAt, for at most drainMs) and releases the socket. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    const n = this.native;
    if (!n) return (this.closing = Promise.resolve());
    this.reserved = null;
    this.closing = new Promise<void>((resolve) => {
      n.close(() => {
        this.native = null;
        resolve();
      });
    });
    return this.closing;
  }
}

const ZERO_STATS: Omit<NativeStats, 'sendPath'> = {
  datagramsSent: 0,
  bytesSent: 0,
  sendCalls: 0,
  sendErrors: 0,
  sendWouldBlock: 0,
  gsoCalls: 0,
  inlineSent: 0,
  pacedCount: 0,
  pacedLateSumUs: 0,
  pacedLateMaxUs: 0,
  paceShiftMaxUs: 0,
  droppedOnClose: 0,
  datagramsReceived: 0,
  bytesReceived: 0,
  recvCalls: 0,
  recvErrors: 0,
  recvTruncated: 0,
  groSegmented: 0,
  lastSendError: null,
  peers: 0,
};
