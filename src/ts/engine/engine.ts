// The Engine contract: moves batches of UDP datagrams between one UDP socket and an Endpoint.

/** Where a socket is bound and what the kernel granted. */
export interface BoundInfo {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
  /** SO_SNDBUF / SO_RCVBUF as read back from the kernel after the request (bytes). */
  sndBufGranted: number;
  rcvBufGranted: number;
}

export interface EngineOpenOptions {
  /** 'udp4' or 'udp6'. */
  type: 'udp4' | 'udp6';
  address?: string;
  /** 0 = ephemeral. */
  port?: number;
  /** Requested kernel buffer sizes in bytes (the engine reports what it got). */
  sndBuf?: number;
  rcvBuf?: number;
  /** For udp6: only IPv6 (no v4-mapped). */
  ipv6Only?: boolean;
  /** Largest datagram the engine must carry (bytes of UDP payload). Sizes its slots. */
  maxDatagram: number;
}

/**
 * A batch of received datagrams, valid only during the `onReceive` callback.
 * Datagram i is `buf[offsets[i] .. offsets[i] + lengths[i])`, from peer handle `peers[i]`.
 */
export interface RxBatch {
  count: number;
  /** Backing store for datagrams. For the dgram engine this is the datagram's own Buffer. */
  buf: Buffer;
  offsets: Int32Array;
  lengths: Int32Array;
  peers: Int32Array;
  /**
   * True when the consumer may keep references into `buf` after the callback (the engine will not reuse it).
   * False when `buf` is a reused slab: the consumer must copy what it keeps.
   */
  owned: boolean;
  /** Receive time, µs on the `nowUs()` clock, of the whole batch. */
  now: number;
  /**
   * Receive time of each datagram (µs, `nowUs()` clock; the kernel's arrival timestamp where the engine has it), for
   * arrival-rate estimates that a shared batch time would flatten. Absent: use `now` for every datagram.
   */
  times?: Float64Array;
}

/**
 * A batch the Endpoint fills with datagrams to send. Datagram i lives at `buf[i * stride ..]`, `lengths[i]` bytes,
 * to peer handle `peers[i]`, not before `sendAt[i]` (µs on the `nowUs()` clock; 0 = at once). `count` datagrams
 * are filled. A pacing engine sends due datagrams in commit order and lets a datagram due earlier overtake one
 * scheduled later; `sendAt` 0 means "at once" (the engine's commit time), so datagrams that must keep their order
 * relative to scheduled ones (data of one connection) carry real, non-decreasing times instead.
 */
export interface TxBatch {
  readonly buf: Buffer;
  readonly stride: number;
  readonly capacity: number;
  count: number;
  readonly lengths: Int32Array;
  readonly peers: Int32Array;
  readonly sendAt: Float64Array;
}

export interface EngineStats {
  /** 'native' (C++ addon) or 'dgram' (node:dgram fallback). */
  engine: 'native' | 'dgram';
  /** The active send path: 'gso' | 'sendmmsg' | 'sendmsg' | 'dgram'. */
  sendPath: string;
  /** 'thread' (native pacing thread) or 'burst' (JS timer ticks). */
  pacing: 'thread' | 'burst';
  datagramsSent: number;
  datagramsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Send calls that failed with an error other than EAGAIN (the datagram was dropped). */
  sendErrors: number;
  /** Times the socket said EAGAIN/ENOBUFS and the engine had to wait. */
  sendWouldBlock: number;
  /** Number of system calls used for sending and receiving (to show batching). */
  sendCalls: number;
  recvCalls: number;
  sndBufGranted: number;
  rcvBufGranted: number;
}

export interface EngineHandlers {
  /** Called once per batch of received datagrams. */
  onReceive(batch: RxBatch): void;
  /** Called when `txAvailable()` becomes non-zero again after having been zero, or after a batch has been sent. */
  onWritable(): void;
  /** A fatal socket error; the engine is unusable afterwards. */
  onError(err: Error): void;
}

/** Peer handles are small non-negative integers naming a (family, address, port) for the engine's lifetime. */
export interface PeerAddress {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

export interface Engine {
  readonly kind: 'native' | 'dgram';
  /**
   * True when `onReceive` gets everything read in one go (the consumer may act at once); false when datagrams come
   * one per callback, so a burst is best handled once the event loop has delivered all of it.
   */
  readonly receivesInBatches: boolean;
  open(options: EngineOpenOptions, handlers: EngineHandlers): Promise<BoundInfo>;
  /** Resolve a numeric address and port (no DNS) to a peer handle. */
  peer(address: string, port: number): number;
  peerAddress(handle: number): PeerAddress;
  /** Forget a handle that no connection uses any more (handles may be reused afterwards). */
  releasePeer(handle: number): void;
  /**
   * A batch to fill, or null when the send queue is full (wait for `onWritable`). The batch belongs to the caller
   * until `txCommit`; only one batch is reserved at a time.
   */
  txReserve(): TxBatch | null;
  /** Hand the filled batch (`count` datagrams) to the engine. A count of 0 returns it unused. */
  txCommit(batch: TxBatch): void;
  /** Datagrams that can still be queued for sending right now. */
  txAvailable(): number;
  stats(): EngineStats;
  /** Stop receiving (keep the socket open). */
  pauseReceive(): void;
  resumeReceive(): void;
  /** Keep the process alive while open (like socket.ref()). */
  ref(): void;
  unref(): void;
  close(): Promise<void>;
}
