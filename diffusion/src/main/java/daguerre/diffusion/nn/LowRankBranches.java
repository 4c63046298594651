package daguerre.diffusion.nn;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The low-rank branches ({@link LowRankBranch}, unmerged LoRAs) that the passes of the calling thread
 * run beside their layers: a caller runs a pass {@link #during} a map from each patched layer's weight
 * to its branches, and {@link Linear#forward(NDArray)} and {@link Conv2d#forward(NDArray)} look their
 * own weight up. The weights themselves never change, so passes on other threads (other jobs, other
 * LoRAs) are unaffected, and a pass run without a map runs the bare layers.
 */
public final class LowRankBranches {

    private static final ThreadLocal<Map<Parameter, List<LowRankBranch>>> ACTIVE = new ThreadLocal<>();

    private LowRankBranches() {}

    /**
     * Runs {@code body} on this thread with {@code branches} (keyed by the patched layer's weight, by
     * identity) beside the layers; the previous map (if any) is restored afterwards.
     */
    public static <T> T during(Map<Parameter, List<LowRankBranch>> branches, Supplier<T> body) {
        Map<Parameter, List<LowRankBranch>> previous = ACTIVE.get();
        ACTIVE.set(branches.isEmpty() ? null : new IdentityHashMap<>(branches));
        try {
            return body.get();
        } finally {
            if (previous == null) {
                ACTIVE.remove();
            } else {
                ACTIVE.set(previous);
            }
        }
    }

    /** The branches this thread's pass runs beside the layer of {@code weight}: none outside {@link #during}. */
    static List<LowRankBranch> of(Parameter weight) {
        Map<Parameter, List<LowRankBranch>> active = ACTIVE.get();
        if (active == null) {
            return List.of();
        }
        return active.getOrDefault(weight, List.of());
    }
}
