// Process-wide table of open endpoints, so sockets and servers on the same local port share one UDP socket.

import type { Engine } from '../engine/engine.js';
import { Endpoint } from './endpoint.js';

export interface EndpointRequest {
  type: 'udp4' | 'udp6';
  address?: string;
  /** 0 or undefined: a fresh ephemeral port, never shared. */
  port?: number;
  mss: number;
  sndBuf?: number;
  rcvBuf?: number;
  ipv6Only?: boolean;
  /** Creates the engine for a new endpoint. */
  makeEngine: () => Engine;
}

const open = new Map<string, Promise<Endpoint>>();

function keyOf(type: string, port: number): string {
  return `${type}|${port}`;
}

/** An endpoint on the requested local port: the existing one when this process already has it, else a new one. */
export async function acquireEndpoint(req: EndpointRequest): Promise<Endpoint> {
  if (req.port) {
    const existing = open.get(keyOf(req.type, req.port));
    if (existing) {
      const ep = await existing;
      if (!ep.isClosed) {
        if (req.mss > ep.mss) {
          throw Object.assign(new Error(`mss ${req.mss} exceeds the ${ep.mss} of the shared endpoint on port ${req.port}`), { code: 'ERR_UDT_INVALID_ARG' });
        }
        return ep;
      }
    }
  }
  const pending = Endpoint.open(req.makeEngine(), req);
  if (req.port) open.set(keyOf(req.type, req.port), pending);
  let ep: Endpoint;
  try {
    ep = await pending;
  } catch (err) {
    if (req.port && open.get(keyOf(req.type, req.port)) === pending) open.delete(keyOf(req.type, req.port));
    throw err;
  }
  const key = keyOf(req.type, ep.bound.port);
  open.set(key, Promise.resolve(ep));
  ep.onClose = () => {
    if (open.get(key) !== undefined) open.delete(key);
  };
  return ep;
}
