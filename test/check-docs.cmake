# Fails when docs/reference differs from the docs generated from ODS; the
# message says how to refresh the committed copy.
foreach(doc Dialects/KuaiOps.md Passes/KuaiPasses.md)
  get_filename_component(name ${doc} NAME)
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files
    ${GENERATED}/${doc} ${COMMITTED}/${name} RESULT_VARIABLE differ)
  if(differ)
    message(FATAL_ERROR "docs/reference/${name} is stale: copy ${GENERATED}/${doc} over it")
  endif()
  message(STATUS "docs/reference/${name} matches the ODS")
endforeach()
