#include "cluster/observe/node_metrics.hpp"

#include "cluster/observe/metric_families.hpp"

#include <unistd.h>

#include <fstream>

#ifndef DINX_VERSION
#define DINX_VERSION "unknown"
#endif

namespace dinx::cluster {
namespace {

void write_identity(PrometheusWriter& out, const NodeMetricsInput& input) {
    out.family("dinx_build_info", "gauge", "The dinx version this process runs (always 1).");
    out.sample("", {{"version", DINX_VERSION}}, std::uint64_t{1});
    out.family("dinx_node_info", "gauge", "The node's group and type (always 1).");
    out.sample(
        "",
        {{"group", input.info.group}, {"type", input.info.is_frontend() ? "frontend" : "backend"}},
        std::uint64_t{1});
    out.family("dinx_config_version", "gauge",
               "The version of the tables the node runs (always 1); it changes on a live reload.");
    out.sample("", {{"version", input.topology.version()}}, std::uint64_t{1});
    out.family("dinx_config_generation", "gauge",
               "How many snapshots of the tables the node ran before this one (0 at start).");
    out.sample("", {}, std::uint64_t{input.topology.generation()});
}

void write_process(PrometheusWriter& out, const NodeMetricsInput& input) {
    out.family("dinx_process_resident_memory_bytes", "gauge",
               "Resident memory of the process (all of its nodes).");
    out.sample("", {}, input.resident_bytes);
    out.family("dinx_buffered_bytes", "gauge",
               "Bytes the process holds in connection buffers and queues (memory budget).");
    out.sample("", {}, input.buffered_bytes);
    out.family("dinx_buffered_bytes_limit", "gauge",
               "The buffers' share of memory_budget_bytes, past which the process sheds load.");
    out.sample("", {}, input.buffer_budget);
    out.family("dinx_io_threads", "gauge", "io threads of the process.");
    out.sample("", {}, std::uint64_t{input.io_threads});
    out.family("dinx_node_shards", "gauge",
               "Shards of the node: one per io thread (gates, parallel backends), else one.");
    out.sample("", {}, std::uint64_t{input.shards});
}

void write_scrape(PrometheusWriter& out, const NodeMetricsInput& input) {
    out.family("dinx_scrape_complete", "gauge",
               "1 when every shard answered the scrape in time; 0 when the families that come "
               "from the shards are left out.");
    out.sample("", {}, std::uint64_t{input.stats ? 1u : 0u});
    out.family("dinx_scrape_duration_seconds", "gauge",
               "How long the node's shards took to answer this scrape.");
    out.sample("", {}, input.scrape_seconds);
}

}  // namespace

std::string render_node_metrics(const NodeMetricsInput& input) {
    PrometheusWriter out({{"node", input.info.name}});
    write_identity(out, input);
    write_process(out, input);
    if (input.stats) {
        if (input.info.is_frontend()) write_client_families(out, *input.stats);
        write_message_families(out, *input.stats, input.info, input.topology);
        write_event_families(out, *input.stats);
        write_link_families(out, *input.stats, input.topology);
    }
    write_scrape(out, input);
    return out.text();
}

std::uint64_t process_resident_bytes() {
    // statm: size resident shared text lib data dt, in pages.
    std::ifstream statm("/proc/self/statm");
    std::uint64_t size = 0, resident = 0;
    if (!(statm >> size >> resident)) return 0;
    return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace dinx::cluster
