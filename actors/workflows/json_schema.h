// The JSON Schema subset of the `validate_json` node: `type` (a name or a list of names: string,
// number, integer, boolean, object, array, null), `required`, `properties`,
// `additionalProperties` (a bool), `items`, `enum`, `minimum`, `maximum`, `minLength`,
// `maxLength`, `minItems`, `maxItems`, and `description`/`title` (ignored). Meanings follow
// JSON Schema 2020-12 for these keywords. Any other keyword is refused when the schema is
// compiled, so a definition never relies on a check that is not made.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/result.h"

namespace nf::workflows {

struct schema_violation {
  std::string path;     // a JSON pointer into the instance ("" for the whole of it)
  std::string message;
};

class json_schema {
 public:
  // errc::invalid_argument naming the schema location ("/properties/total/minimum: ...").
  static result<json_schema> compile(const nlohmann::json& schema);
  // Every violation (at most `limit`), in document order.
  std::vector<schema_violation> validate(const nlohmann::json& instance, std::size_t limit = 100) const;

  struct rule;

 private:
  std::shared_ptr<const rule> root_;
};

}  // namespace nf::workflows
