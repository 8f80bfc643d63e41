//===- Artifact.h - A mapped, validated model.kuai --------------*- C++ -*-===//
#ifndef KUAI_RUNTIME_ARTIFACT_H
#define KUAI_RUNTIME_ARTIFACT_H

#include "Status.h"
#include "kuai/artifact_format.h"
#include <memory>
#include <string>
#include <vector>

struct kuai_artifact_s {
  std::string path;
  const char *base = nullptr; // the whole file, mapped read-only
  uint64_t size = 0;
  std::vector<kuai_artifact_section> sections;
  std::string manifest;
  ~kuai_artifact_s();
};

namespace kuai::rt {
/// Maps and validates an artifact (every checksum).
kuai_status_t openArtifact(const char *path,
                           std::unique_ptr<kuai_artifact_s> &out);
} // namespace kuai::rt

#endif
