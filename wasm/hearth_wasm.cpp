// A small C API over hearth's engine for the WebAssembly build (exported to JavaScript by
// wasm/CMakeLists.txt). JavaScript copies a GGUF file's bytes into the wasm heap, loads it,
// and then tokenizes, decodes, reads logits and generates through handles.
//
// Ownership: each loaded model gets one session (one conversation); a handle names the pair
// until hearth_free. Buffers passed in are borrowed for the call; buffers returned (logits,
// strings) belong to the handle and stay valid until its next call.
// Errors: a call that fails returns a negative number (or null) and hearth_last_error() says
// why; nothing throws into JavaScript. Thread-safety: every call comes from the one thread
// that runs the module's JavaScript (the page's Web Worker, or Node's main thread), one at a
// time. In the threaded build (hearth_wasm_mt, -pthread) a session's decode also runs on its
// own thread pool's pthreads, which start and end with the session; none of them calls in here.
#include <cstdint>
#include <cstring>
#include <ctime>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/chat/model_template.h"
#include "engine/chat/template.h"
#include "engine/gguf/gguf.h"
#include "engine/models/model_weights.h"
#include "engine/sampler/sampler.h"
#include "engine/tensor/quant.h"
#include "engine/tensor/types.h"
#include "engine/tokenizer/tokenizer.h"
#include "hearth/engine.h"

#define HEARTH_EXPORT extern "C" __attribute__((used, visibility("default")))

namespace {

// A loaded model and its session, or only a tokenizer (a vocabulary-only GGUF): then model
// and session are null and only the tokenizer calls work.
struct Instance {
  std::shared_ptr<hearth::Model> model;
  std::unique_ptr<hearth::Session> session;
  std::unique_ptr<hearth::Tokenizer> own_tokenizer;  // set for tokenizer-only handles
  std::string text;                                  // the last string returned to JavaScript
  int n_threads = 1;                                 // the session's, counting the caller

  const hearth::Tokenizer& tokenizer() const {
    return own_tokenizer ? *own_tokenizer : model->tokenizer();
  }
};

std::vector<std::unique_ptr<Instance>> g_instances;  // index = handle
std::string g_last_error;
std::string g_text;  // the last string returned by a call without a handle

int fail(std::string message) {
  g_last_error = std::move(message);
  return -1;
}

Instance* instance(int handle) {
  if (handle < 0 || static_cast<size_t>(handle) >= g_instances.size() ||
      !g_instances[static_cast<size_t>(handle)]) {
    g_last_error = "invalid handle " + std::to_string(handle);
    return nullptr;
  }
  return g_instances[static_cast<size_t>(handle)].get();
}

// A handle with a model and session (not tokenizer-only).
Instance* model_instance(int handle) {
  Instance* in = instance(handle);
  if (in && !in->session) {
    g_last_error = "handle " + std::to_string(handle) + " holds only a tokenizer";
    return nullptr;
  }
  return in;
}

int add_instance(std::unique_ptr<Instance> entry) {
  g_instances.push_back(std::move(entry));
  return static_cast<int>(g_instances.size() - 1);
}

// Runs `body` and turns an escaping exception (e.g. std::bad_alloc when the page's memory is
// exhausted) into an error value, so the module stays usable.
template <class Body>
int guarded(Body&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    return fail(std::string("hearth: ") + e.what());
  } catch (...) {
    return fail("hearth: unknown exception");
  }
}

}  // namespace

HEARTH_EXPORT const char* hearth_last_error() {
  return g_last_error.c_str();
}

