// The tp × pp layout: which layers, heads, KV heads, FFN columns and vocabulary rows each rank holds (hand-
// computed for Qwen2.5-0.5B's shape), KV-head replication when KV heads < tp, and the errors that name the values
// that would work.
#include <gtest/gtest.h>

#include "common/error.h"
#include "parallel/layout.h"

namespace llmfleet::parallel {
namespace {

model::model_config qwen_05b() {
    model::model_config c;
    c.hidden_size = 896;
    c.intermediate_size = 4864;
    c.n_layers = 24;
    c.n_heads = 14;
    c.n_kv_heads = 2;
    c.head_dim = 64;
    c.vocab_size = 151936;
    return c;
}

std::string error_of(const parallel_config& pc, const model::model_config& m) {
    try {
        validate(pc, m);
    } catch (const error& e) {
        EXPECT_EQ(e.code(), status_code::invalid_argument);
        return e.what();
    }
    return "";
}

TEST(Layout, ValidTpValuesOfQwen05b) {
    // 14 heads allow 1, 2, 7, 14; the intermediate size 4864 = 2^8 · 19 rules out 7 and 14.
    EXPECT_EQ(valid_tp_values(qwen_05b()), (std::vector<int32_t>{1, 2}));
}

TEST(Layout, RanksOfTp2Pp2) {
    const model::model_config m = qwen_05b();
    const parallel_config pc{.tp = 2, .pp = 2};
    validate(pc, m);
    const rank_layout r3 = make_rank_layout(pc, m, 3);
    EXPECT_EQ(r3.stage, 1);
    EXPECT_EQ(r3.tp_rank, 1);
    EXPECT_EQ(r3.layers.begin, 12);
    EXPECT_EQ(r3.layers.end, 24);
    EXPECT_EQ(r3.heads.begin, 7);
    EXPECT_EQ(r3.heads.end, 14);
    EXPECT_EQ(r3.kv_heads.begin, 1);
    EXPECT_EQ(r3.kv_heads.end, 2);
    EXPECT_EQ(r3.ffn.begin, 2432);
    EXPECT_EQ(r3.ffn.end, 4864);
    EXPECT_EQ(r3.vocab.begin, 75968);
    EXPECT_EQ(r3.vocab.end, 151936);
    EXPECT_TRUE(r3.last_stage());
    EXPECT_EQ(r3.prev_stage_rank(), 1);
    EXPECT_EQ(r3.next_stage_rank(), -1);
    const rank_layout r0 = make_rank_layout(pc, m, 0);
    EXPECT_TRUE(r0.first_stage());
    EXPECT_EQ(r0.next_stage_rank(), 2);
    EXPECT_EQ(r0.layers.end, 12);
}

TEST(Layout, KvHeadsReplicatedWhenFewerThanTp) {
    model::model_config m = qwen_05b();
    m.n_heads = 16;
    m.intermediate_size = 4096;
    const parallel_config pc{.tp = 8};
    validate(pc, m);
    // 2 KV heads over 8 ranks: ranks 0–3 hold KV head 0 (their query heads 0–7 read it), ranks 4–7 KV head 1.
    for (int32_t r = 0; r < 8; ++r) {
        const rank_layout l = make_rank_layout(pc, m, r);
        EXPECT_EQ(l.heads.size(), 2);
        EXPECT_EQ(l.kv_heads.size(), 1);
        EXPECT_EQ(l.kv_heads.begin, r < 4 ? 0 : 1) << "rank " << r;
        EXPECT_EQ(l.heads.begin / (m.n_heads / m.n_kv_heads), l.kv_heads.begin) << "rank " << r;
    }
}

TEST(Layout, UnevenVocabularyAndLayers) {
    model::model_config m = qwen_05b();
    m.vocab_size = 151937; // not a multiple of tp: the last rank's slice is one row short of the padded shard
    const parallel_config pc{.tp = 2, .pp = 3, .pp_layers = {4, 10, 10}};
    validate(pc, m);
    const rank_layout last = make_rank_layout(pc, m, 5);
    EXPECT_EQ(last.vocab_shard, 75969);
    EXPECT_EQ(last.vocab.begin, 75969);
    EXPECT_EQ(last.vocab.size(), 75968);
    EXPECT_EQ(last.layers.begin, 14);
    EXPECT_EQ(make_rank_layout(pc, m, 2).layers.begin, 4);
    EXPECT_EQ(stage_layer_counts({.tp = 1, .pp = 5}, 24), (std::vector<int32_t>{5, 5, 5, 5, 4}));
}

TEST(Layout, ErrorsNameWhatWouldWork) {
    const model::model_config m = qwen_05b();
    EXPECT_NE(error_of({.tp = 4}, m)
                  .find("the 14 attention heads do not divide by 4; --tp values that work for this "
                        "model: 1, 2"),
              std::string::npos)
        << error_of({.tp = 4}, m);
    EXPECT_NE(error_of({.tp = 7}, m).find("the 2 KV heads neither divide by 7 nor divide it"), std::string::npos);
    model::model_config wide = m;
    wide.n_kv_heads = 14;
    EXPECT_NE(error_of({.tp = 7}, wide).find("the intermediate size 4864 does not divide by 7"), std::string::npos);
    EXPECT_NE(error_of({.pp = 25}, m).find("only 24 layers"), std::string::npos);
    const std::string layers = error_of({.pp = 2, .pp_layers = {10, 10}}, m);
    EXPECT_NE(layers.find("summing to the model's 24 layers, e.g. --pp-layers 12,12"), std::string::npos) << layers;
    EXPECT_NE(error_of({.pp = 2, .pp_layers = {0, 24}}, m).find("positive"), std::string::npos);
    EXPECT_NE(error_of({.tp = 0}, m).find("at least 1"), std::string::npos);
    EXPECT_EQ(error_of({.tp = 2, .pp = 4}, m), "");
}

} // namespace
} // namespace llmfleet::parallel
