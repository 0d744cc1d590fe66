// Foundry Local's own JavaScript SDK (foundry-local-sdk from npm, which no one here wrote)
// driving hearth as it drives `foundry`: it finds the service with `foundry service status`,
// starts it with `foundry service start`, then uses the REST routes to list the catalog,
// download (streamed progress), load, list and unload models. A `foundry` on PATH that runs
// hearth stands in for Foundry's CLI, which is all a Foundry user changes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { FoundryLocalManager } from 'foundry-local-sdk';
import { startHub, hearthBinary, freePort } from './harness.mjs';

let hub;
let home;
let shimDir;
let port;
const savedEnv = {};

function setEnv(name, value) {
  savedEnv[name] = process.env[name];
  process.env[name] = value;
}

before(async () => {
  hub = await startHub();
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-e2e-foundry-'));
  shimDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-e2e-foundry-bin-'));
  port = await freePort();
  // The service's default port is 8000; a test must not take a developer's running service's
  // port, so the shim adds --port to `service start` and passes everything else through.
  fs.writeFileSync(
    path.join(shimDir, 'foundry'),
    `#!/bin/sh
if [ "$1" = service ] && [ "$2" = start ]; then shift 2; exec "${hearthBinary}" service start --port ${port} "$@"; fi
exec "${hearthBinary}" "$@"
`,
    { mode: 0o755 },
  );
  setEnv('PATH', `${shimDir}:${process.env.PATH}`);
  setEnv('HEARTH_HOME', home);
  setEnv('HEARTH_HUB_URL', hub.url);
  setEnv('HF_TOKEN', '');
});

after(() => {
  try {
    execFileSync(hearthBinary, ['service', 'stop'], { env: process.env });
  } finally {
    for (const [name, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    hub.close();
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(shimDir, { recursive: true, force: true });
  }
});

test('the Foundry Local SDK starts the service, downloads, loads, chats and unloads', async () => {
  const manager = new FoundryLocalManager();
  assert.equal(await manager.isServiceRunning(), false);

  // init(alias) = start the service, download the model, load it: the course material's flow.
  const progress = [];
  await manager.startService();
  assert.equal(manager.serviceUrl, `http://127.0.0.1:${port}`);
  const catalog = await manager.listCatalogModels();
  const story = catalog.find((m) => m.alias === 'tinystories-260k');
  assert.ok(story, 'the catalog lists tinystories-260k');
  assert.equal(story.deviceType, 'CPU');
  assert.ok(story.modelSize >= 1);
  await manager.downloadModel('tinystories-260k', undefined, undefined, false, (p) => progress.push(p));
  // The SDK reads the first percentage of each network read; a fast local download may come
  // in one read, so only "some progress was reported" is certain.
  assert.ok(progress.length > 0 && progress.every((p) => p > 0 && p <= 100), `progress reported: ${progress}`);
  const cached = await manager.listCachedModels();
  assert.deepEqual(cached.map((m) => m.alias), ['tinystories-260k']);
  assert.equal(await manager.getCacheLocation(), path.join(home, 'models'));

  const info = await manager.init('tinystories-260k');
  assert.equal(info.alias, 'tinystories-260k');
  assert.deepEqual((await manager.listLoadedModels()).map((m) => m.alias), ['tinystories-260k']);

  const client = new OpenAI({ baseURL: manager.endpoint, apiKey: manager.apiKey, maxRetries: 0 });
  const reply = await client.chat.completions.create({
    model: info.id,
    messages: [{ role: 'user', content: 'Once upon a time' }],
    max_tokens: 16,
  });
  assert.ok(reply.choices[0].message.content.length > 0);

  await manager.unloadModel('tinystories-260k');
  assert.deepEqual(await manager.listLoadedModels(), []);
});
