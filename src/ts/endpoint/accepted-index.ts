// A listener's accepted connections by the client's request (socket id, address, ISN), so a repeated request gets the same answer.

import type { ConnEntry } from './conn-entry.js';

export class AcceptedIndex {
  /** By the client's socket id; entries with the same id (different clients) are chained through nextSameClientId. */
  private readonly byClientId = new Map<number, ConnEntry>();

  find(clientSocketId: number, peer: number, isn: number): ConnEntry | null {
    let e = this.byClientId.get(clientSocketId) ?? null;
    while (e && (e.peer !== peer || e.conn.isn !== isn)) e = e.nextSameClientId;
    return e;
  }

  add(clientSocketId: number, e: ConnEntry): void {
    e.nextSameClientId = this.byClientId.get(clientSocketId) ?? null;
    this.byClientId.set(clientSocketId, e);
  }

  remove(clientSocketId: number, e: ConnEntry): void {
    const head = this.byClientId.get(clientSocketId);
    if (head === e) {
      if (e.nextSameClientId) this.byClientId.set(clientSocketId, e.nextSameClientId);
      else this.byClientId.delete(clientSocketId);
      return;
    }
    let prev = head ?? null;
    while (prev && prev.nextSameClientId !== e) prev = prev.nextSameClientId;
    if (prev) prev.nextSameClientId = e.nextSameClientId;
  }
}
