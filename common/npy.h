// NumPy .npy files (format 1.0, little-endian float32, C order): reading the torch reference's logits and
// writing `llmfleet generate --dump-logits`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace llmfleet {

struct npy_array {
    std::vector<int64_t> shape;
    std::vector<float> data; // row-major
};

// Reads '<f4' C-order arrays only; anything else is invalid_argument naming the path.
npy_array read_npy_f32(const std::string& path);

// Writes a '<f4' C-order array; data.size() must equal the product of shape. Throws on I/O failure.
void write_npy_f32(const std::string& path, const npy_array& array);

} // namespace llmfleet