namespace {

// A model's GGUF bytes being written by JavaScript (hearth_model_buffer), until
// hearth_load_buffer hands them to the Model without a copy.
std::vector<uint8_t> g_pending_model;

#ifdef __EMSCRIPTEN_PTHREADS__
// A bound against nonsense, not a tuning: the JavaScript side also keeps a session's threads
// within the pthread pool it started the module with.
constexpr int kMaxThreads = 64;
#else
constexpr int kMaxThreads = 1;
#endif

// A session's thread count as asked for (0: one), or a message saying why it cannot be.
std::string check_threads(int& n_threads) {
  if (n_threads == 0) n_threads = 1;
  if (n_threads < 0) return "n_threads = " + std::to_string(n_threads) + " is negative";
  if (n_threads > kMaxThreads) {
    return kMaxThreads == 1
               ? "this wasm build is single-threaded (hearth_wasm.js); " +
                     std::to_string(n_threads) + " threads need the threaded one, hearth_wasm_mt.js"
               : "n_threads = " + std::to_string(n_threads) + " is above " +
                     std::to_string(kMaxThreads);
  }
  return {};
}

// Loads a model from its GGUF bytes (moved into the Model, which keeps them), with a session
// of `n_threads` threads.
int load_model(std::vector<uint8_t> bytes, int n_ctx, int n_threads) {
  return guarded([&] {
    if (bytes.empty()) return fail("no GGUF bytes given");
    if (std::string why = check_threads(n_threads); !why.empty()) return fail(why);
    hearth::ModelOptions options;
    options.n_threads = n_threads;
    options.n_ctx = n_ctx;
    auto model = hearth::Model::load_from_memory(std::move(bytes), options);
    if (!model) return fail(model.error().message);
    hearth::SessionOptions session_options;
    session_options.n_threads = n_threads;
    // Session's constructor starts its thread pool: a pthread beyond the module's pool is an
    // exception (PTHREAD_POOL_SIZE_STRICT=2), which guarded() turns into this call's error.
    auto session = hearth::Session::create(*model, session_options);
    if (!session) return fail(session.error().message);
    auto entry = std::make_unique<Instance>();
    entry->n_threads = n_threads;
    entry->model = std::move(*model);
    entry->session = std::make_unique<hearth::Session>(std::move(*session));
    return add_instance(std::move(entry));
  });
}

}  // namespace

// Loads a GGUF file from `size` bytes at `bytes` (copied; the caller may free them) with a
// context of `n_ctx` positions (0: the model's default) and a session decoding on `n_threads`
// threads (0: one; more only in the threaded build). Returns a handle >= 0.
HEARTH_EXPORT int hearth_load(const uint8_t* bytes, size_t size, int n_ctx, int n_threads) {
  if (bytes == nullptr || size == 0) return fail("no GGUF bytes given");
  return guarded(
      [&] { return load_model(std::vector<uint8_t>(bytes, bytes + size), n_ctx, n_threads); });
}

// The zero-copy way for big files: a buffer of `size` bytes in the heap for JavaScript to
// fill (as the download arrives), then hearth_load_buffer. The file is then in memory once,
// not twice. Null when the heap cannot grow that far. A second call drops the first buffer.
HEARTH_EXPORT uint8_t* hearth_model_buffer(size_t size) {
  std::vector<uint8_t>().swap(g_pending_model);
  const int rc = guarded([&] {
    g_pending_model.resize(size);
    return 0;
  });
  return rc < 0 ? nullptr : g_pending_model.data();
}

// Loads the model from hearth_model_buffer's bytes (consumed either way), as hearth_load
// does. Returns a handle.
HEARTH_EXPORT int hearth_load_buffer(int n_ctx, int n_threads) {
  return load_model(std::exchange(g_pending_model, {}), n_ctx, n_threads);
}

// The most threads a session of this build may have: 1 in the single-threaded build.
HEARTH_EXPORT int hearth_max_threads() {
  return kMaxThreads;
}

