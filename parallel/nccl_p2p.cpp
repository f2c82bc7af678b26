// The NCCL communicator's point-to-point messages. NCCL has no tags, and a receiver must know a payload's size
// before it posts ncclRecv, so each message is a header (size, tag), then its payload, sent as two NCCL groups on
// the channel of its direction. recv takes the next message with its tag and sets aside (in host memory) those
// with other tags that come first; messages to self never leave the host. send returns once its data is copied
// into an owned device block; the block and its event return to free lists when the send has finished.
#include <fmt/core.h>

#include <algorithm>

#include "parallel/nccl_comm_internal.h"

namespace llmfleet::parallel::nccl_detail {

struct message_header {
    int64_t bytes;  // payload size
    int32_t tag;    // the sender's tag
    uint32_t magic; // header_magic: a mismatch means the two sides disagree on message boundaries (a bug)
};

namespace {

constexpr uint32_t header_magic = 0x4c464e43;
constexpr size_t header_bytes = sizeof(message_header);
// A send block holds the header at 0 and the payload at this offset (keeps the payload 256-byte aligned).
constexpr size_t payload_offset_bytes = 256;

} // namespace

void nccl_comm::_reap_sends() {
    for (size_t i : {up, down}) {
        std::deque<pending_send>& pending = _channels[i].pending_sends;
        while (!pending.empty()) {
            const cudaError_t status = cudaEventQuery(pending.front().done);
            if (status == cudaErrorNotReady) {
                break;
            }
            _check_cuda(status, "send", "cudaEventQuery");
            _free_send_blocks.push_back(pending.front().block);
            _free_events.push_back(pending.front().done);
            pending.pop_front();
        }
    }
}

void nccl_comm::send(const void* buf, int64_t bytes, int32_t dst, int32_t tag) {
    constexpr std::string_view op = "send";
    call_scope scope(*this, op);
    detail::check_rank(dst, _size, op, "dst");
    detail::check_tag(tag, op);
    detail::check_buffer(buf, bytes, op);
    const detail::deadline limit(timeout_s());
    const size_t n_bytes = static_cast<size_t>(bytes);
    if (n_bytes > 0) {
        (void)_is_device_buffer(buf, op); // rejects a buffer on another device
    }
    if (dst == _rank) { // stays on the host: NCCL sends to self only within one group with the recv
        std::vector<std::byte> copy(n_bytes);
        if (n_bytes > 0) {
            _copy(copy.data(), buf, n_bytes, op, limit);
        }
        _stash[{_rank, tag}].push_back(std::move(copy));
        return;
    }

    // Header and payload into an owned device block on the copy stream (which no unreceived send holds up),
    // then the two ncclSend groups; buf may be reused once the copy is done.
    const size_t needed = payload_offset_bytes + n_bytes;
    const auto reusable = std::find_if(_free_send_blocks.begin(), _free_send_blocks.end(),
                                       [&](const device_block& b) { return b.capacity_bytes >= needed; });
    device_block block;
    if (reusable != _free_send_blocks.end()) {
        block = *reusable;
        _free_send_blocks.erase(reusable);
    } else {
        block = _allocate(needed, op);
    }
    const message_header header{bytes, tag, header_magic};
    _check_cuda(cudaMemcpyAsync(block.data, &header, header_bytes, cudaMemcpyHostToDevice, _copy_stream), op,
                "cudaMemcpyAsync");
    if (n_bytes > 0) {
        _check_cuda(cudaMemcpyAsync(block.data + payload_offset_bytes, buf, n_bytes, cudaMemcpyDefault, _copy_stream),
                    op, "cudaMemcpyAsync");
    }
    _wait(nullptr, op, limit, {});
    channel& ch = _channel_to(dst);
    _enqueue(ch, op, limit, [&] { return ncclSend(block.data, header_bytes, ncclUint8, dst, ch.comm, ch.stream); });
    if (n_bytes > 0) {
        _enqueue(ch, op, limit, [&] {
            return ncclSend(block.data + payload_offset_bytes, n_bytes, ncclUint8, dst, ch.comm, ch.stream);
        });
    }
    cudaEvent_t done = nullptr;
    if (_free_events.empty()) {
        _check_cuda(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), op, "cudaEventCreate");
    } else {
        done = _free_events.back();
        _free_events.pop_back();
    }
    ch.pending_sends.push_back(pending_send{block, done, dst});
    _check_cuda(cudaEventRecord(done, ch.stream), op, "cudaEventRecord");
}

