#include "cluster/observe/admin_client.hpp"

#include "cluster/observe/admin_protocol.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace dinx::cluster {

AdminClient::AdminClient(const std::string& host, std::uint16_t port, std::uint32_t node_id,
                         const std::string& secret, std::chrono::milliseconds timeout)
    : timeout_(timeout) {
    try {
        client_ = std::make_unique<node::BlockingClient>(host, port, timeout,
                                                         admin::max_answer_bytes);
    } catch (const std::system_error& error) {
        throw std::runtime_error(error.what());
    }
    auto challenge = next("its challenge");
    if (challenge.msg_id != admin::challenge || challenge.payload.size() != 1 + auth_size)
        throw std::runtime_error("it does not speak the admin protocol");
    bool wants_proof = (challenge.payload[0] & admin::secret_required) != 0;
    if (wants_proof && secret.empty())
        throw std::runtime_error(
            "it wants a proof of the cluster secret: set DINX_CLUSTER_SECRET or [cluster] "
            "secret_file");
    std::string proof;
    if (wants_proof) {
        auto node_nonce = auth_bytes_at(as_bytes(challenge.payload), 1);
        auto nonce = random_nonce();
        proof.append(as_text(nonce));
        proof.append(as_text(admin::admin_proof(secret, node_id, node_nonce, nonce)));
    }
    client_->send(admin::proof, proof);
    auto welcome = next("its welcome");
    if (welcome.msg_id == admin::refused) throw std::runtime_error("refused: " + welcome.payload);
    if (welcome.msg_id != admin::welcome) throw std::runtime_error("an unexpected answer");
    node_name_ = welcome.payload;
}

std::string AdminClient::run(const std::string& command, const std::string& argument) {
    nlohmann::json request{{"command", command}, {"argument", argument}};
    client_->send(admin::command,
                  request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    auto answer = next("the answer to " + command);
    if (answer.msg_id != admin::answer)
        throw std::runtime_error(answer.msg_id == admin::refused ? "refused: " + answer.payload
                                                                 : "an unexpected answer");
    return answer.payload;
}

node::Frame AdminClient::next(const std::string& waiting_for) {
    // A reload answers once both files are read and checked: give it the caller's deadline too.
    auto frame = client_->receive(timeout_);
    if (frame) return *frame;
    throw std::runtime_error(client_->closed() ? "it closed the connection before " + waiting_for
                                               : "no " + waiting_for + " in time");
}

}  // namespace dinx::cluster
