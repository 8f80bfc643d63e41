/*===- artifact_format.h - The on-disk layout of model.kuai ------*- C -*-===*\
|*                                                                            *|
|* Shared by the compiler (writer, lib/Artifact) and the runtime (reader).    *|
|* Plain C, little-endian, no dependencies. Specified in docs/artifact.md.    *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
#ifndef KUAI_ARTIFACT_FORMAT_H
#define KUAI_ARTIFACT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KUAI_ARTIFACT_MAGIC "KUAIMODL"
/* Bumped on any incompatible change; readers reject other versions. */
#define KUAI_ARTIFACT_VERSION 1u
/* Every section starts at a multiple of this (weights upload directly). */
#define KUAI_ARTIFACT_ALIGNMENT 256u

typedef struct kuai_artifact_header {
  char magic[8];            /* KUAI_ARTIFACT_MAGIC, not NUL-terminated */
  uint32_t version;         /* KUAI_ARTIFACT_VERSION */
  uint32_t section_count;   /* entries in the section table */
  uint64_t file_size;       /* total bytes, for truncation checks */
  uint64_t table_offset;    /* offset of the section table */
  uint64_t table_checksum;  /* kuai_artifact_checksum of the table */
  uint8_t reserved[24];     /* zero */
} kuai_artifact_header;

typedef enum kuai_artifact_section_kind {
  KUAI_SECTION_MANIFEST = 1, /* JSON: inputs, outputs, dims, options, target */
  KUAI_SECTION_PLAN = 2,     /* JSON: kernels, launches, arena offsets */
  KUAI_SECTION_PTX = 3,      /* one PTX module (text), named */
  KUAI_SECTION_WEIGHTS = 4,  /* raw weight bytes, named */
} kuai_artifact_section_kind;

typedef struct kuai_artifact_section {
  uint32_t kind;       /* kuai_artifact_section_kind */
  uint32_t reserved;   /* zero */
  uint64_t offset;     /* multiple of KUAI_ARTIFACT_ALIGNMENT */
  uint64_t size;       /* bytes */
  uint64_t checksum;   /* kuai_artifact_checksum of the bytes */
  char name[32];       /* NUL-terminated */
} kuai_artifact_section;

/* A 64-bit integrity checksum (not cryptographic), fast enough for
 * gigabytes of weights: 8-byte words mixed by multiply and rotate, then the
 * tail bytes, then the length. */
static inline uint64_t kuai_artifact_checksum(const void *data, size_t size) {
  const unsigned char *p = (const unsigned char *)data;
  uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)size;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t w = 0;
    for (int b = 0; b < 8; ++b)
      w |= (uint64_t)p[i + b] << (8 * b);
    h ^= w * 0xff51afd7ed558ccdull;
    h = ((h << 31) | (h >> 33)) * 0xc4ceb9fe1a85ec53ull;
  }
  for (; i < size; ++i)
    h = (h ^ p[i]) * 0x100000001b3ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

#ifdef __cplusplus
}
#endif

#endif /* KUAI_ARTIFACT_FORMAT_H */
