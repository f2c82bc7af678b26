// Independent tokenizer references for the C++ cross-check (tests/model/test_tokenizer_crosscheck.cpp):
// Hugging Face tokenizers.js (what @huggingface/transformers tokenizes with), js-tiktoken, @huggingface/jinja.
// Usage (prints nothing on success; results go to OUT):
//   node tokenizer_reference.mjs encode TOKENIZER_JSON CORPUS_JSON OUT [--tiktoken ENCODING] [--config CONFIG_JSON]
//   node tokenizer_reference.mjs convert ENCODING OUT          (cl100k_base | o200k_base | r50k_base → tokenizer.json)
//   node tokenizer_reference.mjs chat TOKENIZER_CONFIG_JSON CONVERSATIONS_JSON OUT
//   node tokenizer_reference.mjs bench TOKENIZER_JSON TEXT_FILE [--tiktoken ENCODING]   (prints MB/s)
import fs from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";
import { Template } from "@huggingface/jinja";
import { Tiktoken } from "js-tiktoken/lite";

function option(args, name) {
    const i = args.indexOf(name);
    return i < 0 ? null : args[i + 1];
}

function readJson(path) {
    return JSON.parse(fs.readFileSync(path, "utf8"));
}

async function tiktokenRanks(encoding) {
    if (!["cl100k_base", "o200k_base", "r50k_base"].includes(encoding)) {
        throw new Error(`unknown tiktoken encoding '${encoding}': expected cl100k_base, o200k_base or r50k_base`);
    }
    return (await import(`js-tiktoken/ranks/${encoding}`)).default;
}

// GPT-2's byte → character map (the byte-level alphabet of tokenizer.json vocabularies).
function byteLevelChars() {
    const printable = (b) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    const chars = new Array(256);
    let next = 256;
    for (let b = 0; b < 256; ++b) {
        chars[b] = String.fromCodePoint(printable(b) ? b : next++);
    }
    return chars;
}

