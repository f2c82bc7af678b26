// See bpe.h. The merge loop is the heap formulation (O(n log n) in the pre-token's length): every adjacent pair
// that has a merge goes into a min-heap keyed by (rank, position); the lowest rank merges first and, among equal
// ranks, the leftmost, which is what Hugging Face tokenizers does. Entries made stale by an earlier merge are
// recognised by comparing the ids they were made from with the symbols' current ids.
#include "model/bpe.h"

#include <algorithm>
#include <mutex>

#include <fmt/core.h>

#include "common/error.h"

namespace llmfleet::model {

namespace {

struct byte_level_tables {
    std::array<std::string, 256> chars;   // byte → UTF-8 of its character
    std::array<int16_t, 324> byte_of{};   // code point (< 324) → byte, -1 for none
    std::array<uint8_t, 256> vocab_order; // GPT-2's order: printable bytes first, then the rest
};

const byte_level_tables& tables() {
    static const byte_level_tables t = [] {
        byte_level_tables r;
        r.byte_of.fill(-1);
        size_t n_ordered = 0;
        const auto printable = [](int b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174; };
        for (int b = 0; b < 256; ++b) {
            if (printable(b)) {
                r.vocab_order[n_ordered++] = static_cast<uint8_t>(b);
            }
        }
        int next_code_point = 256;
        for (int b = 0; b < 256; ++b) {
            const int cp = printable(b) ? b : next_code_point++;
            if (!printable(b)) {
                r.vocab_order[n_ordered++] = static_cast<uint8_t>(b);
            }
            r.byte_of[static_cast<size_t>(cp)] = static_cast<int16_t>(b);
            // Every code point here is < 0x800: one or two UTF-8 bytes.
            r.chars[static_cast<size_t>(b)] =
                cp < 0x80 ? std::string(1, static_cast<char>(cp))
                          : std::string{static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
        }
        return r;
    }();
    return t;
}

} // namespace

std::string_view byte_level_char(uint8_t byte) {
    return tables().chars[byte];
}

std::string byte_level_encode(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (char c : bytes) {
        out += tables().chars[static_cast<uint8_t>(c)];
    }
    return out;
}

bool byte_level_decode(std::string_view token, std::string& out) {
    const size_t old_size = out.size();
    for (size_t i = 0; i < token.size();) {
        const auto b0 = static_cast<uint8_t>(token[i]);
        int cp = -1;
        if (b0 < 0x80) {
            cp = b0;
            i += 1;
        } else if ((b0 & 0xE0) == 0xC0 && i + 1 < token.size() && (static_cast<uint8_t>(token[i + 1]) & 0xC0) == 0x80) {
            cp = ((b0 & 0x1F) << 6) | (static_cast<uint8_t>(token[i + 1]) & 0x3F);
            i += 2;
        }
        if (cp < 0 || cp >= 324 || tables().byte_of[static_cast<size_t>(cp)] < 0) {
            out.resize(old_size);
            return false;
        }
        out += static_cast<char>(tables().byte_of[static_cast<size_t>(cp)]);
    }
    return true;
}

std::vector<std::string> byte_level_alphabet() {
    std::vector<std::string> out;
    for (uint8_t b : tables().vocab_order) {
        out.push_back(tables().chars[b]);
    }
    return out;
}

// Pre-token bytes → ids. Sharded so that threads encoding at once rarely wait on one another; a full shard is
// cleared rather than evicted entry by entry (bounded memory, no bookkeeping on the hit path).
struct bpe_model::piece_cache {
    static constexpr size_t n_shards = 16;
    static constexpr size_t max_entries_per_shard = 4096;
    static constexpr size_t max_piece_bytes = 256; // longer pre-tokens are rare and would bloat the cache
    struct shard {
        std::mutex mutex;
        std::unordered_map<std::string, std::vector<int32_t>, string_hash, std::equal_to<>> ids; // guarded by mutex
    };
    std::array<shard, n_shards> shards;
};

bpe_model::bpe_model(const std::vector<bpe_vocab_entry>& vocab,
                     const std::vector<std::pair<std::string, std::string>>& merges, bool ignore_merges,
                     std::string_view path)
    : _ignore_merges(ignore_merges), _cache(std::make_unique<piece_cache>()) {
    int32_t max_id = -1;
    for (const bpe_vocab_entry& e : vocab) {
        max_id = std::max(max_id, e.id);
    }
    const auto n = static_cast<size_t>(max_id + 1);
    _tokens.resize(n);
    _bytes.resize(n);
    _present.resize(n, false);
    _ids.reserve(vocab.size());
    _ids_by_bytes.reserve(vocab.size());
    for (const bpe_vocab_entry& e : vocab) {
        const auto i = static_cast<size_t>(e.id);
        if (_present[i]) {
            throw invalid_input(fmt::format("{}.vocab: id {} is given to both '{}' and '{}'; each id needs one token",
                                            path, e.id, _tokens[i], e.token));
        }
        _present[i] = true;
        _tokens[i] = e.token;
        _ids.emplace(e.token, e.id);
        if (byte_level_decode(e.token, _bytes[i])) {
            _ids_by_bytes.emplace(_bytes[i], e.id);
        } else {
            _bytes[i] = e.token; // as Hugging Face's ByteLevel decoder: a token it cannot map decodes as its UTF-8
        }
    }
    for (int b = 0; b < 256; ++b) {
        const std::string_view c = byte_level_char(static_cast<uint8_t>(b));
        const int32_t* id = find(c);
        if (id == nullptr) {
            throw invalid_input(
                fmt::format("{}.vocab: byte-level BPE needs all 256 byte tokens, but '{}' (byte 0x{:02X}) "
                            "is missing; only byte-level BPE vocabularies (GPT-2, Qwen2, Llama-3) "
                            "are supported",
                            path, c, b));
        }
        _byte_ids[static_cast<size_t>(b)] = *id;
    }
    _merges.reserve(merges.size());
    for (size_t rank = 0; rank < merges.size(); ++rank) {
        const auto& [left, right] = merges[rank];
        const int32_t* left_id = find(left);
        const int32_t* right_id = find(right);
        const int32_t* merged_id = find(left + right);
        const std::string* missing = left_id == nullptr ? &left : (right_id == nullptr ? &right : nullptr);
        if (missing != nullptr) {
            throw invalid_input(fmt::format("{}.merges[{}]: merge '{}' + '{}': '{}' is not in {}.vocab", path, rank,
                                            left, right, *missing, path));
        }
        if (merged_id == nullptr) {
            throw invalid_input(
                fmt::format("{}.merges[{}]: merge '{}' + '{}': the merged token '{}' is not in {}.vocab", path, rank,
                            left, right, left + right, path));
        }
        // A repeated pair takes its last rank, as in Hugging Face tokenizers (its map keeps the last insert).
        _merges.insert_or_assign(pair_key(*left_id, *right_id), merge_result{static_cast<int32_t>(rank), *merged_id});
    }
}

bpe_model::~bpe_model() = default;
bpe_model::bpe_model(bpe_model&&) noexcept = default;
bpe_model& bpe_model::operator=(bpe_model&&) noexcept = default;

const int32_t* bpe_model::find(std::string_view token) const {
    const auto it = _ids.find(token);
    return it == _ids.end() ? nullptr : &it->second;
}

void bpe_model::encode(std::string_view piece, std::vector<int32_t>& out) const {
    if (piece.empty()) {
        return;
    }
    if (piece.size() == 1) {
        out.push_back(_byte_ids[static_cast<uint8_t>(piece[0])]);
        return;
    }
    if (_ignore_merges) {
        const auto it = _ids_by_bytes.find(piece);
        if (it != _ids_by_bytes.end()) {
            out.push_back(it->second);
            return;
        }
    }
    if (piece.size() > piece_cache::max_piece_bytes) {
        merge(piece, out);
        return;
    }
    piece_cache::shard& shard = _cache->shards[string_hash{}(piece) % piece_cache::n_shards];
    {
        const std::lock_guard<std::mutex> lock(shard.mutex);
        const auto it = shard.ids.find(piece);
        if (it != shard.ids.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    const size_t first = out.size();
    merge(piece, out);
    const std::lock_guard<std::mutex> lock(shard.mutex);
    if (shard.ids.size() >= piece_cache::max_entries_per_shard) {
        shard.ids.clear();
    }
    shard.ids.emplace(std::string(piece), std::vector<int32_t>(out.begin() + static_cast<ptrdiff_t>(first), out.end()));
}

void bpe_model::merge(std::string_view piece, std::vector<int32_t>& out) const {
    struct symbol {
        int32_t id;
        int32_t prev; // -1 at the start
        int32_t next; // -1 at the end
        bool alive;   // false once merged into its left neighbour
    };
    struct candidate {
        int32_t rank;
        int32_t pos; // the left symbol
        int32_t left_id;
        int32_t right_id;
        int32_t merged_id;
    };
    // Reused per thread: no allocation per pre-token once warm.
    thread_local std::vector<symbol> symbols;
    thread_local std::vector<candidate> heap;
    const auto later = [](const candidate& a, const candidate& b) {
        return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
    };
    const auto n = static_cast<int32_t>(piece.size());
    symbols.clear();
    heap.clear();
    for (int32_t i = 0; i < n; ++i) {
        symbols.push_back(
            {_byte_ids[static_cast<uint8_t>(piece[static_cast<size_t>(i)])], i - 1, i + 1 < n ? i + 1 : -1, true});
    }
    const auto candidate_at = [&](int32_t pos) {
        const symbol& s = symbols[static_cast<size_t>(pos)];
        if (s.next < 0) {
            return false;
        }
        const int32_t right_id = symbols[static_cast<size_t>(s.next)].id;
        const auto it = _merges.find(pair_key(s.id, right_id));
        if (it == _merges.end()) {
            return false;
        }
        heap.push_back({it->second.rank, pos, s.id, right_id, it->second.id});
        return true;
    };
    for (int32_t i = 0; i + 1 < n; ++i) {
        candidate_at(i);
    }
    std::make_heap(heap.begin(), heap.end(), later);
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), later);
        const candidate c = heap.back();
        heap.pop_back();
        symbol& s = symbols[static_cast<size_t>(c.pos)];
        if (!s.alive || s.next < 0 || s.id != c.left_id || symbols[static_cast<size_t>(s.next)].id != c.right_id) {
            continue; // stale: one of the two symbols has merged since this entry was pushed
        }
        symbol& right = symbols[static_cast<size_t>(s.next)];
        right.alive = false;
        s.id = c.merged_id;
        s.next = right.next;
        if (s.next >= 0) {
            symbols[static_cast<size_t>(s.next)].prev = c.pos;
        }
        if (s.prev >= 0 && candidate_at(s.prev)) {
            std::push_heap(heap.begin(), heap.end(), later);
        }
        if (candidate_at(c.pos)) {
            std::push_heap(heap.begin(), heap.end(), later);
        }
    }
    for (int32_t i = 0; i >= 0; i = symbols[static_cast<size_t>(i)].next) {
        out.push_back(symbols[static_cast<size_t>(i)].id);
    }
}

} // namespace llmfleet::model
