// See safetensors.h. Format: u64 little-endian header length N, N bytes of JSON
// {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data section; offsets are relative to its start.
#include "model/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/core.h>

#include "common/error.h"
#include "common/json_read.h"
#include "common/text.h"

namespace llmfleet::model {

namespace jr = json_read;

// The safetensors reference implementation refuses headers above 100 MB; so do we.
constexpr uint64_t max_header_bytes = 100ull << 20;

int64_t tensor_info::n_elements() const {
    int64_t n = 1;
    for (int64_t d : shape) {
        n *= d;
    }
    return n;
}

std::string format_shape(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        s += fmt::format("{}{}", i ? ", " : "", shape[i]);
    }
    return s + "]";
}

namespace {

tensor_info parse_entry(const std::string& name, const jr::json& entry, uint64_t data_size, std::string_view origin) {
    const std::string where = fmt::format("{}: tensor '{}'", origin, name);
    if (!entry.is_object()) {
        throw invalid_input(fmt::format("{}: expected an object with dtype, shape, data_offsets", where));
    }
    tensor_info t;
    t.name = name;
    const jr::json* dt = entry.contains("dtype") ? &entry["dtype"] : nullptr;
    if (dt == nullptr || !dt->is_string() || !parse_dtype(dt->get<std::string>(), &t.type)) {
        throw invalid_input(fmt::format("{}: dtype {} is not supported; supported: BF16, F16, F32", where,
                                        dt == nullptr ? "(missing)" : dt->dump()));
    }
    const jr::json* shape = entry.contains("shape") ? &entry["shape"] : nullptr;
    if (shape == nullptr || !shape->is_array()) {
        throw invalid_input(fmt::format("{}: expected shape as an array of sizes", where));
    }
    uint64_t n_elements = 1;
    for (const jr::json& d : *shape) {
        if (!d.is_number_unsigned()) {
            throw invalid_input(
                fmt::format("{}: shape {} holds a value that is not a size >= 0", where, shape->dump()));
        }
        const uint64_t dim = d.get<uint64_t>();
        if (dim != 0 && n_elements > data_size / dim) { // cannot fit: also guards the multiplication
            throw invalid_input(fmt::format("{}: shape {} needs more bytes than the file's data section ({})", where,
                                            shape->dump(), data_size));
        }
        n_elements *= dim;
        t.shape.push_back(static_cast<int64_t>(dim));
    }
    const jr::json* offsets = entry.contains("data_offsets") ? &entry["data_offsets"] : nullptr;
    if (offsets == nullptr || !offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
        !(*offsets)[1].is_number_unsigned()) {
        throw invalid_input(fmt::format("{}: expected data_offsets as [begin, end] byte offsets", where));
    }
    t.data_begin = (*offsets)[0].get<uint64_t>();
    t.data_end = (*offsets)[1].get<uint64_t>();
    if (t.data_begin > t.data_end || t.data_end > data_size) {
        throw invalid_input(fmt::format("{}: data_offsets [{}, {}] fall outside the data section of {} bytes "
                                        "(truncated or corrupt file)",
                                        where, t.data_begin, t.data_end, data_size));
    }
    const uint64_t expected = n_elements * dtype_size_bytes(t.type);
    if (t.data_end - t.data_begin != expected) {
        throw invalid_input(fmt::format("{}: {} {} needs {} bytes but data_offsets span {}", where, to_string(t.type),
                                        t.shape_string(), expected, t.data_end - t.data_begin));
    }
    return t;
}

} // namespace

