// Prometheus text exposition format (version 0.0.4): metric families with HELP/TYPE lines, samples with
// labels, and histograms from common/histogram. Shared by every /metrics endpoint so they format alike.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/histogram.h"

namespace llmfleet {

using prometheus_labels = std::vector<std::pair<std::string, std::string>>; // name → value, in order

class prometheus_text {
public:
    // Starts a family: `type` is counter, gauge or histogram. Samples that follow belong to it.
    void family(std::string_view name, std::string_view type, std::string_view help);
    // One sample of the current family (label values are escaped).
    void sample(std::string_view name, const prometheus_labels& labels, double value);
    // The _bucket / _sum / _count samples of a histogram family started with family(name, "histogram", ...).
    void histogram_samples(std::string_view name, const prometheus_labels& labels, const histogram& h);
    const std::string& text() const { return _text; }

private:
    void append_labels(const prometheus_labels& labels, std::string_view extra_name = "",
                       std::string_view extra_value = "");
    std::string _text;
};

} // namespace llmfleet
