/*===- kuai_runtime.h - The kuai runtime C API ---------------------*- C
-*-===*\
|*                                                                            *|
|* Loads a compiled model.kuai and runs it on a GPU through the CUDA driver   *|
|* API (resolved at run time: the runtime links no CUDA library). Style:      *|
|* opaque handles, options structs with _initialize, out_ parameters, a       *|
|* status carrying a message. No function aborts the process.                 *|
|*                                                                            *|
|* Status: kuai_status_t is NULL on success. A non-NULL status is owned by   *|
|* the caller and released with kuai_status_free.                            *|
|*                                                                            *|
|* A model is loaded once (weights uploaded, PTX loaded, arena allocated),   *|
|* then run any number of times: set every input, execute, read outputs.     *|
|* Sizes of symbolic dims (batch, seq) come from the inputs of each run and  *|
|* must stay within the bounds the model was compiled for.                   *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
#ifndef KUAI_RUNTIME_H
#define KUAI_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*===-- Status ------------------------------------------------------------===*/

typedef enum kuai_status_code {
  KUAI_OK = 0,
  KUAI_INVALID_ARGUMENT = 1,
  KUAI_NOT_FOUND = 2,          /* a file, a section, a driver entry point */
  KUAI_DATA_LOSS = 3,          /* truncated or corrupted artifact */
  KUAI_INCOMPATIBLE = 4,       /* artifact of another format version */
  KUAI_UNAVAILABLE = 5,        /* no CUDA driver or no GPU */
  KUAI_RESOURCE_EXHAUSTED = 6, /* GPU out of memory */
  KUAI_INTERNAL = 7,           /* any other CUDA error */
} kuai_status_code;

typedef struct kuai_status_s *kuai_status_t;

/* The code of `status` (KUAI_OK for NULL). */
kuai_status_code kuai_status_code_of(kuai_status_t status);
/* The message of `status`; owned by the status; "" for NULL. */
const char *kuai_status_message(kuai_status_t status);
/* Releases a status (NULL is fine). */
void kuai_status_free(kuai_status_t status);

/*===-- Artifacts (no GPU needed) -----------------------------------------===*/

typedef struct kuai_artifact_s *kuai_artifact_t;

/* Maps and validates `path` (magic, version, size, every checksum).
 * On success *out_artifact is owned by the caller (kuai_artifact_release). */
kuai_status_t kuai_artifact_open(const char *path,
                                 kuai_artifact_t *out_artifact);
/* The manifest (JSON text, NUL-terminated), owned by the artifact. */
const char *kuai_artifact_manifest(kuai_artifact_t artifact);
/* Number of sections and their kinds/names/sizes, for inspection. */
size_t kuai_artifact_section_count(kuai_artifact_t artifact);
kuai_status_t kuai_artifact_section_info(kuai_artifact_t artifact, size_t index,
                                         uint32_t *out_kind,
                                         const char **out_name,
                                         uint64_t *out_size);
void kuai_artifact_release(kuai_artifact_t artifact);

/*===-- Runtime and device ------------------------------------------------===*/

typedef struct kuai_runtime_options {
  uint32_t struct_size;   /* sizeof(kuai_runtime_options), set by _initialize */
  int32_t device_ordinal; /* default 0 */
  const char *driver_library; /* default "libcuda.so.1" */
} kuai_runtime_options;

void kuai_runtime_options_initialize(kuai_runtime_options *options);

typedef struct kuai_runtime_s *kuai_runtime_t;

/* Loads the CUDA driver, initialises it and retains the device's primary
 * context. Without a driver or a GPU the status says so (KUAI_UNAVAILABLE)
 * and points to the reference executor. *out_runtime is owned by the caller
 * (kuai_runtime_release). */
kuai_status_t kuai_runtime_create(const kuai_runtime_options *options,
                                  kuai_runtime_t *out_runtime);
/* A one-line description of the device ("NVIDIA H100 80GB HBM3, 79.1 GiB,
 * driver 13.0"); owned by the runtime. */
const char *kuai_runtime_device_description(kuai_runtime_t runtime);
void kuai_runtime_release(kuai_runtime_t runtime);

/*===-- Models ------------------------------------------------------------===*/

typedef struct kuai_model_s *kuai_model_t;

/* Opens the artifact at `path`, uploads its weights and loads its PTX
 * modules (a module the driver rejects fails with the driver's log). Out of
 * GPU memory names the pool and the size asked. *out_model is owned by the
 * caller (kuai_model_release) and keeps `runtime` alive until released. */
kuai_status_t kuai_model_load(kuai_runtime_t runtime, const char *path,
                              kuai_model_t *out_model);
