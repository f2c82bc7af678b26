// Element types of weight files and conversions between them (bf16 and f16 ↔ f32, round to nearest even).
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace llmfleet::model {

enum class dtype { f32, f16, bf16 };
std::string_view to_string(dtype type); // safetensors spelling: "F32", "F16", "BF16"
size_t dtype_size_bytes(dtype type);
// "F32" | "F16" | "BF16"; returns false for any other safetensors dtype (F64, I8, ...).
bool parse_dtype(std::string_view text, dtype* out);

inline float bf16_to_f32(uint16_t bits) {
    const uint32_t u = static_cast<uint32_t>(bits) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

inline uint16_t f32_to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        return static_cast<uint16_t>((u >> 16) | 0x40); // NaN stays a (quiet) NaN
    }
    const uint32_t rounding = 0x7fffu + ((u >> 16) & 1u); // round to nearest, ties to even
    return static_cast<uint16_t>((u + rounding) >> 16);
}

float f16_to_f32(uint16_t bits);
uint16_t f32_to_f16(float f);

} // namespace llmfleet::model
