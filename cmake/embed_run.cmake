# Script mode for llmfleet_embed_file: writes the bytes of INPUT as a hex array (safe for any content).
file(READ ${INPUT} hex HEX)
string(LENGTH "${hex}" n_hex)
math(EXPR n_bytes "${n_hex} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUTPUT}
"// Generated from ${INPUT} by cmake/embed_run.cmake; do not edit.\n"
"#include <string_view>\n"
"namespace llmfleet::embedded {\n"
"static const unsigned char ${SYMBOL}_bytes[] = {${bytes}};\n"
"extern const std::string_view ${SYMBOL};\n"
"const std::string_view ${SYMBOL}(reinterpret_cast<const char*>(${SYMBOL}_bytes), ${n_bytes});\n"
"}\n")