/* Bytes the model holds on the GPU per pool ("weights", "arena", "kv"). */
uint64_t kuai_model_pool_bytes(kuai_model_t model, const char *pool);
void kuai_model_release(kuai_model_t model);

/*===-- Running a model ---------------------------------------------------===*/

size_t kuai_model_input_count(kuai_model_t model);
size_t kuai_model_output_count(kuai_model_t model);
/* Name ("input_ids"), element type ("f32", "f16", "bf16", "i64", "i32",
 * "i8", "u8", "bool") and rank of an input or output. Strings are owned by
 * the model. */
kuai_status_t kuai_model_io_info(kuai_model_t model, int is_output,
                                 size_t index, const char **out_name,
                                 const char **out_dtype, size_t *out_rank);
/* Copies an input for the next runs: `data` holds the elements in the
 * input's element type, row-major, with shape `dims[rank]`. The caller keeps
 * ownership of `data` and `dims`. */
kuai_status_t kuai_model_set_input(kuai_model_t model, size_t index,
                                   const void *data, const int64_t *dims,
                                   size_t rank);
/* Runs every launch of the plan on the current inputs and waits for the
 * GPU. Errors name the kernel that failed. */
kuai_status_t kuai_model_execute(kuai_model_t model);
/* Shape of an output after a run: writes up to `capacity` dims. */
kuai_status_t kuai_model_output_dims(kuai_model_t model, size_t index,
                                     int64_t *out_dims, size_t capacity,
                                     size_t *out_rank);
/* Copies an output of the last run into `data` (`bytes` must be its size). */
kuai_status_t kuai_model_read_output(kuai_model_t model, size_t index,
                                     void *data, size_t bytes);

/* One kernel launch of a profiled run. */
typedef struct kuai_launch_profile {
  const char *function; /* PTX entry point, owned by the model */
  const char *what;     /* the ops it computes, owned by the model */
  double milliseconds;  /* GPU time between events around the launch */
  double bytes;         /* estimated bytes read + written */
  double flops;         /* floating-point operations (matrix work) */
} kuai_launch_profile;

/* Runs once with an event pair around every launch. Writes up to
 * `capacity` entries and the launch count to *out_count: the launches that
 * ran at these sizes (a plan's variants for other sizes are left out). */
kuai_status_t kuai_model_profile(kuai_model_t model,
                                 kuai_launch_profile *out_launches,
                                 size_t capacity, size_t *out_count);

/*===-- KV cache ----------------------------------------------------------===*/

/* A model compiled with `kuai-compile --kv-cache` appends chunks of tokens
 * to sequences whose keys and values stay on the GPU, in fixed-size pages
 * of the "kv" pool. Its inputs (input_ids [batch, n], kv.past_lengths,
 * kv.block_table, kv.sampling) are filled by kuai_model_append from the
 * sequences. */

typedef struct kuai_kv_options {
  uint32_t struct_size;   /* sizeof(kuai_kv_options), set by _initialize */
  uint64_t pages;         /* pages in the pool; 0: every sequence at full
                             length (max_sequences x max_tokens) */
  uint32_t max_sequences; /* for the default page count; default 1 */
  uint32_t max_tokens;    /* per sequence; 0: the compiled --max-seq */
} kuai_kv_options;

void kuai_kv_options_initialize(kuai_kv_options *options);

/* Tokens per page, KV bytes per token (keys and values of every layer) and
 * layer count. KUAI_INVALID_ARGUMENT for a model without a KV cache. */
kuai_status_t kuai_model_kv_info(kuai_model_t model, uint32_t *out_page_size,
                                 uint64_t *out_bytes_per_token,
                                 uint32_t *out_layers);
/* Allocates the "kv" pool (again: every sequence is forgotten). Out of
 * memory names the pool and the size asked. */
kuai_status_t kuai_model_kv_allocate(kuai_model_t model,
                                     const kuai_kv_options *options);
/* Starts an empty sequence; *out_sequence names it until _end. */
kuai_status_t kuai_model_sequence_begin(kuai_model_t model,
                                        uint32_t *out_sequence);
/* Ends a sequence and returns its pages to the pool. */
kuai_status_t kuai_model_sequence_end(kuai_model_t model, uint32_t sequence);
/* Tokens cached for a live sequence. */
kuai_status_t kuai_model_sequence_length(kuai_model_t model, uint32_t sequence,
                                         uint64_t *out_length);
/* How a sequence's next token is picked on the GPU (the model's
 * `next_token` output [batch, count], last position of each sequence):
 * greedy by default; with temperature > 0, sampled by the definition in
 * kuai/sampling.h (top-k, top-p) from the step-th uniform of `seed`, the
 * step counting the appends since this call. */
