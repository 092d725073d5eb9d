// Minimal node:dgram engine (placeholder until the full DgramEngine with backpressure and buffer sizing lands).
import dgram from 'node:dgram';
import type { Engine, EngineHandlers, EngineOpenOptions, BoundInfo, TxBatch, RxBatch, PeerAddress, EngineStats } from './engine.js';
import { nowUs } from '../endpoint/clock.js';

export class DgramEngine implements Engine {
  readonly kind = 'dgram' as const;
  private sock!: dgram.Socket;
  private handlers!: EngineHandlers;
  private peers: PeerAddress[] = [];
  private keys = new Map<string, number>();
  private batch!: TxBatch;
  private rx: RxBatch = { count: 1, buf: Buffer.alloc(0), offsets: new Int32Array(1), lengths: new Int32Array(1), peers: new Int32Array(1), owned: true, now: 0 };
  private st = { sent: 0, recv: 0 };
  private inflight = 0;
  private drained: (() => void) | null = null;
  async open(o: EngineOpenOptions, h: EngineHandlers): Promise<BoundInfo> {
    this.handlers = h;
    const stride = o.maxDatagram;
    this.batch = { buf: Buffer.alloc(64 * stride), stride, capacity: 64, count: 0, lengths: new Int32Array(64), peers: new Int32Array(64), sendAt: new Float64Array(64) };
    this.sock = dgram.createSocket({ type: o.type });
    this.sock.on('message', (msg, rinfo) => {
      this.st.recv++;
      this.rx.buf = msg; this.rx.lengths[0] = msg.length; this.rx.offsets[0] = 0;
      this.rx.peers[0] = this.peer(rinfo.address, rinfo.port); this.rx.now = nowUs();
      h.onReceive(this.rx);
    });
    await new Promise<void>((res, rej) => { this.sock.once('error', rej); this.sock.bind(o.port ?? 0, o.address, () => res()); });
    const a = this.sock.address();
    return { address: a.address, port: a.port, family: a.family === 'IPv6' ? 'IPv6' : 'IPv4', sndBufGranted: 0, rcvBufGranted: 0 };
  }
  peer(address: string, port: number): number {
    const k = `${address}|${port}`;
    let h = this.keys.get(k);
    if (h === undefined) { h = this.peers.length; this.peers.push({ address, port, family: address.includes(':') ? 'IPv6' : 'IPv4' }); this.keys.set(k, h); }
    return h;
  }
  peerAddress(h: number): PeerAddress { return this.peers[h]; }
  releasePeer(): void {}
  txReserve(): TxBatch | null { this.batch.count = 0; return this.batch; }
  txCommit(b: TxBatch): void {
    for (let i = 0; i < b.count; i++) {
      const p = this.peers[b.peers[i]];
      this.inflight++;
      this.sock.send(Buffer.from(b.buf.subarray(i * b.stride, i * b.stride + b.lengths[i])), p.port, p.address, () => {
        if (--this.inflight === 0) this.drained?.();
      });
      this.st.sent++;
    }
    b.count = 0;
  }
  txAvailable(): number { return 64; }
  stats(): EngineStats { return { engine: 'dgram', sendPath: 'dgram', pacing: 'burst', datagramsSent: this.st.sent, datagramsReceived: this.st.recv, bytesSent: 0, bytesReceived: 0, sendErrors: 0, sendWouldBlock: 0, sendCalls: 0, recvCalls: 0, sndBufGranted: 0, rcvBufGranted: 0 }; }
  pauseReceive(): void {}
  resumeReceive(): void {}
  ref(): void { this.sock.ref(); }
  unref(): void { this.sock.unref(); }
  async close(): Promise<void> {
    if (this.inflight > 0) await new Promise<void>((r) => (this.drained = r));
    await new Promise<void>((r) => this.sock.close(() => r()));
  }
}
