// Small helpers around UdtSocket for the tools: waiting for the handshake, bounded graceful close, peer names.

import { once } from 'node:events';
import { createServer, type SocketOptions, type UdtServer, type UdtSocket } from '../api/index.js';

export function hostPortText(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function peerName(socket: UdtSocket): string {
  const addr = (socket.remoteAddress ?? '?').replace(/^::ffff:/, '');
  return hostPortText(addr, socket.remotePort ?? 0);
}

/** Resolves on 'connect', rejects with the socket's error. */
export async function waitConnect(socket: UdtSocket): Promise<void> {
  await once(socket, 'connect');
}

/** end() (discarding anything still unread), then waits for 'close' at most `ms` before destroying. Never rejects. */
export async function closeGracefully(socket: UdtSocket, ms = 5000): Promise<void> {
  if (socket.destroyed) return;
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => {});
  socket.resume();
  socket.end();
  const timer = setTimeout(() => socket.destroy(), ms);
  await closed;
  clearTimeout(timer);
}

/** A listening server; without a host, '::' (IPv6 and IPv4) or, where IPv6 is unavailable, '0.0.0.0'. */
export async function listenOn(options: SocketOptions, port: number, host?: string): Promise<UdtServer> {
  const attempt = async (h: string) => {
    const server = createServer(options);
    server.listen(port, h);
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([e]) => Promise.reject(e))]);
    return server;
  };
  if (host !== undefined) return attempt(host);
  try {
    return await attempt('::');
  } catch {
    return attempt('0.0.0.0');
  }
}