// Loads only the tokenizer of a GGUF file (e.g. a vocabulary-only one). Returns a handle.
HEARTH_EXPORT int hearth_load_tokenizer(const uint8_t* bytes, size_t size) {
  return guarded([&] {
    if (bytes == nullptr || size == 0) return fail("no GGUF bytes given");
    auto file = hearth::gguf::File::from_memory(std::vector<uint8_t>(bytes, bytes + size));
    if (!file) return fail("GGUF in memory: " + file.error().message);
    auto tokenizer = hearth::Tokenizer::from_gguf(*file);
    if (!tokenizer) return fail("GGUF in memory: " + tokenizer.error().message);
    auto entry = std::make_unique<Instance>();
    entry->own_tokenizer = std::make_unique<hearth::Tokenizer>(std::move(*tokenizer));
    return add_instance(std::move(entry));
  });
}

HEARTH_EXPORT void hearth_free(int handle) {
  if (instance(handle)) g_instances[static_cast<size_t>(handle)].reset();
}

HEARTH_EXPORT int hearth_n_vocab(int handle) {
  Instance* in = instance(handle);
  return in ? in->tokenizer().n_vocab() : -1;
}

HEARTH_EXPORT int hearth_n_ctx(int handle) {
  Instance* in = model_instance(handle);
  return in ? in->session->n_ctx() : -1;
}

// The threads the handle's session decodes on (counting the calling one).
HEARTH_EXPORT int hearth_n_threads(int handle) {
  Instance* in = model_instance(handle);
  return in ? in->n_threads : -1;
}

HEARTH_EXPORT int hearth_n_past(int handle) {
  Instance* in = model_instance(handle);
  return in ? in->session->n_past() : -1;
}

// Tokenizes `size` bytes of UTF-8 at `text` into at most `capacity` ids at `out`. Returns the
// number of ids; when it exceeds `capacity` only the first `capacity` were written.
HEARTH_EXPORT int hearth_tokenize(int handle, const char* text, size_t size, int add_special,
                                  int parse_special, int32_t* out, int capacity) {
  Instance* in = instance(handle);
  if (!in) return -1;
  return guarded([&] {
    const std::vector<int32_t> ids =
        in->tokenizer().encode(std::string_view(text, size), add_special != 0, parse_special != 0);
    const size_t n = std::min(ids.size(), static_cast<size_t>(std::max(capacity, 0)));
    if (n > 0) std::memcpy(out, ids.data(), n * sizeof(int32_t));
    return static_cast<int>(ids.size());
  });
}

// The text of `n` ids (special tokens rendered when `render_special`), NUL-terminated; owned
// by the handle. Null on error.
HEARTH_EXPORT const char* hearth_detokenize(int handle, const int32_t* ids, int n,
                                            int render_special) {
  Instance* in = instance(handle);
  if (!in || n < 0) return nullptr;
  const int rc = guarded([&] {
    in->text = in->tokenizer().decode(std::span<const int32_t>(ids, static_cast<size_t>(n)),
                                      render_special != 0);
    return 0;
  });
  return rc < 0 ? nullptr : in->text.c_str();
}

// Forgets every position from `n_past` on (0: a new conversation).
HEARTH_EXPORT int hearth_rewind(int handle, int n_past) {
  Instance* in = model_instance(handle);
  if (!in) return -1;
  in->session->rewind(n_past);
  return in->session->n_past();
}

// Evaluates `n` ids after the current position; with `all_logits` every token's logits are
// kept (hearth_logits(handle, i) for i in [0, n)), else only the last one's. 0 on success.
HEARTH_EXPORT int hearth_decode(int handle, const int32_t* ids, int n, int all_logits) {
  Instance* in = model_instance(handle);
  if (!in) return -1;
  return guarded([&] {
    if (n <= 0) return fail("nothing to decode");
    auto s =
        in->session->decode(std::span<const int32_t>(ids, static_cast<size_t>(n)), all_logits != 0);
    return s ? 0 : fail(s.error().message);
  });
}

// The n_vocab logits after the i-th token of the last decode (-1: its last), or null.
HEARTH_EXPORT const float* hearth_logits(int handle, int i) {
  Instance* in = model_instance(handle);
  if (!in) return nullptr;
  std::span<const float> row = in->session->logits(i);
  if (row.empty()) {
    g_last_error = "no logits for row " + std::to_string(i) + " of the last decode";
    return nullptr;
  }
  return row.data();
}

