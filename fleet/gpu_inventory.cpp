// See gpu_inventory.h.
#include "fleet/gpu_inventory.h"

#include <algorithm>
#include <cctype>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"
#include "common/text.h"
#include "fleet/subprocess.h"

namespace llmfleet::fleet {

namespace {

constexpr std::string_view csv_form = "expected `INDEX, UUID, NAME, MEMORY MiB` (nvidia-smi --query-gpu=index,uuid,"
                                      "name,memory.total --format=csv,noheader)";

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return out;
}

// True when `word` appears in `text` delimited by non-alphanumerics (so "L4" does not match "L40S").
bool has_word(const std::string& text, std::string_view word) {
    for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) {
        const bool left = at == 0 || !std::isalnum(static_cast<unsigned char>(text[at - 1]));
        const size_t end = at + word.size();
        const bool right = end == text.size() || !std::isalnum(static_cast<unsigned char>(text[end]));
        if (left && right) {
            return true;
        }
    }
    return false;
}

} // namespace

std::vector<gpu_info> parse_nvidia_smi_csv(std::string_view text) {
    std::vector<gpu_info> gpus;
    int line_no = 0;
    for (const std::string_view raw : split(text, '\n')) {
        ++line_no;
        const std::string_view line = trim(raw);
        if (line.empty()) {
            continue;
        }
        const std::vector<std::string_view> fields = split(line, ',');
        if (fields.size() != 4) {
            throw invalid_input(
                fmt::format("nvidia-smi line {} `{}`: {} fields; {}", line_no, line, fields.size(), csv_form));
        }
        gpu_info g;
        const std::string where = fmt::format("nvidia-smi line {} `{}`", line_no, line);
        try {
            g.index = static_cast<int32_t>(parse_int(fields[0], "index"));
            std::string_view memory = trim(fields[3]);
            if (memory.ends_with("MiB")) {
                memory.remove_suffix(3);
            }
            g.memory_total_mib = parse_int(memory, "memory.total");
        } catch (const error& e) {
            throw invalid_input(fmt::format("{}: {}; {}", where, e.what(), csv_form));
        }
        g.uuid = std::string(trim(fields[1]));
        g.name = std::string(trim(fields[2]));
        if (g.uuid.empty() || g.name.empty() || g.index < 0 || g.memory_total_mib <= 0) {
            throw invalid_input(
                fmt::format("{}: empty UUID or name, or a negative index or memory; {}", where, csv_form));
        }
        g.type = gpu_type_of(g.name, g.memory_total_mib);
        gpus.push_back(std::move(g));
    }
    return gpus;
}

std::string gpu_type_of(std::string_view name, int64_t memory_total_mib) {
    std::string n = upper(trim(name));
    if (n.starts_with("NVIDIA ")) {
        n = n.substr(7);
    }
    if (n.find("H200") != std::string::npos) {
        return "H200";
    }
    if (n.find("H100") != std::string::npos) {
        if (n.find("PCIE") != std::string::npos) {
            return "H100-PCIe";
        }
        return n.find("NVL") != std::string::npos ? "H100-NVL" : "H100-SXM";
    }
    if (n.find("A100") != std::string::npos) {
        return memory_total_mib >= 60 * 1024 ? "A100-80GB" : "A100-40GB"; // 80 GB parts report ~81 GiB
    }
    if (n.find("A10G") != std::string::npos) {
        return "A10G";
    }
    if (n.find("L40S") != std::string::npos) {
        return "L40S";
    }
    if (has_word(n, "L4")) {
        return "L4";
    }
    std::string out(trim(name));
    if (out.starts_with("NVIDIA ")) {
        out = out.substr(7);
    }
    std::replace(out.begin(), out.end(), ' ', '-');
    return out;
}

gpu_detection detect_gpus() {
    gpu_detection d;
    if (find_program("nvidia-smi").empty()) {
        d.problem = "nvidia-smi not found on PATH";
        return d;
    }
    const run_result r =
        run_program("nvidia-smi", {"--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader"}, {}, "", 10);
    if (!r.ok()) {
        const std::string said = std::string(trim(r.out + " " + r.err));
        d.problem = fmt::format("nvidia-smi failed ({}{}): {}", r.timed_out ? "timed out, " : "",
                                describe_exit(r.exit_code), said.empty() ? "no output" : said);
        return d;
    }
    d.gpus = parse_nvidia_smi_csv(r.out);
    if (d.gpus.empty()) {
        d.problem = "nvidia-smi lists no GPU";
    }
    return d;
}

std::string describe_host(const gpu_detection& host) {
    if (host.gpus.empty()) {
        return fmt::format("no NVIDIA GPU ({})", host.problem);
    }
    std::map<std::string, std::vector<std::string>> by_type;
    for (const gpu_info& g : host.gpus) {
        by_type[g.type].push_back(fmt::format("GPU {}: {}, {} MiB", g.index, g.name, g.memory_total_mib));
    }
    std::vector<std::string> parts;
    for (const auto& [type, list] : by_type) {
        parts.push_back(fmt::format("{}× {} ({})", list.size(), type, fmt::join(list, "; ")));
    }
    return fmt::format("{}", fmt::join(parts, ", "));
}

std::vector<gpu_info> select_gpus(const std::vector<gpu_info>& gpus, std::string_view list) {
    std::vector<std::string> have;
    for (const gpu_info& g : gpus) {
        have.push_back(std::to_string(g.index));
    }
    const std::string have_text = have.empty() ? "none" : fmt::format("{}", fmt::join(have, ","));
    if (trim(list) == "all") {
        return gpus;
    }
    std::vector<gpu_info> out;
    for (const std::string_view part : split(list, ',')) {
        int64_t index = -1;
        try {
            index = parse_int(part, "--gpus");
        } catch (const error&) {
            throw invalid_input(fmt::format("--gpus {}: expected comma-separated GPU indices such as 0,1 or `all`; "
                                            "this host has GPUs {}",
                                            list, have_text));
        }
        const auto it = std::find_if(gpus.begin(), gpus.end(), [index](const gpu_info& g) { return g.index == index; });
        if (it == gpus.end()) {
            throw invalid_input(fmt::format("--gpus {}: this host has no GPU {} (GPUs: {})", list, index, have_text));
        }
        if (std::any_of(out.begin(), out.end(), [index](const gpu_info& g) { return g.index == index; })) {
            throw invalid_input(fmt::format("--gpus {}: GPU {} is listed twice", list, index));
        }
        out.push_back(*it);
    }
    return out;
}

} // namespace llmfleet::fleet
