// main() of the gpu-labelled tests: exits 77 (CTest: skipped) when this process sees no CUDA device, so CI on a
// machine without a GPU skips them; otherwise runs every GoogleTest of the executable.
#include <gtest/gtest.h>

#include <cstdio>

#include "kernels/cuda/cuda_check.h"

int main(int argc, char** argv) {
    if (llmfleet::kernels::cuda::device_count() == 0) {
        std::printf("no CUDA device visible: skipped (exit 77)\n");
        return 77;
    }
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
