// GPU catalog: specs of each GPU type and named price sets (each price with its source and date).
// Built in from data/gpu_catalog.json (compiled into the binary); a file can replace it and any value
// can be overridden (`--set H100-SXM.memory_gib=94`, `--price H100-SXM=2.5`).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace llmfleet::planner {

struct gpu_spec {
    std::string name;                     // "H100-SXM"
    double memory_gib = 0;                // device memory, GiB
    double memory_bandwidth_gb_per_s = 0; // datasheet HBM/GDDR bandwidth, GB/s (1e9 bytes/s)
    double bf16_dense_tflops = 0;         // dense tensor-core BF16, TFLOP/s (no sparsity)
    std::string interconnect;             // "NVLink 4", "PCIe Gen4 x16"
    double interconnect_gb_per_s = 0;     // GPU-to-GPU bandwidth, GB/s
    std::string spec_source;
};

struct gpu_price {
    double usd_per_hour = 0; // on-demand, per GPU
    std::string source;      // provider + product, e.g. "AWS p5.48xlarge on-demand / 8 GPUs"
    std::string url;
    std::string date; // when the price was observed, e.g. "2025-11-30"
};

struct price_set {
    std::string name;
    std::string description;
    std::map<std::string, gpu_price> prices; // by GPU name
};

struct gpu_catalog {
    std::vector<gpu_spec> gpus;
    std::map<std::string, price_set> price_sets;
    std::string origin; // "built-in" or a file path

    const gpu_spec* find(std::string_view name) const;
    gpu_spec* find(std::string_view name);
    // The named GPU, or invalid_argument listing the known names.
    const gpu_spec& get(std::string_view name, std::string_view field) const;
    std::string names() const; // "A10G, L4, ..."
};

// Parses the catalog JSON (schema llmfleet.gpu_catalog.v1, see docs/planner.md).
gpu_catalog parse_gpu_catalog(std::string_view json_text, std::string_view origin);
gpu_catalog builtin_gpu_catalog();
gpu_catalog load_gpu_catalog(const std::string& path);

// "H100-SXM.memory_gib=94": sets one numeric or text field of a GPU spec; the error lists the fields.
void set_gpu_field(gpu_catalog& catalog, std::string_view assignment);

} // namespace llmfleet::planner
