#!/usr/bin/env node
// udt-recv: receives files from udt-send into a directory (resumable, SHA-256 checked), or a raw stream with --raw.

import { access, constants, realpath, stat } from 'node:fs/promises';
import type { UdtSocket } from '../api/index.js';
import { parseCli, parsePort, socketFlags, socketFlagsHelp, socketOptionsFrom, progressModeFrom, usageError } from './args.js';
import { CliError, ExitCode, toCliError } from './exit-codes.js';
import { formatBytes, formatRate, round } from './format.js';
import { EXIT_CODES_HELP, runTool } from './main.js';
import { ProgressBoard } from './progress.js';
import { rawReceive } from './raw.js';
import { ActiveTransfers, receiveTransfer, type ReceiveSummary } from './receive-file.js';
import { hostPortText, listenOn } from './socket-util.js';

const DEFAULT_PORT = 9000;

const USAGE = `Usage: udt-recv [options] [--port P] [--dir D]
       udt-recv --raw [options] [--port P] [-o FILE|-]

Receives files sent with udt-send and stores them in D (default: the current directory). Data goes to
D/NAME.part and is renamed to D/NAME only after the SHA-256 matched; an interrupted transfer keeps its
.part and resumes when the sender tries again. Serves any number of transfers, at once, until stopped.

Options:
  -p, --port P          UDP port to listen on (default ${DEFAULT_PORT}; 0 picks a free one and prints it)
  --host H              address to listen on (default :: with IPv4 too, or 0.0.0.0 without IPv6)
  -d, --dir D           directory to store files in (default .)
  --once                exit after one transfer, with its exit code
  --raw                 accept one connection and write its plain byte stream (no header, no checksum
                        exchange) to -o; ends when the peer closes
  -o, --output FILE|-   with --raw: where to write (default -, standard output)
  --json                print one JSON line per transfer (or error) on stdout; no progress unless --progress
  --progress MODE       auto | bar | lines | off (default auto: a bar on a terminal, a line a second otherwise)
  -q, --quiet           no progress and no summary lines (errors are still printed)
  -h, --help            show this help

${socketFlagsHelp}

${EXIT_CODES_HELP}
`;

async function checkDir(dir: string): Promise<string> {
  try {
    const abs = await realpath(dir);
    if (!(await stat(abs)).isDirectory()) throw new CliError(`${dir} is not a directory`, ExitCode.LOCAL_FILE, 'ENOTDIR');
    await access(abs, constants.W_OK);
    return abs;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot store files in ${dir}: ${(err as Error).message}`, ExitCode.LOCAL_FILE, (err as NodeJS.ErrnoException).code ?? 'LOCAL_FILE');
  }
}

function describe(r: ReceiveSummary): string {
  const resumed = r.resumedFrom ? `, resumed at ${formatBytes(r.resumedFrom)}` : '';
  return (
    `udt-recv: received ${r.name} (${formatBytes(r.size)}${resumed}) from ${r.from} in ${r.seconds.toFixed(2)} s, ` +
    `${formatRate(r.mbps)}, SHA-256 ${r.sha256} verified, engine ${r.engine}`
  );
}

runTool('udt-recv', USAGE, async (argv, ctx) => {
  const { values, positionals } = parseCli(
    {
      options: {
        ...socketFlags,
        port: { type: 'string', short: 'p' },
        host: { type: 'string' },
        dir: { type: 'string', short: 'd' },
        once: { type: 'boolean' },
        raw: { type: 'boolean' },
        output: { type: 'string', short: 'o' },
        json: { type: 'boolean' },
        progress: { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
      },
      allowPositionals: false,
    },
    argv,
  );
  ctx.json = !!values.json;
  void positionals;
  const port = values.port === undefined ? DEFAULT_PORT : parsePort(values.port, true);
  const socketOptions = socketOptionsFrom(values);
  const board = new ProgressBoard(process.stderr, progressModeFrom(values));
  const announce = (address: string, p: number, extra: string) => {
    if (!values.quiet) process.stderr.write(`udt-recv: listening on ${hostPortText(address, p)}${extra}\n`);
  };

  if (values.raw) {
    if (values.dir !== undefined) throw usageError('--dir has no meaning with --raw (use -o FILE)');
    const output = values.output ?? '-';
    const r = await rawReceive({ output, host: values.host, port, socket: socketOptions, board, signal: ctx.signal, onListening: (a, p) => announce(a, p, `, raw stream to ${output === '-' ? 'stdout' : output}`) });
    if (values.json) process.stdout.write(`${JSON.stringify({ ...r, seconds: round(r.seconds), mbps: round(r.mbps, 2) })}\n`);
    else if (!values.quiet) process.stderr.write(`udt-recv: received ${formatBytes(r.bytes)} from ${r.peer} in ${r.seconds.toFixed(2)} s, ${formatRate(r.mbps)}, SHA-256 ${r.sha256}, engine ${r.engine}\n`);
    return ExitCode.OK;
  }
  if (values.output !== undefined) throw usageError('-o/--output needs --raw (files land in --dir)');

  const dir = await checkDir(values.dir ?? '.');
  const server = await listenOn(socketOptions, port, values.host);
  const addr = server.address()!;
  announce(addr.address, addr.port, `, saving to ${dir}`);
  const active = new ActiveTransfers();
  let inFlight = 0;
  return new Promise<number>((resolve, reject) => {
    const stop = () => {
      server.close();
      const settled = active.stopAll();
      server.closeAllConnections();
      const interrupted = () => reject(new CliError('interrupted', ExitCode.INTERRUPTED, 'INTERRUPTED'));
      void Promise.race([settled, new Promise((r) => setTimeout(r, 2000))]).then(interrupted);
    };
    ctx.signal.addEventListener('abort', stop, { once: true });
    server.on('connection', (socket: UdtSocket) => {
      socket.on('error', () => {});
      inFlight++;
      if (values.once) server.close();
      receiveTransfer(socket, { dir, active, board })
        .then(
          (r) => {
            if (values.json) process.stdout.write(`${JSON.stringify({ ...r, seconds: round(r.seconds), mbps: round(r.mbps, 2) })}\n`);
            else if (!values.quiet) board.log(describe(r));
            return ExitCode.OK;
          },
          (err: unknown) => {
            const e = toCliError(err);
            board.log(`udt-recv: transfer failed: ${e.message}`);
            if (values.json) process.stdout.write(`${JSON.stringify({ ok: false, code: e.code, exitCode: e.exitCode, error: e.message })}\n`);
            return e.exitCode;
          },
        )
        .then((code) => {
          inFlight--;
          if (values.once && inFlight === 0) {
            ctx.signal.removeEventListener('abort', stop);
            resolve(code);
          }
        });
    });
  });
});
