//===- ArtifactWriter.h - Writes model.kuai ---------------------*- C++ -*-===//
#ifndef KUAI_ARTIFACT_ARTIFACTWRITER_H
#define KUAI_ARTIFACT_ARTIFACTWRITER_H

#include "kuai/artifact_format.h"
#include <cstdint>
#include <string>
#include <vector>

namespace kuai {

/// Collects sections and writes them as one artifact file: header, sections
/// at aligned offsets, section table at the end. Section data is referenced,
/// not copied, until write() (weights can be large).
class ArtifactWriter {
public:
  /// `data` must stay valid until write(). Names are at most 31 bytes.
  void addSection(kuai_artifact_section_kind kind, const std::string &name,
                  const void *data, uint64_t size);
  /// Writes the file; returns an empty string or the error.
  std::string write(const std::string &path) const;

private:
  struct Pending {
    kuai_artifact_section_kind kind;
    std::string name;
    const void *data;
    uint64_t size;
  };
  std::vector<Pending> sections;
};

} // namespace kuai

#endif
