// See dtype.h. IEEE 754 binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
#include "model/dtype.h"

#include <cmath>

namespace llmfleet::model {

std::string_view to_string(dtype type) {
    switch (type) {
    case dtype::f32:
        return "F32";
    case dtype::f16:
        return "F16";
    case dtype::bf16:
        return "BF16";
    }
    return "?";
}

size_t dtype_size_bytes(dtype type) {
    return type == dtype::f32 ? 4 : 2;
}

bool parse_dtype(std::string_view text, dtype* out) {
    if (text == "F32") {
        *out = dtype::f32;
    } else if (text == "F16") {
        *out = dtype::f16;
    } else if (text == "BF16") {
        *out = dtype::bf16;
    } else {
        return false;
    }
    return true;
}

float f16_to_f32(uint16_t bits) {
    const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
    const uint32_t exponent = (bits >> 10) & 0x1fu;
    const uint32_t mantissa = bits & 0x3ffu;
    float magnitude;
    if (exponent == 0) {
        magnitude = std::ldexp(static_cast<float>(mantissa), -24); // subnormal: m × 2^-24
    } else if (exponent == 31) {
        magnitude = mantissa == 0 ? INFINITY : NAN;
    } else {
        magnitude = std::ldexp(static_cast<float>(mantissa | 0x400u), static_cast<int>(exponent) - 25);
    }
    uint32_t u;
    std::memcpy(&u, &magnitude, sizeof u);
    u |= sign;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

uint16_t f32_to_f16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
    const float a = std::fabs(f);
    if (std::isnan(f)) {
        return static_cast<uint16_t>(sign | 0x7e00u);
    }
    if (a >= 65520.0f) { // rounds past the largest finite half (65504)
        return static_cast<uint16_t>(sign | 0x7c00u);
    }
    if (a < 6.103515625e-05f) { // subnormal range: quantise to multiples of 2^-24, ties to even
        const float scaled = a * 16777216.0f;
        const auto m = static_cast<uint16_t>(std::nearbyint(scaled));
        return static_cast<uint16_t>(sign | m);
    }
    uint32_t au;
    std::memcpy(&au, &a, sizeof au);
    const uint32_t exponent = ((au >> 23) & 0xffu) - 127 + 15;
    uint32_t mantissa = au & 0x7fffffu;
    uint32_t half = (exponent << 10) | (mantissa >> 13);
    const uint32_t rest = mantissa & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) {
        ++half; // may carry into the exponent, which is the correct rounding
    }
    return static_cast<uint16_t>(sign | half);
}

} // namespace llmfleet::model
