// A connection's pending events for its driver, with 'readable' folded into one flag until polled.

import type { CloseReason, UdtError } from './errors.js';

export type ConnectionEvent =
  | { type: 'connected' }
  | { type: 'readable' }
  | { type: 'writable' }
  | { type: 'message-dropped'; msgNo: number }
  | { type: 'closed'; reason: CloseReason; error: UdtError | null };

/** The empty queue every connection shares until it has an event (never written to). */
const NO_EVENTS: ConnectionEvent[] = [];
const READABLE: ConnectionEvent = { type: 'readable' };

export class EventQueue {
  /** The shared NO_EVENTS while there are none (most of an idle connection's life). */
  private events = NO_EVENTS;
  /** New data became readable since the last poll; reported once, after the events queued before it. */
  readablePending = false;

  push(ev: ConnectionEvent): void {
    if (this.events === NO_EVENTS) this.events = [ev];
    else this.events.push(ev);
  }

  /** The next event, or undefined. */
  poll(): ConnectionEvent | undefined {
    const q = this.events;
    if (q.length === 0) {
      if (!this.readablePending) return undefined;
      this.readablePending = false;
      return READABLE;
    }
    if (this.readablePending) {
      this.readablePending = false;
      q.push(READABLE);
    }
    const ev = q.shift();
    if (q.length === 0) this.events = NO_EVENTS;
    return ev;
  }
}
