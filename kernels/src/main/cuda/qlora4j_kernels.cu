// qlora4j CUDA kernels: the GPU implementations of the contracts in io.qlora4j.kernels (Matmul, RmsNorm, Rope,
// Attention, SwiGlu, CrossEntropy, AdamW) and io.qlora4j.kernels.quant (BlockwiseKernels.dequantize). Each kernel is
// named like the Java method it implements and repeats the Java reference's fp32 arithmetic in the same order, so that
// results are bit-identical to io.qlora4j.kernels.cpu.Reference* where the contract says so (dequantize, matmul, rope,
// adamw, attention backward, the elementwise parts of rmsnorm) and within the contract's ulp tolerance elsewhere (expf,
// float64 reductions in a tree order). Written for correctness first: plain fp32, no tensor cores, no tiling.
//
// Built with -fmad=false: nvcc would otherwise contract a*b+c into one fused multiply-add, which Java never does;
// a fused multiply-add is written as fmaf exactly where the Java reference calls Math.fma.
//
// No constant tables live here: the code tables (Codebook.NF4, FP4, ..., DYNAMIC_SIGNED) are passed by the Java side as
// device arrays uploaded from io.qlora4j.kernels.quant.Codebook, the one copy of every table in the project.
//
// Dimension letters: M rows of activations (B·T), K in features, N out features, C channels, H hidden (MLP width).
// extern "C" keeps the symbol names equal to the kernel names the Java side looks up with cuModuleGetFunction.

#include <cstdint>

namespace {

// The block constants of a blockwise-quantized tensor (BlockScales): plain fp32 absmax values, or double-quantized
// ones (DoubleQuantScales: absmax[b] = table2[codes2[b]] · absmax2[b / 256] + offset, two fp32 roundings).
struct Scales {
    const float* absmax;      // (blocks) plain fp32 absmax, or nullptr when double-quantized
    const uint8_t* codes2;    // (blocks) 8-bit codes of absmax − offset (double quant only)
    const float* absmax2;     // (ceil(blocks / 256)) second-level fp32 absmax (double quant only)
    const float* table2;      // (256) the second-level code table, Codebook.DYNAMIC_SIGNED (double quant only)
    float offset;             // mean of the first-level absmax values (double quant only)

    __device__ float of(int64_t block) const {
        if (absmax != nullptr) return absmax[block];
        return __fadd_rn(__fmul_rn(table2[codes2[block]], absmax2[block / 256]), offset);
    }
};

// One blockwise-quantized tensor: code of element i is a nibble (4-bit: element 2j in the high nibble of byte j)
// or a byte (8-bit); it decodes to table[code] · absmax(i / blocksize).
struct Quantized {
    const uint8_t* codes;     // 4-bit: (n+1)/2 bytes; 8-bit: n bytes
    const float* table;       // (2^bits) decoded values of the codebook
    int bits;                 // 4 or 8
    int blocksize;
    Scales scales;

    __device__ float at(int64_t i) const {
        int code;
        if (bits == 8) {
            code = codes[i];
        } else {
            uint8_t b = codes[i >> 1];
            code = (i & 1) == 0 ? b >> 4 : b & 0x0F;
        }
        return __fmul_rn(table[code], scales.of(i / blocksize));
    }
};

// A dense fp32 weight (rows, cols) row-major.
struct Dense {
    const float* data;
    __device__ float at(int64_t i) const { return data[i]; }
};

}  // namespace

// A quantized weight crosses the kernel boundary as flat parameters (no struct by value, whose byte layout the Java side
// would have to mirror): DeviceQuantized.appendTo passes them in this order. Double quantization: absmax == nullptr.
#define QUANTIZED_PARAMS const uint8_t* codes, const float* table, int bits, int blocksize, const float* absmax, \
                         const uint8_t* codes2, const float* absmax2, const float* table2, float offset
#define QUANTIZED_ARGS Quantized{codes, table, bits, blocksize, Scales{absmax, codes2, absmax2, table2, offset}}

// ---------------------------------------------------------------------------------------------------------------------
// Dequantization (BlockwiseKernels.dequantize; ReferenceBlockwise): dst[k] = decode(start + k) for k in [0, len).
// Launched with one thread per element; the grid-stride loop would also cover a smaller grid.

