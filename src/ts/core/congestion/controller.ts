// The congestion-control interface (UDT4's CCC model): events in, a send period and a window out.

/** What a controller may read about its connection. Rates are packets per second, times µs. */
export interface CcState {
  /** Full packet size including IP/UDP headers, as negotiated. */
  readonly mss: number;
  /** Largest sequence number sent so far. */
  readonly sndCurr: number;
  /** Oldest unacknowledged sequence number. */
  readonly sndLastAck: number;
  /** The sender's smoothed RTT and variance (µs). */
  readonly rtt: number;
  readonly rttVar: number;
  /** Unsmoothed RTT of the newest acknowledged packet that was sent once (µs; 0 until there is one). */
  readonly lastRttSample: number;
  /** The receiver's RTT estimate as reported in the latest full ACK (µs; 0 until there is one). */
  readonly lastReportedRtt: number;
  /** EWMA of the receiver's packet arrival speed (ACK word 4), packets/s. */
  readonly recvRate: number;
  /** The latest unsmoothed arrival speed the receiver reported (packets/s), 0 when it had no estimate. */
  readonly lastArrivalRate: number;
  /** EWMA of the receiver's link capacity estimate (ACK word 5), packets/s. */
  readonly bandwidth: number;
  /** Flow window from the handshake: the slow-start ceiling of UDT native CC. */
  readonly maxFlowWindow: number;
  /** Packets sent and not yet acknowledged. */
  readonly flightSize: number;
  /** Data packets sent so far, retransmissions included (cumulative). */
  readonly sentPackets: number;
  /** Packets NAKs reported lost for the first time (cumulative; a re-reported range counts once). */
  readonly nakLostPackets: number;
  /** Data packets acknowledged so far (cumulative, for delivery-rate models). */
  readonly deliveredPackets: number;
  /** A uniform [0,1) random source (seeded). */
  random(): number;
}

export interface CongestionController {
  readonly name: string;
  /** Inter-packet interval in µs. */
  sendPeriod: number;
  /** Congestion window in packets (the send limit is min(flow window, floor(cwnd))). */
  cwnd: number;
  init(state: CcState, now: number): void;
  /** A full ACK acknowledging everything before `ackNo`. */
  onAck(ackNo: number, now: number): void;
  /** A NAK with inclusive loss ranges (validated, sorted as received). */
  onLoss(ranges: ReadonlyArray<readonly [number, number]>, now: number): void;
  /** EXP fired with data outstanding. */
  onTimeout(now: number): void;
  /** Optional per-packet hook; leave undefined when unused (it is on the hot path). */
  onPacketSent?(seq: number, now: number, retransmission: boolean): void;
  /** A user-defined control packet (type 0x7FFF) arrived. */
  onUserPacket?(extType: number, body: Uint8Array): void;
}

export type CongestionControllerFactory = () => CongestionController;
