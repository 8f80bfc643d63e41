//===- Status.cpp - Status objects of the runtime -------------------------===//

#include "Status.h"
#include <new>

kuai_status_t kuai::rt::makeStatus(kuai_status_code code, std::string message) {
  if (code == KUAI_OK)
    return nullptr;
  return new (std::nothrow) kuai_status_s{code, std::move(message)};
}

extern "C" kuai_status_code kuai_status_code_of(kuai_status_t status) {
  return status ? status->code : KUAI_OK;
}

extern "C" const char *kuai_status_message(kuai_status_t status) {
  return status ? status->message.c_str() : "";
}

extern "C" void kuai_status_free(kuai_status_t status) { delete status; }
