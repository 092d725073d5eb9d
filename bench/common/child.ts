// Child processes of the benchmarks: fork this script in a role, wait for its first message, stop it by PID.

import { type ChildProcess, fork } from 'node:child_process';

export interface Role {
  child: ChildProcess;
  /** The child's first IPC message (its port, or its result). */
  first: Promise<unknown>;
}

/** Forks `script` (TypeScript through tsx) with `args`; `first` settles on its first message or its exit. */
export function forkRole(script: string, args: string[], opts: { execArgv?: string[]; timeoutMs: number }): Role {
  const child = fork(script, args, { execArgv: ['--import', 'tsx', ...(opts.execArgv ?? [])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  // A message to a child that just exited fails with EPIPE; its exit is reported through `first` or stopChild.
  child.on('error', (err) => console.error(`${args.join(' ')}: ${err.message}`));
  const first = new Promise<unknown>((resolve, reject) => {
    const timer = setTimeout(() => {
      stopChild(child);
      reject(new Error(`${args.join(' ')}: no answer within ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    child.once('message', (m) => {
      clearTimeout(timer);
      resolve(m);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')}: exited (code ${code}, signal ${signal}) before answering`));
    });
  });
  first.catch(() => {});
  return { child, first };
}

/** Sends a request and waits for the next message. */
export function ask<T>(child: ChildProcess, msg: object, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no reply to ${JSON.stringify(msg)} within ${timeoutMs} ms`)), timeoutMs);
    child.once('message', (m) => {
      clearTimeout(timer);
      resolve(m as T);
    });
    child.send(msg, (err) => {
      if (!err) return;
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Asks the child to exit, then kills it by PID (SIGKILL) if it is still there after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  if (child.connected) child.send({ op: 'exit' }, () => {});
  const timer = setTimeout(() => {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }, graceMs);
  await exited;
  clearTimeout(timer);
}

/** In a child: exit when the parent says so or goes away. */
export function exitOnRequest(cleanup: () => Promise<void> | void): void {
  const leave = async () => {
    try {
      await cleanup();
    } finally {
      process.exit(0);
    }
  };
  process.on('message', (m: { op?: string }) => {
    if (m.op === 'exit') void leave();
  });
  process.on('disconnect', () => void leave());
}
