//===- kuai-run.cpp - The kuai-run tool
//------------------------------------===//

#include "kuai/Driver/Drivers.h"

int main(int argc, char **argv) { return kuai::runMain(argc, argv); }
