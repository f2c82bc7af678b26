# llmfleet_embed_file(<out.cpp> <input file> <c++ symbol>): compiles a data file into the binary as
# `extern const std::string_view <symbol>;` so the default scenario needs no files at run time.
function(llmfleet_embed_file out input symbol)
    add_custom_command(
        OUTPUT ${out}
        COMMAND ${CMAKE_COMMAND} -DINPUT=${input} -DOUTPUT=${out} -DSYMBOL=${symbol}
                -P ${PROJECT_SOURCE_DIR}/cmake/embed_run.cmake
        DEPENDS ${input} ${PROJECT_SOURCE_DIR}/cmake/embed_run.cmake
        COMMENT "Embedding ${input}")
endfunction()
