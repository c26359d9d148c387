"""Independent check of qlora4j's perplexity numbers for stories260K: Hugging Face transformers runs the fp32 model and
the same model with its linear weights round-tripped through NF4 / FP4 / Int4 blockwise quantization (blocksize 64,
the bitsandbytes default-backend algorithm restated in torch: absmax per block, x·(1/absmax), nearest code with ties
to the lower code), scoring token ids produced by qlora4j's tokenizer with the same sliding window (512, stride 256).

Usage: python tools/reference/stories260k_quantized_ppl.py ../shared/data/models/stories260K-hf ids.json
"""
import json
import math
import sys

import torch
from transformers import AutoModelForCausalLM

NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
       -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
       0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0]
FP4 = [v / 12 for v in [0, 0.0625, 8, 12, 4, 6, 2, 3, -0.0, -0.0625, -8, -12, -4, -6, -2, -3]]
INT4 = [(c - 8) / 7 for c in range(16)]


def roundtrip(w, code, blocksize=64):
    flat = w.flatten()
    n = flat.numel()
    pad = (-n) % blocksize
    x = torch.cat([flat, torch.zeros(pad)]).view(-1, blocksize)
    absmax = x.abs().amax(dim=1, keepdim=True)
    scaled = x * (1 / absmax.clamp(min=1e-38))
    table = torch.tensor(code, dtype=torch.float32)
    idx = (scaled.unsqueeze(-1) - table).abs().argmin(dim=-1)
    return (table[idx] * absmax).flatten()[:n].view_as(w)


def perplexity(model, docs, window=512, stride=256):
    total, count = 0.0, 0
    with torch.no_grad():
        for ids in docs:
            scored = 1
            begin = 0
            while scored < len(ids):
                end = min(len(ids), begin + window)
                inp = torch.tensor([ids[begin:end - 1]])
                logits = model(inp).logits[0].double()
                logp = torch.log_softmax(logits, dim=-1)
                for p in range(end - begin - 1):
                    t = begin + p + 1
                    if t >= scored:
                        total -= logp[p, ids[t]].item()
                        count += 1
                scored = end
                begin += stride
    return total / count, count


model_dir, ids_file = sys.argv[1], sys.argv[2]
docs = json.load(open(ids_file))
for name, code in [("fp32", None), ("nf4", NF4), ("fp4", FP4), ("int4", INT4)]:
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    if code is not None:
        for n, mod in model.named_modules():
            if isinstance(mod, torch.nn.Linear) and "lm_head" not in n:
                mod.weight.data = roundtrip(mod.weight.data, code)
    nll, count = perplexity(model, docs)
    print(f"{name}: nll={nll:.6f} ppl={math.exp(nll):.4f} tokens={count}")
