#include "tests/support/layer_pump.hpp"

#include <algorithm>

namespace dinx::test {

bool deliver(LayerEnd& to, LayerEnd& other, std::size_t chunk) {
    if (to.ended) to.inbox.clear();
    if (to.inbox.empty()) return false;
    ByteBuffer wire;
    wire.swap(to.inbox);
    for (std::size_t at = 0; at < wire.size() && !to.ended; at += chunk) {
        ByteBuffer up, reply;
        auto piece = Bytes{wire}.subspan(at, std::min(chunk, wire.size() - at));
        node::LayerVerdict verdict = to.layer->take_in(piece, up, reply);
        to.got += as_text(up);
        append(other.inbox, reply);
        if (!verdict.keep_open) to.ended = verdict;
    }
    return true;
}

LayerPair::LayerPair(std::unique_ptr<node::WireLayer> client_layer,
                     std::unique_ptr<node::WireLayer> server_layer) {
    client.layer = std::move(client_layer);
    server.layer = std::move(server_layer);
    client.layer->open(server.inbox);
}

void LayerPair::pump(std::size_t chunk) {
    // Both directions every round (|, not ||): a reply may wait on either side.
    while (deliver(server, client, chunk) | deliver(client, server, chunk)) {
    }
}

void LayerPair::send(LayerEnd& from, LayerEnd& to, std::string_view text) {
    ByteBuffer wire;
    from.layer->wrap_out(as_bytes(text), wire);
    append(to.inbox, wire);
}

std::string pattern(std::size_t size) {
    std::string text(size, '\0');
    for (std::size_t i = 0; i < size; ++i) text[i] = char('a' + i * 7 % 26);
    return text;
}

}  // namespace dinx::test
