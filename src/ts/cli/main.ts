// Runs a tool's main function: signals become an AbortSignal, errors become one stderr line and an exit code.

import { CliError, ExitCode, toCliError } from './exit-codes.js';

export interface ToolContext {
  /** Aborted on the first SIGINT/SIGTERM (a second one exits at once). */
  signal: AbortSignal;
  /** Set by the tool once it knows --json was given: errors are then also printed as JSON on stdout. */
  json: boolean;
}

export function runTool(name: string, usage: string, main: (argv: string[], ctx: ToolContext) => Promise<number>): void {
  const controller = new AbortController();
  const ctx: ToolContext = { signal: controller.signal, json: false };
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(ExitCode.INTERRUPTED);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const finish = (code: number) => {
    process.exitCode = code;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // Sockets close by themselves; this only guards against a handle left open by mistake.
    setTimeout(() => process.exit(code), 3000).unref();
  };
  const argv = process.argv.slice(2);
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(usage);
    finish(ExitCode.OK);
    return;
  }
  main(argv, ctx).then(finish, (err: unknown) => {
    const e = controller.signal.aborted ? new CliError('interrupted', ExitCode.INTERRUPTED, 'INTERRUPTED') : toCliError(err);
    process.stderr.write(`${name}: ${e.message}\n`);
    if (e.exitCode === ExitCode.USAGE) process.stderr.write(`Try '${name} --help'.\n`);
    if (ctx.json) process.stdout.write(`${JSON.stringify({ ok: false, code: e.code, exitCode: e.exitCode, error: e.message })}\n`);
    finish(e.exitCode);
  });
}

export const EXIT_CODES_HELP = `Exit codes:
  0    success (udt-send: the receiver confirmed the SHA-256)
  1    unexpected failure
  2    bad command line
  3    local file problem (missing, unreadable, not writable)
  4    no answer from the peer (unreachable host or nothing listening) [ERR_UDT_CONNECT_TIMEOUT]
  5    connection rejected by the peer [ERR_UDT_REJECTED]
  6    connection lost during the transfer (peer dead or closed early) [ERR_UDT_PEER_DEAD, ...]
  7    transfer refused by the receiver (unsafe file name, wrong protocol, busy)
  8    the receiver could not store the data (disk full, I/O error)
  9    SHA-256 mismatch (data or resumed partial file did not match)
  130  interrupted (SIGINT/SIGTERM)`;
