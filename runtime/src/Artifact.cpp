//===- Artifact.cpp - Reading and validating model.kuai -------------------===//

#include "Artifact.h"
#include "kuai/artifact_format.h"
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace kuai::rt;

kuai_artifact_s::~kuai_artifact_s() {
  if (base)
    munmap(const_cast<char *>(base), size);
}

static kuai_status_t fail(kuai_status_code code, const std::string &path,
                          const std::string &what) {
  return makeStatus(code, path + ": " + what);
}

kuai_status_t kuai::rt::openArtifact(const char *path,
                                     std::unique_ptr<kuai_artifact_s> &out) {
  if (!path)
    return makeStatus(KUAI_INVALID_ARGUMENT, "no artifact path given");
  int fd = ::open(path, O_RDONLY);
  if (fd < 0)
    return fail(KUAI_NOT_FOUND, path,
                std::string("cannot open: ") + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    ::close(fd);
    return fail(KUAI_NOT_FOUND, path, "cannot stat");
  }
  auto artifact = std::make_unique<kuai_artifact_s>();
  artifact->path = path;
  artifact->size = uint64_t(st.st_size);
  if (artifact->size < sizeof(kuai_artifact_header)) {
    ::close(fd);
    return fail(KUAI_DATA_LOSS, path,
                "not a kuai artifact: " + std::to_string(artifact->size) +
                    " bytes, shorter than the header");
  }
  void *map = mmap(nullptr, artifact->size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED)
    return fail(KUAI_INTERNAL, path, "cannot map the file");
  artifact->base = static_cast<const char *>(map);

  kuai_artifact_header header;
  std::memcpy(&header, artifact->base, sizeof(header));
  if (std::memcmp(header.magic, KUAI_ARTIFACT_MAGIC, 8) != 0)
    return fail(KUAI_DATA_LOSS, path, "not a kuai artifact (bad magic)");
  if (header.version != KUAI_ARTIFACT_VERSION)
    return fail(KUAI_INCOMPATIBLE, path,
                "artifact format version " + std::to_string(header.version) +
                    ", this runtime reads version " +
                    std::to_string(KUAI_ARTIFACT_VERSION) +
                    "; recompile the model with a matching kuai-compile");
  if (header.file_size != artifact->size)
    return fail(KUAI_DATA_LOSS, path,
                "truncated or extended: the header says " +
                    std::to_string(header.file_size) + " bytes, the file has " +
                    std::to_string(artifact->size));
  uint64_t tableBytes =
      uint64_t(header.section_count) * sizeof(kuai_artifact_section);
  if (header.table_offset > artifact->size ||
      tableBytes > artifact->size - header.table_offset)
    return fail(KUAI_DATA_LOSS, path, "section table outside the file");
  const char *table = artifact->base + header.table_offset;
  if (kuai_artifact_checksum(table, tableBytes) != header.table_checksum)
    return fail(KUAI_DATA_LOSS, path, "section table checksum mismatch");
  artifact->sections.resize(header.section_count);
  std::memcpy(artifact->sections.data(), table, tableBytes);
  for (kuai_artifact_section &s : artifact->sections) {
    s.name[sizeof(s.name) - 1] = '\0';
    if (s.offset % KUAI_ARTIFACT_ALIGNMENT || s.offset > artifact->size ||
        s.size > artifact->size - s.offset)
      return fail(KUAI_DATA_LOSS, path,
                  std::string("section '") + s.name +
                      "' lies outside the file");
    if (kuai_artifact_checksum(artifact->base + s.offset, s.size) != s.checksum)
      return fail(KUAI_DATA_LOSS, path,
                  std::string("section '") + s.name +
                      "' checksum mismatch (corrupted file)");
    if (s.kind == KUAI_SECTION_MANIFEST)
      artifact->manifest.assign(artifact->base + s.offset, s.size);
  }
  out = std::move(artifact);
  return nullptr;
}

extern "C" kuai_status_t kuai_artifact_open(const char *path,
                                            kuai_artifact_t *out_artifact) {
  if (!out_artifact)
    return makeStatus(KUAI_INVALID_ARGUMENT, "out_artifact is NULL");
  std::unique_ptr<kuai_artifact_s> artifact;
  if (kuai_status_t s = openArtifact(path, artifact))
    return s;
  *out_artifact = artifact.release();
  return nullptr;
}

extern "C" const char *kuai_artifact_manifest(kuai_artifact_t artifact) {
  return artifact ? artifact->manifest.c_str() : "";
}

extern "C" size_t kuai_artifact_section_count(kuai_artifact_t artifact) {
  return artifact ? artifact->sections.size() : 0;
}

extern "C" kuai_status_t kuai_artifact_section_info(kuai_artifact_t artifact,
                                                    size_t index,
                                                    uint32_t *out_kind,
                                                    const char **out_name,
                                                    uint64_t *out_size) {
  if (!artifact || index >= artifact->sections.size())
    return makeStatus(KUAI_INVALID_ARGUMENT, "no such section");
  const kuai_artifact_section &s = artifact->sections[index];
  if (out_kind)
    *out_kind = s.kind;
  if (out_name)
    *out_name = s.name;
  if (out_size)
    *out_size = s.size;
  return nullptr;
}

extern "C" void kuai_artifact_release(kuai_artifact_t artifact) {
  delete artifact;
}
