// RAG over HTTP in OpenAI's own shapes, through the official openai client: Files, Vector
// Stores (a store is a `hearth rag` collection), search with attribute filters, grounded chat
// completions with citations (plain and streamed), and bad input (names with ../, oversize
// uploads, unknown stores, a corrupt PDF).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI, { toFile } from 'openai';
import { startServer, model, hearthBinary } from './harness.mjs';

const KEYS_MD = '# Keys\n\nRotate the signing keys every month with `hearth keys rotate`.\n\n'
  + '# Backups\n\nBackups are written nightly to the archive volume.\n';
const CATS_TXT = 'Cats sleep most of the day. Cats rotate between three sunny windows.\n';

let home;
let server;
let client;

// The forced reply of the grounded-chat tests: a JSON schema whose only string is this, so the
// tiny story model (which writes gibberish) must cite [1] and a source that does not exist.
const forcedReply = {
  type: 'json_schema',
  json_schema: {
    name: 'answer',
    schema: {
      type: 'object',
      properties: { a: { type: 'string', enum: ['Rotate them monthly [1], not [9].'] } },
      required: ['a'],
    },
  },
};

before(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-e2e-rag-'));
  server = await startServer(['-m', model('stories260K.gguf'), '--alias', 'story',
    '--ctx-size', '512', '--no-download', '--max-upload-mb', '1', '--rag-embed', 'none'],
  { HEARTH_HOME: home });
  client = new OpenAI({ baseURL: `${server.baseURL}/v1`, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  assert.equal(await server.stop(), 0, 'graceful shutdown exits 0');
  fs.rmSync(home, { recursive: true, force: true });
});

async function upload(name, text, purpose = 'assistants') {
  return client.files.create({ file: await toFile(Buffer.from(text), name), purpose });
}

// Every regular file under `dir`, relative to it.
function filesUnder(dir) {
  return fs.readdirSync(dir, { recursive: true })
    .filter((f) => fs.statSync(path.join(dir, f)).isFile());
}

test('files: create, retrieve, list, content, delete', async () => {
  const f = await upload('keys.md', KEYS_MD);
  assert.match(f.id, /^file-[0-9a-f]{24}$/);
  assert.equal(f.object, 'file');
  assert.equal(f.bytes, Buffer.byteLength(KEYS_MD));
  assert.equal(f.filename, 'keys.md');
  assert.equal(f.purpose, 'assistants');
  assert.equal(typeof f.created_at, 'number');
  assert.deepEqual(await client.files.retrieve(f.id), f);
  const text = await (await client.files.content(f.id)).text();
  assert.equal(text, KEYS_MD);
  const listed = await client.files.list();
  assert.ok(listed.data.some((x) => x.id === f.id));
  const userData = await upload('cats.txt', CATS_TXT, 'user_data');
  assert.equal(userData.purpose, 'user_data');
  const onlyUserData = await client.files.list({ purpose: 'user_data' });
  assert.deepEqual(onlyUserData.data.map((x) => x.id), [userData.id]);
  const deleted = await client.files.del(userData.id);
  assert.deepEqual(deleted, { id: userData.id, object: 'file', deleted: true });
  await assert.rejects(client.files.retrieve(userData.id), (e) => e.status === 404);
  await assert.rejects(upload('x.txt', 'x', 'fine-tune'), (e) => e.status === 400);
});

test('files: a name with ../ is stored inside the files folder under a clean name', async () => {
  const before = new Set(filesUnder(home));
  const f = await upload('../../../escape.md', 'escaped?');
  assert.equal(f.filename, 'escape.md');
  const added = filesUnder(home).filter((p) => !before.has(p));
  assert.ok(added.length >= 1);
  for (const p of added) assert.ok(p.startsWith('files' + path.sep), p);
  assert.ok(!fs.existsSync(path.join(home, '..', 'escape.md')));
  assert.equal(await (await client.files.content(f.id)).text(), 'escaped?');
});

test('files: an upload over --max-upload-mb is a 413', async () => {
  const big = Buffer.alloc(1536 * 1024, 'a');
  await assert.rejects(
    client.files.create({ file: await toFile(big, 'big.txt'), purpose: 'assistants' }),
    (e) => e.status === 413 && /larger than/.test(e.message),
  );
  // The server still answers.
  assert.ok((await client.files.list()).data.length >= 1);
});

test('vector stores: create with files, attach with attributes, search with and without filters, delete', async () => {
  const keys = await upload('keys.md', KEYS_MD);
  const cats = await upload('cats.txt', CATS_TXT);
  const vs = await client.vectorStores.create({
    name: 'Ops docs', file_ids: [keys.id], metadata: { team: 'ops' },
  });
  assert.match(vs.id, /^vs_/);
  assert.equal(vs.object, 'vector_store');
  assert.equal(vs.name, 'Ops docs');
  assert.equal(vs.status, 'completed');
  assert.deepEqual(vs.metadata, { team: 'ops' });
  assert.deepEqual(vs.file_counts, { in_progress: 0, completed: 1, failed: 0, cancelled: 0, total: 1 });
  assert.ok(vs.usage_bytes > 0);

  const attached = await client.vectorStores.files.createAndPoll(vs.id, {
    file_id: cats.id, attributes: { animal: true, year: 2020 },
  });
  assert.equal(attached.id, cats.id);
  assert.equal(attached.object, 'vector_store.file');
  assert.equal(attached.vector_store_id, vs.id);
  assert.equal(attached.status, 'completed');
  assert.equal(attached.last_error, null);
  assert.deepEqual(attached.attributes, { animal: true, year: 2020 });

  const files = await client.vectorStores.files.list(vs.id);
  assert.deepEqual(files.data.map((f) => f.id).sort(), [keys.id, cats.id].sort());
  assert.equal((await client.vectorStores.retrieve(vs.id)).file_counts.completed, 2);
  assert.ok((await client.vectorStores.list()).data.some((s) => s.id === vs.id));
  const renamed = await client.vectorStores.update(vs.id, { name: 'Ops runbooks', metadata: { team: 'sre' } });
  assert.equal(renamed.id, vs.id, 'a rename keeps the id (the collection)');
  assert.equal(renamed.name, 'Ops runbooks');
  assert.deepEqual(renamed.metadata, { team: 'sre' });
  assert.equal((await client.vectorStores.retrieve(vs.id)).name, 'Ops runbooks');

  const page = await client.vectorStores.search(vs.id, { query: 'rotate', max_num_results: 5 });
  assert.equal(page.body.object, 'vector_store.search_results.page');
  assert.deepEqual(page.body.search_query, ['rotate']);
  assert.equal(page.body.has_more, false);
  assert.equal(page.body.next_page, null);
  assert.deepEqual(new Set(page.data.map((r) => r.file_id)), new Set([keys.id, cats.id]));
  for (const r of page.data) {
    assert.ok(r.score > 0 && r.score <= 1, `score ${r.score}`);
    assert.equal(r.content[0].type, 'text');
    const source = r.file_id === keys.id ? KEYS_MD : CATS_TXT;
    assert.ok(source.includes(r.content[0].text));
    assert.equal(r.filename, r.file_id === keys.id ? 'keys.md' : 'cats.txt');
  }
  assert.ok(page.data[0].score >= page.data[page.data.length - 1].score);

  const filtered = await client.vectorStores.search(vs.id, {
    query: ['rotate', 'keys'],
    filters: { type: 'and', filters: [
      { type: 'eq', key: 'animal', value: true }, { type: 'gte', key: 'year', value: 2019 }] },
  });
  assert.deepEqual(filtered.body.search_query, ['rotate', 'keys']);
  assert.deepEqual(filtered.data.map((r) => r.file_id), [cats.id]);
  assert.deepEqual(filtered.data[0].attributes, { animal: true, year: 2020 });
  const none = await client.vectorStores.search(vs.id, {
    query: 'rotate', filters: { type: 'lt', key: 'year', value: 2000 },
  });
  assert.equal(none.data.length, 0);
  await assert.rejects(
    client.vectorStores.search(vs.id, { query: 'x', filters: { type: 'like', key: 'a', value: 1 } }),
    (e) => e.status === 400);
  await assert.rejects(client.vectorStores.search(vs.id, { query: 'x', max_num_results: 51 }),
    (e) => e.status === 400);

  const detached = await client.vectorStores.files.del(vs.id, cats.id);
  assert.equal(detached.deleted, true);
  const after = await client.vectorStores.search(vs.id, { query: 'cats sunny windows' });
  assert.ok(after.data.every((r) => r.file_id !== cats.id));

  const gone = await client.vectorStores.del(vs.id);
  assert.deepEqual(gone, { id: vs.id, object: 'vector_store.deleted', deleted: true });
  await assert.rejects(client.vectorStores.retrieve(vs.id), (e) => e.status === 404);
});

test('files: deleting a file removes its chunks from every vector store that holds it', async () => {
  const keys = await upload('keys.md', KEYS_MD);
  const cats = await upload('cats.txt', CATS_TXT);
  const a = await client.vectorStores.create({ name: 'del-a', file_ids: [keys.id, cats.id] });
  const b = await client.vectorStores.create({ name: 'del-b', file_ids: [keys.id] });
  for (const vs of [a, b]) {
    const hits = await client.vectorStores.search(vs.id, { query: 'rotate the signing keys' });
    assert.ok(hits.data.some((r) => r.file_id === keys.id));
  }
  assert.deepEqual(await client.files.del(keys.id), { id: keys.id, object: 'file', deleted: true });
  for (const vs of [a, b]) {
    const hits = await client.vectorStores.search(vs.id, { query: 'rotate the signing keys' });
    assert.ok(hits.data.every((r) => r.file_id !== keys.id), `${vs.id} still returns it`);
    const files = await client.vectorStores.files.list(vs.id);
    assert.ok(files.data.every((f) => f.id !== keys.id));
  }
  assert.equal((await client.vectorStores.retrieve(a.id)).file_counts.completed, 1);
  const stillThere = await client.vectorStores.search(a.id, { query: 'cats sunny windows' });
  assert.equal(stillThere.data[0].file_id, cats.id);
  await assert.rejects(client.files.del(keys.id), (e) => e.status === 404);
});

test('lists page with limit, after, before and order as OpenAI documents them', async () => {
  const ids = [];
  for (let i = 0; i < 3; ++i) ids.push((await upload(`page${i}.md`, `# Page ${i}\n\npage ${i}\n`)).id);
  const vs = await client.vectorStores.create({ name: 'paging', file_ids: ids });
  const get = async (query) => {
    const r = await fetch(`${server.baseURL}/v1/vector_stores/${vs.id}/files?${query}`);
    return { status: r.status, body: await r.json() };
  };
  const all = await get('');
  assert.equal(all.body.data.length, 3);
  assert.equal(all.body.has_more, false);
  const order = all.body.data.map((f) => f.id);
  assert.deepEqual([...order].sort(), [...ids].sort());
  const first = await get('limit=2');
  assert.deepEqual(first.body.data.map((f) => f.id), order.slice(0, 2));
  assert.equal(first.body.has_more, true);
  assert.equal(first.body.last_id, order[1]);
  const second = await get(`limit=2&after=${first.body.last_id}`);
  assert.deepEqual(second.body.data.map((f) => f.id), order.slice(2));
  assert.equal(second.body.has_more, false);
  const before = await get(`limit=1&before=${order[2]}`);
  assert.deepEqual(before.body.data.map((f) => f.id), [order[1]]);
  assert.equal(before.body.has_more, true);
  const asc = await get('order=asc');
  assert.deepEqual(asc.body.data.map((f) => f.id), [...order].reverse());
  // The SDK's auto-pagination walks the pages.
  const walked = [];
  for await (const f of client.vectorStores.files.list(vs.id, { limit: 1 })) walked.push(f.id);
  assert.deepEqual(walked, order);
  for (const bad of ['limit=0', 'limit=101', 'limit=x', 'after=file-nope', 'order=up']) {
    const r = await get(bad);
    assert.equal(r.status, 400, bad);
    assert.equal(r.body.error.param, bad.split('=')[0]);
  }
  const files = await client.files.list({ limit: 2 });
  assert.equal(files.data.length, 2);
});

test('vector stores: unknown ids are 404 in OpenAI\'s error shape', async () => {
  for (const call of [
    () => client.vectorStores.retrieve('vs_nope'),
    () => client.vectorStores.search('vs_nope', { query: 'x' }),
    () => client.vectorStores.files.list('vs_nope'),
    () => client.vectorStores.retrieve('vs_..%2F..%2Fetc'),
    () => client.vectorStores.create({ name: 'x', file_ids: ['file-000000000000000000000000'] }),
  ]) {
    await assert.rejects(call(), (e) => e.status === 404 && typeof e.error?.message === 'string');
  }
  const res = await fetch(`${server.baseURL}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'story', messages: [{ role: 'user', content: 'hi' }],
      rag: { vector_store_ids: ['vs_nope'] } }),
  });
  assert.equal(res.status, 404);
  const body = await res.json();
  assert.equal(body.error.type, 'invalid_request_error');
  assert.match(body.error.message, /vs_nope/);
});

test('vector stores: a corrupt PDF is a failed file with a clear last_error, not a 500', async () => {
  const pdf = await upload('broken.pdf', '%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage\n%%EOF\n');
  const vs = await client.vectorStores.create({ name: 'pdfs' });
  const f = await client.vectorStores.files.createAndPoll(vs.id, { file_id: pdf.id });
  assert.equal(f.status, 'failed');
  assert.equal(f.last_error.code, 'invalid_file');
  assert.match(f.last_error.message, /pdf/i);
  assert.equal((await client.vectorStores.retrieve(vs.id)).file_counts.failed, 1);
  await client.vectorStores.del(vs.id);
});

// The bytes of `text` between two UTF-8 byte offsets.
function span(text, start, end) {
  return Buffer.from(text).subarray(start, end).toString();
}

test('grounded chat: citations name supplied chunks and quote real spans; unbacked ones are removed', async () => {
  const keys = await upload('keys.md', KEYS_MD);
  const vs = await client.vectorStores.create({ name: 'grounded', file_ids: [keys.id] });
  const r = await client.chat.completions.create({
    model: 'story',
    messages: [{ role: 'user', content: 'How do I rotate the signing keys?' }],
    rag: { vector_store_ids: [vs.id], top_k: 4 },
    response_format: forcedReply,
    max_tokens: 160,
    temperature: 0,
  });
  const content = r.choices[0].message.content;
  assert.match(content, /\[1\]/);
  assert.doesNotMatch(content, /\[9\]/, 'a citation of a source that was not supplied is removed');
  assert.ok(Array.isArray(r.citations));
  assert.equal(r.citations.length, 1);
  const c = r.citations[0];
  assert.equal(c.n, 1);
  assert.ok(c.n <= r.rag.sources);
  assert.equal(c.file_id, keys.id);
  assert.equal(c.filename, 'keys.md');
  assert.equal(c.page, 0);
  assert.equal(span(KEYS_MD, c.char_start, c.char_end), c.quote);
  assert.match(c.quote, /Rotate the signing keys/);
  assert.equal(r.rag.removed_citations, 1);
  assert.ok(r.usage.prompt_tokens > Buffer.byteLength(c.quote) / 8, 'the source is in the prompt');

  // Without the forced reply the gibberish still comes back with a (possibly empty) list.
  const free = await client.chat.completions.create({
    model: 'story', messages: [{ role: 'user', content: 'rotate keys' }],
    rag: { vector_store_ids: [vs.id] }, max_tokens: 8,
  });
  assert.ok(Array.isArray(free.citations));
  for (const x of free.citations) assert.ok(x.n >= 1 && x.n <= free.rag.sources);
  await client.vectorStores.del(vs.id);
});

test('grounded chat, streamed: the last event carries the citations', async () => {
  const keys = await upload('keys.md', KEYS_MD);
  const vs = await client.vectorStores.create({ name: 'grounded-stream', file_ids: [keys.id] });
  const stream = await client.chat.completions.create({
    model: 'story',
    messages: [{ role: 'user', content: 'How do I rotate the signing keys?' }],
    rag: { vector_store_ids: [vs.id] },
    response_format: forcedReply,
    max_tokens: 160,
    temperature: 0,
    stream: true,
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
  assert.match(text, /\[1\]/);
  assert.doesNotMatch(text, /\[9\]/);
  const last = chunks[chunks.length - 1];
  assert.ok(Array.isArray(last.citations), 'citations on the last event');
  assert.equal(last.citations.length, 1);
  assert.equal(span(KEYS_MD, last.citations[0].char_start, last.citations[0].char_end),
    last.citations[0].quote);
  assert.equal(last.rag.removed_citations, 1);
  for (const c of chunks.slice(0, -1)) assert.equal(c.citations, undefined);
  await client.vectorStores.del(vs.id);
});

test('a collection made by `hearth rag add` is a vector store, and a store made over HTTP is a collection', async () => {
  const docs = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-e2e-rag-docs-'));
  try {
    fs.writeFileSync(path.join(docs, 'guide.md'), '# Guide\n\nThe daemon restarts nightly.\n');
    const env = { ...process.env, HEARTH_HOME: home };
    const add = spawnSync(hearthBinary, ['rag', 'add', docs, '-c', 'clidocs', '--embed', 'none'],
      { env, encoding: 'utf8' });
    assert.equal(add.status, 0, add.stderr);
    const stores = await client.vectorStores.list();
    const cli = stores.data.find((s) => s.id === 'vs_clidocs');
    assert.ok(cli, JSON.stringify(stores.data.map((s) => s.id)));
    assert.equal(cli.name, 'clidocs');
    assert.equal(cli.file_counts.completed, 1);
    const hits = await client.vectorStores.search('vs_clidocs', { query: 'daemon restarts' });
    assert.equal(hits.data.length, 1);
    assert.equal(hits.data[0].filename, 'guide.md');
    assert.match(hits.data[0].file_id, /^local:/);

    const made = await client.vectorStores.create({ name: 'from-http' });
    const list = spawnSync(hearthBinary, ['rag', 'list'], { env, encoding: 'utf8' });
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /^from-http\s/m);
    assert.equal(made.id, 'vs_from-http');
  } finally {
    fs.rmSync(docs, { recursive: true, force: true });
  }
});

test('files: malformed uploads are 400s that say why', async () => {
  const post = (headers, body) => fetch(`${server.baseURL}/v1/files`, { method: 'POST', headers, body });
  let res = await post({ 'Content-Type': 'application/json' }, '{}');
  assert.equal(res.status, 400);
  assert.match((await res.json()).error.message, /multipart\/form-data/);
  res = await post({ 'Content-Type': 'multipart/form-data; boundary=zz' },
    '--zz\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nno end');
  assert.equal(res.status, 400);
  assert.match((await res.json()).error.message, /closing boundary/);
  const form = new FormData();
  form.append('purpose', 'assistants');
  res = await post({}, form);
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error.param, 'file');
});

test('vector stores: attaches and searches at once give no errors (WAL)', async () => {
  const vs = await client.vectorStores.create({ name: 'busy' });
  const uploads = await Promise.all(
    Array.from({ length: 6 }, (_, i) => upload(`doc${i}.md`, `# Doc ${i}\n\nrotate keys doc${i}\n`)));
  const work = [];
  for (const f of uploads) {
    work.push(client.vectorStores.files.create(vs.id, { file_id: f.id }));
    work.push(client.vectorStores.search(vs.id, { query: 'rotate keys' }));
  }
  const results = await Promise.all(work);
  for (let i = 0; i < results.length; i += 2) assert.equal(results[i].status, 'completed');
  const final = await client.vectorStores.search(vs.id, { query: 'rotate keys', max_num_results: 20 });
  assert.equal(new Set(final.data.map((r) => r.file_id)).size, uploads.length);
  await client.vectorStores.del(vs.id);
});
