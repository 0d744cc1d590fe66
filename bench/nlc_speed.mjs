// Prompt and generation speed of llama.cpp on a GGUF file, through the prebuilt CPU build in
// npm's node-llama-cpp, to set beside `hearth bench` on the same file in the same run. A
// reference only: hearth never links it, and it is installed outside the repository.
//
//   mkdir -p /tmp/nlc && cd /tmp/nlc && npm install node-llama-cpp
//   NODE_PATH=/tmp/nlc/node_modules node bench/nlc_speed.mjs MODEL.gguf [-p 512] [-n 64] [-t 2] [-r 3] [-d 0]
//
// pp: N prompt tokens evaluated in one batch into an empty sequence (llama.cpp's pp N);
// tg: N tokens generated greedily one after another after a one-token prompt (tg N), or, with
// -d D, after D context tokens evaluated untimed first (llama.cpp's tg N @ d D, as `hearth
// bench -d D`). Each is repeated -r times; the median is printed, as tokens per second, one
// JSON line.
import { createRequire } from 'node:module';

function option(name, fallback, min = 1) {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isInteger(value) || value < min) {
    console.error(`nlc_speed: ${name} takes a positive integer`);
    process.exit(2);
  }
  return value;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const modelPath = process.argv[2];
  if (!modelPath || modelPath.startsWith('-')) {
    console.error('usage: node bench/nlc_speed.mjs MODEL.gguf [-p 512] [-n 64] [-t 2] [-r 3] [-d 0]');
    process.exit(2);
  }
  const nPrompt = option('-p', 512);
  const nGen = option('-n', 64);
  const threads = option('-t', 2);
  const reps = option('-r', 3);
  const depth = option('-d', 0, 0);
  const require = createRequire(import.meta.url);
  const { getLlama, LlamaLogLevel } = await import(require.resolve('node-llama-cpp'));
  const llama = await getLlama({ gpu: false, build: 'never', skipDownload: true,
    logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
  const context = await model.createContext({ contextSize: Math.max(nPrompt, depth + 1) + nGen + 256,
    batchSize: nPrompt, threads });
  // Ordinary ids spread over the vocabulary, as `hearth bench` uses: the speed of a pass does
  // not depend on which tokens it reads.
  const vocab = model.tokens.vocabularySize ?? 32000;
  const ids = (n) => Array.from({ length: n }, (_, i) => 100 + ((i * 7919) % (vocab - 200)));
  const prompt = ids(nPrompt);
  const context_tokens = ids(depth + 1);

  const pp = [];
  const tg = [];
  for (let r = 0; r < reps; ++r) {
    let sequence = context.getSequence();
    let start = performance.now();
    await sequence.evaluateWithoutGeneratingNewTokens(prompt);
    pp.push(nPrompt / ((performance.now() - start) / 1000));
    sequence.dispose();

    sequence = context.getSequence();
    if (depth > 0) await sequence.evaluateWithoutGeneratingNewTokens(context_tokens.slice(0, depth));
    let n = 0;
    start = performance.now();
    for await (const token of sequence.evaluate([context_tokens[depth]], { temperature: 0 })) {
      void token;
      if (++n >= nGen) break;
    }
    tg.push(nGen / ((performance.now() - start) / 1000));
    sequence.dispose();
  }
  console.log(JSON.stringify({ engine: 'llama.cpp (node-llama-cpp)', model: modelPath, threads,
    [`pp${nPrompt}`]: Number(median(pp).toFixed(1)),
    [depth > 0 ? `tg${nGen}@d${depth}` : `tg${nGen}`]: Number(median(tg).toFixed(1)), runs: reps }));
  await context.dispose();
  await model.dispose();
  await llama.dispose();
}

main().catch((err) => {
  console.error(`nlc_speed: ${err.stack ?? err}`);
  process.exit(1);
});