extern "C" __global__ void dequantize_blockwise(float* __restrict__ dst, int64_t start, int64_t len, QUANTIZED_PARAMS) {
    Quantized q = QUANTIZED_ARGS;
    for (int64_t k = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; k < len; k += (int64_t) gridDim.x * blockDim.x) {
        dst[k] = q.at(start + k);
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// Matmul (io.qlora4j.kernels.Matmul, ReferenceMatmul): every output element starts from its old value (accumulate) or
// 0 and adds its products one at a time in ascending order of the summed index with fmaf, so the result is bit-identical
// to the Java reference and does not depend on how the work is split. The weight is decoded on the fly (never stored
// dequantized). One thread per output element: plain fp32 FMA, no tensor cores; the bf16 tensor-core kernel is separate
// work (issue 8) with its own, looser contract.

template <typename W>
__device__ void matmul_forward_body(float* out, const float* in, W w, int M, int N, int K, bool accumulate) {
    int64_t idx = blockIdx.x * (int64_t) blockDim.x + threadIdx.x;   // over (M, N), n fastest
    if (idx >= (int64_t) M * N) return;
    int r = (int) (idx / N), j = (int) (idx % N);
    float acc = accumulate ? out[idx] : 0.0f;
    const float* x = in + (int64_t) r * K;
    int64_t row = (int64_t) j * K;
    for (int l = 0; l < K; l++) acc = fmaf(x[l], w.at(row + l), acc);
    out[idx] = acc;
}

// out (M, N) = in (M, K) · Wᵀ, W (N, K) dense
extern "C" __global__ void matmul_forward_dense(float* out, const float* in, int M, int N, int K, int accumulate, const float* w) {
    matmul_forward_body(out, in, Dense{w}, M, N, K, accumulate != 0);
}

// out (M, N) = in (M, K) · Wᵀ, W (N, K) blockwise-quantized (the fused dequantize + matmul)
extern "C" __global__ void matmul_forward_quantized(float* out, const float* in, int M, int N, int K, int accumulate,
                                                    QUANTIZED_PARAMS) {
    matmul_forward_body(out, in, QUANTIZED_ARGS, M, N, K, accumulate != 0);
}

template <typename W>
__device__ void matmul_backward_input_body(float* dIn, const float* dOut, W w, int M, int N, int K, bool accumulate) {
    int64_t idx = blockIdx.x * (int64_t) blockDim.x + threadIdx.x;   // over (M, K), k fastest
    if (idx >= (int64_t) M * K) return;
    int r = (int) (idx / K), c = (int) (idx % K);
    float acc = accumulate ? dIn[idx] : 0.0f;
    const float* d = dOut + (int64_t) r * N;
    for (int j = 0; j < N; j++) acc = fmaf(d[j], w.at((int64_t) j * K + c), acc);
    dIn[idx] = acc;
}

// dIn (M, K) = dOut (M, N) · W, W (N, K) dense
extern "C" __global__ void matmul_backward_input_dense(float* dIn, const float* dOut, int M, int N, int K, int accumulate, const float* w) {
    matmul_backward_input_body(dIn, dOut, Dense{w}, M, N, K, accumulate != 0);
}

// dIn (M, K) = dOut (M, N) · W, W (N, K) blockwise-quantized
extern "C" __global__ void matmul_backward_input_quantized(float* dIn, const float* dOut, int M, int N, int K, int accumulate,
                                                           QUANTIZED_PARAMS) {
    matmul_backward_input_body(dIn, dOut, QUANTIZED_ARGS, M, N, K, accumulate != 0);
}

// dW (N, K) += dOutᵀ (N, M) · in (M, K), rows r in ascending order
extern "C" __global__ void matmul_backward_weight(float* dWeight, const float* dOut, const float* in, int M, int N, int K) {
    int64_t idx = blockIdx.x * (int64_t) blockDim.x + threadIdx.x;   // over (N, K), k fastest
    if (idx >= (int64_t) N * K) return;
    int j = (int) (idx / K), c = (int) (idx % K);
    float acc = dWeight[idx];
    for (int r = 0; r < M; r++) acc = fmaf(dOut[(int64_t) r * N + j], in[(int64_t) r * K + c], acc);
    dWeight[idx] = acc;
}

// ---------------------------------------------------------------------------------------------------------------------
// RMSNorm (io.qlora4j.kernels.RmsNorm, ReferenceRmsNorm). One block per row; the row's float64 reductions go through
// shared memory (each fp32 square and product is exact or rounded as in Java, the float64 sum order differs: the
// contract allows a few ulps in rstd and in the row projection). Everything elementwise is in the Java order.
// Launched with ROW_THREADS threads per block (Launch.THREADS on the Java side), like every row-per-block kernel here.

#define ROW_THREADS 256

__device__ double block_sum(double v, double* shared) {
    shared[threadIdx.x] = v;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) shared[threadIdx.x] += shared[threadIdx.x + s];
        __syncthreads();
    }
    double total = shared[0];
    __syncthreads();
    return total;
}

