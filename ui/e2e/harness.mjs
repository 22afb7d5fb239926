// Process and waiting helpers for the browser end-to-end tests (run.mjs).
// Everything here starts real processes and real servers on loopback; every
// child is tracked so that `stopAll()` (and the exit hook) can end it.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, statSync, readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** A free TCP port on 127.0.0.1 (bind :0, read the port, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const children = new Set();

/**
 * Starts `cmd args`, its stdout and stderr going to `logFile`. The returned
 * object has `proc`, `exited` (a promise of the exit code/signal) and
 * `logTail()` for error messages.
 */
export function startProcess(name, cmd, args, { cwd, logFile, env } = {}) {
  const log = createWriteStream(logFile);
  log.write(`$ ${cmd} ${args.join(' ')}\n`);
  const proc = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let exitInfo = null;
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      exitInfo = { code, signal };
      children.delete(child);
      resolve(exitInfo);
    });
    proc.on('error', (err) => {
      exitInfo = { code: null, signal: null, error: err };
      children.delete(child);
      resolve(exitInfo);
    });
  });
  proc.stdout.pipe(log, { end: false });
  proc.stderr.pipe(log, { end: false });
  const child = {
    name,
    proc,
    exited,
    get exitInfo() {
      return exitInfo;
    },
    logTail(lines = 20) {
      try {
        return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      } catch {
        return '(no log)';
      }
    },
    async stop(graceMs = 3000) {
      if (exitInfo) return exitInfo;
      proc.kill('SIGTERM');
      const t = setTimeout(() => {
        if (!exitInfo) proc.kill('SIGKILL');
      }, graceMs);
      const info = await exited;
      clearTimeout(t);
      return info;
    },
  };
  children.add(child);
  return child;
}

/** Stops every child still running (SIGTERM, then SIGKILL after a grace period). */
export async function stopAll() {
  await Promise.all([...children].map((c) => c.stop()));
}

// Last resort: whatever way node exits, no child outlives it.
process.on('exit', () => {
  for (const c of children) {
    try {
      c.proc.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `fn` until it returns something truthy (returned) or `timeoutMs`
 * passes (throws, naming `what` and the last value or error seen).
 */
export async function waitFor(what, fn, { timeoutMs = 10_000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await sleep(intervalMs);
  }
}

/** Waits until `url` answers 2xx, failing early if `child` exits. */
export async function waitForHttp(url, child, timeoutMs = 20_000) {
  await waitFor(
    `${child.name} to answer ${url}`,
    async () => {
      if (child.exitInfo) {
        throw new Error(`${child.name} exited (${JSON.stringify(child.exitInfo)}):\n${child.logTail()}`);
      }
      const res = await fetch(url).catch(() => null);
      return res !== null && res.ok;
    },
    { timeoutMs, intervalMs: 100 },
  ).catch((e) => {
    throw new Error(`${e.message}\n--- ${child.name} log ---\n${child.logTail()}`);
  });
}

/** Newest modification time (ms) of any file under `dir` whose name passes `filter`. */
export function newestMtime(dir, filter = () => true) {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === 'node_modules' || entry.name === 'target') continue;
      newest = Math.max(newest, newestMtime(p, filter));
    } else if (filter(p)) {
      newest = Math.max(newest, statSync(p).mtimeMs);
    }
  }
  return newest;
}
