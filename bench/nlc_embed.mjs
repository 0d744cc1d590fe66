// Embeddings per second of llama.cpp on an embedding GGUF, through the prebuilt CPU build in
// npm's node-llama-cpp, to set beside `hearth_rag_bench embed` on the same file and passages in
// the same run. A reference only: hearth never links it, and it is installed outside the
// repository (see bench/nlc_speed.mjs).
//
//   NODE_PATH=/tmp/nlc/node_modules node bench/nlc_embed.mjs MODEL.gguf --file PASSAGES.txt [-t 2] [-r 3]
//
// PASSAGES.txt holds one passage a line; each is embedded on its own (getEmbeddingFor), one
// after another, as hearth's RAG embedder does. One untimed pass, then -r timed passes; the
// median is printed as one JSON line.
import { createRequire } from 'node:module';
import fs from 'node:fs';

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`nlc_embed: ${name} takes a positive integer`);
    process.exit(2);
  }
  return value;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const modelPath = process.argv[2];
  const fileAt = process.argv.indexOf('--file');
  if (!modelPath || modelPath.startsWith('-') || fileAt < 0 || !process.argv[fileAt + 1]) {
    console.error('usage: node bench/nlc_embed.mjs MODEL.gguf --file PASSAGES.txt [-t 2] [-r 3]');
    process.exit(2);
  }
  const passages = fs.readFileSync(process.argv[fileAt + 1], 'utf8').split('\n').filter((l) => l);
  const threads = option('-t', 2);
  const reps = option('-r', 3);
  const require = createRequire(import.meta.url);
  const { getLlama, LlamaLogLevel } = await import(require.resolve('node-llama-cpp'));
  const llama = await getLlama({ gpu: false, build: 'never', skipDownload: true,
    logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
  const context = await model.createEmbeddingContext({ contextSize: 512, batchSize: 512, threads });
  let tokens = 0;
  for (const p of passages) tokens += context.calculateInputLength(p);

  const rates = [];
  let dimension = 0;
  for (let r = -1; r < reps; ++r) {
    const start = performance.now();
    for (const p of passages) dimension = (await context.getEmbeddingFor(p)).vector.length;
    if (r >= 0) rates.push(passages.length / ((performance.now() - start) / 1000));
  }
  const perSecond = median(rates);
  console.log(JSON.stringify({ engine: 'llama.cpp (node-llama-cpp)', model: modelPath, threads,
    passages: passages.length, tokens_per_passage: Number((tokens / passages.length).toFixed(1)),
    dimension, embeddings_per_second: Number(perSecond.toFixed(1)),
    tokens_per_second: Math.round(perSecond * tokens / passages.length), runs: reps }));
  await context.dispose();
  await model.dispose();
  await llama.dispose();
}

main().catch((err) => {
  console.error(`nlc_embed: ${err.stack ?? err}`);
  process.exit(1);
});
