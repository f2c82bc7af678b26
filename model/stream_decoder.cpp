// See stream_decoder.h. UTF-8 well-formedness follows RFC 3629 / Unicode Table 3-7: the second byte's range
// depends on the lead byte (E0 A0..BF, ED 80..9F, F0 90..BF, F4 80..8F), which excludes overlong forms,
// surrogates and code points above U+10FFFF.
#include "model/stream_decoder.h"

#include <algorithm>
#include <utility>

namespace llmfleet::model {

namespace {

// Length of the sequence a lead byte starts (0 for a byte that cannot start one).
size_t sequence_length(uint8_t lead) {
    if (lead < 0x80) {
        return 1;
    }
    if (lead >= 0xC2 && lead <= 0xDF) {
        return 2;
    }
    if (lead >= 0xE0 && lead <= 0xEF) {
        return 3;
    }
    if (lead >= 0xF0 && lead <= 0xF4) {
        return 4;
    }
    return 0;
}

// Whether `b` may follow `lead` as the byte at `index` (1..3) of a sequence.
bool valid_continuation(uint8_t lead, size_t index, uint8_t b) {
    if (index == 1) {
        const uint8_t low = lead == 0xE0 ? 0xA0 : (lead == 0xF0 ? 0x90 : 0x80);
        const uint8_t high = lead == 0xED ? 0x9F : (lead == 0xF4 ? 0x8F : 0xBF);
        return b >= low && b <= high;
    }
    return b >= 0x80 && b <= 0xBF;
}

// How many bytes from text[i] form a well-formed prefix of a sequence (the whole sequence when complete).
size_t valid_prefix(std::string_view text, size_t i, size_t& full_length) {
    const auto lead = static_cast<uint8_t>(text[i]);
    full_length = sequence_length(lead);
    if (full_length == 0) {
        return 0;
    }
    size_t n = 1;
    while (n < full_length && i + n < text.size() && valid_continuation(lead, n, static_cast<uint8_t>(text[i + n]))) {
        ++n;
    }
    return n;
}

} // namespace

size_t utf8_incomplete_tail(std::string_view text) {
    // A tail is at most 3 bytes: look for its lead byte among the last 3.
    for (size_t back = 1; back <= 3 && back <= text.size(); ++back) {
        const size_t i = text.size() - back;
        size_t full_length = 0;
        const size_t n = valid_prefix(text, i, full_length);
        if (full_length > 1) {
            return n == back && n < full_length ? back : 0;
        }
        if (full_length == 1 || (static_cast<uint8_t>(text[i]) & 0xC0) != 0x80) {
            return 0; // ASCII or an invalid byte: nothing after it can be pending
        }
    }
    return 0;
}

std::string to_valid_utf8(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    for (size_t i = 0; i < bytes.size();) {
        size_t full_length = 0;
        const size_t n = valid_prefix(bytes, i, full_length);
        if (n == full_length && n > 0) {
            out.append(bytes.substr(i, n));
            i += n;
        } else {
            out += "\xEF\xBF\xBD"; // U+FFFD for the maximal ill-formed subpart
            i += std::max<size_t>(n, 1);
        }
    }
    return out;
}

std::string stream_decoder::push(int32_t id) {
    _tokenizer->append_bytes(id, _skip_special_tokens, _pending);
    const size_t held = utf8_incomplete_tail(_pending);
    std::string ready = _pending.substr(0, _pending.size() - held);
    _pending.erase(0, _pending.size() - held);
    return ready;
}

std::string stream_decoder::flush() {
    return std::exchange(_pending, std::string());
}

} // namespace llmfleet::model
