//===- Status.h - Status objects of the runtime ----------------*- C++ -*-===//
#ifndef KUAI_RUNTIME_STATUS_H
#define KUAI_RUNTIME_STATUS_H

#include "kuai/kuai_runtime.h"
#include <string>

struct kuai_status_s {
  kuai_status_code code;
  std::string message;
};

namespace kuai::rt {
/// A new status (nullptr for KUAI_OK).
kuai_status_t makeStatus(kuai_status_code code, std::string message);
} // namespace kuai::rt

#endif