// out (N, C) = w ⊙ (x · rstd), rstd (N) = 1 / sqrt(Σx² / C + eps) (written when rstd != nullptr)
extern "C" __global__ void rmsnorm_forward(float* out, float* rstd, const float* in, const float* weight, int N, int C, float eps) {
    __shared__ double shared[ROW_THREADS];
    int r = blockIdx.x;
    const float* x = in + (int64_t) r * C;
    double ss = 0.0;
    for (int i = threadIdx.x; i < C; i += blockDim.x) ss += (double) x[i] * x[i];
    ss = block_sum(ss, shared);
    float s = (float) (1.0 / sqrt(ss / C + (double) eps));
    if (rstd != nullptr && threadIdx.x == 0) rstd[r] = s;
    float* o = out + (int64_t) r * C;
    for (int i = threadIdx.x; i < C; i += blockDim.x) o[i] = weight[i] * (x[i] * s);
}

// dIn (N, C) = rstd · (dOut⊙w − (x·rstd) · mean(dOut⊙w ⊙ x·rstd)), written or added
extern "C" __global__ void rmsnorm_backward_input(float* dIn, const float* dOut, const float* in, const float* weight,
                                                  const float* rstd, int N, int C, int accumulate) {
    __shared__ double shared[ROW_THREADS];
    int r = blockIdx.x;
    int64_t off = (int64_t) r * C;
    float s = rstd[r];
    double dot = 0.0;
    for (int i = threadIdx.x; i < C; i += blockDim.x) dot += (double) (dOut[off + i] * weight[i]) * (in[off + i] * s);
    float meanDot = (float) (block_sum(dot, shared) / C);
    for (int i = threadIdx.x; i < C; i += blockDim.x) {
        float g = (dOut[off + i] * weight[i] - (in[off + i] * s) * meanDot) * s;
        dIn[off + i] = accumulate ? dIn[off + i] + g : g;
    }
}

// dW (C) += Σ_rows dOut ⊙ (x · rstd), rows in ascending order (bit-identical to the reference); one thread per channel
extern "C" __global__ void rmsnorm_backward_weight(float* dWeight, const float* dOut, const float* in, const float* rstd, int N, int C) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= C) return;
    float acc = dWeight[i];
    for (int r = 0; r < N; r++) {
        int64_t off = (int64_t) r * C;
        acc += dOut[off + i] * (in[off + i] * rstd[r]);
    }
    dWeight[i] = acc;
}

// ---------------------------------------------------------------------------------------------------------------------
// SwiGLU (io.qlora4j.kernels.SwiGlu, ReferenceSwiGlu), elementwise over n = rows · H; expf (not __expf) is within
// 2 ulps of the correctly rounded exp, so results agree with Math.exp within the contract's few ulps.

extern "C" __global__ void swiglu_forward(float* out, const float* gate, const float* up, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float g = gate[i];
    out[i] = g / (1.0f + expf(-g)) * up[i];
}

extern "C" __global__ void swiglu_backward(float* dGate, float* dUp, const float* dOut, const float* gate, const float* up, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float g = gate[i];
    float u = up[i];
    float d = dOut[i];
    float onePlusE = 1.0f + expf(-g);
    float sigmoid = 1.0f / onePlusE;
    dUp[i] = d * (g / onePlusE);
    dGate[i] = d * u * (sigmoid * (1.0f + g * (1.0f - sigmoid)));
}