// What a GPU path needs to run the model's forward pass itself (wasm/js/webgpu.js): the
// hyper-parameters as the engine resolved them, the architecture's variations, and for every
// tensor its name, type, dims and where its raw GGUF bytes sit in the wasm heap (the Model
// owns them, so the addresses stay valid until hearth_free). Also the RoPE frequency divisors
// the engine uses for this session's context (llama3 rope_freqs; empty when none). JSON,
// valid until the handle's next call; null on error.
// (This and hearth_dequantize are exported by HEARTH_EXPORT's `used` attribute, as
// EMSCRIPTEN_KEEPALIVE would; CMakeLists.txt's list does not need to name them.)
HEARTH_EXPORT const char* hearth_model_desc(int handle) {
  Instance* in = model_instance(handle);
  if (!in) return nullptr;
  const int rc = guarded([&] {
    const hearth::models::ModelWeights& w = in->model->weights();
    const hearth::models::HyperParams& hp = w.hp;
    const hearth::models::ArchSpec& arch = *w.arch;
    nlohmann::ordered_json desc;
    desc["arch"] = std::string(arch.name);
    desc["family"] = arch.family == hearth::models::Family::kLlama ? "llama" : "bert";
    desc["rope_style"] =
        arch.rope_style == hearth::models::RopeStyle::kAdjacentPairs ? "adjacent" : "neox";
    desc["n_vocab"] = hp.n_vocab;
    desc["n_ctx"] = in->session->n_ctx();
    desc["n_embd"] = hp.n_embd;
    desc["n_layer"] = hp.n_layer;
    desc["n_ff"] = hp.n_ff;
    desc["n_head"] = hp.n_head;
    desc["n_head_kv"] = hp.n_head_kv;
    desc["head_dim"] = hp.head_dim;
    desc["n_rot"] = hp.n_rot;
    desc["rms_eps"] = hp.rms_eps;
    desc["rope_freq_base"] = hp.rope_freq_base;
    desc["rope_scaling"] = hp.rope_scaling == hearth::models::RopeScalingType::kNone     ? "none"
                           : hp.rope_scaling == hearth::models::RopeScalingType::kLinear ? "linear"
                                                                                         : "yarn";
    desc["rope_freq_scale"] = hp.rope_freq_scale;
    desc["rope_attn_factor"] = hp.rope_attn_factor;
    desc["rope_factors"] = w.rope_factors_for(in->session->n_ctx());
    desc["n_swa"] = hp.n_swa;
    desc["swa_period"] = hp.swa_period;
    desc["rope_freq_base_swa"] = hp.rope_freq_base_swa;
    desc["nope_period"] = hp.nope_period;
    desc["n_expert"] = hp.n_expert;
    desc["fused_qkv"] = w.layers.empty() ? false : w.layers.front().wqkv.data != nullptr;
    desc["fused_gate_up"] = arch.fused_gate_up;
    desc["qk_norm"] = arch.qk_norm;
    desc["post_norms"] = arch.post_norms;
    desc["scale_embedding"] = arch.scale_embedding;
    desc["ffn_silu"] = arch.ffn_activation == hearth::models::FfnActivation::kSilu;
    desc["tied_output"] = w.tied_output;
    const hearth::Tokenizer& tok = in->model->tokenizer();
    desc["bos"] = tok.bos_id();
    desc["eos"] = tok.eos_id();
    desc["add_bos"] = tok.add_bos();
    auto chat_template = in->model->file().get_string_or("tokenizer.chat_template", "");
    desc["chat_template"] = chat_template ? std::string(*chat_template) : std::string();
    nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
    for (const hearth::gguf::TensorInfo& t : in->model->file().tensors()) {
      tensors.push_back({{"name", std::string(t.name)},
                         {"type", std::string(hearth::traits(t.type).name)},
                         {"dims", t.dims},
                         {"ptr", reinterpret_cast<uintptr_t>(t.data)},
                         {"bytes", t.n_bytes}});
    }
    desc["tensors"] = std::move(tensors);
    in->text = desc.dump();
    return 0;
  });
  return rc < 0 ? nullptr : in->text.c_str();
}

