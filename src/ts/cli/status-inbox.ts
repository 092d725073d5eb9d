// The sender's view of the receiver's status lines: a queue of parsed messages plus how the connection ended.

import type { UdtSocket } from '../api/index.js';
import { CliError, ExitCode, toCliError } from './exit-codes.js';
import { LineSplitter, parseStatus, remoteError, type ReceiverMessage } from './transfer-protocol.js';

export class StatusInbox {
  private readonly queue: ReceiverMessage[] = [];
  private waiter: { resolve: (m: ReceiverMessage) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  private readonly closed: Promise<void>;
  /** The first error status the receiver sent, if any. */
  remoteFailure: CliError | null = null;

  constructor(
    private readonly socket: UdtSocket,
    private readonly peer: string,
  ) {
    const lines = new LineSplitter();
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const line of lines.push(chunk)) this.deliver(parseStatus(line));
      } catch (err) {
        this.fail(err as Error);
        socket.destroy();
      }
    });
    socket.on('error', (err) => this.fail(toCliError(err, peer)));
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.once('end', () => this.fail(new CliError(`${peer} closed the connection without confirming the transfer`, ExitCode.CONNECTION_LOST, 'CLOSED_EARLY')));
  }

  private deliver(msg: ReceiverMessage): void {
    if (msg.type === 'error' && !this.remoteFailure) this.remoteFailure = remoteError(msg);
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve(msg);
    } else {
      this.queue.push(msg);
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(this.remoteFailure ?? this.failure);
    }
  }

  /** The next status; an error status or a broken connection rejects with the error to report. */
  async next(): Promise<ReceiverMessage> {
    const msg =
      this.queue.shift() ??
      (this.failure
        ? Promise.reject(this.remoteFailure ?? this.failure)
        : new Promise<ReceiverMessage>((resolve, reject) => (this.waiter = { resolve, reject })));
    const m = await msg;
    if (m.type === 'error') throw this.remoteFailure ?? remoteError(m);
    return m;
  }

  /**
   * The error to report after a local failure: the receiver's reason when it gave one (waiting briefly for it,
   * since its status may still be in flight when our write fails), else `err` as a CliError.
   */
  async explain(err: unknown, waitMs = 2000): Promise<CliError> {
    if (!this.remoteFailure) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.closed, new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
      clearTimeout(timer);
    }
    return this.remoteFailure ?? toCliError(err, this.peer);
  }
}
