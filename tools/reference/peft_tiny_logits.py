"""Golden logits of ../shared/data/fixtures/tiny_llama_base with and without its PEFT adapter (tiny_lora_adapter),
computed by Hugging Face transformers + peft on CPU in float32 with the adapter in eval mode (no dropout).

Run (not needed by the build or the tests):
    python3 -m venv /tmp/ref && /tmp/ref/bin/pip install torch transformers peft safetensors
    /tmp/ref/bin/python tools/reference/peft_tiny_logits.py > model/src/test/resources/golden/tiny_llama_peft_logits.json
"""
import json
import sys

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

SHARED = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
ids = [1, 5, 9, 20, 7, 3, 64, 100, 127, 2]

base = AutoModelForCausalLM.from_pretrained(f"{SHARED}/fixtures/tiny_llama_base", dtype=torch.float32).eval()
with torch.no_grad():
    base_logits = base(torch.tensor([ids])).logits[0]
peft = PeftModel.from_pretrained(base, f"{SHARED}/fixtures/tiny_lora_adapter").eval()
with torch.no_grad():
    adapted_logits = peft(torch.tensor([ids])).logits[0]
merged = peft.merge_and_unload()
with torch.no_grad():
    merged_logits = merged(torch.tensor([ids])).logits[0]
json.dump({
    "produced_by": "tools/reference/peft_tiny_logits.py (torch %s, transformers, peft; float32, eval mode)" % torch.__version__,
    "ids": ids,
    "base_logits": base_logits.tolist(),
    "adapted_logits": adapted_logits.tolist(),
    "merged_minus_adapted_max_abs": float((merged_logits - adapted_logits).abs().max()),
}, sys.stdout)
