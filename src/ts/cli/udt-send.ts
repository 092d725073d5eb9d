#!/usr/bin/env node
// udt-send: sends a file to udt-recv over UDT (resumable, SHA-256 checked), or a raw byte stream with --raw.

import { parseCli, parseHostPort, socketFlags, socketFlagsHelp, socketOptionsFrom, progressModeFrom, usageError } from './args.js';
import { ExitCode } from './exit-codes.js';
import { formatBytes, formatRate, round } from './format.js';
import { EXIT_CODES_HELP, runTool } from './main.js';
import { ProgressBoard } from './progress.js';
import { rawSend } from './raw.js';
import { sendFile } from './send-file.js';

const USAGE = `Usage: udt-send [options] FILE HOST:PORT
       udt-send --raw [options] FILE|- HOST:PORT

Sends FILE to a udt-recv listening at HOST:PORT (use [ADDR]:PORT for IPv6). The receiver stores it as
DIR/NAME.part, resumes an interrupted transfer from where it stopped, checks the whole file's SHA-256 and
renames it to DIR/NAME; udt-send exits 0 only once the receiver has confirmed the checksum.

Options:
  --name NAME           store the file under NAME on the receiver (default: FILE's base name)
  --raw                 send the plain byte stream (no header, no checksum exchange), e.g. to a libudt
                        program or 'udt-recv --raw'; FILE may be - for standard input
  --json                print one JSON summary (or error) on stdout; no progress unless --progress is given
  --progress MODE       auto | bar | lines | off (default auto: a bar on a terminal, a line a second otherwise)
  -q, --quiet           no progress and no summary line (errors are still printed)
  -h, --help            show this help

${socketFlagsHelp}

${EXIT_CODES_HELP}
`;

runTool('udt-send', USAGE, async (argv, ctx) => {
  const { values, positionals } = parseCli(
    {
      options: {
        ...socketFlags,
        name: { type: 'string' },
        raw: { type: 'boolean' },
        json: { type: 'boolean' },
        progress: { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
      },
      allowPositionals: true,
    },
    argv,
  );
  ctx.json = !!values.json;
  if (positionals.length !== 2) throw usageError(`expected FILE and HOST:PORT, got ${positionals.length} argument(s)`);
  const [file, target] = positionals;
  const { host, port } = parseHostPort(target);
  const socket = socketOptionsFrom(values);
  if (values.raw && values.name !== undefined) throw usageError('--name has no meaning with --raw');
  if (!values.raw && file === '-') throw usageError("standard input ('-') needs --raw (the file protocol needs the size up front)");
  const board = new ProgressBoard(process.stderr, progressModeFrom(values));
  const common = { host, port, socket, board, signal: ctx.signal };
  const result = values.raw ? await rawSend({ ...common, input: file }) : await sendFile({ ...common, file, name: values.name });
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...result, seconds: round(result.seconds), mbps: round(result.mbps, 2) })}\n`);
  } else if (!values.quiet) {
    const what = 'name' in result ? `${result.name} (${formatBytes(result.size)}${result.resumedFrom ? `, resumed at ${formatBytes(result.resumedFrom)}` : ''})` : formatBytes(result.bytes);
    const check = 'name' in result ? 'SHA-256 confirmed by the receiver' : 'SHA-256';
    process.stdout.write(
      `udt-send: sent ${what} to ${'to' in result ? result.to : result.peer} in ${result.seconds.toFixed(2)} s, ` +
        `${formatRate(result.mbps)}, ${result.retransmits} retransmitted packets, engine ${result.engine}\n` +
        `udt-send: ${check} ${result.sha256}\n`,
    );
  }
  return ExitCode.OK;
});
