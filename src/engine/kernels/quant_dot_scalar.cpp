// Portable reference kernels for quantized-activation dot products, and activation
// quantization. The SIMD kernels are tested against these. Also the portable kernel table,
// which every architecture has and every other table falls back to.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "engine/kernels/activation.h"
#include "engine/kernels/attention_tile.h"
#include "engine/kernels/kernel_table.h"
#include "engine/kernels/quant_dot.h"
#include "engine/kernels/vector_ops.h"
#include "engine/tensor/fp16.h"

namespace hearth {
namespace {

const uint8_t* byte_ptr(const void* p) {
  return static_cast<const uint8_t*>(p);
}

template <class Block>
const Block* act_blocks(const void* act, size_t stride, int t) {
  return reinterpret_cast<const Block*>(byte_ptr(act) + stride * static_cast<size_t>(t));
}

int32_t dot_codes(const uint8_t* codes, const int8_t* a, int count) {
  int32_t sum = 0;
  for (int i = 0; i < count; ++i) sum += static_cast<int32_t>(codes[i]) * a[i];
  return sum;
}

// Legacy formats: decode each weight block to unsigned codes once, then for every token
//   block value = d_w * (d_a * sum(code * a) - offset * ds_a) + m_w * ds_a
// where offset is 8 / 16 for the symmetric formats and m_w the min of the affine ones.
template <class Block, void (*Decode)(const Block&, uint8_t*), int kOffset, bool kHasMin>
void row_dot_legacy(int64_t n, const void* weight_row, const void* act, size_t stride, int n_act,
                    float* out) {
  const auto* w = static_cast<const Block*>(weight_row);
  float acc[kMaxTokenTile] = {};
  uint8_t codes[kLegacyBlock];
  for (int64_t b = 0; b < n / kLegacyBlock; ++b) {
    Decode(w[b], codes);
    const float dw = fp16_to_fp32(w[b].d);
    float mw = 0.0f;
    if constexpr (kHasMin) mw = fp16_to_fp32(w[b].m);
    for (int t = 0; t < n_act; ++t) {
      const BlockQ8Act& a = act_blocks<BlockQ8Act>(act, stride, t)[b];
      const int32_t isum = dot_codes(codes, a.qs, kLegacyBlock);
      acc[t] += dw * (a.d * static_cast<float>(isum) - kOffset * a.ds) + mw * a.ds;
    }
  }
  for (int t = 0; t < n_act; ++t) out[t] = acc[t];
}

template <class Block>
void decode_nibbles(const Block& block, uint8_t* codes) {
  for (int j = 0; j < kLegacyBlock / 2; ++j) {
    codes[j] = block.qs[j] & 0x0F;
    codes[j + kLegacyBlock / 2] = block.qs[j] >> 4;
  }
}

template <class Block>
void decode_five_bits(const Block& block, uint8_t* codes) {
  decode_nibbles(block, codes);
  uint32_t qh;
  std::memcpy(&qh, block.qh, sizeof(qh));
  for (int i = 0; i < kLegacyBlock; ++i) codes[i] |= static_cast<uint8_t>(((qh >> i) & 1) << 4);
}

void row_dot_q8_0(int64_t n, const void* weight_row, const void* act, size_t stride, int n_act,
                  float* out) {
  const auto* w = static_cast<const BlockQ8_0*>(weight_row);
  float acc[kMaxTokenTile] = {};
  for (int64_t b = 0; b < n / kLegacyBlock; ++b) {
    const float dw = fp16_to_fp32(w[b].d);
    for (int t = 0; t < n_act; ++t) {
      const BlockQ8Act& a = act_blocks<BlockQ8Act>(act, stride, t)[b];
      int32_t isum = 0;
      for (int i = 0; i < kLegacyBlock; ++i) isum += static_cast<int32_t>(w[b].qs[i]) * a.qs[i];
      acc[t] += dw * a.d * static_cast<float>(isum);
    }
  }
  for (int t = 0; t < n_act; ++t) out[t] = acc[t];
}

// Q4_K / Q5_K: per super-block
//   d_w * d_a * sum_j sc_j * sum(code * a)  -  dmin_w * d_a * sum_j m_j * (sum of a over j)
// where the activation sums come from the Q8_K bsums (two per 32-element sub-block).
template <class Block, bool kFiveBit>
void row_dot_q45_k(int64_t n, const void* weight_row, const void* act, size_t stride, int n_act,
                   float* out) {
  const auto* w = static_cast<const Block*>(weight_row);
  float acc[kMaxTokenTile] = {};
  uint8_t codes[kSuperBlock];
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    uint8_t scales[8], mins[8];
    for (int j = 0; j < 8; ++j) {
      unpack_scale_min_k(w[b].scales, j, &scales[j], &mins[j]);
      for (int l = 0; l < 32; ++l) {
        uint8_t q = (w[b].qs[(j / 2) * 32 + l] >> ((j % 2) * 4)) & 0x0F;
        if constexpr (kFiveBit) q |= static_cast<uint8_t>(((w[b].qh[l] >> j) & 1) << 4);
        codes[j * 32 + l] = q;
      }
    }
    const float dw = fp16_to_fp32(w[b].d);
    const float dmin = fp16_to_fp32(w[b].dmin);
    for (int t = 0; t < n_act; ++t) {
      const BlockQ8_K& a = act_blocks<BlockQ8_K>(act, stride, t)[b];
      int32_t scaled = 0;
      int32_t min_sum = 0;
      for (int j = 0; j < 8; ++j) {
        scaled += scales[j] * dot_codes(codes + j * 32, a.qs + j * 32, 32);
        min_sum += mins[j] * (a.bsums[2 * j] + a.bsums[2 * j + 1]);
      }
      acc[t] += dw * a.d * static_cast<float>(scaled) - dmin * a.d * static_cast<float>(min_sum);
    }
  }
  for (int t = 0; t < n_act; ++t) out[t] = acc[t];
}

// Q6_K: d_w * d_a * sum_j sc_j * (sum(code * a) - 32 * bsum_j) over 16-element sub-blocks.
void row_dot_q6_k(int64_t n, const void* weight_row, const void* act, size_t stride, int n_act,
                  float* out) {
  const auto* w = static_cast<const BlockQ6_K*>(weight_row);
  float acc[kMaxTokenTile] = {};
  uint8_t codes[kSuperBlock];
  for (int64_t b = 0; b < n / kSuperBlock; ++b) {
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = w[b].ql + half * 64;
      const uint8_t* qh = w[b].qh + half * 32;
      uint8_t* c = codes + half * 128;
      for (int l = 0; l < 32; ++l) {
        c[l] = static_cast<uint8_t>((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4));
        c[l + 32] = static_cast<uint8_t>((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4));
        c[l + 64] = static_cast<uint8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
        c[l + 96] = static_cast<uint8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
      }
    }
    const float dw = fp16_to_fp32(w[b].d);
    for (int t = 0; t < n_act; ++t) {
      const BlockQ8_K& a = act_blocks<BlockQ8_K>(act, stride, t)[b];
      int32_t isum = 0;
      for (int j = 0; j < 16; ++j) {
        isum += w[b].scales[j] * (dot_codes(codes + 16 * j, a.qs + 16 * j, 16) - 32 * a.bsums[j]);
      }
      acc[t] += dw * a.d * static_cast<float>(isum);
    }
  }
  for (int t = 0; t < n_act; ++t) out[t] = acc[t];
}

