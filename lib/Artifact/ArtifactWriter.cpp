//===- ArtifactWriter.cpp - Writes model.kuai -----------------------------===//

#include "kuai/Artifact/ArtifactWriter.h"
#include <cerrno>
#include <cstdio>
#include <cstring>

using namespace kuai;

void ArtifactWriter::addSection(kuai_artifact_section_kind kind,
                                const std::string &name, const void *data,
                                uint64_t size) {
  sections.push_back({kind, name.substr(0, 31), data, size});
}

static uint64_t alignUp(uint64_t v) {
  return (v + KUAI_ARTIFACT_ALIGNMENT - 1) / KUAI_ARTIFACT_ALIGNMENT *
         KUAI_ARTIFACT_ALIGNMENT;
}

std::string ArtifactWriter::write(const std::string &path) const {
  std::vector<kuai_artifact_section> table(sections.size());
  uint64_t offset = alignUp(sizeof(kuai_artifact_header));
  for (size_t i = 0; i < sections.size(); ++i) {
    kuai_artifact_section &s = table[i];
    std::memset(&s, 0, sizeof(s));
    s.kind = sections[i].kind;
    s.offset = offset;
    s.size = sections[i].size;
    s.checksum = kuai_artifact_checksum(sections[i].data, sections[i].size);
    std::memcpy(s.name, sections[i].name.data(), sections[i].name.size());
    offset = alignUp(offset + s.size);
  }
  kuai_artifact_header header;
  std::memset(&header, 0, sizeof(header));
  std::memcpy(header.magic, KUAI_ARTIFACT_MAGIC, 8);
  header.version = KUAI_ARTIFACT_VERSION;
  header.section_count = uint32_t(table.size());
  header.table_offset = offset;
  header.table_checksum =
      kuai_artifact_checksum(table.data(), table.size() * sizeof(table[0]));
  header.file_size = offset + table.size() * sizeof(table[0]);

  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return "cannot write '" + path + "': " + std::strerror(errno);
  static const char zeros[KUAI_ARTIFACT_ALIGNMENT] = {};
  bool ok = std::fwrite(&header, sizeof(header), 1, f) == 1;
  uint64_t at = sizeof(header);
  auto padTo = [&](uint64_t target) {
    while (ok && at < target) {
      uint64_t n = std::min<uint64_t>(target - at, sizeof(zeros));
      ok = std::fwrite(zeros, 1, n, f) == n;
      at += n;
    }
  };
  for (size_t i = 0; ok && i < sections.size(); ++i) {
    padTo(table[i].offset);
    ok = ok && (sections[i].size == 0 ||
                std::fwrite(sections[i].data, 1, sections[i].size, f) ==
                    sections[i].size);
    at += sections[i].size;
  }
  padTo(header.table_offset);
  ok = ok && (table.empty() || std::fwrite(table.data(), sizeof(table[0]),
                                           table.size(), f) == table.size());
  ok = std::fclose(f) == 0 && ok;
  if (!ok)
    return "writing '" + path + "' failed: " + std::strerror(errno);
  return "";
}
