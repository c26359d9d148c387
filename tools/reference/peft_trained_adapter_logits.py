"""Non-trivial PEFT adapters and their logits, computed by Hugging Face transformers + peft on CPU in float32 (eval mode).

The fixture ../shared/data/fixtures/tiny_lora_adapter is a freshly initialised adapter: its lora_B matrices are zero,
so it is a no-op and its golden logits equal the base's. This script gives the adapters something to do:

- tiny_lora_adapter_trained/: the fixture with every lora_B set to seeded Gaussian values (std 0.05), saved by peft;
  logits of tiny_llama_base + this adapter.
- stories260K_hf_lora/: a fresh peft LoRA (r 4, alpha 8, dropout 0, all seven projections) on models/stories260K-hf
  with seeded Gaussian lora_B (std 0.05), saved by peft; logits of stories260K-hf + this adapter. Its q/k lora_B rows
  are in Hugging Face (rotate_half) order, so the same adapter applied to the llama2.c file stories260K.bin
  (interleaved rows) must give the same logits.

Run (not needed by the build or the tests; /work/refvenv has torch, transformers, peft):
    python3 tools/reference/peft_trained_adapter_logits.py ../shared/data model/src/test/resources
writes <resources>/adapters/{tiny_lora_adapter_trained,stories260K_hf_lora}/ and
<resources>/golden/peft_trained_adapter_logits.json.
"""
import json
import os
import sys

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM

SHARED = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
OUT = sys.argv[2] if len(sys.argv) > 2 else "model/src/test/resources"


def randomize_lora_b(model, seed):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)


def logits(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0]


def rounded(t):
    return [[float("%.7g" % v) for v in row] for row in t.tolist()]


def save(model, folder, base_name):
    model.save_pretrained(folder)
    os.remove(os.path.join(folder, "README.md"))   # peft's empty model card
    config_file = os.path.join(folder, "adapter_config.json")
    with open(config_file) as f:
        config = json.load(f)
    config["base_model_name_or_path"] = base_name   # not this machine's absolute path
    with open(config_file, "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)   # as peft writes it
    for name in os.listdir(folder):
        os.chmod(os.path.join(folder, name), 0o644)


golden = {"produced_by": "tools/reference/peft_trained_adapter_logits.py (torch %s, transformers, peft; float32, eval mode)"
                         % torch.__version__}

tiny_ids = [1, 5, 9, 20, 7, 3, 64, 100, 127, 2]
base = AutoModelForCausalLM.from_pretrained(f"{SHARED}/fixtures/tiny_llama_base", dtype=torch.float32).eval()
tiny = PeftModel.from_pretrained(base, f"{SHARED}/fixtures/tiny_lora_adapter", is_trainable=True).eval()
randomize_lora_b(tiny, 11)
save(tiny, f"{OUT}/adapters/tiny_lora_adapter_trained", "fixtures/tiny_llama_base")
golden["tiny"] = {"ids": tiny_ids, "adapted_logits": rounded(logits(tiny, tiny_ids))}

# "Once upon a time, there was" in tok512
stories_ids = [1, 403, 407, 261, 378, 432, 383, 286]
base = AutoModelForCausalLM.from_pretrained(f"{SHARED}/models/stories260K-hf", dtype=torch.float32).eval()
torch.manual_seed(5)   # lora_A's Kaiming-uniform initialisation
config = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, task_type="CAUSAL_LM",
                    target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
stories = get_peft_model(base, config).eval()
randomize_lora_b(stories, 13)
save(stories, f"{OUT}/adapters/stories260K_hf_lora", "models/stories260K-hf")
golden["stories260K"] = {"ids": stories_ids, "adapted_logits": rounded(logits(stories, stories_ids))}

os.makedirs(f"{OUT}/golden", exist_ok=True)
with open(f"{OUT}/golden/peft_trained_adapter_logits.json", "w") as f:
    json.dump(golden, f)
    f.write("\n")
