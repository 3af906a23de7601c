// Dependency resolution: which version of every package in a request's closure to install, and
// in what order. Conflict-driven (PubGrub): it learns an incompatibility from every conflict and
// backjumps, so it finds a solution whenever one exists and, when none does, explains why as the
// chain of requirements that cannot all hold.
//
// Version sets are finite: a package's candidates are its published versions, so a set of them is
// a bitset over those versions plus one bit for "not selected". Intersection, union and complement
// are then exact, and a range becomes the set of published versions it admits (npm's semantics,
// semver.h).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/marketplace/semver.h"

namespace nf::marketplace {

struct dependency {
  std::string name;
  std::string range;  // npm syntax, as the manifest wrote it
};

// A version the resolver may choose, with what it needs.
struct candidate {
  version ver;
  std::vector<dependency> dependencies;
  std::string digest;  // carried to the answer (the package's SHA-256)
};

// Every version of `name` the resolver may choose (approved, not yanked), in any order; nullopt
// when there is no such package.
using package_source = std::function<std::optional<std::vector<candidate>>(std::string_view name)>;

struct resolved_package {
  std::string name;
  version ver;
  std::string digest;
  std::vector<std::string> dependencies;  // names, each also resolved
};

struct resolution {
  std::vector<resolved_package> packages;  // by name
  std::vector<std::string> order;          // "name@version", every package after its dependencies
};

struct resolve_failure {
  enum class kind {
    unsatisfiable,  // no set of versions meets every requirement: `message` and `explanation`
    cycle,          // the chosen versions depend on each other in a loop: `cycle`
    invalid,        // a requested or published range does not parse: `message`
    too_complex,    // the search went over options::max_steps
  };
  kind what = kind::unsatisfiable;
  std::string message;                // for people: the requirements that conflict, as a chain
  nlohmann::json explanation;         // for tools: {"facts":[...], "derivation":[...]}
  std::vector<std::string> cycle;     // "a@1.0.0", "b@2.0.0", ..., "a@1.0.0"
};

struct resolve_options {
  std::uint64_t max_steps = 1'000'000;  // decisions plus conflicts
};

// Resolves `name` at `requested` (npm range syntax) and everything it needs.
std::variant<resolution, resolve_failure> resolve(std::string_view name, std::string_view requested,
                                                  const package_source& source, const resolve_options& opts = {});

const char* to_string(resolve_failure::kind k);

}  // namespace nf::marketplace
