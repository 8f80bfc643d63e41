# Writes OUTPUT: a C++ header defining `const char NAME[]` with the text of
# INPUT (a raw string literal), so sources ship inside a binary.
file(READ "${INPUT}" text)
file(WRITE "${OUTPUT}.tmp"
     "// Generated from ${INPUT}; do not edit.\n"
     "static const char ${NAME}[] = R\"kuai_embed(${text})kuai_embed\";\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
