//===- kuai-compile.cpp - The kuai-compile tool
//------------------------------------===//

#include "kuai/Driver/Drivers.h"

int main(int argc, char **argv) { return kuai::compileMain(argc, argv); }
