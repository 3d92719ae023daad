// End-to-end tests of links over TLS ([cluster] link_tls_cert, link_tls_key, link_tls_ca): real
// dinx-demo processes, one per node, with certificates made at test time.
//
// Every wait is bounded and awaits a condition (a port accepting, a process exiting, a frame
// arriving, a log line); nothing sleeps a fixed time hoping the cluster caught up.

#include "node/blocking_client.hpp"
#include "node/tls_layer.hpp"
#include "node/websocket_client_layer.hpp"  // make_client_layer
#include "tests/support/child_process.hpp"
#include "tests/support/test_certs.hpp"

#include <doctest/doctest.h>

#include "tests/support/demo_cluster.hpp"  // (its checks need doctest first)

#include <chrono>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

using namespace dinx::test;
using namespace dinx::test::e2e;

namespace {

/// The [cluster] lines that make links speak TLS with `cert` as certificate, key and CA (a
/// self-signed certificate is its own CA), the files named relative to the conf dir.
std::string link_tls_settings(const std::string& stem, const std::string& ca_stem) {
    return "link_tls_cert = \"" + stem + ".crt\"\nlink_tls_key = \"" + stem +
           ".key\"\nlink_tls_ca = \"" + ca_stem + ".crt\"\n";
}

/// Starts im-1 and im-2, one process each, with `conf`'s dinx.toml.
void start_backends(Cluster& cluster) {
    cluster.start_listening({2});
    cluster.start_listening({3});
}

}  // namespace

TEST_CASE("links speak TLS when dinx.toml names link_tls_cert, link_tls_key and link_tls_ca") {
    DemoConf conf;
    conf.settings = link_tls_settings("links", "links");
    Cluster cluster(conf);
    auto cert = make_self_signed(cluster.dir(), "links");
    start_backends(cluster);
    cluster.start_listening({1});
    check_script_passes(cluster);  // gate-1 reached im-1 and im-2 over TLS links

    // The backend's link port is a TLS server whose chain leads to the cluster's CA: a TLS
    // client finishes its handshake there (a plain link port would answer no ClientHello).
    auto tls = dinx::node::TlsContext::client(cert.cert.string(), "");
    BlockingClient tls_client("127.0.0.1", conf.im1_port, promised_bound, 1 << 16,
                              dinx::node::make_client_layer(tls, std::nullopt));
    // The cluster secret still guards the link: a frame that is no link hello closes it.
    tls_client.send(1, "not a link hello");
    CHECK_FALSE(tls_client.receive(promised_bound).has_value());
    CHECK(tls_client.closed());

    // Plain TCP to the same port gets no link: the TLS server reads a ClientHello there.
    BlockingClient plain("127.0.0.1", conf.im1_port, promised_bound);
    plain.send(1, "plain bytes");
    CHECK_FALSE(plain.receive(promised_bound).has_value());
    CHECK(plain.closed());
}

TEST_CASE("a gate whose link_tls_ca does not hold the backends' certificate gets no link") {
    DemoConf conf;
    conf.with_im2 = false;
    conf.settings = link_tls_settings("links", "links");
    Cluster cluster(conf);
    make_self_signed(cluster.dir(), "links");
    start_backends(cluster);

    // gate-1 runs from a conf dir of its own, identical but for a CA that signed nothing here.
    TempDir gate_dir("dinx-e2e-gate-");
    auto gate_conf = conf;
    gate_conf.settings = link_tls_settings("links", "stranger");
    gate_conf.write(gate_dir.path());
    make_self_signed(gate_dir.path(), "links");
    make_self_signed(gate_dir.path(), "stranger");
    auto& gate = cluster.start_tool(
        {demo_path(), "--conf", gate_dir.path().string(), "--id", "1"}, "gate-stranger-ca");
    REQUIRE(wait_for_port(conf.gate_port, start_timeout));

    BlockingClient client("127.0.0.1", conf.gate_port, promised_bound);
    log_in(client, "alice");  // msgID 1 runs on the gate itself
    client.send(3, "hello");  // msgID 3 needs a link to im-1
    auto answer = receive_frame(client);
    INFO(cluster.logs());
    CHECK(answer.msg_id == error_msg_id);
    CHECK(contains(answer.payload, "\"code\": \"unavailable\""));
    CHECK(wait_for_output(gate, "certificate verify failed"));
}

TEST_CASE("a link_tls_ca that cannot be read stops the node with exit code 2 naming its line") {
    DemoConf conf;
    conf.settings = "link_tls_cert = \"links.crt\"\nlink_tls_key = \"links.key\"\n"
                    "link_tls_ca = \"missing-ca.crt\"\n";
    Cluster cluster(conf);
    make_self_signed(cluster.dir(), "links");
    auto output = check_refused(cluster, {1});
    CHECK(contains(output, "dinx.toml:2:"));  // the [cluster] table's first line is line 1
    CHECK(contains(output, "missing-ca.crt"));
}