// ---------------------------------------------------------------------------------------------------------------------
// RoPE (io.qlora4j.kernels.Rope, ReferenceRope), in place: pair j of head h of row r is rotated by the row's angle,
// (a, b) -> (a·cos − b·sin', a·sin' + b·cos) with sin' = direction·sin (direction −1: the backward pass, the transpose).
// cos and sin are gathered per row on the host from RopeTable. One thread per pair; bit-identical (no contraction).

extern "C" __global__ void rope_rotate(float* x, const float* cos, const float* sin, int rows, int heads, int HS,
                                       int interleaved, float direction) {
    int P = HS / 2;
    int64_t idx = blockIdx.x * (int64_t) blockDim.x + threadIdx.x;   // over (rows, heads, P), j fastest
    if (idx >= (int64_t) rows * heads * P) return;
    int j = (int) (idx % P);
    int64_t rh = idx / P;                                            // r · heads + h
    int r = (int) (rh / heads);
    float c = cos[(int64_t) r * P + j];
    float sn = direction * sin[(int64_t) r * P + j];
    float* v = x + rh * HS;
    int i0 = interleaved ? 2 * j : j;
    int i1 = interleaved ? 2 * j + 1 : j + P;
    float a = v[i0];
    float b = v[i1];
    v[i0] = a * c - b * sn;
    v[i1] = a * sn + b * c;
}

// ---------------------------------------------------------------------------------------------------------------------
// Cross-entropy (io.qlora4j.kernels.CrossEntropy, ReferenceCrossEntropy): one block per row for the forward pass (max,
// then Σ of fp32 expf(x − max) in float64 in a tree order, lse = max + log(sum) in float64), elementwise backward.
// expf is within 2 ulps of exp, and the float64 sum order differs: the contract's fp32 tolerance, not bit identity.

#define IGNORE_INDEX (-100)

// Java's Math.max: NaN wins
__device__ float java_max(float a, float b) {
    if (a != a) return a;
    if (b != b) return b;
    return a > b ? a : b;
}

__device__ float block_max(float v, float* shared) {
    shared[threadIdx.x] = v;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) shared[threadIdx.x] = java_max(shared[threadIdx.x], shared[threadIdx.x + s]);
        __syncthreads();
    }
    float m = shared[0];
    __syncthreads();
    return m;
}

// losses (N), logSumExp (N): fp32; rowLoss (N): the float64 loss the Java side sums in row order; 0 for ignored rows
extern "C" __global__ void cross_entropy_forward(float* losses, float* logSumExp, double* rowLoss, const float* logits,
                                                 const int* targets, int N, int V) {
    __shared__ float sharedMax[ROW_THREADS];
    __shared__ double sharedSum[ROW_THREADS];
    int r = blockIdx.x;
    int t = targets[r];
    if (t == IGNORE_INDEX) {   // uniform over the block: no thread reaches a barrier
        if (threadIdx.x == 0) {
            losses[r] = 0.0f;
            logSumExp[r] = 0.0f;
            rowLoss[r] = 0.0;
        }
        return;
    }
    const float* x = logits + (int64_t) r * V;
    float max = -INFINITY;
    for (int i = threadIdx.x; i < V; i += blockDim.x) max = java_max(max, x[i]);
    max = block_max(max, sharedMax);
    double sum = 0.0;
    for (int i = threadIdx.x; i < V; i += blockDim.x) sum += (double) expf(x[i] - max);
    sum = block_sum(sum, sharedSum);
    if (threadIdx.x == 0) {
        double lse = max + log(sum);
        double loss = lse - x[t];
        losses[r] = (float) loss;
        logSumExp[r] = (float) lse;
        rowLoss[r] = loss;
    }
}