// Dequantizes `n` elements of GGUF type `type` (its numeric id) from `src` to F32 at `dst`, with
// the engine's own routines: the reference the WebGPU kernel tests compare the shaders'
// in-shader dequantization with. 0 on success.
HEARTH_EXPORT int hearth_dequantize(int type, const void* src, int n, float* dst) {
  const auto traits = hearth::tensor_type_traits(static_cast<uint32_t>(type));
  if (!traits || !hearth::can_dequantize(traits->type))
    return fail("type " + std::to_string(type) + " cannot be dequantized");
  if (n <= 0 || n % traits->block_size != 0)
    return fail(std::to_string(n) + " elements is not a whole number of blocks");
  hearth::dequantize_row(traits->type, src, dst, n);
  return 0;
}

// Generates up to `max_tokens` ids after decoding the `n` prompt ids, stopping after an
// end-of-generation token (which is written). temperature <= 0 is greedy; otherwise top_k,
// top_p and min_p as in SamplerParams (pass the defaults 40, 0.95, 0.05 for llama.cpp-like
// sampling) with `seed`. Returns how many ids were written to `out`.
HEARTH_EXPORT int hearth_generate(int handle, const int32_t* prompt, int n, int max_tokens,
                                  float temperature, int top_k, float top_p, float min_p,
                                  uint32_t seed, int32_t* out) {
  Instance* in = model_instance(handle);
  if (!in) return -1;
  return guarded([&] {
    hearth::SamplerParams params;
    params.temperature = temperature;
    params.top_k = top_k;
    params.top_p = top_p;
    params.min_p = min_p;
    params.seed = seed;
    if (auto s = params.validate(); !s) return fail(s.error().message);
    hearth::Sampler sampler(params);
    for (int i = 0; i < n; ++i) sampler.accept(prompt[i]);
    std::vector<int32_t> next(prompt, prompt + n);
    int written = 0;
    while (written < max_tokens) {
      if (auto s = in->session->decode(next); !s) {
        return written > 0 ? written : fail(s.error().message);
      }
      const int32_t id = sampler.sample(in->session->logits());
      sampler.accept(id);
      out[written++] = id;
      if (in->model->tokenizer().is_end_of_generation(id)) break;
      if (in->session->n_past() >= in->session->n_ctx()) break;
      next.assign(1, id);
    }
    return written;
  });
}

// Renders a chat template (`source`, Jinja text) for a request given as JSON:
//   {"messages": [...], "tools": [...], "add_generation_prompt": true, "bos_token": "<s>",
//    "eos_token": "</s>", "template_kwargs": {...}}   (all but messages optional)
// strftime_now() sees the system clock, or year-month-day at noon when `year` > 0. Returns the
// prompt text (valid until the next call), or null.
HEARTH_EXPORT const char* hearth_apply_template(const char* source, size_t source_size,
                                                const char* request_json, size_t request_size,
                                                int year, int month, int day) {
  const int rc = guarded([&] {
    hearth::chat::TemplateOptions options;
    if (year > 0) {
      options.clock = [year, month, day] {
        std::tm tm{};
        tm.tm_year = year - 1900;
        tm.tm_mon = month - 1;
        tm.tm_mday = day;
        tm.tm_hour = 12;
        return tm;
      };
    }
    auto tmpl = hearth::chat::ChatTemplate::parse(std::string_view(source, source_size), options);
    if (!tmpl) return fail(tmpl.error().message);
    const auto json = nlohmann::ordered_json::parse(std::string_view(request_json, request_size),
                                                    nullptr, /*allow_exceptions=*/false);
    if (!json.is_object() || !json.contains("messages")) {
      return fail("the request must be a JSON object with \"messages\"");
    }
    hearth::chat::ChatRequest request;
    request.messages = json["messages"];
    if (json.contains("tools")) request.tools = json["tools"];
    if (json.contains("template_kwargs")) request.template_kwargs = json["template_kwargs"];
    if (json.contains("add_generation_prompt")) {
      if (!json["add_generation_prompt"].is_boolean())
        return fail("add_generation_prompt: not a boolean");
      request.add_generation_prompt = json["add_generation_prompt"].get<bool>();
    }
    for (const char* key : {"bos_token", "eos_token"}) {
      if (!json.contains(key)) continue;
      if (!json[key].is_string()) return fail(std::string(key) + ": not a string");
      (key[0] == 'b' ? request.bos_token : request.eos_token) = json[key].get<std::string>();
    }
    auto text = hearth::chat::apply_chat_template(*tmpl, request);
    if (!text) return fail(text.error().message);
    g_text = std::move(*text);
    return 0;
  });
  return rc < 0 ? nullptr : g_text.c_str();
}

