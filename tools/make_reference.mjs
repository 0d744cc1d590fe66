// Makes a reference file (MODEL.nlc.json) for hearth's golden tests with an independent engine:
// the prebuilt llama.cpp CPU build inside npm's node-llama-cpp. It is an oracle only: hearth
// never links it, and this script is run by hand when a fixture family is added.
//
//   mkdir -p /tmp/nlc && cd /tmp/nlc && npm install node-llama-cpp   # outside the repository
//   NODE_PATH=/tmp/nlc/node_modules node tools/make_reference.mjs MODEL.gguf PROMPTS.json OUT.json
//
// PROMPTS.json is the fixtures' prompts-nlc.json: {tokenize: [texts], teacher: text,
// greedy: text, n_greedy: N}. The output has the layout of the fixtures' *.nlc.json files:
// - tokenize[]: {text, ids}, raw (no BOS, special tokens as plain text);
// - teacher: the ids of `teacher` (with BOS where the vocabulary asks for one) and, for every
//   position, the top-10 next-token log-probabilities [id, logprob] of the full distribution,
//   with their mean and standard deviation over the vocabulary (n_probs ids with p > 0);
// - greedy: prompt ids and the argmax continuation of n_greedy tokens;
// - model: the file name, its sha256 and size, so a test can tell whether it still has the file
//   the reference was made from.
// Log-probabilities are logits minus a per-position constant: compare relative to the top-1.
import { createHash } from "node:crypto";
import { createReadStream, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";

const TOP_K = 10;

async function loadNodeLlamaCpp() {
  // Resolved through NODE_PATH, so the package never has to sit inside the repository.
  const require = createRequire(import.meta.url);
  const entry = require.resolve("node-llama-cpp");
  let dir = dirname(entry);
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  const { version } = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  return { version, module: await import(entry) };
}

function sha256(path) {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(path)
      .on("data", (chunk) => hash.update(chunk))
      .on("end", () => resolve(hash.digest("hex")))
      .on("error", reject);
  });
}

// One position's summary from node-llama-cpp's probability map (sorted, descending).
function summarize(probabilities) {
  const logs = [];
  for (const p of probabilities.values()) if (p > 0) logs.push(Math.log(p));
  const mean = logs.reduce((a, b) => a + b, 0) / logs.length;
  const variance = logs.reduce((a, b) => a + (b - mean) * (b - mean), 0) / logs.length;
  const top = [];
  for (const [id, p] of probabilities) {
    if (top.length === TOP_K) break;
    top.push([id, Math.log(p)]);
  }
  return { top, n_probs: logs.length, std: Math.sqrt(variance), mean };
}

function withBos(model, ids) {
  const bos = model.tokens.bos;
  return model.tokens.shouldPrependBosToken && bos !== null ? [bos, ...ids] : ids;
}

async function main() {
  const [modelPath, promptsPath, outPath] = process.argv.slice(2);
  if (!outPath) {
    console.error("usage: node tools/make_reference.mjs MODEL.gguf PROMPTS.json OUT.json");
    process.exit(2);
  }
  const prompts = JSON.parse(readFileSync(promptsPath, "utf8"));
  const nlc = await loadNodeLlamaCpp();
  const { getLlama, LlamaLogLevel } = nlc.module;
  // CPU only, and never build or download anything: the package's prebuilt binary or nothing.
  const llama = await getLlama({
    gpu: false,
    build: "never",
    skipDownload: true,
    logLevel: LlamaLogLevel.error,
  });
  const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
  const teacherIds = withBos(model, Array.from(model.tokenize(prompts.teacher, false)));
  const greedyPrompt = withBos(model, Array.from(model.tokenize(prompts.greedy, false)));
  const contextSize = Math.max(teacherIds.length, greedyPrompt.length + prompts.n_greedy) + 16;
  const context = await model.createContext({
    contextSize,
    batchSize: contextSize,
    sequences: 2,
    threads: 2,
  });

  // Teacher forcing: the distribution after every prefix of the text, in one evaluation.
  let sequence = context.getSequence();
  const wantAll = teacherIds.map((id) => [id, { generateNext: { probabilities: true } }]);
  const results = await sequence.controlledEvaluate(wantAll);
  const positions = teacherIds.map((_, i) => {
    if (!results[i]?.next?.probabilities) throw new Error(`no probabilities at position ${i}`);
    return summarize(results[i].next.probabilities);
  });
  sequence.dispose();

  // Greedy: feed back the most probable token each step.
  sequence = context.getSequence();
  const generated = [];
  let input = greedyPrompt.map((id, i) =>
    i + 1 === greedyPrompt.length ? [id, { generateNext: { probabilities: true } }] : id,
  );
  for (let step = 0; step < prompts.n_greedy; ++step) {
    const out = await sequence.controlledEvaluate(input);
    const probabilities = out[input.length - 1]?.next?.probabilities;
    if (!probabilities) throw new Error(`no probabilities at greedy step ${step}`);
    const [best] = probabilities.keys();
    generated.push(best);
    input = [[best, { generateNext: { probabilities: true } }]];
  }
  sequence.dispose();

  const stat = statSync(modelPath);
  const reference = {
    reference: `node-llama-cpp ${nlc.version} (its prebuilt llama.cpp, CPU)`,
    model: { file: basename(modelPath), size: stat.size, sha256: await sha256(modelPath) },
    tokenize: prompts.tokenize.map((text) => ({ text, ids: Array.from(model.tokenize(text, false)) })),
    teacher: { text: prompts.teacher, ids: teacherIds, positions },
    greedy: { text: prompts.greedy, prompt_ids: greedyPrompt, generated_ids: generated },
  };
  writeFileSync(outPath, JSON.stringify(reference) + "\n");
  await context.dispose();
  await model.dispose();
  await llama.dispose();
  console.log(`${outPath}: ${teacherIds.length} positions, ${generated.length} greedy tokens`);
}

main().catch((err) => {
  console.error(`make_reference: ${err.stack ?? err}`);
  process.exit(1);
});
