#include "cluster/observe/prometheus_writer.hpp"

#include <fmt/format.h>

#include <cmath>

namespace dinx::cluster {
namespace {

// Label values escape backslash, double quote and line feed; help texts all but the quote.
void append_escaped(std::string& out, std::string_view text, bool quote) {
    for (char c : text) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else if (c == '"' && quote)
            out += "\\\"";
        else
            out += c;
    }
}

void append_label(std::string& out, bool& first, std::string_view name, std::string_view value) {
    out += first ? '{' : ',';
    first = false;
    out += name;
    out += "=\"";
    append_escaped(out, value, true);
    out += '"';
}

}  // namespace

std::string prometheus_number(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    return fmt::format("{}", value);
}

PrometheusWriter::PrometheusWriter(std::vector<std::pair<std::string, std::string>> common)
    : common_(std::move(common)) {}

void PrometheusWriter::family(std::string_view name, std::string_view type, std::string_view help) {
    family_ = name;
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    append_escaped(out_, help, false);
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
}

void PrometheusWriter::begin_sample(std::string_view suffix, Labels labels,
                                    std::pair<std::string_view, std::string_view> extra) {
    out_ += family_;
    out_ += suffix;
    bool first = true;
    for (const auto& [name, value] : common_) append_label(out_, first, name, value);
    for (const auto& [name, value] : labels) append_label(out_, first, name, value);
    if (!extra.first.empty()) append_label(out_, first, extra.first, extra.second);
    if (!first) out_ += '}';
    out_ += ' ';
}

void PrometheusWriter::sample(std::string_view suffix, Labels labels, std::uint64_t value) {
    begin_sample(suffix, labels);
    fmt::format_to(std::back_inserter(out_), "{}\n", value);
}

void PrometheusWriter::sample(std::string_view suffix, Labels labels, double value) {
    begin_sample(suffix, labels);
    out_ += prometheus_number(value);
    out_ += '\n';
}

void PrometheusWriter::histogram(Labels labels, const std::vector<double>& bounds,
                                 const std::vector<std::uint64_t>& buckets, std::uint64_t count,
                                 double sum) {
    // Buckets are cumulative in the format: each counts every observation up to its bound.
    std::uint64_t running = 0;
    for (std::size_t i = 0; i < buckets.size(); ++i) {
        running += buckets[i];
        auto le = i < bounds.size() ? prometheus_number(bounds[i]) : std::string("+Inf");
        begin_sample("_bucket", labels, {"le", le});
        fmt::format_to(std::back_inserter(out_), "{}\n", running);
    }
    sample("_sum", labels, sum);
    sample("_count", labels, count);
}

}  // namespace dinx::cluster
