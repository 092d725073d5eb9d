// One direction of a simulated path: MTU, random and bursty loss, drop-tail queue, serialization, delay, jitter, duplication.

import type { Rng } from '../core/rng.js';

/** Gilbert–Elliott two-state loss: a Markov chain stepped once per datagram, each state with its own loss rate. */
export interface GilbertElliott {
  /** Probability of moving from the good to the bad state, per datagram. */
  pGoodToBad: number;
  /** Probability of moving from the bad back to the good state, per datagram. */
  pBadToGood: number;
  /** Loss probability in the good state (default 0). */
  lossGood?: number;
  /** Loss probability in the bad state (default 1). */
  lossBad?: number;
}

export interface LinkConfig {
  /** Bottleneck rate in bits per second; 0 or Infinity means no serialization delay and no queue. */
  rateBps?: number;
  /** Bytes added to each datagram when computing serialization time (IP + UDP headers). Default 28. */
  overheadBytes?: number;
  /** One-way propagation delay, µs. */
  delayUs?: number;
  /** Extra delay drawn uniformly from [0, jitterUs) per datagram; enough jitter reorders datagrams. */
  jitterUs?: number;
  /** Drop-tail limit on bytes waiting at the bottleneck (including the datagram being serialized). */
  queueBytes?: number;
  /** Drop-tail limit on datagrams waiting at the bottleneck (including the one being serialized). */
  queuePackets?: number;
  /** Independent (Bernoulli) loss probability per datagram. */
  loss?: number;
  /** Bursty loss, applied in addition to `loss`. */
  gilbert?: GilbertElliott;
  /** Probability that a datagram that got through arrives twice. */
  duplicate?: number;
  /** Largest UDP payload the link carries; larger datagrams are dropped. */
  mtu?: number;
}

export type DropReason = 'mtu' | 'queue' | 'loss';

export class LinkCounters {
  offered = 0;
  offeredBytes = 0;
  /** Datagrams that will arrive (duplicates included). */
  delivered = 0;
  deliveredBytes = 0;
  droppedMtu = 0;
  droppedQueue = 0;
  droppedLoss = 0;
  duplicated = 0;
  /** High-water marks of the bottleneck queue. */
  maxQueueBytes = 0;
  maxQueuePackets = 0;
}

export class Link {
  readonly counters = new LinkCounters();
  /** Arrival times produced by the last successful `offer` (one, or two for a duplicate). */
  readonly arrivals = new Float64Array(2);
  arrivalCount = 0;
  private usPerByte: number;
  private readonly overhead: number;
  private busyUntil = 0;
  private qFinish: number[] = [];
  private qSize: number[] = [];
  private qHead = 0;
  private qBytes = 0;
  private geBad = false;

  constructor(
    readonly config: LinkConfig,
    private readonly rng: Rng,
  ) {
    const rate = config.rateBps ?? 0;
    this.usPerByte = rate > 0 && Number.isFinite(rate) ? 8e6 / rate : 0;
    this.overhead = config.overheadBytes ?? 28;
  }

  /** Changes the bottleneck rate from now on (datagrams already queued keep their departure times). */
  setRate(rateBps: number): void {
    if (this.usPerByte === 0) throw new Error('setRate needs a link that was created with a finite rate');
    this.usPerByte = 8e6 / rateBps;
  }

  /** Datagrams waiting at the bottleneck at `now` (including the one being serialized). */
  queuedPackets(now: number): number {
    this.drain(now);
    return this.qFinish.length - this.qHead;
  }

  queuedBytes(now: number): number {
    this.drain(now);
    return this.qBytes;
  }

  /** Offers a datagram of `size` bytes at `now`: null when it gets through (see `arrivals`), else why it was lost. */
  offer(now: number, size: number): DropReason | null {
    const c = this.counters;
    const cfg = this.config;
    c.offered++;
    c.offeredBytes += size;
    this.arrivalCount = 0;
    if (cfg.mtu !== undefined && size > cfg.mtu) {
      c.droppedMtu++;
      return 'mtu';
    }
    let leave = now;
    if (this.usPerByte > 0) {
      this.drain(now);
      const packets = this.qFinish.length - this.qHead + 1;
      const bytes = this.qBytes + size;
      if ((cfg.queuePackets !== undefined && packets > cfg.queuePackets) || (cfg.queueBytes !== undefined && bytes > cfg.queueBytes)) {
        c.droppedQueue++;
        return 'queue';
      }
      leave = Math.max(now, this.busyUntil) + (size + this.overhead) * this.usPerByte;
      this.busyUntil = leave;
      this.qFinish.push(leave);
      this.qSize.push(size);
      this.qBytes = bytes;
      if (packets > c.maxQueuePackets) c.maxQueuePackets = packets;
      if (bytes > c.maxQueueBytes) c.maxQueueBytes = bytes;
    }
    if (this.lost()) {
      c.droppedLoss++;
      return 'loss';
    }
    const delay = cfg.delayUs ?? 0;
    const jitter = cfg.jitterUs ?? 0;
    this.arrivals[0] = leave + delay + (jitter > 0 ? this.rng() * jitter : 0);
    this.arrivalCount = 1;
    if (cfg.duplicate !== undefined && cfg.duplicate > 0 && this.rng() < cfg.duplicate) {
      this.arrivals[1] = this.arrivals[0] + this.rng() * (jitter + 200);
      this.arrivalCount = 2;
      c.duplicated++;
    }
    c.delivered += this.arrivalCount;
    c.deliveredBytes += size * this.arrivalCount;
    return null;
  }

  private lost(): boolean {
    const cfg = this.config;
    if (cfg.loss !== undefined && cfg.loss > 0 && this.rng() < cfg.loss) return true;
    const ge = cfg.gilbert;
    if (!ge) return false;
    if (this.geBad) {
      if (this.rng() < ge.pBadToGood) this.geBad = false;
    } else if (this.rng() < ge.pGoodToBad) {
      this.geBad = true;
    }
    const p = this.geBad ? (ge.lossBad ?? 1) : (ge.lossGood ?? 0);
    return p > 0 && this.rng() < p;
  }

  /** Removes datagrams whose serialization finished by `now`. */
  private drain(now: number): void {
    while (this.qHead < this.qFinish.length && this.qFinish[this.qHead] <= now) {
      this.qBytes -= this.qSize[this.qHead];
      this.qHead++;
    }
    if (this.qHead > 1024 && this.qHead * 2 > this.qFinish.length) {
      this.qFinish = this.qFinish.slice(this.qHead);
      this.qSize = this.qSize.slice(this.qHead);
      this.qHead = 0;
    }
  }
}