// dLogits (N, V) = (softmax − onehot) · scale for target rows, 0 for ignored rows; dLogits may be logits (each thread
// reads only the element it writes)
extern "C" __global__ void cross_entropy_backward(float* dLogits, const float* logits, const float* logSumExp,
                                                  const int* targets, int N, int V, float scale) {
    int64_t idx = blockIdx.x * (int64_t) blockDim.x + threadIdx.x;
    if (idx >= (int64_t) N * V) return;
    int r = (int) (idx / V), i = (int) (idx % V);
    int t = targets[r];
    if (t == IGNORE_INDEX) {
        dLogits[idx] = 0.0f;
        return;
    }
    float e = expf(logits[idx] - logSumExp[r]);
    dLogits[idx] = i == t ? (e - 1.0f) * scale : e * scale;
}

// ---------------------------------------------------------------------------------------------------------------------
// Causal grouped-query attention (io.qlora4j.kernels.Attention, ReferenceAttention). Dimension letters: B sequences,
// Tq query rows and Tk key rows per sequence, NH query heads, NKV KV heads, HS head size, G = NH/NKV; query row t sees
// keys 0..offset+t. Forward and the query half of the backward pass: one block per (b, h, t) row of the probabilities
// (B, NH, Tq, Tk). The key/value half: one thread per element of dk/dv, summing over (h, t) in the reference's order.
// Dot products and weighted sums are sequential fmaf in the reference's order; the forward softmax uses expf and a
// float64 tree sum (the contract's tolerance); given the same probabilities the backward pass is bit-identical.

// Decodes a probability row index (b·NH + h)·Tq + t.
struct AttentionRow {
    int b, h, t, kh, n;          // n: visible keys
    int64_t qo;                  // offset of (b, t, h) in q, out, dq, dOut
    __device__ AttentionRow(int row, int Tq, int offset, int NH, int NKV, int HS) {
        t = row % Tq;
        int bh = row / Tq;
        h = bh % NH;
        b = bh / NH;
        kh = h / (NH / NKV);
        n = offset + t + 1;
        qo = ((int64_t) (b * Tq + t) * NH + h) * HS;
    }
    __device__ int64_t ko(int s, int Tk, int NKV, int HS) const {   // offset of (b, s, kh) in k, v, dk, dv
        return ((int64_t) (b * Tk + s) * NKV + kh) * HS;
    }
};

// out (B·Tq, NH·HS); probs (B, NH, Tq, Tk), zeros where masked; q (B·Tq, NH·HS); k, v (B·Tk, NKV·HS)
extern "C" __global__ void attention_forward(float* out, float* probs, const float* q, const float* k, const float* v,
                                             int B, int Tq, int Tk, int offset, int NH, int NKV, int HS, float scale) {
    __shared__ float sharedMax[ROW_THREADS];
    __shared__ double sharedSum[ROW_THREADS];
    AttentionRow a(blockIdx.x, Tq, offset, NH, NKV, HS);
    float* p = probs + (int64_t) blockIdx.x * Tk;
    float max = -INFINITY;
    for (int s = threadIdx.x; s < a.n; s += blockDim.x) {
        const float* ks = k + a.ko(s, Tk, NKV, HS);
        float acc = 0.0f;
        for (int d = 0; d < HS; d++) acc = fmaf(q[a.qo + d], ks[d], acc);
        p[s] = acc * scale;
        max = java_max(max, p[s]);
    }
    max = block_max(max, sharedMax);
    double sum = 0.0;
    for (int s = threadIdx.x; s < a.n; s += blockDim.x) {
        float e = expf(p[s] - max);
        p[s] = e;
        sum += e;
    }
    float factor = 1.0f / (float) block_sum(sum, sharedSum);
    for (int s = threadIdx.x; s < Tk; s += blockDim.x) p[s] = s < a.n ? p[s] * factor : 0.0f;
    __syncthreads();
    for (int d = threadIdx.x; d < HS; d += blockDim.x) {
        float acc = 0.0f;
        for (int s = 0; s < a.n; s++) acc = fmaf(p[s], v[a.ko(s, Tk, NKV, HS) + d], acc);
        out[a.qo + d] = acc;
    }
}

