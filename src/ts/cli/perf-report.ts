// udt-perf's human output: iperf3-style per-second rows and the sender/receiver totals table.

import type { UdtStats } from '../api/index.js';
import { formatBytes } from './format.js';
import type { SideTotals } from './perf-protocol.js';

export interface IntervalRow {
  stream: number | 'SUM';
  start: number;
  end: number;
  bytes: number;
  mbps: number;
  loss: number;
  retransmits: number;
  rttMs: number | null;
  sendPeriodUs: number | null;
  cwnd: number | null;
  flowWindow: number | null;
}

const id = (s: number | 'SUM') => (s === 'SUM' ? '[SUM]' : `[${String(s).padStart(3)}]`);
const span = (a: number, b: number) => `${a.toFixed(2).padStart(6)}-${b.toFixed(2).padEnd(6)} sec`;
const rate = (mbps: number) => `${mbps.toFixed(mbps >= 100 ? 0 : 1).padStart(6)} Mbit/s`;

/** One stream's row; the sending-side figures (RTT, period, windows) are null on the receiving side. */
export function intervalRow(stream: number, start: number, end: number, bytes: number, s: UdtStats, role: 'sender' | 'receiver'): IntervalRow {
  return {
    stream,
    start,
    end,
    bytes,
    mbps: end > start ? (bytes * 8) / (end - start) / 1e6 : 0,
    loss: role === 'sender' ? s.pktSndLoss : s.pktRcvLoss,
    retransmits: s.pktRetrans,
    rttMs: role === 'sender' ? s.msRTT : null,
    sendPeriodUs: role === 'sender' ? s.usPktSndPeriod : null,
    cwnd: role === 'sender' ? s.pktCongestionWindow : null,
    flowWindow: role === 'sender' ? s.pktFlowWindow : null,
  };
}

export function sumRows(rows: IntervalRow[]): IntervalRow {
  const bytes = rows.reduce((a, r) => a + r.bytes, 0);
  const { start, end } = rows[0];
  return {
    stream: 'SUM',
    start,
    end,
    bytes,
    mbps: end > start ? (bytes * 8) / (end - start) / 1e6 : 0,
    loss: rows.reduce((a, r) => a + r.loss, 0),
    retransmits: rows.reduce((a, r) => a + r.retransmits, 0),
    rttMs: null,
    sendPeriodUs: null,
    cwnd: null,
    flowWindow: null,
  };
}

export const INTERVAL_HEADER = `[ ID] Interval            Transfer      Bitrate        RTT    Loss   Retr   Period   Cwnd  FlowWin`;

export function formatInterval(r: IntervalRow): string {
  const opt = (v: number | null, f: (n: number) => string, w: number) => (v === null ? '' : f(v)).padStart(w);
  return [
    id(r.stream),
    span(r.start, r.end),
    formatBytes(r.bytes).padStart(10),
    rate(r.mbps),
    opt(r.rttMs, (v) => `${v.toFixed(2)}ms`, 9),
    String(r.loss).padStart(6),
    String(r.retransmits).padStart(6),
    opt(r.sendPeriodUs, (v) => `${v.toFixed(1)}us`, 8),
    opt(r.cwnd, String, 6),
    opt(r.flowWindow, String, 8),
  ].join(' ');
}

export const TOTALS_HEADER = `[ ID] Interval            Transfer      Bitrate          Retr    Loss`;

export function formatTotals(stream: number | 'SUM', t: Pick<SideTotals, 'bytes' | 'seconds' | 'mbps' | 'retransmits' | 'lossPackets'>, label: 'sender' | 'receiver'): string {
  return [
    id(stream),
    span(0, t.seconds),
    formatBytes(t.bytes).padStart(10),
    rate(t.mbps),
    (label === 'sender' ? String(t.retransmits) : '').padStart(8),
    String(t.lossPackets).padStart(7),
    `  ${label}`,
  ].join(' ');
}

/** Adds up streams that ran in parallel: bytes add, time is the longest. */
export function sumTotals(all: SideTotals[]): SideTotals {
  const bytes = all.reduce((a, t) => a + t.bytes, 0);
  const seconds = Math.max(0, ...all.map((t) => t.seconds));
  return {
    bytes,
    seconds,
    mbps: seconds > 0 ? (bytes * 8) / seconds / 1e6 : 0,
    retransmits: all.reduce((a, t) => a + t.retransmits, 0),
    lossPackets: all.reduce((a, t) => a + t.lossPackets, 0),
    rttMs: all.reduce((a, t) => a + t.rttMs, 0) / Math.max(1, all.length),
    engine: all[0]?.engine ?? '',
  };
}
