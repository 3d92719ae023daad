#include "node/wire_layer.hpp"

namespace dinx::node {
namespace {

// Bytes between the two layers. One per thread serves every connection: a layer hands them on
// before it returns, so nothing stays in them between calls.
thread_local ByteBuffer between;
thread_local ByteBuffer upper_reply;

class StackedLayer final : public WireLayer {
public:
    StackedLayer(std::unique_ptr<WireLayer> lower, std::unique_ptr<WireLayer> upper)
        : lower_(std::move(lower)), upper_(std::move(upper)) {}

    void open(ByteBuffer& wire) override {
        lower_->open(wire);
        // The upgrade request goes through TLS, which holds it until its handshake is done.
        through_upper([&](ByteBuffer& mid) { upper_->open(mid); }, wire);
    }

    LayerVerdict take_in(Bytes wire, ByteBuffer& up, ByteBuffer& reply) override {
        between.clear();
        auto verdict = lower_->take_in(wire, between, reply);
        if (between.empty()) return verdict;
        upper_reply.clear();
        auto upper_verdict = upper_->take_in(Bytes{between}, up, upper_reply);
        if (!upper_reply.empty()) lower_->wrap_out(Bytes{upper_reply}, reply);
        if (upper_verdict.keep_open) return verdict;
        // The upper layer ended it (a WebSocket close): the lower one says goodbye below it.
        lower_->say_goodbye(reply);
        return upper_verdict;
    }

    void wrap_out(Bytes up, ByteBuffer& wire) override {
        through_upper([&](ByteBuffer& mid) { upper_->wrap_out(up, mid); }, wire);
    }

    void say_goodbye(ByteBuffer& wire) override {
        through_upper([&](ByteBuffer& mid) { upper_->say_goodbye(mid); }, wire);
        lower_->say_goodbye(wire);
    }

    void probe(ByteBuffer& wire) override {
        through_upper([&](ByteBuffer& mid) { upper_->probe(mid); }, wire);
    }

    bool handshake_done() const override {
        return lower_->handshake_done() && upper_->handshake_done();
    }
    std::size_t held_bytes() const override { return lower_->held_bytes() + upper_->held_bytes(); }
    std::string_view name() const override { return "tls+websocket"; }

private:
    /// Lets the upper layer write into the buffer between, then wraps that for the wire.
    template <class WriteUpper>
    void through_upper(WriteUpper write_upper, ByteBuffer& wire) {
        between.clear();
        write_upper(between);
        if (!between.empty()) lower_->wrap_out(Bytes{between}, wire);
    }

    std::unique_ptr<WireLayer> lower_;
    std::unique_ptr<WireLayer> upper_;
};

class StackedLayerFactory final : public WireLayerFactory {
public:
    StackedLayerFactory(std::shared_ptr<const WireLayerFactory> lower,
                        std::shared_ptr<const WireLayerFactory> upper)
        : lower_(std::move(lower)), upper_(std::move(upper)) {}
    std::unique_ptr<WireLayer> make() const override {
        return std::make_unique<StackedLayer>(lower_->make(), upper_->make());
    }

private:
    std::shared_ptr<const WireLayerFactory> lower_;
    std::shared_ptr<const WireLayerFactory> upper_;
};

}  // namespace

std::shared_ptr<const WireLayerFactory> stack_layers(
    std::shared_ptr<const WireLayerFactory> lower, std::shared_ptr<const WireLayerFactory> upper) {
    return std::make_shared<StackedLayerFactory>(std::move(lower), std::move(upper));
}

std::unique_ptr<WireLayer> stack_layer(std::unique_ptr<WireLayer> lower,
                                       std::unique_ptr<WireLayer> upper) {
    return std::make_unique<StackedLayer>(std::move(lower), std::move(upper));
}

}  // namespace dinx::node
