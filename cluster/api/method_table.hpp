#pragma once
// The methods a process offers to calls: method id -> function, filled at start-up and read-only
// while running. A method is registered by number, or by name: the caller and the callee both
// turn a name into its id (method_id, a 32-bit FNV-1a hash), so only the number travels. Two
// names with the same id, or a name whose id a numbered method has, are refused at
// registration, naming both, never discovered by a wrong method answering.

#include "cluster/api/call.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace dinx::cluster {

/// Maps method ids to methods of any callable type.
template <class Method>
class MethodTable {
public:
    /// Registers method number `id`.
    void add(MethodId id, Method method) {
        insert(id, "#" + std::to_string(id), std::move(method));
    }
    /// Registers the method called `name` (1 to 64 bytes).
    void add(std::string_view name, Method method) {
        if (name.empty() || name.size() > max_method_name)
            throw std::invalid_argument("a method name is 1 to " + std::to_string(max_method_name) +
                                        " bytes");
        insert(method_id(name), std::string(name), std::move(method));
    }
    /// The method with id `id`, or nullptr.
    const Method* find(MethodId id) const {
        auto it = methods_.find(id);
        return it == methods_.end() ? nullptr : &it->second.method;
    }
    /// How the method with id `id` was registered ("score_of", or "#7"); "" when unknown.
    std::string_view name_of(MethodId id) const {
        auto it = methods_.find(id);
        return it == methods_.end() ? std::string_view{} : std::string_view(it->second.name);
    }
    /// Number of methods.
    std::size_t size() const { return methods_.size(); }

private:
    struct Entry {
        std::string name;
        Method method;
    };

    void insert(MethodId id, std::string name, Method method) {
        auto [it, added] = methods_.try_emplace(id, Entry{name, std::move(method)});
        if (added) return;
        if (it->second.name == name)
            throw std::logic_error("method " + name + " is already registered");
        throw std::logic_error("methods " + it->second.name + " and " + name +
                               " have the same id " + std::to_string(id) + "; rename one");
    }

    std::unordered_map<MethodId, Entry> methods_;
};

}  // namespace dinx::cluster
