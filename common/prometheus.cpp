// See prometheus.h.
#include "common/prometheus.h"

#include <fmt/format.h>

namespace llmfleet {

namespace {

// Label values escape backslash, double quote and newline.
void append_escaped(std::string& out, std::string_view value) {
    for (const char c : value) {
        if (c == '\\' || c == '"') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
}

} // namespace

void prometheus_text::family(std::string_view name, std::string_view type, std::string_view help) {
    _text += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n", name, help, type);
}

void prometheus_text::append_labels(const prometheus_labels& labels, std::string_view extra_name,
                                    std::string_view extra_value) {
    if (labels.empty() && extra_name.empty()) {
        return;
    }
    _text += '{';
    bool first = true;
    const auto one = [&](std::string_view name, std::string_view value) {
        if (!first) {
            _text += ',';
        }
        first = false;
        _text += name;
        _text += "=\"";
        append_escaped(_text, value);
        _text += '"';
    };
    for (const auto& [name, value] : labels) {
        one(name, value);
    }
    if (!extra_name.empty()) {
        one(extra_name, extra_value);
    }
    _text += '}';
}

void prometheus_text::sample(std::string_view name, const prometheus_labels& labels, double value) {
    _text += name;
    append_labels(labels);
    _text += fmt::format(" {}\n", value);
}

void prometheus_text::histogram_samples(std::string_view name, const prometheus_labels& labels, const histogram& h) {
    const std::vector<int64_t> cumulative = h.cumulative_counts();
    const std::string bucket = fmt::format("{}_bucket", name);
    for (size_t i = 0; i < h.upper_bounds().size(); ++i) {
        _text += bucket;
        append_labels(labels, "le", fmt::format("{}", h.upper_bounds()[i]));
        _text += fmt::format(" {}\n", cumulative[i]);
    }
    _text += bucket;
    append_labels(labels, "le", "+Inf");
    _text += fmt::format(" {}\n", h.count());
    sample(fmt::format("{}_sum", name), labels, h.sum());
    sample(fmt::format("{}_count", name), labels, static_cast<double>(h.count()));
}

} // namespace llmfleet
