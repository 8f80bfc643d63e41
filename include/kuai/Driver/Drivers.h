//===- Drivers.h - Entry points of the kuai tools ---------------*- C++ -*-===//
#ifndef KUAI_DRIVER_DRIVERS_H
#define KUAI_DRIVER_DRIVERS_H

namespace kuai {
/// `kuai-compile`: import, run the pipeline up to a phase, print or write it.
int compileMain(int argc, char **argv);
/// `kuai-run`: run a model on inputs, compare with references.
int runMain(int argc, char **argv);
} // namespace kuai

#endif
