// The NVIDIA GPUs of this host as nvidia-smi lists them, each mapped to the planner's GPU type name (the catalog's
// "A100-80GB", "H100-SXM", ...), and the selection a --gpus flag makes. Parsing is pure; detect_gpus runs nvidia-smi.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmfleet::fleet {

struct gpu_info {
    int32_t index = 0;            // nvidia-smi's index (the driver's numbering)
    std::string uuid;             // "GPU-8f7d…": how MPS daemons and engines address the GPU (the server renumbers)
    std::string name;             // "NVIDIA A100-SXM4-80GB"
    int64_t memory_total_mib = 0; // device memory, MiB
    std::string type;             // the planner's GPU type, see gpu_type_of
};

// Parses the output of `nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader`: one GPU per
// line, "0, GPU-…, NVIDIA A10G, 23028 MiB" (the unit may be absent). Throws invalid_input naming the line and
// the expected form.
std::vector<gpu_info> parse_nvidia_smi_csv(std::string_view text);

// The planner's GPU type for an nvidia-smi name and memory size: "NVIDIA A100-SXM4-80GB" → "A100-80GB",
// "NVIDIA H100 80GB HBM3" → "H100-SXM", "NVIDIA H100 PCIe" → "H100-PCIe", "NVIDIA A10G" → "A10G", "NVIDIA L4" →
// "L4". Names it does not know map to the name without "NVIDIA " and with '-' for spaces ("Tesla-T4").
std::string gpu_type_of(std::string_view name, int64_t memory_total_mib);

struct gpu_detection {
    std::vector<gpu_info> gpus;
    std::string problem; // why there are none: "nvidia-smi not found on PATH", "nvidia-smi failed: ..."
};

// Runs nvidia-smi (from PATH) with a 10 s limit. No GPU is not an error: `gpus` is empty and `problem` says why.
gpu_detection detect_gpus();

// "1× A10G (GPU 0: NVIDIA A10G, 23028 MiB)", or "no NVIDIA GPU (<problem>)": for error messages.
std::string describe_host(const gpu_detection& host);

// The GPUs a --gpus list names ("0,1" or "all"), in the order given. Throws invalid_input for an index this host
// does not have (naming the indices it has), a duplicate, or a list that is not comma-separated integers.
std::vector<gpu_info> select_gpus(const std::vector<gpu_info>& gpus, std::string_view list);

} // namespace llmfleet::fleet
