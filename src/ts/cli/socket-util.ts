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

/**
 * end(), then waits (at most `ms`) until the connection has closed with our data delivered, and releases the socket.
 * Unread incoming data is dropped. Never rejects.
 */
export async function closeGracefully(socket: UdtSocket, ms = 5000): Promise<void> {
  if (socket.destroyed) return;
  socket.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  const settled = new Promise<void>((resolve) => {
    for (const ev of ['finish', 'close', 'error']) socket.once(ev, () => resolve());
    timer = setTimeout(resolve, ms);
  });
  socket.end();
  await settled;
  clearTimeout(timer);
  socket.destroy();
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
