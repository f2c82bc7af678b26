// `llmfleet generate`: runs the CPU engine on one or more prompts (text, chat messages or token ids) as one
// continuous batch and prints the text, or JSON with the generated ids. --dump-logits writes the raw logits
// each generated token was sampled from, as float32 .npy [steps, vocab] (rows of the prompts in order).
#include <fmt/core.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/log.h"
#include "common/npy.h"
#include "common/text.h"
#include "engine/cpu_model_runner.h"
#include "model/chat_template.h"
#include "tools/commands.h"
#include "tools/engine_setup.h"

namespace llmfleet::tools {

namespace {

struct generate_flags {
    engine_flags engine;
    std::string prompt;
    std::vector<std::string> prompt_ids;
    std::string chat;
    std::string chat_template;
    engine::sampling_params sampling;
    int64_t seed = -1;
    std::vector<int32_t> stop_token_ids;
    std::string output = "text";
    std::string dump_logits;
};

std::vector<int32_t> parse_ids(const std::string& text) {
    std::vector<int32_t> ids;
    for (std::string_view part : split(text, ',')) {
        const int64_t id = parse_int(part, "--prompt-ids");
        if (id < 0 || id > INT32_MAX) {
            throw invalid_input(fmt::format("--prompt-ids: token id {} is negative or too large", id));
        }
        ids.push_back(static_cast<int32_t>(id));
    }
    return ids;
}

// The prompts, as token ids, from whichever of --prompt, --chat, --prompt-ids was given.
std::vector<std::vector<int32_t>> prompts_of(const generate_flags& f, const engine::engine& e) {
    std::vector<std::vector<int32_t>> prompts;
    for (const std::string& p : f.prompt_ids) {
        prompts.push_back(parse_ids(p));
    }
    if (f.prompt.empty() && f.chat.empty()) {
        return prompts;
    }
    const model::tokenizer* tok = e.tokenizer();
    if (tok == nullptr) {
        throw error(status_code::not_found, fmt::format("{}: --prompt and --chat need tokenizer.json in the model "
                                                        "directory; give token ids with --prompt-ids instead",
                                                        f.engine.model_dir()));
    }
    if (!f.prompt.empty()) {
        prompts.push_back(tok->encode(f.prompt, /*add_special_tokens=*/true));
    }
    if (!f.chat.empty()) {
        const std::string json_text = f.chat.starts_with('@') ? read_file(f.chat.substr(1), "--chat") : f.chat;
        const model::chat_template t = f.chat_template.empty() ? model::detect_chat_template(f.engine.model_dir())
                                                               : model::parse_chat_template(f.chat_template);
        const std::string text = model::apply_chat_template(t, model::parse_chat_messages(json_text), true);
        prompts.push_back(tok->encode(text, /*add_special_tokens=*/false));
    }
    return prompts;
}

struct result {
    std::vector<int32_t> prompt;
    std::vector<int32_t> tokens;
    std::string text;
    std::vector<float> logits; // [tokens, vocab]
    std::vector<engine::sample_result> samples;
    engine::request_output last;
};

nlohmann::json to_json(const result& r, bool with_text, int32_t logprobs) {
    nlohmann::json j = {{"prompt_token_ids", r.prompt},
                        {"token_ids", r.tokens},
                        {"text", with_text ? nlohmann::json(r.text) : nlohmann::json(nullptr)},
                        {"finish_reason", std::string(to_string(r.last.reason))},
                        {"usage",
                         {{"prompt_tokens", r.last.n_prompt_tokens},
                          {"completion_tokens", r.tokens.size()},
                          {"cached_tokens", r.last.n_cached_tokens}}}};
    if (r.last.stop_token_id >= 0) {
        j["stop_token_id"] = r.last.stop_token_id;
    }
    if (!r.last.stop_string.empty()) {
        j["stop"] = r.last.stop_string;
    }
    if (logprobs >= 0) {
        nlohmann::json lp = nlohmann::json::array();
        for (const engine::sample_result& s : r.samples) {
            nlohmann::json top = nlohmann::json::array();
            for (const engine::token_logprob& t : s.top) {
                top.push_back({{"token_id", t.token}, {"logprob", t.logprob}});
            }
            lp.push_back({{"token_id", s.token}, {"logprob", s.logprob}, {"top_logprobs", top}});
        }
        j["logprobs"] = lp;
    }
    return j;
}

int run_generate(generate_flags& f) {
    if (f.output != "text" && f.output != "json") {
        throw invalid_input(fmt::format("--output must be text or json, got '{}'", f.output));
    }
    if (f.prompt.empty() && f.chat.empty() && f.prompt_ids.empty()) {
        throw invalid_input("give a prompt: --prompt TEXT, --chat JSON (or @FILE), or --prompt-ids 1,2,3");
    }
    if (f.seed >= 0) {
        f.sampling.seed = static_cast<uint64_t>(f.seed);
    }
    f.sampling.stop_token_ids = f.stop_token_ids;
    built_engine built = build_engine(f.engine);
    if (built.is_follower()) {
        return 0; // another rank of an MPI engine: rank 0 prints the results
    }
    engine::engine* e = built.engine.get();
    LLMFLEET_LOG_INFO("{}; max_model_len {}", e->runner().describe(), e->max_model_len());
    const std::vector<std::vector<int32_t>> prompts = prompts_of(f, *e);
    std::map<int64_t, result> results;
    std::vector<int64_t> order;
    const bool want_logits = !f.dump_logits.empty();
    for (const auto& p : prompts) {
        const int64_t id = e->add_request(p, f.sampling, {.return_logits = want_logits});
        order.push_back(id);
        results[id].prompt = p;
    }
    const bool stream = f.output == "text" && prompts.size() == 1 && e->tokenizer() != nullptr;
    while (e->has_unfinished()) {
        for (const engine::request_output& o : e->step()) {
            result& r = results.at(o.request_id);
            r.tokens.insert(r.tokens.end(), o.new_token_ids.begin(), o.new_token_ids.end());
            r.text += o.new_text;
            r.logits.insert(r.logits.end(), o.new_logits.begin(), o.new_logits.end());
            r.samples.insert(r.samples.end(), o.new_samples.begin(), o.new_samples.end());
            if (stream) {
                fmt::print("{}", o.new_text);
                std::fflush(stdout);
            }
            r.last = o;
        }
    }
    for (const int64_t id : order) {
        if (!results[id].last.error.empty()) {
            throw error(status_code::internal, fmt::format("request {} failed: {}", id, results[id].last.error));
        }
    }
    if (want_logits) {
        npy_array a;
        const int64_t vocab = e->model_config().vocab_size;
        for (const int64_t id : order) {
            a.data.insert(a.data.end(), results[id].logits.begin(), results[id].logits.end());
        }
        a.shape = {static_cast<int64_t>(a.data.size()) / vocab, vocab};
        write_npy_f32(f.dump_logits, a);
    }
    const bool with_text = e->tokenizer() != nullptr;
    if (f.output == "json") {
        nlohmann::json out;
        if (order.size() == 1) {
            out = to_json(results[order[0]], with_text, f.sampling.logprobs);
        } else {
            out["results"] = nlohmann::json::array();
            for (const int64_t id : order) {
                out["results"].push_back(to_json(results[id], with_text, f.sampling.logprobs));
            }
        }
        // Text is valid UTF-8 from the stream decoder; `replace` is belt and braces so JSON output never throws.
        fmt::print("{}\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    } else if (stream) {
        fmt::print("\n");
    } else {
        for (const int64_t id : order) {
            const result& r = results[id];
            fmt::print("{}\n", with_text ? r.text : fmt::format("{}", fmt::join(r.tokens, ",")));
        }
    }
    return 0;
}

} // namespace

command add_generate_command(CLI::App& app) {
    auto f = std::make_shared<generate_flags>();
    f->sampling.max_tokens = 16;
    CLI::App* sub = app.add_subcommand("generate", "Generate from a Hugging Face model directory on the CPU engine");
    sub->add_option("--prompt", f->prompt, "Prompt text (needs tokenizer.json)");
    sub->add_option("--prompt-ids", f->prompt_ids, "Prompt token ids, comma-separated; repeat to batch prompts");
    sub->add_option("--chat", f->chat, "Chat messages as OpenAI JSON, or @FILE");
    sub->add_option("--chat-template", f->chat_template, "chatml | llama3 (default: from tokenizer_config.json)");
    sub->add_option("--max-tokens", f->sampling.max_tokens, "Tokens to generate at most")->capture_default_str();
    sub->add_option("--min-tokens", f->sampling.min_tokens, "No eos / stop token before this many");
    sub->add_option("--temperature", f->sampling.temperature, "0 = greedy")->capture_default_str();
    sub->add_option("--top-k", f->sampling.top_k, "Keep the k most likely tokens (0 = off)");
    sub->add_option("--top-p", f->sampling.top_p, "Nucleus sampling mass");
    sub->add_option("--min-p", f->sampling.min_p, "Drop tokens below min_p × the top probability");
    sub->add_option("--presence-penalty", f->sampling.presence_penalty, "OpenAI presence penalty");
    sub->add_option("--frequency-penalty", f->sampling.frequency_penalty, "OpenAI frequency penalty");
    sub->add_option("--repetition-penalty", f->sampling.repetition_penalty, "HF repetition penalty");
    sub->add_option("--seed", f->seed, "Per-request seed (reproducible sampling)");
    sub->add_option("--stop", f->sampling.stop, "Stop string (repeatable)");
    sub->add_option("--stop-token-ids", f->stop_token_ids, "Stop token ids")->delimiter(',');
    sub->add_flag("--ignore-eos", f->sampling.ignore_eos, "Keep generating past eos");
    sub->add_option("--logprobs", f->sampling.logprobs, "Top-n logprobs per token in the JSON output");
    sub->add_option("--output", f->output, "text | json")->capture_default_str();
    sub->add_option("--dump-logits", f->dump_logits, "Write the raw logits of each generated token (.npy)");
    add_engine_flags(sub, f->engine);
    return command{sub, [f] { return run_generate(*f); }};
}

} // namespace llmfleet::tools
