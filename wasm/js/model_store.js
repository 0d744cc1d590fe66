// Where a model's GGUF bytes come from, for the WASM engine: an ArrayBuffer, a File/Blob, or a
// URL. A hearth URL (/v1/models/{id}/file) is cached in the Origin Private File System (OPFS),
// verified by sha256 (the server's ETag), and an interrupted download resumes with Range.
//
// Used in the Web Worker: OPFS's synchronous access handles (fast writes at any offset) exist
// only there. Elsewhere (Node, a browser without OPFS) URLs are fetched without a cache.
//
// Verification: the bytes are hashed with our own incremental SHA-256 (sha256.js) as they are
// copied into the wasm heap, from the cache and from the network alike, because
// crypto.subtle.digest needs the whole file in one buffer. A cached file that no longer
// matches its sha256 is deleted and downloaded again, once.
import { Sha256 } from "./sha256.js";

const CHUNK = 8 << 20;  // bytes per read from a Blob or the cache
const HEARTH_FILE = /\/v1\/models\/[^?#]+\/file$/;
const MiB = (n) => `${(n / 2 ** 20).toFixed(1)} MiB`;

// { size, expectedSha256, fill(write) -> stats } for `source`. `write(chunk, offset)` receives
// every byte; `onProgress({ phase, loaded, total })` reports "download" and "cache" reads.
export async function openModelSource(source, { onProgress = () => {}, fetchImpl } = {}) {
  const doFetch = fetchImpl ?? ((...args) => fetch(...args));
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    const bytes = source instanceof ArrayBuffer
      ? new Uint8Array(source) : new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    return {
      size: bytes.length,
      expectedSha256: null,
      fill: async (write) => {
        write(bytes, 0);
        return { fromCache: false, bytesFetched: 0, requests: 0, cache: "none (bytes given)" };
      },
    };
  }
  if (typeof Blob !== "undefined" && source instanceof Blob) {
    return {
      size: source.size,
      expectedSha256: null,
      fill: async (write) => {
        for (let off = 0; off < source.size; off += CHUNK) {
          write(new Uint8Array(await source.slice(off, off + CHUNK).arrayBuffer()), off);
          onProgress({ phase: "file", loaded: Math.min(off + CHUNK, source.size), total: source.size });
        }
        return { fromCache: false, bytesFetched: 0, requests: 0, cache: "none (a local file)" };
      },
    };
  }
  const url = new URL(String(source), globalThis.location?.href);
  const head = await doFetch(url, { method: "HEAD" });
  if (!head.ok) {
    // A HEAD answer has no body: ask once more with GET (one byte) for the server's message.
    const again = await doFetch(url, { headers: { Range: "bytes=0-0" } }).catch(() => head);
    throw new Error(await describeFailure(again.ok ? head : again, url));
  }
  const size = Number(head.headers.get("Content-Length"));
  if (!(size > 0)) throw new Error(`${url}: the server did not say how big the model file is`);
  const etag = /^"([0-9a-f]{64})"$/.exec(head.headers.get("ETag") ?? "")?.[1] ?? null;
  const canCache = HEARTH_FILE.test(url.pathname) && etag &&
    typeof navigator !== "undefined" && navigator.storage?.getDirectory &&
    typeof FileSystemFileHandle !== "undefined" &&
    "createSyncAccessHandle" in FileSystemFileHandle.prototype;
  if (!canCache) {
    const why = !HEARTH_FILE.test(url.pathname) ? "not a hearth model URL"
      : !etag ? "the server sent no sha256 ETag" : "no OPFS here";
    return {
      size,
      expectedSha256: etag,
      fill: (write) => downloadUncached(url, size, etag, write, onProgress, doFetch, why),
    };
  }
  return {
    size,
    expectedSha256: etag,
    fill: (write) => fillFromCache(url, size, etag, write, onProgress, doFetch),
  };
}

async function describeFailure(res, url) {
  let message = `${res.status} ${res.statusText}`;
  try {
    message = (await res.json()).error?.message ?? message;
  } catch { /* not JSON (a HEAD has no body) */ }
  return `cannot fetch the model (${url.pathname}): ${message}`;
}

// Streams `res`'s body, calling onChunk(bytes) for each piece.
async function readBody(res, onChunk) {
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    await onChunk(value);
  }
}

async function downloadUncached(url, size, etag, write, onProgress, doFetch, why) {
  const res = await doFetch(url);
  if (!res.ok) throw new Error(await describeFailure(res, url));
  const hash = etag ? new Sha256() : null;
  let offset = 0;
  await readBody(res, (chunk) => {
    if (offset + chunk.length > size) throw new Error(`${url}: more bytes than announced`);
    write(chunk, offset);
    hash?.update(chunk);
    offset += chunk.length;
    onProgress({ phase: "download", loaded: offset, total: size });
  });
  if (offset !== size) throw new Error(`${url}: the download ended at ${offset} of ${size} bytes`);
  if (hash) checkHash(hash.hex(), etag, "the download");
  return { fromCache: false, bytesFetched: offset, requests: 1, cache: `none (${why})` };
}

