// See npy.h. Layout: "\x93NUMPY", version 1.0, u16 header length, a Python-dict header, the raw data.
#include "common/npy.h"

#include <cstring>
#include <fstream>

#include <fmt/core.h>

#include "common/error.h"
#include "common/text.h"

namespace llmfleet {

npy_array read_npy_f32(const std::string& path) {
    const std::string blob = read_file(path, "npy");
    if (blob.size() < 10 || std::memcmp(blob.data(), "\x93NUMPY", 6) != 0) {
        throw invalid_input(fmt::format("{}: not a .npy file", path));
    }
    const size_t header_len = static_cast<uint8_t>(blob[8]) | (static_cast<size_t>(static_cast<uint8_t>(blob[9])) << 8);
    if (blob[6] != 1 || 10 + header_len > blob.size()) {
        throw invalid_input(fmt::format("{}: only .npy format 1.0 is read", path));
    }
    const std::string header = blob.substr(10, header_len);
    if (header.find("'descr': '<f4'") == std::string::npos ||
        header.find("'fortran_order': False") == std::string::npos) {
        throw invalid_input(fmt::format("{}: expected little-endian float32 in C order, header {}", path, header));
    }
    npy_array a;
    const size_t open = header.find('('), close = header.find(')');
    int64_t n = 1;
    for (std::string_view part : split(std::string_view(header).substr(open + 1, close - open - 1), ',')) {
        if (!trim(part).empty()) {
            a.shape.push_back(parse_int(part, path + " shape"));
            n *= a.shape.back();
        }
    }
    if (10 + header_len + static_cast<size_t>(n) * 4 != blob.size()) {
        throw invalid_input(fmt::format("{}: shape holds {} floats but the file has {} data bytes", path, n,
                                        blob.size() - 10 - header_len));
    }
    a.data.resize(static_cast<size_t>(n));
    std::memcpy(a.data.data(), blob.data() + 10 + header_len, a.data.size() * 4);
    return a;
}

void write_npy_f32(const std::string& path, const npy_array& array) {
    int64_t n = 1;
    std::string dims;
    for (const int64_t d : array.shape) {
        n *= d;
        dims += fmt::format("{}, ", d);
    }
    if (array.shape.size() > 1) {
        dims.resize(dims.size() - 2); // "(3, 4)" but "(3,)" for one dimension
    } else if (array.shape.size() == 1) {
        dims.resize(dims.size() - 1);
    }
    LLMFLEET_CHECK(static_cast<size_t>(n) == array.data.size(), "npy shape holds {} floats, data has {}", n,
                   array.data.size());
    std::string header = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}", dims);
    header.append((64 - (10 + header.size() + 1) % 64) % 64, ' '); // data starts 64-byte aligned
    header.push_back('\n');
    std::ofstream out(path, std::ios::binary);
    const char magic[8] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0};
    const uint16_t len = static_cast<uint16_t>(header.size());
    const char len_bytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
    out.write(magic, 8).write(len_bytes, 2).write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char*>(array.data.data()), static_cast<std::streamsize>(array.data.size() * 4));
    if (!out) {
        throw error(status_code::not_found, fmt::format("{}: cannot write the .npy file", path));
    }
}

} // namespace llmfleet
