// safetensors files: header parsing with full validation (offsets inside the file, no overlaps, sizes
// that match dtype × shape), memory-mapped access, and a store over a model directory (one file, or
// shards listed in model.safetensors.index.json). A bad file gets an error naming the file and the
// tensor; nothing reads out of bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/dtype.h"

namespace llmfleet::model {

// "[896, 4864]"
std::string format_shape(const std::vector<int64_t>& shape);

struct tensor_info {
    std::string name;
    dtype type = dtype::f32;
    std::vector<int64_t> shape; // row-major, outermost first (HF: [out_features, in_features])
    uint64_t data_begin = 0;    // byte offsets into the data section (after the header)
    uint64_t data_end = 0;
    int64_t n_elements() const;
    std::string shape_string() const { return format_shape(shape); }
};

struct safetensors_header {
    uint64_t data_offset = 0;         // 8 + header length: where the data section starts
    std::vector<tensor_info> tensors; // in file order of data_begin
    std::map<std::string, std::string> metadata;
};

// Parses and validates the header of a whole safetensors file given as bytes [data, data + size).
// Throws error(invalid_argument) naming `origin` and the tensor. Safe on any input (fuzzed).
safetensors_header parse_safetensors_header(const uint8_t* data, size_t size, std::string_view origin);

// Read-only memory map of a whole file (RAII).
class mapped_file {
public:
    explicit mapped_file(const std::string& path); // throws not_found / unavailable with the path
    ~mapped_file();
    mapped_file(const mapped_file&) = delete;
    mapped_file& operator=(const mapped_file&) = delete;
    const uint8_t* data() const { return _data; }
    size_t size() const { return _size; }
    const std::string& path() const { return _path; }

private:
    std::string _path;
    const uint8_t* _data = nullptr;
    size_t _size = 0;
};

class safetensors_file {
public:
    explicit safetensors_file(const std::string& path);
    const safetensors_header& header() const { return _header; }
    const tensor_info* find(std::string_view name) const;
    // The tensor's bytes inside the mapping; valid while this object lives.
    std::span<const std::byte> bytes(const tensor_info& info) const;
    const std::string& path() const { return _file.path(); }

private:
    mapped_file _file;
    safetensors_header _header;
};

// Every tensor of a model directory: model.safetensors, or the shards named by
// model.safetensors.index.json (each tensor in exactly one shard).
class weight_store {
public:
    explicit weight_store(const std::string& model_dir);
    const tensor_info* find(std::string_view name) const;
    std::span<const std::byte> bytes(const tensor_info& info) const;
    // Converts any stored dtype to f32 (row-major copy).
    std::vector<float> to_f32(const tensor_info& info) const;
    // The block rows [row_begin, row_end) × columns [col_begin, col_end) of a 2-D tensor (a 1-D tensor [n] is read as
    // [n, 1]: columns [0, 1)), as f32 [rows, cols] row-major. Only those
    // bytes of the mapping are touched, so a tensor-parallel rank reads its own shard and never the whole tensor.
    // Throws invalid_argument naming the tensor when the ranges fall outside its shape.
    std::vector<float> to_f32_block(const tensor_info& info, int64_t row_begin, int64_t row_end, int64_t col_begin,
                                    int64_t col_end) const;
    std::vector<std::string> names() const;
    size_t n_files() const { return _files.size(); }

private:
    std::vector<std::unique_ptr<safetensors_file>> _files;
    std::map<std::string, std::pair<size_t, const tensor_info*>, std::less<>> _index; // name → (file, info)
};

// Writes a safetensors file (header padded to 8 bytes with spaces, tensors in the given order).
struct tensor_to_write {
    std::string name;
    dtype type = dtype::f32;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes; // n_elements × dtype size
};
void write_safetensors(const std::string& path, const std::vector<tensor_to_write>& tensors);

} // namespace llmfleet::model