template <float (*Widen)(uint16_t)>
void row_dot_half(int64_t n, const void* weight_row, const void* act, size_t stride, int n_act,
                  float* out) {
  const auto* w = static_cast<const uint16_t*>(weight_row);
  float acc[kMaxTokenTile][8] = {};
  for (int64_t k = 0; k < n; k += 8) {
    const int count = static_cast<int>(std::min<int64_t>(8, n - k));
    float wf[8];
    for (int i = 0; i < count; ++i) wf[i] = Widen(w[k + i]);
    for (int t = 0; t < n_act; ++t) {
      const float* a = act_blocks<float>(act, stride, t) + k;
      for (int i = 0; i < count; ++i) acc[t][i] += wf[i] * a[i];
    }
  }
  for (int t = 0; t < n_act; ++t) {
    float sum = 0.0f;
    for (float v : acc[t]) sum += v;
    out[t] = sum;
  }
}

void row_dot_f32(int64_t n, const void* weight_row, const void* act, size_t stride, int n_act,
                 float* out) {
  const auto* w = static_cast<const float*>(weight_row);
  float acc[kMaxTokenTile][8] = {};
  for (int64_t k = 0; k < n; k += 8) {
    const int count = static_cast<int>(std::min<int64_t>(8, n - k));
    for (int t = 0; t < n_act; ++t) {
      const float* a = act_blocks<float>(act, stride, t) + k;
      for (int i = 0; i < count; ++i) acc[t][i] += w[k + i] * a[i];
    }
  }
  for (int t = 0; t < n_act; ++t) {
    float sum = 0.0f;
    for (float v : acc[t]) sum += v;
    out[t] = sum;
  }
}

void quantize_q8_act(const float* x, BlockQ8Act* dst, int64_t n) {
  for (int64_t b = 0; b < n / kLegacyBlock; ++b, x += kLegacyBlock) {
    float absmax = 0.0f;
    for (int i = 0; i < kLegacyBlock; ++i) absmax = std::max(absmax, std::fabs(x[i]));
    const float inverse = absmax > 0.0f ? 127.0f / absmax : 0.0f;
    int sum = 0;
    for (int i = 0; i < kLegacyBlock; ++i) {
      const int q = std::clamp(static_cast<int>(std::nearbyint(x[i] * inverse)), -127, 127);
      dst[b].qs[i] = static_cast<int8_t>(q);
      sum += q;
    }
    dst[b].d = absmax / 127.0f;
    dst[b].ds = dst[b].d * static_cast<float>(sum);
  }
}

