// See normalizer.h. ICU's Normalizer2 works on UTF-8 directly (normalizeUTF8, isNormalizedUTF8); it is handed only
// well-formed UTF-8, so that the tokenizer's byte-exact round trip holds for any input.
#include "model/normalizer.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/utf8.h>

#include <fmt/core.h>

#include "common/error.h"

namespace llmfleet::model {

namespace {

const icu::Normalizer2& nfc_instance() {
    static const icu::Normalizer2* nfc = [] {
        UErrorCode status = U_ZERO_ERROR;
        const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(status);
        LLMFLEET_CHECK(U_SUCCESS(status) && n != nullptr, "ICU cannot load its NFC data: {}", u_errorName(status));
        return n;
    }();
    return *nfc;
}

// Appends NFC(text) for well-formed UTF-8 `text`.
void append_nfc(std::string_view text, std::string& out) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::StringPiece piece(text.data(), static_cast<int32_t>(text.size()));
    if (nfc_instance().isNormalizedUTF8(piece, status) && U_SUCCESS(status)) {
        out.append(text);
        return;
    }
    status = U_ZERO_ERROR;
    icu::StringByteSink<std::string> sink(&out);
    nfc_instance().normalizeUTF8(0, piece, sink, nullptr, status);
    if (U_FAILURE(status)) {
        throw error(status_code::internal, fmt::format("ICU NFC normalisation failed: {}", u_errorName(status)));
    }
}

} // namespace

std::string_view to_string(normalization n) {
    return n == normalization::nfc ? "NFC" : "none";
}

std::string_view normalize(normalization n, std::string_view text, std::string& storage) {
    if (n == normalization::none) {
        return text;
    }
    bool ascii = true;
    for (char c : text) {
        ascii = ascii && static_cast<uint8_t>(c) < 0x80;
    }
    if (ascii) {
        return text; // ASCII is NFC
    }
    if (text.size() > static_cast<size_t>(INT32_MAX)) {
        throw invalid_input(
            fmt::format("text of {} bytes is too long to normalise (at most {})", text.size(), INT32_MAX));
    }
    storage.clear();
    storage.reserve(text.size());
    const auto* s = reinterpret_cast<const uint8_t*>(text.data());
    const auto length = static_cast<int32_t>(text.size());
    int32_t run_start = 0; // start of the current well-formed stretch
    int32_t i = 0;
    while (i < length) {
        const int32_t at = i;
        UChar32 c = 0;
        U8_NEXT(s, i, length, c);
        if (c < 0) { // ill-formed: normalise what came before, copy the bad bytes through
            append_nfc(text.substr(static_cast<size_t>(run_start), static_cast<size_t>(at - run_start)), storage);
            storage.append(text.substr(static_cast<size_t>(at), static_cast<size_t>(i - at)));
            run_start = i;
        }
    }
    append_nfc(text.substr(static_cast<size_t>(run_start)), storage);
    return storage == text ? text : std::string_view(storage);
}

} // namespace llmfleet::model
