// The generation loop every engine shares (ENGINE.md): chat template -> tokens -> decode ->
// sample -> text, with the KV cache reused across turns, stop strings, UTF-8 split safely
// across tokens, and the usage and timings a reply reports. It yields plain events; hearth.js
// turns them into OpenAI's chat.completion shapes.
//
// Events: { type: "text", text } ... then exactly one
//         { type: "done", finishReason: "stop" | "length", usage, timings }.
// Errors (a template that refuses the conversation, a prompt longer than the context) throw.
import { Sampler } from "./sampler.js";

// Lets queued messages (an abort from the page) run between tokens: the engine's decode is
// synchronous wasm, so without a macrotask boundary the worker would never see them.
const yieldToEventLoop = typeof setImmediate === "function"
  ? () => new Promise((resolve) => setImmediate(resolve))
  : (() => {
      const channel = new MessageChannel();
      const waiting = [];
      channel.port1.onmessage = () => waiting.shift()?.();
      return () => new Promise((resolve) => {
        waiting.push(resolve);
        channel.port2.postMessage(0);
      });
    })();

const now = () => (typeof performance !== "undefined" ? performance.now() : Date.now());

// How much of `text`'s end could be the start of a stop string: that part is held back until
// the next token says whether the stop string follows.
function heldSuffix(text, stops) {
  let hold = 0;
  for (const stop of stops) {
    for (let n = Math.min(stop.length - 1, text.length); n > hold; --n) {
      if (stop.startsWith(text.slice(text.length - n))) {
        hold = n;
        break;
      }
    }
  }
  return hold;
}

export class Generator {
  constructor(engine) {
    this.engine = engine;
    this.cached = [];  // the ids in the engine's KV cache, in order
    const info = engine.info;
    this.eog = new Set(info.eog ?? (info.eos >= 0 ? [info.eos] : []));
  }

  // The prompt's ids: the model's template, special tokens parsed, the tokenizer's BOS rule
  // applied once (a template that writes BOS itself does not get a second one), as the native
  // server does (chat_prompt_tokens).
  promptIds(messages) {
    const text = this.engine.applyTemplate(messages, true);
    const ids = Array.from(this.engine.tokenize(text, true, true));
    const bos = this.engine.info.bos;
    if (bos >= 0 && ids.length >= 2 && ids[0] === bos && ids[1] === bos) ids.shift();
    return ids;
  }

  // `request`: OpenAI's chat fields (messages, max_tokens / max_completion_tokens,
  // temperature, top_p, seed, stop) plus top_k and min_p. `signal`: an AbortSignal-like
  // { aborted } checked between tokens.
  async *run(request, signal = { aborted: false }) {
    const engine = this.engine;
    const nCtx = engine.info.nCtx;
    const ids = this.promptIds(request.messages);
    if (ids.length >= nCtx) {
      throw new Error(`the prompt is ${ids.length} tokens; this model's context holds ${nCtx}`);
    }
    const maxTokens = request.max_completion_tokens ?? request.max_tokens ?? nCtx;
    const stops = request.stop == null ? [] : [].concat(request.stop).filter((s) => s);
    const sampler = new Sampler({
      temperature: request.temperature ?? 1,
      top_p: request.top_p ?? 1,
      top_k: request.top_k ?? 40,
      min_p: request.min_p ?? 0.05,
      seed: request.seed ?? undefined,
    });

    // Reuse the longest cached prefix, but decode at least one id: its logits start the reply.
    let common = 0;
    while (common < this.cached.length && common < ids.length - 1 &&
           this.cached[common] === ids[common]) {
      ++common;
    }
    engine.rewind(common);
    this.cached = ids.slice(0, common);
    const promptStart = now();
    let logits = await engine.decode(Int32Array.from(ids.slice(common)));
    this.cached = ids.slice();
    const promptMs = now() - promptStart;

    const decoder = new TextDecoder("utf-8");
    let pending = "";  // text produced but held back (a possible stop string start)
    let completion = 0;
    let finishReason = "length";
    const genStart = now();
    while (completion < maxTokens) {
      if (signal.aborted) {
        finishReason = "stop";
        break;
      }
      const id = sampler.sample(logits);
      if (this.eog.has(id)) {
        finishReason = "stop";
        break;
      }
      ++completion;
      pending += decoder.decode(engine.tokenPiece(id), { stream: true });
      const stopAt = stops.reduce((best, s) => {
        const at = pending.indexOf(s);
        return at >= 0 && (best < 0 || at < best) ? at : best;
      }, -1);
      if (stopAt >= 0) {
        if (stopAt > 0) yield { type: "text", text: pending.slice(0, stopAt) };
        pending = "";
        finishReason = "stop";
        break;
      }
      const hold = heldSuffix(pending, stops);
      if (pending.length > hold) {
        yield { type: "text", text: pending.slice(0, pending.length - hold) };
        pending = pending.slice(pending.length - hold);
      }
      if (completion >= maxTokens || engine.nPast >= nCtx) break;
      logits = await engine.decode(Int32Array.of(id));
      this.cached.push(id);
      await yieldToEventLoop();
    }
    // What was held back, and a character left incomplete at the end, still belong to the reply.
    pending += decoder.decode();
    if (pending) yield { type: "text", text: pending };
    const genMs = now() - genStart;
    const round = (v) => Math.round(v * 1000) / 1000;
    const perSecond = (n, ms) => (ms > 0 ? round((n * 1000) / ms) : 0);
    const promptN = ids.length - common;
    yield {
      type: "done",
      finishReason,
      usage: {
        prompt_tokens: ids.length,
        completion_tokens: completion,
        total_tokens: ids.length + completion,
        prompt_tokens_details: { cached_tokens: common },
      },
      timings: {
        cache_n: common,
        prompt_n: promptN,
        prompt_ms: round(promptMs),
        prompt_per_second: perSecond(promptN, promptMs),
        predicted_n: completion,
        predicted_ms: round(genMs),
        predicted_per_second: perSecond(completion, genMs),
      },
    };
  }
}
