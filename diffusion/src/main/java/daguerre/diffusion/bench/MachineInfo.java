package daguerre.diffusion.bench;

import daguerre.diffusion.DjlRuntime;

/**
 * What a benchmark figure depends on besides the code: the CPU and its vector and matrix features,
 * and the threading libtorch runs with.
 *
 * @param cpu the CPU's model name and flags
 * @param ompWaitPolicy the OpenMP wait policy in libtorch's process environment
 *     ({@code OMP_WAIT_POLICY}; {@code PASSIVE} unless the user set it, see {@link DjlRuntime}),
 *     or {@code "default (unset)"}
 * @param intraOpThreads libtorch's intra-op thread count
 * @param interopThreads libtorch's inter-op thread count
 */
public record MachineInfo(CpuFeatures cpu, String ompWaitPolicy, int intraOpThreads, int interopThreads) {

    /** This process's, now (configures and loads the PyTorch engine if it is not yet). */
    public static MachineInfo current() {
        String policy = DjlRuntime.ompWaitPolicy();
        return new MachineInfo(CpuFeatures.current(), policy.equals("unset") ? "default (unset)" : policy,
                DjlRuntime.threads(), DjlRuntime.interopThreads());
    }
}
