// Workflow templates: a definition with parameters, instantiated into a definition.
//
//   template: order-handling        # the name (letters, digits, '-', '_')
//   version: 1                      # templates are versioned like definitions
//   category: e-commerce
//   title: Order handling
//   description: ...
//   params:                         # name -> {type, default?, description?}; no default: required
//     id: {type: string, default: order-handling}
//     approval_over: {type: number, default: 500}
//   example_inputs: {...}           # inputs a run of the result can take (docs and tests)
//   definition: {...}               # a workflow definition; "{{name}}" is replaced by the value
//                                   # (typed when it is the whole string, else as text)
//
// The shipped templates are the files of config/templates/, compiled into the binary; tenants
// add their own with POST /workflows/templates.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/result.h"

namespace nf::workflows {

// Checks a template document: errc::invalid_argument naming the field.
result<void> check_template(const nlohmann::json& t);

// The definition with every {{param}} replaced (defaults for those not given). Unknown params,
// missing required ones and values of the wrong type are errc::invalid_argument naming
// "params.<name>".
result<nlohmann::json> instantiate(const nlohmann::json& t, const nlohmann::json& params);

// The shipped templates, parsed: [{template, version, ...}], by name.
const std::vector<nlohmann::json>& shipped_templates();

}  // namespace nf::workflows
