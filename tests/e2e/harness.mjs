// Starts `hearth serve` on a free port for a test file and stops it afterwards.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const fixtures = process.env.HEARTH_FIXTURES ?? path.resolve('../../../shared/fixtures');
export const hearthBinary = process.env.HEARTH_BINARY ?? path.resolve('../../build/hearth');
export const model = (name) => path.join(fixtures, 'models', name);

export async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

// Without an explicit HEARTH_HOME the server gets a fresh one, removed when it stops, so tests
// never write into the user's ~/.hearth (the response store, downloads).
export async function startServer(args, env = {}) {
  const port = await freePort();
  const ownHome = env.HEARTH_HOME === undefined
    ? fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-home-')) : null;
  const child = spawn(hearthBinary, ['serve', '--port', String(port), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...(ownHome ? { HEARTH_HOME: ownHome } : {}), ...env },
  });
  child.once('exit', () => { if (ownHome) fs.rmSync(ownHome, { recursive: true, force: true }); });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const baseURL = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`hearth serve exited early:\n${log}`);
    try {
      const res = await fetch(`${baseURL}/health`);
      if (res.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`hearth serve did not become healthy:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    baseURL,
    port,
    child,
    log: () => log,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      return code;
    },
  };
}

// Reads /metrics and returns one sample's value.
export async function metric(baseURL, name) {
  const text = await (await fetch(`${baseURL}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.split(' ')[1]) : undefined;
}

export async function waitFor(predicate, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// A local stand-in for the Hugging Face hub: /{owner}/{repo}/resolve/{revision}/{file} serves
// any fixture model by its file name, with its sha256 as ETag. `requests` counts every hit.
export async function startHub() {
  const hub = { requests: 0, url: '' };
  hub.server = http.createServer((req, res) => {
    hub.requests += 1;
    const match = req.url.match(/^\/[^/]+\/[^/]+\/resolve\/[^/]+\/(.+)$/);
    const file = match ? model(path.basename(match[1])) : '';
    if (!match || !fs.existsSync(file)) {
      res.writeHead(404).end('Entry not found');
      return;
    }
    const data = fs.readFileSync(file);
    const sha = createHash('sha256').update(data).digest('hex');
    res.writeHead(200, { 'Content-Length': data.length, ETag: `"${sha}"`, 'X-Linked-Etag': `"${sha}"` });
    res.end(data);
  });
  hub.server.listen(0, '127.0.0.1');
  await once(hub.server, 'listening');
  hub.url = `http://127.0.0.1:${hub.server.address().port}`;
  hub.close = () => hub.server.close();
  return hub;
}

// A test hub, a fresh $HEARTH_HOME (prepared by `prepareHome(home)` before the server
// starts) and `hearth serve ARGS` downloading from that hub. stop() shuts all three down and
// returns the server's exit code.
export async function startServerWithHub(name, args, prepareHome = () => {}) {
  const hub = await startHub();
  const home = fs.mkdtempSync(path.join(os.tmpdir(), `hearth-e2e-${name}-`));
  prepareHome(home);
  const server = await startServer(args, { HEARTH_HOME: home, HEARTH_HUB_URL: hub.url, HF_TOKEN: '' });
  return {
    hub,
    home,
    server,
    async stop() {
      const code = await server.stop();
      hub.close();
      fs.rmSync(home, { recursive: true, force: true });
      return code;
    },
  };
}
