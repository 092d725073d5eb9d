#!/usr/bin/env node
// udt-perf: iperf3-style throughput test over UDT (server with -s, client with -c HOST).

import { parseCli, parseIntFlag, parseNumberFlag, parsePort, parseQuantity, socketFlags, socketFlagsHelp, socketOptionsFrom, usageError } from './args.js';
import { CliError, ExitCode } from './exit-codes.js';
import { round } from './format.js';
import { EXIT_CODES_HELP, runTool } from './main.js';
import { runPerfClient, type PerfResult } from './perf-client.js';
import { formatInterval, formatTotals, INTERVAL_HEADER, TOTALS_HEADER } from './perf-report.js';
import { PerfServer, type ServerTestResult } from './perf-server.js';
import { hostPortText } from './socket-util.js';

const DEFAULT_PORT = 9001;

const USAGE = `Usage: udt-perf -s [-p PORT] [--host H] [--once] [--json] [options]
       udt-perf -c HOST [-p PORT] [-t SECONDS | -n BYTES] [-P STREAMS] [-R] [-i SECONDS] [--json] [options]

Measures UDT throughput between two hosts, like iperf3. The client prints one row a second (bit rate, RTT,
packets lost, retransmitted, send period, congestion and flow window), then the totals from both ends: the
server sends its view back over the connection.

Server:
  -s, --server          run as server; serves tests until stopped
  --once                exit after one test
Client:
  -c, --client HOST     connect to the server at HOST (an IPv6 address may be given in brackets)
  -t, --time SECONDS    test length (default 10)
  -n, --bytes N         send N bytes instead (e.g. 500M, 2G)
  -P, --parallel N      N parallel streams from one local UDP port (default 1)
  -R, --reverse         the server sends, the client receives (the server's own --congestion/-b apply)
Both:
  -p, --port PORT       server port (default ${DEFAULT_PORT}; with -s, 0 picks a free one and prints it)
  --host H              server: address to listen on (default :: with IPv4 too, or 0.0.0.0)
  -i, --interval S      seconds between rows (default 1)
  --json                print one JSON document at the end (server: one line per test); no rows
  -h, --help            show this help

${socketFlagsHelp}

${EXIT_CODES_HELP}
`;

function printClient(r: PerfResult): void {
  const out = (s: string) => process.stdout.write(`${s}\n`);
  out('- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -');
  out(TOTALS_HEADER);
  for (const s of r.end.streams) {
    out(formatTotals(s.stream, s.sender, 'sender'));
    out(formatTotals(s.stream, s.receiver, 'receiver'));
  }
  if (r.end.streams.length > 1) {
    out(formatTotals('SUM', r.end.sender, 'sender'));
    out(formatTotals('SUM', r.end.receiver, 'receiver'));
  }
  out(`udt-perf: engine ${r.start.engine} (client), ${r.start.serverEngine} (server); mss ${r.start.mss}; ${r.start.streams} stream(s) from local port ${r.start.localPort}`);
}

function printServerTest(t: ServerTestResult, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(t)}\n`);
    return;
  }
  const out = (s: string) => process.stdout.write(`${s}\n`);
  out(`udt-perf: test from ${t.client} finished (${t.reverse ? 'server sent' : 'client sent'})`);
  out(TOTALS_HEADER);
  for (const s of t.streams) out(formatTotals(s.stream, s.server, s.role));
  for (const f of t.failures) out(`udt-perf: ${f}`);
}

runTool('udt-perf', USAGE, async (argv, ctx) => {
  const { values, positionals } = parseCli(
    {
      options: {
        ...socketFlags,
        server: { type: 'boolean', short: 's' },
        client: { type: 'string', short: 'c' },
        port: { type: 'string', short: 'p' },
        host: { type: 'string' },
        time: { type: 'string', short: 't' },
        bytes: { type: 'string', short: 'n' },
        parallel: { type: 'string', short: 'P' },
        reverse: { type: 'boolean', short: 'R' },
        interval: { type: 'string', short: 'i' },
        once: { type: 'boolean' },
        json: { type: 'boolean' },
      },
      allowPositionals: true,
    },
    argv,
  );
  ctx.json = !!values.json;
  if (positionals.length > 0) throw usageError(`unexpected argument '${positionals[0]}'`);
  if (!!values.server === (values.client !== undefined)) throw usageError('give exactly one of -s (server) or -c HOST (client)');
  const socket = socketOptionsFrom(values);
  const intervalSeconds = parseNumberFlag('interval', values.interval, 0.1) ?? 1;
  const printRows = !values.json;

  if (values.server) {
    for (const k of ['time', 'bytes', 'parallel', 'reverse'] as const) if (values[k] !== undefined) throw usageError(`--${k} is a client option`);
    const port = values.port === undefined ? DEFAULT_PORT : parsePort(values.port, true);
    return new Promise<number>((resolve, reject) => {
      const server = new PerfServer({
        host: values.host,
        port,
        socket,
        intervalSeconds,
        onListening: (a, p) => process.stderr.write(`udt-perf: server listening on ${hostPortText(a, p)}\n`),
        onInterval: printRows ? (client, rows) => rows.forEach((r) => process.stdout.write(`${formatInterval(r)}  ${client}\n`)) : undefined,
        onTest: (t) => {
          printServerTest(t, !!values.json);
          if (values.once) {
            server.close();
            resolve(t.failures.length ? ExitCode.CONNECTION_LOST : ExitCode.OK);
          }
        },
      });
      ctx.signal.addEventListener('abort', () => {
        server.close();
        reject(new CliError('interrupted', ExitCode.INTERRUPTED, 'INTERRUPTED'));
      });
      server.listen().catch(reject);
    });
  }

  if (values.once) throw usageError('--once is a server option');
  if (values.host !== undefined) throw usageError('--host is a server option (the client takes -c HOST)');
  const host = values.client!.replace(/^\[(.*)\]$/, '$1');
  const port = values.port === undefined ? DEFAULT_PORT : parsePort(values.port);
  const bytes = parseQuantity('bytes', values.bytes) ?? null;
  if (bytes !== null && values.time !== undefined) throw usageError('give -t or -n, not both');
  const seconds = bytes !== null ? null : (parseNumberFlag('time', values.time, 0.1) ?? 10);
  const streams = parseIntFlag('parallel', values.parallel, 1, 128) ?? 1;
  const reverse = !!values.reverse;
  if (printRows) {
    const what = seconds !== null ? `${seconds} s` : `${bytes} bytes`;
    process.stdout.write(`udt-perf: connecting to ${hostPortText(host, port)}, ${streams} stream(s), ${what}, ${reverse ? 'server sends (reverse)' : 'client sends'}\n`);
  }
  const result = await runPerfClient({
    host,
    port,
    seconds,
    bytes,
    streams,
    reverse,
    intervalSeconds,
    socket,
    signal: ctx.signal,
    onStart: printRows ? () => process.stdout.write(`${INTERVAL_HEADER}\n`) : undefined,
    onInterval: printRows
      ? (rows, sum) => {
          for (const r of rows) process.stdout.write(`${formatInterval(r)}\n`);
          if (rows.length > 1) process.stdout.write(`${formatInterval(sum)}\n`);
        }
      : undefined,
  });
  if (values.json) {
    const r3 = <T extends object>(o: T) => JSON.parse(JSON.stringify(o, (_k, v: unknown) => (typeof v === 'number' ? round(v) : v))) as T;
    process.stdout.write(`${JSON.stringify(r3(result))}\n`);
  } else {
    printClient(result);
  }
  return ExitCode.OK;
});
