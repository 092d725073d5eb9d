// getStats(): libudt's TRACEINFO counters by meaning (totals, interval, instant) plus our engine and wire figures.

import type { Connection } from '../core/connection.js';
import type { ConnectionCounters } from '../core/stats.js';
import type { EngineStats } from '../engine/engine.js';

/** See docs/STATS.md for each field's unit, side and kind. */
export interface UdtStats {
  msTimestamp: number;
  pktSentTotal: number;
  pktRecvTotal: number;
  pktSndLossTotal: number;
  pktRcvLossTotal: number;
  pktRetransTotal: number;
  pktSentACKTotal: number;
  pktRecvACKTotal: number;
  pktSentNAKTotal: number;
  pktRecvNAKTotal: number;
  pktSent: number;
  pktRecv: number;
  pktSndLoss: number;
  pktRcvLoss: number;
  pktRetrans: number;
  pktSentACK: number;
  pktRecvACK: number;
  pktSentNAK: number;
  pktRecvNAK: number;
  mbpsSendRate: number;
  mbpsRecvRate: number;
  msInterval: number;
  usPktSndPeriod: number;
  pktFlowWindow: number;
  pktCongestionWindow: number;
  pktFlightSize: number;
  msRTT: number;
  msRTTVar: number;
  mbpsBandwidth: number;
  pktRecvRate: number;
  byteAvailSndBuf: number;
  byteAvailRcvBuf: number;
  mss: number;
  bytesSentTotal: number;
  bytesRetransTotal: number;
  bytesRecvTotal: number;
  wireBytesSentTotal: number;
  wireBytesRecvTotal: number;
  pktSentLightACKTotal: number;
  pktRecvLightACKTotal: number;
  pktSentACK2Total: number;
  pktRecvACK2Total: number;
  pktSentKeepAliveTotal: number;
  pktRecvKeepAliveTotal: number;
  pktRecvDupTotal: number;
  pktRecvBeyondWindowTotal: number;
  pktCtrlIgnoredTotal: number;
  msgSendDroppedTotal: number;
  msgRecvDroppedTotal: number;
  expTimeoutsTotal: number;
  engine: EngineStats['engine'];
  sendPath: string;
  pacing: EngineStats['pacing'];
  udpSndBufGranted: number;
  udpRcvBufGranted: number;
}

const INTERVAL_KEYS = ['pktSent', 'pktRecv', 'pktSndLoss', 'pktRcvLoss', 'pktRetrans', 'pktSentACK', 'pktRecvACK', 'pktSentNAK', 'pktRecvNAK'] as const;
type IntervalKey = (typeof INTERVAL_KEYS)[number];

/** Remembers the counters at the start of the current interval. */
export class StatsTracker {
  private base: Record<IntervalKey, number> = Object.fromEntries(INTERVAL_KEYS.map((k) => [k, 0])) as Record<IntervalKey, number>;
  private baseTime: number;

  constructor(private readonly openedAt: number) {
    this.baseTime = openedAt;
  }

  snapshot(conn: Connection | null, engine: EngineStats, nowMs: number, clear: boolean): UdtStats {
    const c: ConnectionCounters | Record<string, number> = conn?.counters ?? {};
    const get = (k: string) => (c as unknown as Record<string, number>)[k] ?? 0;
    const s = conn?.sender ?? null;
    const r = conn?.receiver ?? null;
    const mss = conn?.mss ?? 0;
    const payload = Math.max(0, mss - 44);
    const interval = Math.max(1e-3, nowMs - this.baseTime);
    // One RTT per socket, as libudt's: the sender's once ACKs have reported one, else the receiver's ACK→ACK2 estimate.
    const rtt = s && (s.lastReportedRtt > 0 || !r) ? s.rttEstimator : r?.rtt;
    const d = (k: IntervalKey) => get(k) - this.base[k];
    const stats: UdtStats = {
      msTimestamp: nowMs - this.openedAt,
      pktSentTotal: get('pktSent'),
      pktRecvTotal: get('pktRecv'),
      pktSndLossTotal: get('pktSndLoss'),
      pktRcvLossTotal: get('pktRcvLoss'),
      pktRetransTotal: get('pktRetrans'),
      pktSentACKTotal: get('pktSentACK'),
      pktRecvACKTotal: get('pktRecvACK'),
      pktSentNAKTotal: get('pktSentNAK'),
      pktRecvNAKTotal: get('pktRecvNAK'),
      pktSent: d('pktSent'),
      pktRecv: d('pktRecv'),
      pktSndLoss: d('pktSndLoss'),
      pktRcvLoss: d('pktRcvLoss'),
      pktRetrans: d('pktRetrans'),
      pktSentACK: d('pktSentACK'),
      pktRecvACK: d('pktRecvACK'),
      pktSentNAK: d('pktSentNAK'),
      pktRecvNAK: d('pktRecvNAK'),
      mbpsSendRate: (d('pktSent') * payload * 8) / (interval * 1000),
      mbpsRecvRate: (d('pktRecv') * payload * 8) / (interval * 1000),
      msInterval: interval,
      usPktSndPeriod: s?.sendPeriod ?? 0,
      pktFlowWindow: s?.flowWindow ?? 0,
      pktCongestionWindow: s ? Math.floor(s.cc.cwnd) : 0,
      pktFlightSize: s?.flightSize ?? 0,
      msRTT: rtt ? rtt.rtt / 1000 : 0,
      msRTTVar: rtt ? rtt.rttVar / 1000 : 0,
      mbpsBandwidth: s ? (s.bandwidth * payload * 8) / 1e6 : 0,
      pktRecvRate: s?.recvRate ?? 0,
      byteAvailSndBuf: s ? s.buffer.freePackets * mss : 0,
      byteAvailRcvBuf: r ? r.available() * mss : 0,
      mss,
      bytesSentTotal: get('bytesSent'),
      bytesRetransTotal: get('bytesRetrans'),
      bytesRecvTotal: get('bytesRecv'),
      wireBytesSentTotal: get('wireBytesSent'),
      wireBytesRecvTotal: get('wireBytesRecv'),
      pktSentLightACKTotal: get('pktSentLightACK'),
      pktRecvLightACKTotal: get('pktRecvLightACK'),
      pktSentACK2Total: get('pktSentACK2'),
      pktRecvACK2Total: get('pktRecvACK2'),
      pktSentKeepAliveTotal: get('pktSentKeepAlive'),
      pktRecvKeepAliveTotal: get('pktRecvKeepAlive'),
      pktRecvDupTotal: get('pktRecvDup'),
      pktRecvBeyondWindowTotal: get('pktRecvBeyondWindow'),
      pktCtrlIgnoredTotal: get('ctrlIgnored'),
      msgSendDroppedTotal: get('msgSendDropped'),
      msgRecvDroppedTotal: get('msgRecvDropped'),
      expTimeoutsTotal: get('expTimeouts'),
      engine: engine.engine,
      sendPath: engine.sendPath,
      pacing: engine.pacing,
      udpSndBufGranted: engine.sndBufGranted,
      udpRcvBufGranted: engine.rcvBufGranted,
    };
    if (clear) {
      for (const k of INTERVAL_KEYS) this.base[k] = get(k);
      this.baseTime = nowMs;
    }
    return stats;
  }
}