// dq (B·Tq, NH·HS) written; dS (B, NH, Tq, Tk) written: the scaled score gradients P·(dP − Σ P·dP)·scale, 0 where masked
extern "C" __global__ void attention_backward_query(float* dq, float* dS, const float* dOut, const float* q, const float* k,
                                                    const float* v, const float* probs, int B, int Tq, int Tk, int offset,
                                                    int NH, int NKV, int HS, float scale) {
    __shared__ float sharedPdp;
    AttentionRow a(blockIdx.x, Tq, offset, NH, NKV, HS);
    const float* p = probs + (int64_t) blockIdx.x * Tk;
    float* ds = dS + (int64_t) blockIdx.x * Tk;
    for (int s = threadIdx.x; s < a.n; s += blockDim.x) {   // dP_s = dOut_t · v_s
        const float* vs = v + a.ko(s, Tk, NKV, HS);
        float acc = 0.0f;
        for (int d = 0; d < HS; d++) acc = fmaf(dOut[a.qo + d], vs[d], acc);
        ds[s] = acc;
    }
    __syncthreads();
    if (threadIdx.x == 0) {   // Σ P·dP in key order, as the reference
        float pdp = 0.0f;
        for (int s = 0; s < a.n; s++) pdp = fmaf(p[s], ds[s], pdp);
        sharedPdp = pdp;
    }
    __syncthreads();
    float pdp = sharedPdp;
    for (int s = threadIdx.x; s < Tk; s += blockDim.x) ds[s] = s < a.n ? p[s] * (ds[s] - pdp) * scale : 0.0f;
    __syncthreads();
    for (int d = threadIdx.x; d < HS; d += blockDim.x) {
        float acc = 0.0f;
        for (int s = 0; s < a.n; s++) acc = fmaf(ds[s], k[a.ko(s, Tk, NKV, HS) + d], acc);
        dq[a.qo + d] = acc;
    }
}

// dk, dv (B·Tk, NKV·HS) written: Σ over the G query heads of the KV head and the query rows that see key s, in
// (h, t) order: dv += P·dOut, dk += dS·q. Rows no query sees are 0.
extern "C" __global__ void attention_backward_kv(float* dk, float* dv, const float* dOut, const float* q, const float* probs,
                                                 const float* dS, int B, int Tq, int Tk, int offset, int NH, int NKV, int HS) {
    int64_t idx = blockIdx.x * (int64_t) blockDim.x + threadIdx.x;   // over (B, Tk, NKV, HS), d fastest
    if (idx >= (int64_t) B * Tk * NKV * HS) return;
    int d = (int) (idx % HS);
    int64_t r = idx / HS;
    int kh = (int) (r % NKV);
    int64_t bs = r / NKV;
    int s = (int) (bs % Tk);
    int b = (int) (bs / Tk);
    int G = NH / NKV;
    float accK = 0.0f, accV = 0.0f;
    for (int h = kh * G; h < (kh + 1) * G; h++) {
        for (int t = s > offset ? s - offset : 0; t < Tq; t++) {   // query t sees key s when s <= offset + t
            int64_t pi = ((int64_t) (b * NH + h) * Tq + t) * Tk + s;
            int64_t qi = ((int64_t) (b * Tq + t) * NH + h) * HS + d;
            accV = fmaf(probs[pi], dOut[qi], accV);
            accK = fmaf(dS[pi], q[qi], accK);
        }
    }
    dk[idx] = accK;
    dv[idx] = accV;
}

// ---------------------------------------------------------------------------------------------------------------------
// AdamW 32-bit (io.qlora4j.kernels.AdamW.adamw32bit, ReferenceAdamW.update32bit; bnb kOptimizer32bit2State ADAM).
// The per-step scalars come from AdamWStep (Java), so every operation is the reference's: sqrtf and '/' are correctly
// rounded (nvcc's default -prec-sqrt=true -prec-div=true), and with -fmad=false the update is bit-identical.

extern "C" __global__ void adamw32bit(float* p, const float* g, float* m, float* v, int n, float beta1, float oneMinusBeta1,
                                      float beta2, float oneMinusBeta2, float stepSize, float epsC2, int decay,
                                      float decayFactor, float gradScale) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float gi = gradScale * g[i];
    float mi = m[i] * beta1 + oneMinusBeta1 * gi;
    float vi = v[i] * beta2 + oneMinusBeta2 * (gi * gi);
    float pi = p[i] + stepSize * (mi / (sqrtf(vi) + epsC2));
    if (decay) pi = pi * decayFactor;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi;
}

