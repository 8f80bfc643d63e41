# -*- Python -*-
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "kuai"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.kuai_obj_root, "test")
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py",
                   "numerics", "unit"]

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%fixtures", config.kuai_fixtures_dir))
config.substitutions.append(("%models", os.path.join(config.kuai_src_root, "test", "models")))

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.add_tool_substitutions(["kuai-opt", "kuai-compile", "kuai-run"],
                                   [config.kuai_tools_dir])

# Tests that read ../shared/fixtures are UNSUPPORTED (and listed as such by
# lit) in a clone without it; they never pass silently.
if os.path.isdir(config.kuai_fixtures_dir):
    config.available_features.add("fixtures")
