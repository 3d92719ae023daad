#pragma once
// Prometheus's text exposition format, version 0.0.4: each family opens with `# HELP` and
// `# TYPE`, then one line per sample, `name{label="value",...} value`. Label values and help
// texts are escaped here (route and node names come from config files), and every sample
// carries the writer's common labels first (the node's name).

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dinx::cluster {

/// Builds one scrape's text.
class PrometheusWriter {
public:
    /// A sample's own labels, after the common ones.
    using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

    /// Every sample will carry `common` labels first.
    explicit PrometheusWriter(std::vector<std::pair<std::string, std::string>> common);

    /// Opens family `name` of `type` ("counter", "gauge" or "histogram"); a counter's name ends
    /// in `_total`.
    void family(std::string_view name, std::string_view type, std::string_view help);
    /// A sample of the open family: its name plus `suffix` ("_bucket", "_sum", "_count" for a
    /// histogram; empty otherwise).
    void sample(std::string_view suffix, Labels labels, std::uint64_t value);
    /// A sample with a value that is not a whole number.
    void sample(std::string_view suffix, Labels labels, double value);
    /// The whole histogram `buckets` (per bucket, not cumulative, the last one +Inf) with upper
    /// bounds `bounds` (in the family's unit), their count and sum, under `labels`.
    void histogram(Labels labels, const std::vector<double>& bounds,
                   const std::vector<std::uint64_t>& buckets, std::uint64_t count, double sum);

    /// The text so far.
    const std::string& text() const { return out_; }

private:
    /// Writes `name{common...,labels...} ` up to the value.
    void begin_sample(std::string_view suffix, Labels labels,
                      std::pair<std::string_view, std::string_view> extra = {});

    std::vector<std::pair<std::string, std::string>> common_;
    std::string family_;
    std::string out_;
};

/// `value` as Prometheus reads a float: shortest exact form, `+Inf`, `-Inf` or `NaN`.
std::string prometheus_number(double value);

}  // namespace dinx::cluster