// tiktoken ranks (bytes → rank) as a Hugging Face byte-level BPE tokenizer.json. The merges are recovered by the
// usual procedure: for each token, run BPE on its bytes with the ranks below its own; the two parts left are its
// merge, ranked by the token's rank. ignore_merges reproduces tiktoken's whole-piece lookup.
function convertTiktoken(ranks, encoding) {
    const chars = byteLevelChars();
    const key = (bytes) => String.fromCharCode(...bytes); // latin1 string of the bytes
    const tokens = []; // [rank] = Uint8Array
    for (const line of ranks.bpe_ranks.split("\n")) {
        if (!line) continue;
        const fields = line.split(" ");
        const offset = Number.parseInt(fields[1], 10);
        for (let i = 2; i < fields.length; ++i) {
            tokens[offset + i - 2] = Uint8Array.from(Buffer.from(fields[i], "base64"));
        }
    }
    const rankOf = new Map();
    tokens.forEach((bytes, rank) => rankOf.set(key(bytes), rank));
    const vocab = {};
    const merges = [];
    tokens.forEach((bytes, rank) => {
        vocab[Array.from(bytes, (b) => chars[b]).join("")] = rank;
        if (bytes.length < 2) return;
        let parts = Array.from(bytes, (b) => [b]);
        while (parts.length > 2) {
            let best = -1, bestRank = rank;
            for (let i = 0; i + 1 < parts.length; ++i) {
                const r = rankOf.get(key([...parts[i], ...parts[i + 1]]));
                if (r !== undefined && r < bestRank) { bestRank = r; best = i; }
            }
            if (best < 0) break;
            parts.splice(best, 2, [...parts[best], ...parts[best + 1]]);
        }
        if (parts.length !== 2) throw new Error(`${encoding}: token of rank ${rank} has no two-part merge`);
        merges.push([rank, parts.map((p) => p.map((b) => chars[b]).join(""))]);
    });
    merges.sort((a, b) => a[0] - b[0]);
    const byteLevel = (prefix, regex) => ({ type: "ByteLevel", add_prefix_space: prefix, trim_offsets: false, use_regex: regex });
    const gpt2 = encoding === "r50k_base"; // GPT-2's own vocabulary: a plain ByteLevel pre-tokenizer (GPT-2 regex)
    return {
        version: "1.0", truncation: null, padding: null,
        added_tokens: Object.entries(ranks.special_tokens).map(([content, id]) => (
            { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
        normalizer: null,
        pre_tokenizer: gpt2 ? byteLevel(false, true) : {
            type: "Sequence",
            pretokenizers: [{ type: "Split", pattern: { Regex: ranks.pat_str }, behavior: "Isolated", invert: false },
                            byteLevel(false, false)],
        },
        post_processor: byteLevel(false, false),
        decoder: byteLevel(false, false),
        model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
                 fuse_unk: false, byte_fallback: false, ignore_merges: true, vocab, merges: merges.map((m) => m[1]) },
    };
}

function hfTokenizer(path, configPath) {
    return new Tokenizer(readJson(path), configPath ? readJson(configPath) : {});
}

function hfDecode(tokenizer, ids) {
    return ids.length === 0 ? "" : tokenizer.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
}

async function encode(args) {
    const [tokenizerPath, corpusPath, outPath] = args;
    const tokenizer = hfTokenizer(tokenizerPath, option(args, "--config"));
    const corpus = readJson(corpusPath);
    const out = { nfc: [], hf_plain: [], hf_special: [], hf_decoded: [] };
    for (const text of corpus) {
        const plain = tokenizer.encode(text, { add_special_tokens: false }).ids;
        out.nfc.push(text.normalize("NFC"));
        out.hf_plain.push(plain);
        out.hf_special.push(tokenizer.encode(text, { add_special_tokens: true }).ids);
        out.hf_decoded.push(hfDecode(tokenizer, plain));
    }
    const encoding = option(args, "--tiktoken");
    if (encoding) {
        const enc = new Tiktoken(await tiktokenRanks(encoding));
        out.tiktoken = corpus.map((text) => enc.encode(text, "all"));
        out.tiktoken_decoded = out.tiktoken.map((ids) => enc.decode(ids));
    }
    fs.writeFileSync(outPath, JSON.stringify(out));
}

async function convert(args) {
    const [encoding, outPath] = args;
    fs.writeFileSync(outPath, JSON.stringify(convertTiktoken(await tiktokenRanks(encoding), encoding)));
}

function chat(args) {
    const [configPath, conversationsPath, outPath] = args;
    const config = readJson(configPath);
    const template = new Template(config.chat_template);
    const out = readJson(conversationsPath).map((c) => template.render({
        messages: c.messages, add_generation_prompt: c.add_generation_prompt,
        bos_token: config.bos_token ?? "", eos_token: config.eos_token ?? "",
    }));
    fs.writeFileSync(outPath, JSON.stringify(out));
}

// Same protocol as bench/model/bench_tokenizer.cpp: line by line; cold = a fresh tokenizer (best of 3),
// warm = repeated passes on one (best of 10).
async function bench(args) {
    const [tokenizerPath, textPath] = args;
    const text = fs.readFileSync(textPath, "utf8");
    const megabytes = Buffer.byteLength(text, "utf8") / 1e6;
    const lines = text.split(/(?<=\n)/);
    const pass = (encodeLine) => {
        const start = process.hrtime.bigint();
        let n = 0;
        for (const line of lines) n += encodeLine(line).length;
        return [Number(process.hrtime.bigint() - start) / 1e9, n];
    };
    const time = async (label, make, encodeLine) => {
        let cold = Infinity, warm = Infinity, n = 0;
        for (let k = 0; k < 3; ++k) {
            const t = await make();
            cold = Math.min(cold, pass((line) => encodeLine(t, line))[0]);
        }
        const t = await make();
        for (let k = 0; k < 10; ++k) {
            const [s, count] = pass((line) => encodeLine(t, line));
            warm = Math.min(warm, s);
            n = count;
        }
        console.log(`${label}: cold ${(megabytes / cold).toFixed(2)} MB/s, warm ${(megabytes / warm).toFixed(2)} MB/s ` +
                    `(${n} tokens, ${megabytes.toFixed(2)} MB)`);
    };
    const json = readJson(tokenizerPath);
    await time("tokenizers.js", () => new Tokenizer(json, {}),
               (t, line) => t.encode(line, { add_special_tokens: false }).ids);
    const encoding = option(args, "--tiktoken");
    if (encoding) {
        const ranks = await tiktokenRanks(encoding);
        await time("js-tiktoken", () => new Tiktoken(ranks), (t, line) => t.encode(line, "all"));
    }
}

const commands = { encode, convert, chat, bench };
const [command, ...rest] = process.argv.slice(2);
if (!commands[command]) {
    console.error(`usage: node tokenizer_reference.mjs ${Object.keys(commands).join("|")} ...`);
    process.exit(2);
}
await commands[command](rest);
