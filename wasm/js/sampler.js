// Picks the next token from a logits array, for every engine (ENGINE.md: sampling is shared,
// so the WASM and WebGPU engines answer a seeded request identically given the same logits).
//
// temperature <= 0 is greedy (argmax, the lowest id on ties). Otherwise, in this order: top-k
// (k <= 0: off), softmax at the temperature, top-p (nucleus; 1: off), min-p (drop tokens below
// min_p times the best probability; 0: off), then one draw from what is left with a seeded
// generator. The order and defaults follow the native server's sampler (top_k 40, min_p 0.05)
// so both feel alike; the random streams differ, so seeded outputs are reproducible per engine
// family, not across native and browser.

export function argmax(logits) {
  let best = 0;
  for (let i = 1; i < logits.length; ++i) if (logits[i] > logits[best]) best = i;
  return best;
}

// xoshiro128** (four 32-bit words) is more than enough for sampling; what matters is that a
// seed gives the same stream in every JavaScript engine (Math.random cannot be seeded).
class Random {
  constructor(seed) {
    // splitmix32 spreads a small seed over the state.
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next() || 1;
    this.b = next();
    this.c = next();
    this.d = next();
  }

  // A float in [0, 1).
  next() {
    // xoshiro128** step.
    const r = Math.imul(((Math.imul(this.b, 5) << 7) | (Math.imul(this.b, 5) >>> 25)), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = (this.d << 11) | (this.d >>> 21);
    return r / 4294967296;
  }
}

export class Sampler {
  // { temperature = 1, top_p = 1, top_k = 40, min_p = 0.05, seed } (OpenAI's names); no seed:
  // a random one.
  constructor({ temperature = 1, top_p = 1, top_k = 40, min_p = 0.05, seed } = {}) {
    this.temperature = temperature;
    this.topP = top_p;
    this.topK = top_k;
    this.minP = min_p;
    this.random = new Random(seed ?? Math.floor(Math.random() * 2 ** 32));
  }

  sample(logits) {
    if (!(this.temperature > 0)) return argmax(logits);
    const n = logits.length;
    const k = this.topK > 0 ? Math.min(this.topK, n) : n;
    // The k best ids, best first. A partial selection would be faster for huge vocabularies;
    // a sort of the candidates above a threshold keeps this simple and fast enough (one sort
    // per token of at most n ids, usually far fewer).
    let ids;
    if (k < n) {
      ids = topKIds(logits, k);
    } else {
      ids = Array.from({ length: n }, (_, i) => i).sort((x, y) => logits[y] - logits[x]);
    }
    const max = logits[ids[0]];
    const probs = new Float64Array(ids.length);
    let sum = 0;
    for (let i = 0; i < ids.length; ++i) {
      probs[i] = Math.exp((logits[ids[i]] - max) / this.temperature);
      sum += probs[i];
    }
    let keep = ids.length;
    if (this.topP < 1) {
      let acc = 0;
      for (let i = 0; i < ids.length; ++i) {
        acc += probs[i] / sum;
        if (acc >= this.topP) {
          keep = i + 1;
          break;
        }
      }
    }
    if (this.minP > 0) {
      const floor = this.minP * probs[0];
      let i = 1;
      while (i < keep && probs[i] >= floor) ++i;
      keep = i;
    }
    let total = 0;
    for (let i = 0; i < keep; ++i) total += probs[i];
    let r = this.random.next() * total;
    for (let i = 0; i < keep; ++i) {
      r -= probs[i];
      if (r < 0) return ids[i];
    }
    return ids[keep - 1];
  }
}

// The k ids with the largest logits, best first: a min-heap of size k over one pass.
function topKIds(logits, k) {
  const heap = new Int32Array(k);
  let size = 0;
  const less = (a, b) => logits[a] < logits[b] || (logits[a] === logits[b] && a > b);
  const down = (i) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < size && less(heap[l], heap[m])) m = l;
      if (r < size && less(heap[r], heap[m])) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  };
  for (let id = 0; id < logits.length; ++id) {
    if (size < k) {
      heap[size] = id;
      let i = size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!less(heap[i], heap[p])) break;
        [heap[i], heap[p]] = [heap[p], heap[i]];
        i = p;
      }
    } else if (less(heap[0], id)) {
      heap[0] = id;
      down(0);
    }
  }
  return Array.from(heap).sort((a, b) => logits[b] - logits[a] || a - b);
}
