// Read-your-writes tokens. A write answers with `NF-Position: <token>` naming the positions its
// events reached; a read that sends the token back in `NF-Wait-For` waits until this instance's
// read models have applied them. The token is opaque to clients: base64url of
//   version (1 byte) | cluster id (length-prefixed) | count | (topic, partition, offset)* | check
// where numbers are LEB128 varints and the check is the first 8 bytes of the SHA-256 of what
// precedes it. A token of another cluster, or one that was changed, is refused by name.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"
#include "core/base/types.h"

namespace nf::bus {

// The offset of the last event a write appended to a partition (the read waits until it is applied).
struct position {
  topic_partition tp;
  offset off;
  bool operator==(const position&) const = default;
};

std::string encode_position_token(std::string_view cluster_id, const std::vector<position>& positions);
// invalid_argument naming what is wrong: not a token, damaged, another cluster, too many positions.
result<std::vector<position>> decode_position_token(std::string_view token, std::string_view cluster_id);

// Keeps, per partition, the highest of the positions given.
std::vector<position> merge_positions(std::vector<position> a, const std::vector<position>& b);

}  // namespace nf::bus