safetensors_header parse_safetensors_header(const uint8_t* data, size_t size, std::string_view origin) {
    if (size < 8) {
        throw invalid_input(fmt::format("{}: {} bytes is too short for a safetensors file (an 8-byte header length "
                                        "comes first)",
                                        origin, size));
    }
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) {
        header_len = (header_len << 8) | data[i];
    }
    if (header_len > size - 8 || header_len > max_header_bytes) {
        throw invalid_input(fmt::format("{}: header length {} exceeds the file ({} bytes) or the 100 MB limit; the "
                                        "file is truncated or not safetensors",
                                        origin, header_len, size));
    }
    safetensors_header h;
    h.data_offset = 8 + header_len;
    const uint64_t data_size = size - h.data_offset;
    const std::string_view text(reinterpret_cast<const char*>(data + 8), header_len);
    jr::json doc;
    try {
        doc = jr::json::parse(text);
    } catch (const jr::json::exception& e) {
        throw invalid_input(fmt::format("{}: the header is not valid JSON: {}", origin, e.what()));
    }
    if (!doc.is_object()) {
        throw invalid_input(fmt::format("{}: the header must be a JSON object of tensors", origin));
    }
    for (const auto& [name, entry] : doc.items()) {
        if (name == "__metadata__") {
            if (!entry.is_object()) {
                throw invalid_input(fmt::format("{}: __metadata__ must be an object of strings", origin));
            }
            for (const auto& [k, v] : entry.items()) {
                if (!v.is_string()) {
                    throw invalid_input(fmt::format("{}: __metadata__.{} must be a string", origin, k));
                }
                h.metadata[k] = v.get<std::string>();
            }
            continue;
        }
        h.tensors.push_back(parse_entry(name, entry, data_size, origin));
    }
    std::sort(h.tensors.begin(), h.tensors.end(), [](const tensor_info& a, const tensor_info& b) {
        return a.data_begin != b.data_begin ? a.data_begin < b.data_begin : a.data_end < b.data_end;
    });
    for (size_t i = 1; i < h.tensors.size(); ++i) {
        if (h.tensors[i].data_begin < h.tensors[i - 1].data_end) {
            throw invalid_input(fmt::format("{}: tensors '{}' [{}, {}) and '{}' [{}, {}) overlap", origin,
                                            h.tensors[i - 1].name, h.tensors[i - 1].data_begin,
                                            h.tensors[i - 1].data_end, h.tensors[i].name, h.tensors[i].data_begin,
                                            h.tensors[i].data_end));
        }
    }
    return h;
}

mapped_file::mapped_file(const std::string& path) : _path(path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        throw not_found(fmt::format("cannot open weights file '{}': {}", path, std::strerror(errno)));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw invalid_input(fmt::format("weights file '{}' is not a regular file", path));
    }
    _size = static_cast<size_t>(st.st_size);
    if (_size > 0) {
        void* p = ::mmap(nullptr, _size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            throw error(status_code::unavailable, fmt::format("cannot map '{}': {}", path, std::strerror(err)));
        }
        _data = static_cast<const uint8_t*>(p);
    }
    ::close(fd);
}

mapped_file::~mapped_file() {
    if (_data != nullptr) {
        ::munmap(const_cast<uint8_t*>(_data), _size);
    }
}

safetensors_file::safetensors_file(const std::string& path)
    : _file(path), _header(parse_safetensors_header(_file.data(), _file.size(), path)) {}

const tensor_info* safetensors_file::find(std::string_view name) const {
    for (const tensor_info& t : _header.tensors) {
        if (t.name == name) {
            return &t;
        }
    }
    return nullptr;
}

std::span<const std::byte> safetensors_file::bytes(const tensor_info& info) const {
    const auto* base = reinterpret_cast<const std::byte*>(_file.data()) + _header.data_offset;
    return {base + info.data_begin, static_cast<size_t>(info.data_end - info.data_begin)};
}

weight_store::weight_store(const std::string& model_dir) {
    namespace fs = std::filesystem;
    const fs::path dir(model_dir);
    const fs::path index = dir / "model.safetensors.index.json";
    const fs::path single = dir / "model.safetensors";
    std::map<std::string, std::string> weight_map; // tensor → shard file name (sharded only)
    if (fs::exists(index)) {
        const jr::json doc = jr::parse(read_file(index.string(), "safetensors index"), index.string());
        const jr::json& map = jr::member(doc, "weight_map", index.string());
        if (!map.is_object()) {
            throw invalid_input(fmt::format("{}: weight_map must map tensor names to shard files", index.string()));
        }
        std::map<std::string, size_t> file_ids;
        for (const auto& [tensor, file] : map.items()) {
            const std::string shard = jr::string(file, fmt::format("{}: weight_map.{}", index.string(), tensor));
            if (shard.find('/') != std::string::npos || shard == ".." || shard.empty()) {
                throw invalid_input(fmt::format("{}: weight_map.{} names '{}', expected a file in the model directory",
                                                index.string(), tensor, shard));
            }
            if (file_ids.count(shard) == 0) {
                file_ids[shard] = _files.size();
                _files.push_back(std::make_unique<safetensors_file>((dir / shard).string()));
            }
            const size_t id = file_ids[shard];
            const tensor_info* info = _files[id]->find(tensor);
            if (info == nullptr) {
                throw invalid_input(fmt::format("{}: weight_map puts tensor '{}' in {}, which does not hold it",
                                                index.string(), tensor, shard));
            }
            _index[tensor] = {id, info};
        }
        return;
    }
    if (!fs::exists(single)) {
        throw not_found(
            fmt::format("no weights in '{}': expected model.safetensors or model.safetensors.index.json", model_dir));
    }
    _files.push_back(std::make_unique<safetensors_file>(single.string()));
    for (const tensor_info& t : _files[0]->header().tensors) {
        _index[t.name] = {0, &t};
    }
}

