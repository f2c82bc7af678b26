#!/usr/bin/env python3
"""Logits of llmfleet's CUDA backend vs its CPU backend vs Hugging Face transformers, same random weights (issue 6).

For each model directory: a prompt of N ids is generated greedily for K tokens by `llmfleet generate --device cuda`
and `--device cpu` (--dump-logits), then transformers' AutoModelForCausalLM (bf16 on the GPU, and f32) runs the
prompt + the CUDA tokens teacher-forced; each generated position's logits row is compared. Prints the max relative
error (max |a - b| / max |b| per row, worst row) for cuda vs cpu, cuda vs transformers-bf16 and cpu vs
transformers-f32.

usage: compare_transformers.py LLMFLEET_BIN MODEL_DIR [MODEL_DIR ...]   (needs torch + transformers + a GPU)
"""
import subprocess
import sys
import tempfile

import numpy as np
import torch
from transformers import AutoModelForCausalLM

PROMPT = [(i * 7919 + 13) % 150000 for i in range(200)]
N_OUT = 16


def ours(binary, model_dir, device, out):
    subprocess.run([binary, "generate", "--model", model_dir, "--device", device, "--prompt-ids",
                    ",".join(map(str, PROMPT)), "--max-tokens", str(N_OUT), "--temperature", "0", "--ignore-eos",
                    "--output", "json", "--dump-logits", out], check=True, capture_output=True)
    return np.load(out)


def rel_err(a, b):
    return max(float(np.abs(a[i] - b[i]).max() / np.abs(b[i]).max()) for i in range(len(b)))


def main():
    binary, dirs = sys.argv[1], sys.argv[2:]
    with tempfile.TemporaryDirectory() as tmp:
        for model_dir in dirs:
            cuda = ours(binary, model_dir, "cuda", f"{tmp}/cuda.npy")
            cpu = ours(binary, model_dir, "cpu", f"{tmp}/cpu.npy")
            tokens = PROMPT + [int(np.argmax(row)) for row in cuda[:-1]]
            ids = torch.tensor([tokens], device="cuda")
            rows = slice(len(PROMPT) - 1, len(PROMPT) - 1 + N_OUT)
            ref = {}
            for name, dtype in (("bf16", torch.bfloat16), ("f32", torch.float32)):
                model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=dtype).to("cuda").eval()
                with torch.no_grad():
                    ref[name] = model(ids).logits[0, rows].float().cpu().numpy()
                del model
            print(f"{model_dir}: max relative logits error over {N_OUT} steps: cuda vs cpu {rel_err(cuda, cpu):.4f}, "
                  f"cuda vs transformers-bf16 {rel_err(cuda, ref['bf16']):.4f}, "
                  f"cpu vs transformers-f32 {rel_err(cpu, ref['f32']):.5f}")


if __name__ == "__main__":
    main()