// The bytes of token `id` as it appears in generated text (special tokens rendered), for
// streaming: a piece may hold part of a UTF-8 character, so JavaScript joins the bytes before
// decoding. Writes at most `capacity` bytes to `out`; returns the piece's length (more than
// `capacity`: call again with room), or -1.
HEARTH_EXPORT int hearth_token_piece(int handle, int32_t id, uint8_t* out, int capacity) {
  Instance* in = instance(handle);
  if (!in) return -1;
  if (id < 0 || id >= in->tokenizer().n_vocab()) {
    return fail("token " + std::to_string(id) + " is outside the vocabulary");
  }
  return guarded([&] {
    const std::string piece = in->tokenizer().token_to_piece(id, /*render_special=*/false);
    const size_t n = std::min(piece.size(), static_cast<size_t>(std::max(capacity, 0)));
    if (n > 0) std::memcpy(out, piece.data(), n);
    return static_cast<int>(piece.size());
  });
}

// What JavaScript needs to drive a loaded model, as JSON (valid until the handle's next call):
//   {"arch", "name", "nVocab", "nCtx", "bos", "eos", "addBos", "bosToken", "eosToken",
//    "eog": [ids ending a generation], "chatTemplate": source, "chatTemplateIsFallback"}
// The chat template is the one the native server uses (model_chat_template: the GGUF's, or
// ChatML when it has none). Null on error.
HEARTH_EXPORT const char* hearth_model_info(int handle) {
  Instance* in = model_instance(handle);
  if (!in) return nullptr;
  const int rc = guarded([&] {
    const hearth::Tokenizer& tok = in->tokenizer();
    auto tmpl = hearth::chat::model_chat_template(in->model->file(), tok);
    nlohmann::ordered_json info;
    info["arch"] = in->model->info().arch;
    info["name"] = in->model->info().name;
    info["nVocab"] = tok.n_vocab();
    info["nCtx"] = in->session->n_ctx();
    info["bos"] = tok.bos_id();
    info["eos"] = tok.eos_id();
    info["addBos"] = tok.add_bos();
    nlohmann::ordered_json eog = nlohmann::ordered_json::array();
    for (int32_t id = 0; id < tok.n_vocab(); ++id) {
      if (tok.is_end_of_generation(id)) eog.push_back(id);
    }
    info["eog"] = std::move(eog);
    if (tmpl) {
      info["bosToken"] = tmpl->bos_token;
      info["eosToken"] = tmpl->eos_token;
      info["chatTemplate"] = tmpl->source;
      info["chatTemplateIsFallback"] = tmpl->is_fallback;
    } else {
      info["chatTemplate"] = nullptr;
      info["chatTemplateError"] = tmpl.error().message;
    }
    in->text = info.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    return 0;
  });
  return rc < 0 ? nullptr : in->text.c_str();
}