// BF16 weights and BF16 activations; each product is exact in F32.
void row_dot_bf16_act(int64_t n, const void* weight_row, const void* act, size_t stride, int n_act,
                      float* out) {
  const auto* w = static_cast<const uint16_t*>(weight_row);
  for (int t = 0; t < n_act; ++t) {
    const auto* a = act_blocks<uint16_t>(act, stride, t);
    float sum = 0.0f;
    for (int64_t k = 0; k < n; ++k) sum += bf16_to_fp32(w[k]) * bf16_to_fp32(a[k]);
    out[t] = sum;
  }
}

}  // namespace

uint16_t to_bf16_like_hardware(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  if ((bits & 0x7F800000u) == 0) return static_cast<uint16_t>((bits >> 16) & 0x8000u);
  return fp32_to_bf16(x);
}

ActivationFormat activation_format(TensorType weight_type, const KernelTable& kernels) {
  if (weight_type == TensorType::BF16 && kernels.bf16_activations) {
    return ActivationFormat::kBF16;
  }
  return activation_format(weight_type);
}

ActivationFormat activation_format(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::Q4_0:
    case TensorType::Q4_1:
    case TensorType::Q5_0:
    case TensorType::Q5_1:
    case TensorType::Q8_0: return ActivationFormat::kQ8;
    case TensorType::Q4_K:
    case TensorType::Q5_K:
    case TensorType::Q6_K: return ActivationFormat::kQ8K;
    default: return ActivationFormat::kF32;
  }
}

size_t activation_row_bytes(ActivationFormat format, int64_t n) {
  switch (format) {
    case ActivationFormat::kQ8: return static_cast<size_t>(n / kLegacyBlock) * sizeof(BlockQ8Act);
    case ActivationFormat::kQ8K: return static_cast<size_t>(n / kSuperBlock) * sizeof(BlockQ8_K);
    case ActivationFormat::kBF16: return static_cast<size_t>(n) * sizeof(uint16_t);
    case ActivationFormat::kF32: break;
  }
  return static_cast<size_t>(n) * sizeof(float);
}

void quantize_activation_row(ActivationFormat format, const float* x, void* dst, int64_t n) {
  switch (format) {
    case ActivationFormat::kQ8: return quantize_q8_act(x, static_cast<BlockQ8Act*>(dst), n);
    case ActivationFormat::kQ8K: return quantize_row_q8_k(x, static_cast<BlockQ8_K*>(dst), n);
    case ActivationFormat::kBF16: {
      auto* out = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) out[i] = to_bf16_like_hardware(x[i]);
      return;
    }
    case ActivationFormat::kF32:
      std::memcpy(dst, x, static_cast<size_t>(n) * sizeof(float));
      return;
  }
}

RowDotFn scalar_row_dot(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::F32: return row_dot_f32;
    case TensorType::F16: return row_dot_half<fp16_to_fp32>;
    case TensorType::BF16: return row_dot_half<bf16_to_fp32>;
    case TensorType::Q4_0: return row_dot_legacy<BlockQ4_0, decode_nibbles<BlockQ4_0>, 8, false>;
    case TensorType::Q4_1: return row_dot_legacy<BlockQ4_1, decode_nibbles<BlockQ4_1>, 0, true>;
    case TensorType::Q5_0: return row_dot_legacy<BlockQ5_0, decode_five_bits<BlockQ5_0>, 16, false>;
    case TensorType::Q5_1: return row_dot_legacy<BlockQ5_1, decode_five_bits<BlockQ5_1>, 0, true>;
    case TensorType::Q8_0: return row_dot_q8_0;
    case TensorType::Q4_K: return row_dot_q45_k<BlockQ4_K, false>;
    case TensorType::Q5_K: return row_dot_q45_k<BlockQ5_K, true>;
    case TensorType::Q6_K: return row_dot_q6_k;
    default: return nullptr;
  }
}

RowDotFn scalar_bf16_act_row_dot(TensorType weight_type) {
  return weight_type == TensorType::BF16 ? row_dot_bf16_act : nullptr;
}

RowDotFn find_row_dot(TensorType weight_type, const KernelTable& kernels) {
  // The kernel must take the activations matmul prepares for `kernels`: a fallback table
  // that prepares others is passed over.
  const ActivationFormat format = activation_format(weight_type, kernels);
  for (const KernelTable* table = &kernels; table; table = table->fallback) {
    if (!table->row_dot || activation_format(weight_type, *table) != format) continue;
    if (RowDotFn fn = table->row_dot(weight_type)) return fn;
  }
  return format == ActivationFormat::kBF16 ? scalar_bf16_act_row_dot(weight_type)
                                           : scalar_row_dot(weight_type);
}

const KernelTable kPortableKernels = {
    .name = "scalar",
    .required = {},
    .fallback = nullptr,
    .row_dot = scalar_row_dot,
    .quantize_activation_row = quantize_activation_row,
    .interleaved_dot = scalar_interleaved_dot,
    .swiglu = swiglu_portable,
    .copy_finite = copy_finite_portable,
    .max_value = max_value_portable,
    .exp_shifted = exp_shifted_portable,
    .attend_tile = attn::attend_tile_scalar,
};

}  // namespace hearth
