// Per-connection counters (cumulative totals); the API derives interval values by differencing snapshots.

export class ConnectionCounters {
  /** Data packets sent, including retransmissions (TRACEINFO pktSent). */
  pktSent = 0;
  /** Data packets received, including duplicates and retransmissions (pktRecv). */
  pktRecv = 0;
  /** Sequence numbers newly put in the sender loss list, from NAKs and EXP (pktSndLoss). */
  pktSndLoss = 0;
  /** Sequence numbers found missing at gap detection (pktRcvLoss). */
  pktRcvLoss = 0;
  /** Data packets retransmitted (pktRetrans). */
  pktRetrans = 0;
  /** Full ACKs sent and received (light ACKs are counted apart). */
  pktSentACK = 0;
  pktRecvACK = 0;
  pktSentLightACK = 0;
  pktRecvLightACK = 0;
  pktSentNAK = 0;
  pktRecvNAK = 0;
  pktSentACK2 = 0;
  pktRecvACK2 = 0;
  pktSentKeepAlive = 0;
  pktRecvKeepAlive = 0;
  /** Received data packets that were already held or delivered. */
  pktRecvDup = 0;
  /** Received data packets beyond the receive window (dropped). */
  pktRecvBeyondWindow = 0;
  /** Payload bytes sent the first time, retransmitted, and received (new data only). */
  bytesSent = 0;
  bytesRetrans = 0;
  bytesRecv = 0;
  /** Every UDP payload byte this connection put on or took off the wire (headers included). */
  wireBytesSent = 0;
  wireBytesRecv = 0;
  /** Control packets that were malformed or made no sense for the state (dropped, counted). */
  ctrlIgnored = 0;
  /** Messages the sender dropped because their TTL ran out, and message-drop requests sent/received. */
  msgSendDropped = 0;
  pktSentDrop = 0;
  pktRecvDrop = 0;
  /** Messages the receiver skipped as dropped (TTL, or incomplete after a drop). */
  msgRecvDropped = 0;
  /** EXP timer firings with data outstanding. */
  expTimeouts = 0;
}
