#!/usr/bin/env python3
"""transformers' batched generate on the same model, GPU and workloads as bench_cuda_engine (the baseline column).

usage: hf_generate_bench.py MODEL_DIR   (needs torch + transformers + a GPU)
Rows: offline 1000 x (128 in, 128 out) and x (1024 in, 128 out) in batches of 256 (128 for the long prompts),
prefill 64 x 1024, decode tok/s at batch 1/32/256 (time of 128 new tokens minus the time of 1, over 127 steps).
"""
import sys
import time

import torch
from transformers import AutoModelForCausalLM


def prompt(n, salt):
    return [(i * 7919 + salt * 104729) % 150000 for i in range(n)]


def generate(model, n, n_in, n_out, salt=0):
    ids = torch.tensor([prompt(n_in, salt + i) for i in range(n)], device="cuda")
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    with torch.no_grad():
        model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n_out, min_new_tokens=n_out,
                       do_sample=False, pad_token_id=0)
    torch.cuda.synchronize()
    return time.perf_counter() - t0


def main():
    model = AutoModelForCausalLM.from_pretrained(sys.argv[1], torch_dtype=torch.bfloat16).to("cuda").eval()
    generate(model, 4, 16, 4)  # warm-up
    print(f"{'workload (transformers)':<34} {'tok/s out':>12} {'tok/s total':>12} {'s':>10}")

    def row(name, n_out, n_total, s):
        print(f"{name:<34} {n_out / s:>12.0f} {n_total / s:>12.0f} {s:>10.2f}")

    for n_in, batch in ((128, 256), (1024, 128)):
        s = sum(generate(model, batch, n_in, 128, salt=b) for b in range(0, 1000, batch))
        n = (1000 + batch - 1) // batch * batch
        row(f"offline 1000 x ({n_in} in, 128 out)", n * 128, n * (n_in + 128), s)
    s = generate(model, 64, 1024, 1)
    row("prefill 64 x 1024 (1 out)", 64, 64 * 1025, s)
    for b in (1, 32, 256):
        s = generate(model, b, 128, 128) - generate(model, b, 128, 1)
        row(f"decode batch {b}", b * 127, b * 127, s)


if __name__ == "__main__":
    main()