message_header nccl_comm::_next_header(int32_t src, int32_t tag, std::string_view op, const detail::deadline& limit) {
    if (src == _rank) {
        throw invalid_input(fmt::format("rank {}: {} from itself with tag {}, but no message to itself with that tag "
                                        "is pending: send it first",
                                        _rank, op, tag));
    }
    channel& ch = _channel_from(src);
    std::byte* device_header = _scratch(2, header_bytes, op);
    for (;;) {
        _enqueue(ch, op, limit,
                 [&] { return ncclRecv(device_header, header_bytes, ncclUint8, src, ch.comm, ch.stream); });
        _wait(&ch, op, limit, {src});
        message_header header{};
        _copy(&header, device_header, header_bytes, op, limit);
        if (header.magic != header_magic || header.bytes < 0) {
            _fail(error(status_code::internal,
                        fmt::format("rank {}: {}: the message from rank {} has a corrupt header (magic {:#x}, {} "
                                    "bytes): the two ranks disagree on message boundaries",
                                    _rank, op, src, header.magic, header.bytes)));
        }
        if (header.tag == tag) {
            return header;
        }
        std::vector<std::byte> payload(static_cast<size_t>(header.bytes));
        _recv_payload(payload.data(), payload.size(), src, op, limit);
        _stash[{src, header.tag}].push_back(std::move(payload));
    }
}

void nccl_comm::_recv_payload(void* buf, size_t bytes, int32_t src, std::string_view op,
                              const detail::deadline& limit) {
    if (bytes == 0) {
        return;
    }
    const staged view =
        buf == nullptr ? staged{_scratch(0, bytes, op), false} : _stage(buf, bytes, 0, /*copy_in=*/false, op, limit);
    channel& ch = _channel_from(src);
    _enqueue(ch, op, limit, [&] { return ncclRecv(view.device, bytes, ncclUint8, src, ch.comm, ch.stream); });
    _wait(&ch, op, limit, {src});
    if (buf != nullptr) {
        _unstage(buf, view, bytes, op, limit);
    }
}

bool nccl_comm::_take_stashed(int32_t src, int32_t tag, std::vector<std::byte>& out) {
    const auto it = _stash.find({src, tag});
    if (it == _stash.end()) {
        return false;
    }
    out = std::move(it->second.front());
    it->second.pop_front();
    if (it->second.empty()) {
        _stash.erase(it);
    }
    return true;
}

void nccl_comm::recv(void* buf, int64_t bytes, int32_t src, int32_t tag, double timeout_s) {
    constexpr std::string_view op = "recv";
    call_scope scope(*this, op);
    detail::check_rank(src, _size, op, "src");
    detail::check_tag(tag, op);
    detail::check_buffer(buf, bytes, op);
    const detail::deadline limit(detail::recv_timeout_s(timeout_s, this->timeout_s()));
    const auto size_mismatch = [&](int64_t message_bytes) {
        return invalid_input(fmt::format("rank {}: recv from rank {} with tag {}: the buffer has {} bytes but the "
                                         "message has {}; use recv_message for messages of unknown size",
                                         _rank, src, tag, bytes, message_bytes));
    };
    if (bytes > 0) {
        (void)_is_device_buffer(buf, op); // rejects a buffer on another device before a message is taken
    }
    std::vector<std::byte> stashed;
    if (_take_stashed(src, tag, stashed)) {
        if (static_cast<int64_t>(stashed.size()) != bytes) {
            throw size_mismatch(static_cast<int64_t>(stashed.size()));
        }
        if (bytes > 0) {
            _copy(buf, stashed.data(), stashed.size(), op, limit);
        }
        return;
    }
    const message_header header = _next_header(src, tag, op, limit);
    if (header.bytes != bytes) {
        _recv_payload(nullptr, static_cast<size_t>(header.bytes), src, op, limit); // keeps the channel in step
        throw size_mismatch(header.bytes);
    }
    _recv_payload(buf, static_cast<size_t>(bytes), src, op, limit);
}

std::vector<std::byte> nccl_comm::recv_message(int32_t src, int32_t tag, double timeout_s) {
    constexpr std::string_view op = "recv_message";
    call_scope scope(*this, op);
    detail::check_rank(src, _size, op, "src");
    detail::check_tag(tag, op);
    const detail::deadline limit(detail::recv_timeout_s(timeout_s, this->timeout_s()));
    std::vector<std::byte> message;
    if (_take_stashed(src, tag, message)) {
        return message;
    }
    const message_header header = _next_header(src, tag, op, limit);
    message.resize(static_cast<size_t>(header.bytes));
    _recv_payload(message.data(), message.size(), src, op, limit);
    return message;
}

} // namespace llmfleet::parallel::nccl_detail
