// The "ledger" section of the config file.
#include "actors/evidence/settings.h"

#include "core/config/section.h"

namespace nf::evidence {

namespace {

result<ledger_settings> read(const config::section_reader& r) {
  ledger_settings s;
  NF_TRY(r.get("signing_key", s.signing_key));
  NF_TRY(r.get("head_every_leaves", s.head_every_leaves));
  NF_TRY(r.get("head_every_ms", s.head_every_ms));
  NF_TRY(r.get("max_record_bytes", s.max_record_bytes));
  NF_TRY(r.get("topics", s.topics));
  if (s.head_every_leaves <= 0) return r.bad("head_every_leaves", "must be greater than 0");
  if (s.head_every_ms <= 0) return r.bad("head_every_ms", "must be greater than 0");
  if (s.max_record_bytes <= 0) return r.bad("max_record_bytes", "must be greater than 0");
  return s;
}

const std::set<std::string> kKeys = {"signing_key", "head_every_leaves", "head_every_ms", "topics", "max_record_bytes"};

}  // namespace

result<ledger_settings> ledger_settings_of(const config::config& c) {
  NF_TRY_ASSIGN(auto r, config::section_reader::open(c, "ledger", kKeys));
  return read(r);
}

result<void> check_ledger_section(const std::string& json_text) {
  NF_TRY_ASSIGN(auto r, config::section_reader::parse("ledger", json_text, kKeys));
  NF_TRY(read(r));
  return ok();
}

}  // namespace nf::evidence