const tensor_info* weight_store::find(std::string_view name) const {
    const auto it = _index.find(name);
    return it == _index.end() ? nullptr : it->second.second;
}

std::span<const std::byte> weight_store::bytes(const tensor_info& info) const {
    const auto it = _index.find(info.name);
    LLMFLEET_CHECK(it != _index.end() && it->second.second == &info, "tensor '{}' is not from this store", info.name);
    return _files[it->second.first]->bytes(info);
}

namespace {

// dst [n] f32 from n elements of `type` at src (unaligned).
void convert_to_f32(const std::byte* src, dtype type, float* dst, int64_t n) {
    if (type == dtype::f32) {
        std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
        return;
    }
    for (int64_t i = 0; i < n; ++i) {
        uint16_t bits;
        std::memcpy(&bits, src + 2 * i, 2);
        dst[i] = type == dtype::bf16 ? bf16_to_f32(bits) : f16_to_f32(bits);
    }
}

} // namespace

std::vector<float> weight_store::to_f32(const tensor_info& info) const {
    std::vector<float> out(static_cast<size_t>(info.n_elements()));
    convert_to_f32(bytes(info).data(), info.type, out.data(), info.n_elements());
    return out;
}

std::vector<float> weight_store::to_f32_block(const tensor_info& info, int64_t row_begin, int64_t row_end,
                                              int64_t col_begin, int64_t col_end) const {
    if (info.shape.empty() || info.shape.size() > 2) {
        throw invalid_input(fmt::format("tensor '{}' has shape {}: a block read needs 1 or 2 dimensions", info.name,
                                        info.shape_string()));
    }
    const int64_t n_rows = info.shape[0], n_cols = info.shape.size() == 2 ? info.shape[1] : 1;
    if (row_begin < 0 || row_begin > row_end || row_end > n_rows || col_begin < 0 || col_begin > col_end ||
        col_end > n_cols) {
        throw invalid_input(fmt::format("tensor '{}' {}: block rows [{}, {}) × columns [{}, {}) is outside it",
                                        info.name, info.shape_string(), row_begin, row_end, col_begin, col_end));
    }
    const std::span<const std::byte> raw = bytes(info);
    const int64_t rows = row_end - row_begin, cols = col_end - col_begin;
    const auto elem = static_cast<int64_t>(dtype_size_bytes(info.type));
    std::vector<float> out(static_cast<size_t>(rows * cols));
    for (int64_t r = 0; r < rows; ++r) {
        convert_to_f32(raw.data() + ((row_begin + r) * n_cols + col_begin) * elem, info.type, out.data() + r * cols,
                       cols);
    }
    return out;
}

std::vector<std::string> weight_store::names() const {
    std::vector<std::string> out;
    for (const auto& [name, where] : _index) {
        out.push_back(name);
    }
    return out;
}

void write_safetensors(const std::string& path, const std::vector<tensor_to_write>& tensors) {
    jr::json header = jr::json::object();
    uint64_t offset = 0;
    for (const tensor_to_write& t : tensors) {
        int64_t n = 1;
        for (int64_t d : t.shape) {
            n *= d;
        }
        LLMFLEET_CHECK(t.bytes.size() == static_cast<size_t>(n) * dtype_size_bytes(t.type),
                       "tensor '{}': {} bytes for {} elements of {}", t.name, t.bytes.size(), n, to_string(t.type));
        header[t.name] = {
            {"dtype", to_string(t.type)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
        offset += t.bytes.size();
    }
    header["__metadata__"] = {{"format", "pt"}};
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    std::ofstream out(path, std::ios::binary);
    uint8_t len[8];
    for (int i = 0; i < 8; ++i) {
        len[i] = static_cast<uint8_t>((static_cast<uint64_t>(text.size()) >> (8 * i)) & 0xff);
    }
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const tensor_to_write& t : tensors) {
        out.write(reinterpret_cast<const char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
    }
    if (!out) {
        throw error(status_code::unavailable, fmt::format("cannot write '{}'", path));
    }
}

} // namespace llmfleet::model