// ---------------------------------------------------------------------------------------------------------------------
// AdamW 8-bit blockwise (AdamW.adamw8bit, ReferenceAdamW.updateMoments8bit / updateParams8bit / encode8bit; bnb
// kOptimizerStatic8bit2StateBlockwise). One block of ROW_THREADS = AdamW.BLOCK_SIZE_8BIT threads per state block, one
// element per thread. The code tables and the encoder's boundaries (their fp32 midpoints) come from Codebook; the block
// maxima are exact, so the update is bit-identical to the reference.

// Codebook.encode of a sorted table: the number of boundaries strictly below x (NaN: 0)
__device__ int count_below(const float* bounds, int count, float x) {
    int lo = 0, hi = count;
    while (lo < hi) {
        int mid = (lo + hi) >> 1;
        if (bounds[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

// ReferenceAdamW.keepSign: a signed code whose value's sign bit differs from m's moves one code towards m's sign
__device__ int keep_sign(int code, float m, const float* signedTable) {
    bool codeNegative = __float_as_int(signedTable[code]) < 0;
    bool mNegative = __float_as_int(m) < 0;
    if (codeNegative == mNegative) return code;
    return m > 0.0f ? code + 1 : code - 1;
}

extern "C" __global__ void adamw8bit(float* p, const float* g, uint8_t* mCodes, uint8_t* vCodes, float* absmaxM,
                                     float* absmaxV, int n, const float* signedTable, const float* signedBounds,
                                     const float* unsignedTable, const float* unsignedBounds, float minAbsmax,
                                     float beta1, float oneMinusBeta1, float beta2, float oneMinusBeta2, float stepSize,
                                     float epsC2, int decay, float decayFactor, float gradScale) {
    __shared__ float sharedM[ROW_THREADS];
    __shared__ float sharedV[ROW_THREADS];
    int b = blockIdx.x;
    int64_t i = (int64_t) b * blockDim.x + threadIdx.x;
    bool active = i < n;
    float oldM = absmaxM[b], oldV = absmaxV[b];   // read by every thread before thread 0 overwrites them (barriers below)
    float gi = active ? g[i] : 0.0f;
    bool finite = active && isfinite(gi);
    float mi = 0.0f, vi = 0.0f;
    if (finite) {
        gi = gi * gradScale;
        vi = unsignedTable[vCodes[i]] * oldV;
        vi = vi * beta2 + oneMinusBeta2 * gi * gi;
        mi = signedTable[mCodes[i]] * oldM;
        mi = mi * beta1 + oneMinusBeta1 * gi;
    }
    float maxM = block_max(fabsf(mi), sharedM);
    float maxV = block_max(fabsf(vi), sharedV);
    if (threadIdx.x == 0) {
        absmaxM[b] = maxM;
        absmaxV[b] = maxV;
    }
    if (finite) {
        float pi = p[i] + stepSize * (mi / (sqrtf(vi) + epsC2));
        if (decay) pi = pi * decayFactor;
        p[i] = pi;
    }
    if (active) {
        float dm = java_max(maxM, minAbsmax);
        float dv = java_max(maxV, minAbsmax);
        mCodes[i] = (uint8_t) keep_sign(count_below(signedBounds, 255, mi / dm), mi, signedTable);
        vCodes[i] = (uint8_t) count_below(unsignedBounds, 255, vi / dv);
    }
}

// Σ x² in float64 (AdamW.sumOfSquares): block b sums elements [b·chunk, (b+1)·chunk) into partial[b]; the Java side adds
// the partial sums in block order, so the result is deterministic (its order differs from the reference's, as allowed).
extern "C" __global__ void sum_of_squares(double* partial, const float* x, int n, int chunk) {
    __shared__ double shared[ROW_THREADS];
    int64_t from = (int64_t) blockIdx.x * chunk;
    int64_t to = min((int64_t) n, from + chunk);
    double s = 0.0;
    for (int64_t i = from + threadIdx.x; i < to; i += blockDim.x) s += (double) x[i] * x[i];
    s = block_sum(s, shared);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}
