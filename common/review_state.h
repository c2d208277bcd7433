// ReviewStateName: how an app version's pedagogical review state reads to people
// ("approved"), the same in the server's refusals and in the CLI's listings.
#pragma once

#include <string>

#include "preau/v1/catalog.pb.h"

namespace preau {

inline std::string ReviewStateName(v1::ReviewState s) {
  switch (s) {
    case v1::REVIEW_STATE_SUBMITTED: return "submitted";
    case v1::REVIEW_STATE_APPROVED: return "approved";
    case v1::REVIEW_STATE_REJECTED: return "rejected";
    default: return "unknown";
  }
}

}  // namespace preau