function checkHash(got, want, what) {
  if (got !== want) throw new Error(`${what} is corrupted: sha256 ${got}, expected ${want}`);
}

// The cached file for `sha`, as a sync access handle (closed by the caller).
async function openCacheFile(sha) {
  const root = await navigator.storage.getDirectory();
  const dir = await root.getDirectoryHandle("hearth-models", { create: true });
  const file = await dir.getFileHandle(`${sha}.gguf`, { create: true });
  return file.createSyncAccessHandle();
}

// Fails fast when navigator.storage.estimate() says `need` more bytes will not fit.
export async function ensureRoom(need) {
  if (need <= 0 || !navigator.storage?.estimate) return;
  const { quota, usage } = await navigator.storage.estimate();
  if (quota === undefined || usage === undefined) return;
  const free = quota - usage;
  if (need > free) {
    throw new Error(`the model needs ${MiB(need)} more in this browser's storage, but only ` +
                    `${MiB(free)} of its quota is free: free some space (or delete other ` +
                    "sites' data) and load again");
  }
}

async function fillFromCache(url, size, sha, write, onProgress, doFetch) {
  const handle = await openCacheFile(sha);
  try {
    let stats = await cachedPass(url, size, sha, handle, write, onProgress, doFetch);
    if (stats.verified) return stats;
    // The cached bytes do not hash to the file's sha256 (a disk error, a bug, tampering):
    // drop them and download once more.
    handle.truncate(0);
    handle.flush();
    stats = await cachedPass(url, size, sha, handle, write, onProgress, doFetch);
    if (!stats.verified) checkHash(stats.got, sha, "the downloaded model");
    stats.cache = "corrupted cache entry replaced";
    return stats;
  } finally {
    handle.close();
  }
}

// One pass: the cached prefix into the heap, then the rest from the network (Range) into the
// cache and the heap, hashing everything. Returns { verified, got, ... }.
async function cachedPass(url, size, sha, handle, write, onProgress, doFetch) {
  let have = handle.getSize();
  if (have > size) {
    handle.truncate(0);
    have = 0;
  }
  if (have < size) await ensureRoom(size - have);
  let hash = new Sha256();
  const buffer = new Uint8Array(Math.min(CHUNK, size));
  for (let off = 0; off < have; off += CHUNK) {
    const n = handle.read(buffer.subarray(0, Math.min(CHUNK, have - off)), { at: off });
    const chunk = buffer.subarray(0, n);
    write(chunk, off);
    hash.update(chunk);
    onProgress({ phase: "cache", loaded: off + n, total: size });
  }
  const stats = { fromCache: have === size, resumedAt: have < size && have > 0 ? have : 0,
                  bytesFetched: 0, requests: 0, cache: have === size ? "hit" : "miss" };
  if (have < size) {
    const headers = have > 0 ? { Range: `bytes=${have}-`, "If-Range": `"${sha}"` } : {};
    const res = await doFetch(url, { headers });
    stats.requests += 1;
    if (!res.ok) throw new Error(await describeFailure(res, url));
    let offset = have;
    if (res.status !== 206) {
      // The server sent the whole file (the range was ignored): start over.
      offset = 0;
      hash = new Sha256();
      handle.truncate(0);
    }
    try {
      await readBody(res, (chunk) => {
        if (offset + chunk.length > size) throw new Error(`${url}: more bytes than announced`);
        try {
          handle.write(chunk, { at: offset });
        } catch (e) {
          // The estimate said it would fit, but the quota (or the disk) says otherwise.
          if (e?.name !== "QuotaExceededError") throw e;
          throw new Error(`this browser's storage is full after ${MiB(offset)} of the model's ` +
                          `${MiB(size)}: free some space (or delete other sites' data) and ` +
                          "load again; the download resumes");
        }
        write(chunk, offset);
        hash.update(chunk);
        offset += chunk.length;
        stats.bytesFetched += chunk.length;
        onProgress({ phase: "download", loaded: offset, total: size });
      });
    } finally {
      handle.flush();  // what arrived stays cached: the next load resumes after it
    }
    if (offset !== size) {
      throw new Error(`the download stopped at ${MiB(offset)} of ${MiB(size)}; loading again ` +
                      "resumes from there");
    }
    if (have > 0) stats.cache = `resumed at ${MiB(have)}`;
  }
  stats.got = hash.hex();
  stats.verified = stats.got === sha;
  return stats;
}