typedef struct kuai_sampling_options {
  uint32_t struct_size; /* sizeof(kuai_sampling_options), set by _initialize */
  float temperature;    /* <= 0: greedy (default 0) */
  uint32_t top_k;       /* 0: every token (default) */
  float top_p;          /* 1: every token (default) */
  uint64_t seed;        /* default 0 */
} kuai_sampling_options;

void kuai_sampling_options_initialize(kuai_sampling_options *options);

/* Sets a live sequence's sampling. KUAI_INCOMPATIBLE for an artifact
 * compiled before sampling moved to the GPU (no kv.sampling input): pick
 * from the logits on the host then. */
kuai_status_t
kuai_model_sequence_sampling(kuai_model_t model, uint32_t sequence,
                             const kuai_sampling_options *options);
/* Appends `count` tokens to each of `batch` distinct live sequences (`ids`
 * row-major [batch, count]) and runs the model: output 0 then holds their
 * logits [batch, count, vocab]. Pages are taken from the pool as needed.
 * When the pool is out of pages or a sequence would pass max_tokens the
 * status says which (KUAI_RESOURCE_EXHAUSTED) and nothing is appended. */
kuai_status_t kuai_model_append(kuai_model_t model, const uint32_t *sequences,
                                size_t batch, const int64_t *ids, size_t count);

/* Receives each generated token of a sequence as soon as it is known;
 * returning nonzero ends that sequence's generation (like a stop id). */
typedef int (*kuai_token_callback)(void *user, uint32_t sequence,
                                   int64_t token);

typedef struct kuai_generate_options {
  uint32_t struct_size;    /* sizeof(kuai_generate_options), by _initialize */
  uint32_t max_new_tokens; /* default 32 */
  const int64_t *stop_ids; /* a sequence ends after generating one of these
                              (it is passed to the callback); not owned */
  size_t stop_count;
  kuai_sampling_options sampling; /* for every sequence; greedy by default */
} kuai_generate_options;

void kuai_generate_options_initialize(kuai_generate_options *options);

/* The generation loop: appends `prompt_ids` ([batch, prompt_length],
 * row-major) to `batch` distinct live sequences, then one token per step to
 * each sequence still going, picking the next token on the GPU (the
 * model's next_token output: greedy or as `options->sampling` says) and
 * passing it to `callback` (may be NULL) until max_new_tokens, a stop id
 * or the callback ends it. Sequences stay live for more appends: the
 * prompt and every generated token but the last are cached. Errors: those
 * of kuai_model_sequence_sampling (checked for every sequence first) and of
 * kuai_model_append; max_new_tokens must be >= 1. */
kuai_status_t kuai_model_generate(kuai_model_t model, const uint32_t *sequences,
                                  size_t batch, const int64_t *prompt_ids,
                                  size_t prompt_length,
                                  const kuai_generate_options *options,
                                  kuai_token_callback callback, void *user);

/*===-- Tokenizer (no GPU needed) -----------------------------------------===*/

/* Byte-level BPE as HF `tokenizers` writes it in tokenizer.json (the GPT-2
 * pre-tokenizer pattern or Llama-3's Split + ByteLevel, added tokens split
 * out first). */
typedef struct kuai_tokenizer_s *kuai_tokenizer_t;

/* Reads `path`; on success the caller owns *out_tokenizer (release it with
 * kuai_tokenizer_release). Other tokenizer kinds are refused, naming what
 * the file holds. */
kuai_status_t kuai_tokenizer_load(const char *path,
                                  kuai_tokenizer_t *out_tokenizer);
void kuai_tokenizer_release(kuai_tokenizer_t tokenizer);
size_t kuai_tokenizer_vocab_size(kuai_tokenizer_t tokenizer);
/* Encodes `length` bytes of UTF-8 text. Writes up to `capacity` ids and the
 * id count to *out_count (call with capacity 0 to size the buffer). */
kuai_status_t kuai_tokenizer_encode(kuai_tokenizer_t tokenizer,
                                    const char *text, size_t length,
                                    int32_t *out_ids, size_t capacity,
                                    size_t *out_count);
/* Decodes `count` ids into bytes. Writes up to `capacity` bytes (no NUL)
 * and the full length to *out_length. */
kuai_status_t kuai_tokenizer_decode(kuai_tokenizer_t tokenizer,
                                    const int32_t *ids, size_t count,
                                    char *out_text, size_t capacity,
                                    size_t *out_length);

#ifdef __cplusplus
}
#endif

#endif /* KUAI_RUNTIME_H */
