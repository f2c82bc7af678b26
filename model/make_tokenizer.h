// make-model's tokenizer: a byte-level BPE tokenizer.json (Qwen2 or Llama-3 style) whose merges are learned from a
// small embedded corpus (data/tokenizer_corpus.txt), plus tokenizer_config.json, with the special tokens at ids
// that config.json / generation_config.json name as bos/eos (preset_config uses special_token_layout_for).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "model/config.h"

namespace llmfleet::model {

// Where the special tokens go for an architecture and a vocab size.
//   qwen2, vocab >= 151665: Qwen2.5's 22 added tokens at their real ids 151643..151664
//                           (<|endoftext|> 151643, <|im_start|> 151644, <|im_end|> 151645, ...);
//   qwen2, smaller vocab:   <|endoftext|>, <|im_start|>, <|im_end|> at the top three ids (tiny: 509, 510, 511);
//   llama, vocab >= 128256: Llama-3's 256 special tokens at 128000..128255 (<|begin_of_text|> 128000,
//                           <|end_of_text|> 128001, <|start_header_id|> 128006, <|end_header_id|> 128007,
//                           <|eot_id|> 128009, the rest <|reserved_special_token_N|> and friends);
//   llama, smaller vocab:   <|begin_of_text|>, <|end_of_text|>, <|start_header_id|>, <|end_header_id|>,
//                           <|eot_id|> at the top five ids (tiny: 507..511).
// bos: <|endoftext|> (qwen2, as Qwen2.5's config.json) or <|begin_of_text|>; eos: the end-of-turn token, then the
// end-of-text one (as the Instruct models' generation_config.json): qwen2 [<|im_end|>, <|endoftext|>],
// llama [<|eot_id|>, <|end_of_text|>].
struct special_token_layout {
    std::vector<std::pair<std::string, int32_t>> tokens; // content, id; every added token, in id order
    std::vector<bool> special;                           // [i] tokens[i] is special (Qwen's <tool_call> is not)
    int32_t bos_id = 0;
    std::vector<int32_t> eos_ids;
    int32_t first_added_id = 0; // ids below it (and above the last added one) belong to the BPE vocabulary
    int32_t last_added_id = 0;
};
// Throws invalid_argument when vocab_size is too small to hold 256 bytes and the special tokens.
special_token_layout special_token_layout_for(architecture arch, int64_t vocab_size);

// Every id in [0, vocab_size) has a token: the 256 bytes (ids 0..255, GPT-2's order), then the learned merges
// (min pair count 2: as many as the corpus supports; tiny fills all of 256..first special − 1), then, for
// the ids still free, unreachable filler tokens " filler<id>" (no merge produces them), so that any id a
// random-weight model samples decodes. Deterministic: same arguments, same bytes.
std::string make_tokenizer_json(architecture arch, int64_t vocab_size);
// tokenizer_config.json: bos/eos/pad token names, tokenizer_class, and a Jinja chat_template equivalent to the
// built-in one (chat_template.h) with its markers, which is what llmfleet detects; llmfleet never renders it.
std::string make_tokenizer_config_json(architecture arch, int64_t vocab_size, int64_t model_max_length);
// Writes both files into `dir`.
void write_tokenizer_files(architecture arch, int64_t vocab_size, int64_t model_max_length, const std::string& dir);

} // namespace llmfleet::model
